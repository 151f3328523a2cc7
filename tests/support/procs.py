"""Child processes whose output goes to files, never to pipes: a chatty process can then never
block on a full pipe while the caller is busy elsewhere, and its output stays readable (and
scannable) after it ended."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, Optional, Sequence

PYTHON = sys.executable
BIN = os.path.dirname(PYTHON)  # this venv's console scripts (miniwdl, miniwdl-aws, ...)


class Proc:
    """A child process with standard output and error captured to ``<name>.stdout`` and
    ``<name>.stderr`` in ``output_dir`` (default: its working directory ``cwd``).

    :param new_session: start it in its own session (process group), so a signal to the
        group (``os.killpg(proc.pid, ...)``) reaches its children too and a terminal's Ctrl-C
        never does
    """

    def __init__(
        self,
        cmd: Sequence[str],
        env: Dict[str, str],
        cwd: str,
        name: str = "proc",
        output_dir: Optional[str] = None,
        new_session: bool = False,
    ) -> None:
        self.cmd = list(cmd)
        where = cwd if output_dir is None else output_dir
        self.out_path = os.path.join(where, f"{name}.stdout")
        self.err_path = os.path.join(where, f"{name}.stderr")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.popen = subprocess.Popen(
                self.cmd,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=new_session,
            )
        self.started = time.monotonic()
        self.run_id = ""  # the miniwdl-aws run id, when the caller set one

    @property
    def pid(self) -> int:
        """The child's process id (with ``new_session``, also its process group id)."""
        return self.popen.pid

    def poll(self) -> Optional[int]:
        """Exit code, or None while it runs."""
        return self.popen.poll()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child (only to it, by pid) if it still runs."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> Optional[int]:
        """Exit code, or None if still running after ``timeout`` (a hang guard: it is then
        killed)."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            return None

    @property
    def stdout(self) -> str:
        """Captured standard output so far."""
        with open(self.out_path, errors="replace") as f:
            return f.read()

    @property
    def stderr(self) -> str:
        """Captured standard error so far."""
        with open(self.err_path, errors="replace") as f:
            return f.read()


@dataclasses.dataclass
class Finished:
    """A process run to completion: exit code (None: it hung and was killed) and its output."""

    returncode: Optional[int]
    stdout: str
    stderr: str


def run(
    cmd: Sequence[str],
    env: Dict[str, str],
    cwd: str,
    name: str = "proc",
    timeout: float = 300.0,
    keep_output: bool = True,
) -> Finished:
    """Run to completion (``timeout`` is a hang guard). The output files stay in ``cwd``
    unless ``keep_output`` is False (then they go to a temporary folder, removed after)."""
    if keep_output:
        proc = Proc(cmd, env, cwd, name)
        code = proc.wait(timeout)
        return Finished(code, proc.stdout, proc.stderr)
    with tempfile.TemporaryDirectory(prefix="proc-") as out:
        proc = Proc(cmd, env, cwd, name, output_dir=out)
        code = proc.wait(timeout)
        return Finished(code, proc.stdout, proc.stderr)
