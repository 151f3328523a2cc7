"""The :class:`Emulator`: moto on 127.0.0.1 plus the local Batch executor, in this process."""

from __future__ import annotations

import logging
import resource
import shutil
import tempfile
import threading
import time
import urllib.request
from typing import Any, Dict, List, Mapping, Optional

from moto.moto_api._internal import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from . import _patches
from ._app import CallStats, EmulatorApp
from ._bootstrap import InternalClients, Stack, bootstrap
from ._executor import Executor
from ._faults import FaultInjector
from ._images import Image
from ._state import DEFAULT_KILL_GRACE, Settings

FAKE_KEY = "testing"


class Emulator:
    """A local AWS (moto) whose Batch really runs jobs as local processes. One per process.

    See the package docstring for the full interface.
    """

    region = "us-east-1"

    def __init__(
        self,
        efs_dir: Optional[str] = None,
        port: int = 0,
        dwell: float = 0.02,
        strict: bool = True,
        min_timeout: float = 60,
        kill_grace: float = DEFAULT_KILL_GRACE,
        enforce_memory: bool = True,
        memory_poll: float = 0.25,
        images: Optional[Mapping[str, Image]] = None,
    ) -> None:
        self.efs_dir = efs_dir
        self.port = port
        self.settings = Settings(
            dwell=dwell,
            strict=strict,
            min_timeout=min_timeout,
            kill_grace=kill_grace,
            enforce_memory=enforce_memory,
            memory_poll=memory_poll,
            images=dict(images or {}),
        )
        self.faults = FaultInjector()
        self.calls = CallStats()
        self._server: Optional[BaseWSGIServer] = None
        self._thread: Optional[threading.Thread] = None
        self._executor: Optional[Executor] = None
        self._workdir: Optional[str] = None
        self._endpoint: Optional[str] = None
        self._clients: Optional[InternalClients] = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving on 127.0.0.1 (a free port unless ``port`` was given). Returns self."""
        if self._server is not None:
            return self
        if _patches.bound() is not None:
            raise RuntimeError("another Emulator is already running in this process")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _raise_fd_limit()
        _patches.install()
        # moto's state is process-global: start from nothing even if an earlier Emulator ran here.
        moto_api_backend.reset()
        self._workdir = tempfile.mkdtemp(prefix="miniwdl-aws-emulator-")
        executor = Executor(self.settings, self.faults, self.env, self._workdir)
        app = EmulatorApp(
            DomainDispatcherApplication(create_backend_app),
            self.settings,
            self.faults,
            self.calls,
            executor,
            self.region,
        )
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        # Many concurrent clients (a 1000-job scatter polling) must not get connection refusals.
        self._server.socket.listen(512)
        self._endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._executor = executor
        _patches.bind(executor)
        # A short poll interval makes stop() quick (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="emulator-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Kill every job process group, stop serving, and restore moto."""
        if self._server is None:
            return
        assert self._executor is not None
        self._executor.shutdown()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = None
        self._clients = None
        _patches.unbind()
        _patches.uninstall()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addressing --------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:NNNNN``."""
        if self._endpoint is None:
            raise RuntimeError("Emulator not started")
        return self._endpoint

    def env(self) -> Dict[str, str]:
        """Environment variables that point AWS SDKs/CLIs at this emulator with fake credentials."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": FAKE_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    # -- state -------------------------------------------------------------------------------

    def bootstrap(
        self, efs_dir: Optional[str] = None, task_max_vcpus: int = 256, workflow_max_vcpus: int = 64
    ) -> Stack:
        """Create the reference stack. ``efs_dir`` defaults to the constructor's, else a new temp
        dir. Bootstrap calls are neither counted nor subject to faults."""
        directory = efs_dir or self.efs_dir
        if directory is None:
            directory = tempfile.mkdtemp(prefix="miniwdl-aws-efs-")
            self.efs_dir = directory
        if self._clients is None:
            self._clients = InternalClients(self.endpoint_url, self.region)
        return bootstrap(self._clients, self.region, directory, task_max_vcpus, workflow_max_vcpus)

    def reset(self) -> None:
        """Kill every job, wipe all AWS state, clear faults and stats."""
        assert self._executor is not None, "Emulator not started"
        self._executor.kill_all("Emulator state reset")
        req = urllib.request.Request(self.endpoint_url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
        self._executor.forget()
        self.faults.clear()
        self.calls.reset()

    def stats(self) -> Dict[str, Any]:
        """``{"calls": {"batch.SubmitJob": 12, ...}}`` since the last reset."""
        return self.calls.snapshot()

    def reset_stats(self) -> None:
        """Zero the call counters."""
        self.calls.reset()

    def set_faults(self, spec: Dict[str, Any]) -> None:
        """Replace the fault spec (see the package docstring); ``{}`` clears."""
        self.faults.set(spec)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def configure(self, **values: Any) -> None:
        """Change ``dwell``, ``strict``, ``min_timeout``, ``kill_grace``, ``enforce_memory`` or
        ``memory_poll`` at runtime."""
        self.settings.update(values)

    def add_image(self, name: str, image: Image) -> None:
        """Put ``image`` in the local image table under ``name`` (jobs of that image get its
        environment and files; see ``_images``)."""
        self.settings.images[name] = image

    # -- jobs --------------------------------------------------------------------------------

    def active_jobs(self) -> List[str]:
        """Ids of jobs not yet SUCCEEDED/FAILED."""
        return list(self._executor.active_jobs()) if self._executor else []

    def job_history(self, job_id: str) -> List[str]:
        """Every status a job has passed through, in order (e.g. SUBMITTED, RUNNABLE, STARTING,
        RUNNING, SUCCEEDED); a retry shows RUNNABLE, STARTING, RUNNING again. Lets tests check
        transitions without racing the dwell."""
        return self._executor.history(job_id) if self._executor else []

    def job_pids(self) -> List[int]:
        """Process ids (= process-group ids) of running job processes."""
        return self._executor.live_pids() if self._executor else []

    def terminate_all(self, reason: str = "Terminated by the emulator") -> None:
        """Kill every active job (SIGKILL) and mark it FAILED."""
        if self._executor is not None:
            self._executor.kill_all(reason)

    def assert_no_active_jobs(self, timeout: float = 10.0) -> None:
        """Wait up to ``timeout`` s for every job to finish; then raise AssertionError naming
        the ones still active."""
        deadline = time.monotonic() + timeout
        while True:
            active = self._executor.active_jobs() if self._executor else {}
            if not active:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"jobs still active after {timeout:g}s: {active}")
            time.sleep(0.05)


def _raise_fd_limit() -> None:
    """A large scatter holds two descriptors per running job plus client sockets."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 65536 if hard == resource.RLIM_INFINITY else hard
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):
        pass


def default_efs_dir() -> str:
    """A fresh temp dir standing in for /mnt/efs."""
    return tempfile.mkdtemp(prefix="miniwdl-aws-efs-")


__all__ = ["Emulator", "Stack", "default_efs_dir"]
