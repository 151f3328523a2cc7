"""The one launcher of the local AWS as a separate process: ``python -m miniwdl_aws.emulator
serve --bootstrap``, its exports, a clean stop and a restart on the same port.

(In-process, the tests use :class:`miniwdl_aws.emulator.Emulator` directly: the ``emulator``
fixture of ``tests/conftest.py``.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.request
from typing import Dict, List, Optional, Sequence

from miniwdl_aws.emulator import parse_exports

from .procs import PYTHON
from .submitter import WORKFLOW_IMAGE_SPEC

# printed last by `serve --bootstrap`: once it is there, every export is
LAST_EXPORT = "LOCAL_AWS_DEMO_BUCKET"


class ServeProcess:
    """``serve --bootstrap`` as a child process in its own session (signals meant for the
    caller's other children never reach it; on SIGTERM/SIGINT it kills its job processes).

    :param efs_dir: the EFS stand-in (``--efs-dir``)
    :param log_path: where its standard error goes (appended: a restart adds to it)
    :param env: its environment (the caller decides what leaks in: nothing of a real account)
    :param port: TCP port (0: a free one, kept by :meth:`restart`)
    :param args: further ``serve`` options (``--port-file F``, ``--dwell S``...)
    :ivar lines: every line it printed on stdout
    :ivar exports: the variables it exported (endpoint, credentials, region, ``MINIWDL__*``...)
    """

    def __init__(
        self,
        efs_dir: str,
        log_path: str,
        env: Dict[str, str],
        cwd: Optional[str] = None,
        port: int = 0,
        args: Sequence[str] = (),
        python: str = PYTHON,
    ) -> None:
        self.efs_dir = efs_dir
        self.log_path = log_path
        self.env = dict(env)
        self.cwd = cwd
        self.port = port
        self.args = list(args)
        self.python = python
        self.proc: Optional[subprocess.Popen[str]] = None
        self.lines: List[str] = []
        self.exports: Dict[str, str] = {}
        self._reader: Optional[threading.Thread] = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.exports["AWS_ENDPOINT_URL"].rstrip("/")

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> ServeProcess:
        """Start serving; return once every export is printed and the endpoint answers
        (RuntimeError, with the end of its log, if it exits or the ``timeout`` guard ends)."""
        cmd = [self.python, "-m", "miniwdl_aws.emulator", "serve", "--bootstrap"]
        cmd += ["--port", str(self.port), "--efs-dir", self.efs_dir, *self.args]
        if "--kill-grace" not in self.args:  # ECS's 30 s would only slow the tests down
            cmd += ["--kill-grace", "0.5"]
        if "--image" not in self.args:
            cmd += ["--image", WORKFLOW_IMAGE_SPEC]
        self.lines = []
        self.exports = {}
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited {self.proc.returncode}: {self.log_tail()}")
            exports = parse_exports(list(self.lines))
            if LAST_EXPORT in exports:
                self.exports = exports
                if self._answers():
                    self.port = int(self.endpoint.rsplit(":", 1)[1].split("/")[0])
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"emulator did not start in {timeout:g} s: {self.log_tail()}")

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_emulator/stats", timeout=5) as resp:
                json.loads(resp.read().decode() or "null")
            return True
        except (OSError, ValueError):
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> Optional[int]:
        """Send ``sig`` (SIGTERM/SIGINT: it kills its job processes first), wait, SIGKILL
        after ``timeout``; the exit code (None when it was not running)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return proc.returncode

    def restart(self, timeout: float = 60.0) -> ServeProcess:
        """Stop, then serve again on the same port with a fresh stack (its state was in
        memory: every record of the first run is gone)."""
        self.stop()
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.start(timeout=max(5.0, deadline - time.monotonic()))
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the port may still be held by the old process

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n: int = 20) -> str:
        """The last lines of its log, for failure messages."""
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""
