"""One local AWS emulator process (``python -m miniwdl_aws.emulator serve --bootstrap``) per
measured run, and its ``/_emulator/`` side channel.

The emulator runs with *our* venv's python (it needs moto) but with the measured side's venv
``bin`` first on PATH, because it runs each Batch job's command as a local subprocess with its own
PATH: 0.12.2's jobs must resolve that side's bash/awscli, ours its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Any, Dict, List, Optional

import psutil

from miniwdl_aws.emulator import parse_exports

# exports every run needs from `serve --bootstrap`
REQUIRED_EXPORTS = ("AWS_ENDPOINT_URL", "MINIWDL__AWS__TASK_QUEUE", "MINIWDL__AWS__FSAP")
JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def clean_env(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """``base`` (default: os.environ) without AWS/miniwdl settings, so nothing of the caller's
    real AWS profile, endpoint or miniwdl config leaks into a measured run."""
    env = dict(os.environ if base is None else base)
    for key in list(env):
        if key.startswith(("AWS_", "MINIWDL")) or key in ("BOTO_CONFIG", "VIRTUAL_ENV"):
            del env[key]
    return env


class EmulatorProcess:
    """A running ``serve`` process: its exports, side channel, CPU use, and a clean stop.

    :param python: interpreter that has ``miniwdl_aws.emulator`` and moto (our venv's)
    :param path_first: directory put first on the emulator's PATH (the measured side's venv bin)
    :param efs_dir: the EFS directory (identity mount: jobs see it at the same path)
    :param log_path: where the emulator's own output goes
    :param dwell: seconds each job spends in each Batch state (``--dwell``)
    """

    def __init__(
        self,
        python: str,
        path_first: str,
        efs_dir: Path,
        log_path: Path,
        dwell: float,
        startup_timeout: float = 90.0,
    ) -> None:
        self.python = python
        self.path_first = path_first
        self.efs_dir = efs_dir
        self.log_path = log_path
        self.dwell = dwell
        self.startup_timeout = startup_timeout
        self.exports: Dict[str, str] = {}
        self._proc: Optional[subprocess.Popen[str]] = None
        self._lines: List[str] = []
        self._log: Optional[IO[str]] = None
        self._pump: Optional[threading.Thread] = None

    # --- lifecycle ---

    def start(self) -> EmulatorProcess:
        """Start ``serve --bootstrap`` and wait for its exports."""
        self.efs_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.log_path.with_suffix(".port")
        if port_file.exists():  # a stale port file would point at a dead server
            port_file.unlink()
        env = clean_env()
        env["PATH"] = self.path_first + os.pathsep + env.get("PATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [
            self.python,
            "-m",
            "miniwdl_aws.emulator",
            "serve",
            "--bootstrap",
            "--efs-dir",
            str(self.efs_dir),
            "--port-file",
            str(port_file),
            "--dwell",
            str(self.dwell),
        ]
        self._log = open(self.log_path, "w")
        self._proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=self.log_path.parent,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,  # its job subprocesses stay in its group for a clean stop
        )
        self._pump = threading.Thread(target=self._pump_stdout, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            self.exports = parse_exports(list(self._lines))
            if all(k in self.exports for k in REQUIRED_EXPORTS) and port_file.exists():
                return self
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"emulator did not start (exit {self._proc.returncode}); see {self.log_path}"
        )

    def _pump_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None and self._log is not None
        for line in self._proc.stdout:
            self._lines.append(line)
            self._log.write(line)

    def stop(self) -> None:
        """SIGTERM (the emulator then kills its job process groups), SIGKILL after a grace."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._pump is not None:
            self._pump.join(timeout=5)
        if self._log is not None:
            self._log.close()
        self._proc = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- measuring ---

    @property
    def endpoint(self) -> str:
        """The emulator's endpoint URL."""
        return self.exports["AWS_ENDPOINT_URL"]

    def cpu_seconds(self) -> float:
        """CPU seconds of the emulator and its job subprocesses (finished ones) so far."""
        assert self._proc is not None
        t = psutil.Process(self._proc.pid).cpu_times()
        return float(t.user + t.system + t.children_user + t.children_system)

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.endpoint.rstrip("/") + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read().decode() or "null"
        return json.loads(text)

    def stats(self) -> Dict[str, Any]:
        """``GET /_emulator/stats``: call counts by ``service.Operation`` (and whatever else)."""
        return dict(self._call("GET", "/_emulator/stats"))

    def reset_stats(self) -> None:
        """``POST /_emulator/stats/reset``."""
        self._call("POST", "/_emulator/stats/reset", {})

    def set_faults(self, spec: Dict[str, Any]) -> None:
        """``POST /_emulator/faults`` (e.g. ``{"tps": {"batch.SubmitJob": 50}}``)."""
        self._call("POST", "/_emulator/faults", spec)

    def jobs(self) -> Any:
        """``GET /_emulator/jobs``."""
        return self._call("GET", "/_emulator/jobs")

    def list_all_jobs(self, queue: str) -> List[Dict[str, Any]]:
        """ListJobs summaries (with createdAt/startedAt/stoppedAt) of every job ever submitted to
        ``queue``, one listing per status. Call it *after* reading the stats: these calls are the
        harness's, not the runner's."""
        client = self.batch_client()
        seen: Dict[str, Dict[str, Any]] = {}
        for status in JOB_STATUSES:
            kwargs: Dict[str, Any] = {"jobQueue": queue, "jobStatus": status}
            while True:
                page = client.list_jobs(**kwargs)
                for job in page.get("jobSummaryList", []):
                    seen[job["jobId"]] = job
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        return list(seen.values())

    def attempt_counts(self, job_ids: List[str]) -> Dict[str, int]:
        """``{job id: len(attempts)}`` as DescribeJobs reports it (100 ids per call). Like
        :meth:`list_all_jobs`, call it after reading the stats."""
        client = self.batch_client()
        out: Dict[str, int] = {}
        for i in range(0, len(job_ids), 100):
            for job in client.describe_jobs(jobs=job_ids[i : i + 100]).get("jobs", []):
                out[job["jobId"]] = len(job.get("attempts") or [])
        return out

    def batch_client(self) -> Any:
        """A boto3 Batch client bound to the emulator with fake credentials."""
        import boto3
        import botocore.config

        return boto3.session.Session(
            aws_access_key_id=self.exports.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=self.exports.get("AWS_SECRET_ACCESS_KEY", "testing"),
            region_name=self.exports.get("AWS_DEFAULT_REGION", "us-east-1"),
        ).client(
            "batch",
            endpoint_url=self.endpoint,
            config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 10}),
        )
