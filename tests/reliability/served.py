"""The local AWS as a separate process, for the scenario that stops and restarts it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from typing import Dict, Optional

from .harness import PYTHON, LocalAws, base_env


class ServedAws(LocalAws):
    """The emulator as a child process (``python -m miniwdl_aws.emulator serve --bootstrap``),
    for scenarios that kill and restart it. Its state is lost on restart (moto keeps it in
    memory); :meth:`restart` serves again on the same port and re-creates the stack.
    """

    def __init__(self, workdir: str, port: int = 0) -> None:
        efs = os.path.join(workdir, "efs")
        os.makedirs(efs, exist_ok=True)
        super().__init__("http://127.0.0.1:0", {}, {}, workdir, os.path.realpath(efs))
        self.port = port
        self.proc: Optional[subprocess.Popen[str]] = None
        self._log_path = os.path.join(workdir, "emulator.log")

    def start(self, timeout: float = 60.0) -> ServedAws:
        """Start serving and wait until it printed its exports and answers."""
        cmd = [PYTHON, "-m", "miniwdl_aws.emulator", "serve", "--bootstrap"]
        cmd += ["--port", str(self.port), "--efs-dir", self.efs_dir]
        with open(self._log_path, "a") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=base_env(self.workdir),
                cwd=self.workdir,
                start_new_session=True,  # signals meant for runners never reach it
            )
        exports: Dict[str, str] = {}
        reader = threading.Thread(target=self._read_exports, args=(exports,), daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited {self.proc.returncode}: {self.log_tail()}")
            if "MINIWDL__AWS__TASK_QUEUE" in exports and "AWS_ENDPOINT_URL" in exports:
                self.exports = dict(exports)
                if self._answers():
                    time.sleep(0.2)  # the exports come in one burst; let the reader finish it
                    self.exports = dict(exports)
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"emulator did not start in {timeout}s: {self.log_tail()}")
        self.port = int(self.endpoint.rsplit(":", 1)[1].split("/")[0])
        self.stack = {
            "task_queue": self.exports.get("MINIWDL__AWS__TASK_QUEUE", ""),
            "workflow_queue": self.exports.get("MINIWDL__AWS__WORKFLOW_QUEUE", ""),
            "fsap": self.exports.get("MINIWDL__AWS__FSAP", ""),
            "bucket": self.exports.get("MINIWDL_AWS_DEMO_BUCKET", ""),
        }
        self._clients = {}
        return self

    def _read_exports(self, exports: Dict[str, str]) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            if line.strip().startswith("export "):
                for word in shlex.split(line.strip())[1:]:
                    key, eq, value = word.partition("=")
                    if eq:
                        exports[key] = value

    def _answers(self) -> bool:
        try:
            self.get("stats")
            return True
        except (OSError, ValueError):
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Stop it (on SIGTERM/SIGINT it kills its job processes first)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self, timeout: float = 60.0) -> ServedAws:
        """Serve again on the same port, with a fresh stack."""
        self.stop()
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.start(timeout=max(5.0, deadline - time.monotonic()))
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the port may still be held by the old process

    def __enter__(self) -> ServedAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n: int = 20) -> str:
        """The last lines of the emulator's own log, for failure messages."""
        try:
            with open(self._log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""
