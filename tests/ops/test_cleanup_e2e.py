"""A real ``miniwdl run`` killed with SIGKILL mid-scatter leaves task jobs running on Batch;
``miniwdl-aws cleanup RUN`` (the console script) terminates all of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any, List

import boto3

from miniwdl_aws import naming
from tests.support.miniwdl import start_on_stack

MINIWDL_AWS = os.path.join(os.path.dirname(sys.executable), "miniwdl-aws")
WDL_DIR = os.path.join(os.path.dirname(__file__), "wdl")


def _active(run_id: str, queue: str) -> List[str]:
    batch = boto3.client("batch")
    listing = batch.list_jobs(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [f"{run_id}-*"]}]
    )["jobSummaryList"]
    return [j["jobId"] for j in listing if j["status"] not in ("SUCCEEDED", "FAILED")]


def test_sigkill_then_cleanup(emulator: Any, stack: Any) -> None:
    run_id = naming.new_run_id()
    proc = start_on_stack(
        emulator,
        stack,
        os.path.join(WDL_DIR, "fan.wdl"),
        ["n=4", "sleep_s=300"],
        "killed",
        extra_env={naming.ENV_RUN_ID: run_id},
        new_session=True,
    )
    try:
        deadline = time.monotonic() + 60  # hang guard
        while len(_active(run_id, stack.task_queue)) < 2:
            assert proc.poll() is None, proc.stderr[-3000:]
            assert time.monotonic() < deadline, "task jobs never started"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no chance to terminate its jobs
        proc.wait(30)
    orphans = _active(run_id, stack.task_queue)
    assert len(orphans) >= 2  # the crash really left jobs behind

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIWDL", "AWS_"))}
    env.update(emulator.env())
    done = subprocess.run(
        [MINIWDL_AWS, "cleanup", run_id, "--wait", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"run {run_id}:" in done.stdout and ", 0 active" in done.stdout
    for job_id in orphans:
        assert f"terminated {job_id}" in done.stdout
    assert _active(run_id, stack.task_queue) == []
    assert emulator.active_jobs() == []
