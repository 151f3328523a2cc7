"""The one ``miniwdl run`` launcher: a real ``miniwdl`` process with the ``aws_batch_job``
backend, its output captured to files, configured only through environment variables.

:func:`start_miniwdl` is the launcher; :func:`start_on_stack`/:func:`run_on_stack` run it on an
emulator's stack with :data:`FAST_ENV` (the backend and operability tests), and the reliability
scenarios call it with their own environment (product defaults).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Sequence

from .procs import BIN, Proc

MINIWDL = os.path.join(BIN, "miniwdl")
RUN_ID_ENV = "MINIWDL__AWS__RUN_ID"  # [aws] run_id: the run id the backend names its jobs with

# fast but realistic settings for tests: short poll periods, no wait before retries
FAST_ENV = {
    "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "aws_batch_job",
    "MINIWDL__SCHEDULER__TASK_CONCURRENCY": "100",
    "MINIWDL__AWS__RETRY_WAIT": "0",
    "MINIWDL__AWS__DESCRIBE_PERIOD": "0.25",
    "MINIWDL__AWS__DESCRIBE_PERIOD_MAX": "1",
    "MINIWDL__AWS__TERMINATE_WAIT": "15",
}


def miniwdl_cmd(
    wdl_path: str, inputs: Sequence[str], run_dir: str, args: Sequence[str] = ()
) -> List[str]:
    """``miniwdl run WDL INPUTS --dir RUN_DIR/. ARGS`` (``/.``: exactly that directory)."""
    return [MINIWDL, "run", wdl_path, *inputs, "--dir", run_dir.rstrip("/") + "/.", *args]


@dataclasses.dataclass
class RunResult:
    """A finished ``miniwdl run``: exit code, its run dir, outputs or error, and the logs."""

    returncode: int
    run_dir: str
    stdout: str
    stderr: str

    @property
    def outputs(self) -> Dict[str, Any]:
        """The outputs miniwdl printed as JSON on stdout."""
        return dict(json.loads(self.stdout)["outputs"])

    @property
    def error(self) -> Dict[str, Any]:
        """The run's ``error.json``."""
        with open(os.path.join(self.run_dir, "error.json")) as f:
            return dict(json.load(f))


class MiniwdlRun(Proc):
    """A ``miniwdl run`` process (see :class:`~.procs.Proc`) and its run directory."""

    run_dir = ""

    def finish(self, timeout: float) -> RunResult:
        """Wait for the run to end; AssertionError if it is still running after ``timeout``
        (a hang guard: it is then killed)."""
        code = self.wait(timeout)
        if code is None:
            raise AssertionError(f"miniwdl run hung:\n{self.stderr[-4000:]}")
        return RunResult(code, self.run_dir, self.stdout, self.stderr)


def start_miniwdl(
    wdl_path: str,
    inputs: Sequence[str],
    run_dir: str,
    env: Dict[str, str],
    cwd: str,
    args: Sequence[str] = (),
    name: str = "miniwdl",
    new_session: bool = False,
) -> MiniwdlRun:
    """Start ``miniwdl run`` in the background, its output in ``cwd/<name>.stdout|stderr``.
    ``run_id`` of the result is ``MINIWDL__AWS__RUN_ID`` of ``env`` (empty when unset: the
    backend then makes one up)."""
    cmd = miniwdl_cmd(wdl_path, inputs, run_dir, args)
    proc = MiniwdlRun(cmd, env, cwd, name, new_session=new_session)
    proc.run_dir = run_dir
    proc.run_id = env.get(RUN_ID_ENV, "")
    return proc


def stack_env(emulator: Any, stack: Any, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Environment for ``miniwdl run`` on an emulator's stack: ours without any MINIWDL*/AWS_*
    variable, plus the emulator's, the stack's, :data:`FAST_ENV`, a call cache on the stack's
    EFS and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIWDL", "AWS_"))}
    env.update(emulator.env())
    env.update(stack.miniwdl_env())
    env.update(FAST_ENV)
    env["MINIWDL__CALL_CACHE__DIR"] = os.path.join(stack.efs_dir, "_call_cache")
    env.update(extra or {})
    return env


def start_on_stack(
    emulator: Any,
    stack: Any,
    wdl_path: str,
    inputs: Sequence[str],
    run_name: str = "run",
    extra_env: Optional[Dict[str, str]] = None,
    args: Sequence[str] = (),
    new_session: bool = False,
) -> MiniwdlRun:
    """Start ``miniwdl run`` on the stack with :func:`stack_env`; the run directory is
    ``<efs>/<run_name>``, its output goes to ``<efs>/<run_name>.stdout|stderr``."""
    run_dir = os.path.join(stack.efs_dir, run_name)
    env = stack_env(emulator, stack, extra_env)
    return start_miniwdl(wdl_path, inputs, run_dir, env, stack.efs_dir, args, run_name, new_session)


def run_on_stack(
    emulator: Any,
    stack: Any,
    wdl_path: str,
    inputs: Sequence[str],
    run_name: str = "run",
    extra_env: Optional[Dict[str, str]] = None,
    args: Sequence[str] = (),
    timeout: float = 180,
) -> RunResult:
    """:func:`start_on_stack` to completion (``timeout`` is only a hang guard)."""
    run = start_on_stack(emulator, stack, wdl_path, inputs, run_name, extra_env, args)
    return run.finish(timeout)
