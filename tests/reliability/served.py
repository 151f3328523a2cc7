"""The local AWS as a separate process, for the scenario that stops and restarts it."""

from __future__ import annotations

import os
import signal
from typing import Optional

from tests.support.emulator import ServeProcess

from .harness import LocalAws, base_env


class ServedAws(LocalAws):
    """The emulator as a child process (:class:`tests.support.emulator.ServeProcess`), for
    scenarios that kill and restart it. Its state is lost on restart (moto keeps it in memory);
    :meth:`restart` serves again on the same port and re-creates the stack.
    """

    def __init__(self, workdir: str, port: int = 0) -> None:
        efs = os.path.join(workdir, "efs")
        os.makedirs(efs, exist_ok=True)
        super().__init__("http://127.0.0.1:0", {}, {}, workdir, os.path.realpath(efs))
        self.server = ServeProcess(
            self.efs_dir,
            os.path.join(workdir, "emulator.log"),
            base_env(workdir),
            cwd=workdir,
            port=port,
        )

    @property
    def port(self) -> int:
        """The TCP port it serves on (kept across :meth:`restart`)."""
        return self.server.port

    def _adopt(self) -> ServedAws:
        """Take the exports and stack names of the (re)started server."""
        self.exports = dict(self.server.exports)
        self.stack = {
            "task_queue": self.exports.get("MINIWDL__AWS__TASK_QUEUE", ""),
            "workflow_queue": self.exports.get("MINIWDL__AWS__WORKFLOW_QUEUE", ""),
            "fsap": self.exports.get("MINIWDL__AWS__FSAP", ""),
            "bucket": self.exports.get("LOCAL_AWS_DEMO_BUCKET", ""),
        }
        self._clients = {}
        return self

    def start(self, timeout: float = 60.0) -> ServedAws:
        """Start serving and wait until it printed its exports and answers."""
        self.server.start(timeout)
        return self._adopt()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> Optional[int]:
        """Stop it (on SIGTERM/SIGINT it kills its job processes first); its exit code."""
        return self.server.stop(sig, timeout)

    def restart(self, timeout: float = 60.0) -> ServedAws:
        """Serve again on the same port, with a fresh stack."""
        self.server.restart(timeout)
        return self._adopt()

    def __enter__(self) -> ServedAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n: int = 20) -> str:
        """The last lines of the emulator's own log, for failure messages."""
        return self.server.log_tail(n)
