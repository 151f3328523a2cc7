"""Helpers for the backend's end-to-end tests: run real ``miniwdl run`` subprocesses against the
local AWS with only ``MINIWDL__*`` env config (plus ``emulator.env()``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest

WDL_DIR = os.path.join(os.path.dirname(__file__), "wdl")
MINIWDL = os.path.join(os.path.dirname(sys.executable), "miniwdl")

# fast but realistic settings for tests: short poll periods, no wait before retries
FAST_ENV = {
    "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "aws_batch_job",
    "MINIWDL__SCHEDULER__TASK_CONCURRENCY": "100",
    "MINIWDL__AWS__RETRY_WAIT": "0",
    "MINIWDL__AWS__DESCRIBE_PERIOD": "0.25",
    "MINIWDL__AWS__DESCRIBE_PERIOD_MAX": "1",
    "MINIWDL__AWS__TERMINATE_WAIT": "15",
}


@dataclass
class RunResult:
    """A finished ``miniwdl run``: exit code, its run dir, outputs or error, and the logs."""

    returncode: int
    run_dir: str
    stdout: str
    stderr: str

    @property
    def outputs(self) -> Dict[str, Any]:
        return dict(json.loads(self.stdout)["outputs"])

    @property
    def error(self) -> Dict[str, Any]:
        with open(os.path.join(self.run_dir, "error.json")) as f:
            return dict(json.load(f))


def miniwdl_env(
    emulator: Any, stack: Any, extra: Optional[Dict[str, str]] = None
) -> Dict[str, str]:
    """Environment for a ``miniwdl run`` subprocess: PATH etc. from ours, nothing MINIWDL_* or AWS_*
    but what the emulator and the stack give, plus ``FAST_ENV`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIWDL", "AWS_"))}
    env.update(emulator.env())
    env.update(stack.miniwdl_env())
    env.update(FAST_ENV)
    env["MINIWDL__CALL_CACHE__DIR"] = os.path.join(stack.efs_dir, "_call_cache")
    env.update(extra or {})
    return env


class Running:
    """A ``miniwdl run`` in the background. Its output goes to files, not pipes, so a chatty run
    can never block on a full pipe while the test is busy elsewhere."""

    def __init__(self, cmd: List[str], env: Dict[str, str], cwd: str, run_dir: str) -> None:
        self.run_dir = run_dir
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._out, stderr=self._err, text=True, cwd=cwd
        )

    def poll(self) -> Optional[int]:
        return self.proc.poll()

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read()

    def finish(self, timeout: float) -> RunResult:
        """Wait for the run to end (killing it after ``timeout``, a hang guard)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"miniwdl run hung:\n{self.stderr()[-4000:]}")
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._out.seek(0)
        return RunResult(self.proc.returncode, self.run_dir, self._out.read(), self.stderr())


def start_miniwdl(
    emulator: Any,
    stack: Any,
    wdl: str,
    inputs: List[str],
    run_name: str = "run",
    extra_env: Optional[Dict[str, str]] = None,
    args: Optional[List[str]] = None,
) -> Running:
    """Start ``miniwdl run`` in the background."""
    run_dir = os.path.join(stack.efs_dir, run_name)
    cmd = [MINIWDL, "run", os.path.join(WDL_DIR, wdl), *inputs, "--dir", run_dir + "/."]
    cmd += args or []
    return Running(cmd, miniwdl_env(emulator, stack, extra_env), stack.efs_dir, run_dir)


def run_miniwdl(
    emulator: Any,
    stack: Any,
    wdl: str,
    inputs: List[str],
    run_name: str = "run",
    extra_env: Optional[Dict[str, str]] = None,
    args: Optional[List[str]] = None,
    timeout: float = 180,
) -> RunResult:
    """Run ``miniwdl run`` to completion (timeout is only a hang guard)."""
    return start_miniwdl(emulator, stack, wdl, inputs, run_name, extra_env, args).finish(timeout)


def batch_client() -> Any:
    """A boto3 Batch client bound to the emulator (the ``aws`` fixture set AWS_* in os.environ)."""
    import boto3

    return boto3.client("batch")


def jobs_of_run(queue: str, prefix: str = "") -> List[Dict[str, Any]]:
    """Descriptions of every job in ``queue`` (optionally whose name starts with ``prefix``)."""
    client = batch_client()
    kwargs: Dict[str, Any] = {"jobQueue": queue}
    if prefix:
        kwargs["filters"] = [{"name": "JOB_NAME", "values": [prefix + "*"]}]
    ids = [j["jobId"] for j in client.list_jobs(**kwargs)["jobSummaryList"]]
    out: List[Dict[str, Any]] = []
    for i in range(0, len(ids), 100):
        out.extend(client.describe_jobs(jobs=ids[i : i + 100])["jobs"])
    return out
