"""Drivers for the reliability scenarios: the local AWS as a separate process, runner processes,
and the AWS-side view (active jobs, call counts) that every figure is measured from.

The emulator runs as ``python -m miniwdl_aws.emulator serve --bootstrap`` rather than in-process:
scenarios kill and restart it, send signals to runners, and must see it exactly as a user would.
All traffic stays on 127.0.0.1; every process gets fake credentials and an empty config home, so
no real AWS account or user configuration can leak in.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import boto3
import botocore.config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable
BIN = os.path.dirname(PYTHON)

ACTIVE_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")

# Fake credentials for every process; scenarios that scan for leaks use their own marked ones.
FAKE_CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def part_missing(*modules: str) -> Optional[str]:
    """None when every module imports, else ``"part missing: <module>"`` for the first that
    doesn't, so a scenario whose product part has not landed is reported as not run."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"part missing: {module} ({exc})"
    return None


def base_env(tmp: str) -> Dict[str, str]:
    """A clean environment for child processes: PATH with this venv first, fake credentials,
    no AWS profile or config files, no user miniwdl.cfg, no inherited MINIWDL_* settings."""
    env = {
        "PATH": BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tmp,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "XDG_CONFIG_HOME": os.path.join(tmp, "xdg"),
        "AWS_CONFIG_FILE": os.path.join(tmp, "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(FAKE_CREDS)
    return env


class LocalAws:
    """A local AWS endpoint as the scenarios see it: its side channel (faults, call counts),
    boto3 clients, the reference stack's names, and the environment for child processes.

    :param endpoint: ``http://127.0.0.1:<port>``
    :param exports: environment that points a process at it (endpoint, region, ``MINIWDL__*``)
    :param stack: names of the bootstrapped stack (``task_queue``, ``bucket``, ...)
    :param workdir: scratch directory of the scenario
    :param efs_dir: the EFS stand-in (``[file_io] root``)
    """

    def __init__(
        self,
        endpoint: str,
        exports: Dict[str, str],
        stack: Dict[str, Any],
        workdir: str,
        efs_dir: str,
    ) -> None:
        self.exports = dict(exports, AWS_ENDPOINT_URL=endpoint)
        self.stack = dict(stack)
        self.workdir = workdir
        self.efs_dir = efs_dir
        self._clients: Dict[str, Any] = {}

    @classmethod
    def in_process(cls, emulator: Any, stack: Any, workdir: str) -> LocalAws:
        """Wrap a started, bootstrapped :class:`miniwdl_aws.emulator.Emulator`."""
        exports = dict(emulator.env())
        exports.update(stack.miniwdl_env())
        return cls(emulator.endpoint_url, exports, stack.as_dict(), workdir, stack.efs_dir)

    # --- side channel ---

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.exports["AWS_ENDPOINT_URL"].rstrip("/")

    def _request(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.endpoint}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.strip() else None

    def get(self, path: str) -> Any:
        """GET ``/_emulator/<path>`` as JSON."""
        return self._request("GET", path)

    def set_faults(self, spec: Dict[str, Any]) -> None:
        """Replace the fault spec (``{}`` clears it)."""
        self._request("POST", "faults", spec)

    def calls(self) -> Dict[str, int]:
        """API call counts so far, ``{"batch.SubmitJob": n, ...}``."""
        return dict(self.get("stats").get("calls", {}))

    # --- the AWS view ---

    def env(self) -> Dict[str, str]:
        """Environment for a process talking to this emulator (exports + fake credentials)."""
        env = base_env(self.workdir)
        env.update(self.exports)
        env.update(FAKE_CREDS)
        return env

    def client(self, service: str) -> Any:
        """A boto3 client bound to the emulator for *observing* it: its calls are marked as the
        emulator's own, so they are neither counted in the stats nor hit by injected faults."""
        if service not in self._clients:
            from miniwdl_aws.emulator._state import INTERNAL_HEADER

            client = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name=self.exports.get("AWS_DEFAULT_REGION", "us-east-1"),
            ).client(
                service,
                endpoint_url=self.endpoint,
                config=botocore.config.Config(retries={"total_max_attempts": 3}),
            )

            def mark(request: Any, **_: Any) -> None:
                request.headers[INTERNAL_HEADER] = "1"

            client.meta.events.register("before-send", mark)
            self._clients[service] = client
        return self._clients[service]

    @property
    def queues(self) -> List[str]:
        """Every job queue of the stack."""
        out: List[str] = []
        for page in self.client("batch").get_paginator("describe_job_queues").paginate():
            out += [q["jobQueueName"] for q in page["jobQueues"]]
        return out

    def jobs(
        self, statuses: Iterable[str] = ACTIVE_STATUSES, prefix: str = ""
    ) -> List[Dict[str, Any]]:
        """Job summaries (ListJobs) over every queue, optionally only names starting ``prefix``."""
        batch = self.client("batch")
        out: List[Dict[str, Any]] = []
        for queue in self.queues:
            for status in statuses:
                kwargs: Dict[str, Any] = {"jobQueue": queue, "jobStatus": status}
                for page in batch.get_paginator("list_jobs").paginate(**kwargs):
                    out += [
                        dict(j, jobQueue=queue)
                        for j in page["jobSummaryList"]
                        if j["jobName"].startswith(prefix)
                    ]
        return out

    def all_jobs(self, prefix: str = "") -> List[Dict[str, Any]]:
        """Full DescribeJobs records of every job (any status)."""
        statuses = ACTIVE_STATUSES + ("SUCCEEDED", "FAILED")
        ids = [j["jobId"] for j in self.jobs(statuses, prefix)]
        out: List[Dict[str, Any]] = []
        for i in range(0, len(ids), 100):  # DescribeJobs takes at most 100 ids
            out += self.client("batch").describe_jobs(jobs=ids[i : i + 100])["jobs"]
        return out

    def active_count(self, prefix: str = "") -> int:
        """Jobs not yet terminal (SUCCEEDED/FAILED)."""
        return len(self.jobs(ACTIVE_STATUSES, prefix))

    def wait_until(
        self, check: Callable[[], bool], timeout: float, period: float = 0.2
    ) -> Optional[float]:
        """Seconds until ``check()`` held, or None after ``timeout`` (a hang guard)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if check():
                return time.monotonic() - t0
            time.sleep(period)
        return None


class Proc:
    """A child process with its output captured to files (no pipe can fill up and block it)."""

    def __init__(self, cmd: Sequence[str], env: Dict[str, str], cwd: str, name: str) -> None:
        self.cmd = list(cmd)
        self.out_path = os.path.join(cwd, f"{name}.stdout")
        self.err_path = os.path.join(cwd, f"{name}.stderr")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.popen = subprocess.Popen(
                self.cmd, env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )
        self.started = time.monotonic()
        self.run_id = ""  # miniwdl-aws run id, when the scenario set one

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child (only to it, by pid)."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> Optional[int]:
        """Exit code, or None if still running after ``timeout`` (it is then killed)."""
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


def run(
    cmd: Sequence[str], env: Dict[str, str], cwd: str, name: str, timeout: float = 300.0
) -> tuple[Optional[int], str, str]:
    """Run to completion: ``(exit code or None on hang, stdout, stderr)``."""
    proc = Proc(cmd, env, cwd, name)
    code = proc.wait(timeout)
    return code, proc.stdout, proc.stderr


def scratch(prefix: str = "rel-") -> str:
    """A fresh scratch directory (the caller removes it)."""
    return tempfile.mkdtemp(prefix=prefix)


class ResetProxy:
    """A loopback TCP proxy in front of the emulator that resets a seeded fraction of requests.

    Each chunk a client sends that starts with an HTTP method opens a new request (botocore
    sends a request's head in one write). For a drawn fraction of them the client connection is
    closed with an RST (``SO_LINGER`` 0), so the client sees ``ConnectionResetError``:

    - ``after=False``: before the bytes reach the emulator (the call never happened);
    - ``after=True``: after the emulator got the request, instead of relaying its response (the
      call happened, its answer was lost, as when a load balancer drops a connection late).

    ``only`` limits the draw to requests whose request line contains it (e.g. ``/v1/submitjob``).
    """

    def __init__(
        self,
        upstream_port: int,
        fraction: float,
        seed: int = 1,
        after: bool = False,
        only: bytes = b"",
    ) -> None:
        import random

        self.only = only.lower()
        self.upstream_port = upstream_port
        self.fraction = fraction
        self.after = after
        self.resets = 0
        self.requests = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<proxy port>``."""
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            conn = _Conn(client, upstream)
            threading.Thread(target=self._pump_up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(conn,), daemon=True).start()

    def _draw_reset(self) -> bool:
        with self._lock:
            self.requests += 1
            if self._random.random() < self.fraction:
                self.resets += 1
                return True
            return False

    def _pump_up(self, conn: _Conn) -> None:
        try:
            while True:
                data = conn.client.recv(65536)
                if not data:
                    break
                first = data.split(b"\r\n", 1)[0]
                eligible = first.split(b" ", 1)[0] in _HTTP_METHODS and self.only in first.lower()
                if eligible and self._draw_reset():
                    if not self.after:
                        conn.reset()
                        return
                    conn.doomed.set()
                conn.upstream.sendall(data)
        except OSError:
            pass
        conn.half_close(conn.upstream)

    def _pump_down(self, conn: _Conn) -> None:
        try:
            while True:
                data = conn.upstream.recv(65536)
                if data and conn.doomed.is_set():
                    conn.reset()
                    return
                if not data:
                    break
                conn.client.sendall(data)
        except OSError:
            pass
        conn.half_close(conn.client)

    def close(self) -> None:
        """Stop accepting connections."""
        self._stopped = True
        self._server.close()


_HTTP_METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE")


class _Conn:
    """One proxied connection: its two sockets, closed once both directions are done."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.doomed = threading.Event()  # set: reset instead of relaying the next response
        self._done = 0
        self._lock = threading.Lock()

    def half_close(self, dst: socket.socket) -> None:
        """One direction ended normally: pass the end on, close when both have."""
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:
            self._done += 1
            last = self._done == 2
        if last:
            self.client.close()
            self.upstream.close()

    def reset(self) -> None:
        """Abort: RST to the client (linger 0), wake the other pump, close both."""
        try:
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # SHUT_RD sends nothing but wakes the pump blocked in recv on this socket, so the
            # close below really releases it and the kernel sends the RST
            self.client.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        try:
            self.upstream.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.client.close()
        self.upstream.close()


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
