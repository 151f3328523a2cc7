#!/usr/bin/env python3
"""Shutdown inside AWS's 30 s SIGTERM → SIGKILL grace, measured on the local AWS.

A workflow job (the real submitter, wrapper and ``miniwdl run``) runs an N-task scatter of long
sleeps; once every task job is RUNNING, the workflow job is terminated as a user or a timeout
would (TerminateJob: SIGTERM, then SIGKILL after the grace). Every AWS call is held ``--latency``
seconds, as AWS's API is not instant. Measured from the TerminateJob of the workflow job:

- when every task job was terminal (none orphaned);
- when the wrapper's upload of the run's logs and error.json finished, or whether the SIGKILL
  at the end of the grace cut it off;
- the calls made (TerminateJob, DescribeJobs, S3) during the shutdown.

    python bench/shutdown.py                      # 1,000 tasks, 0.1 s per call, 30 s grace
    python bench/shutdown.py --tasks 100 --latency 0.1

Prints one line per figure and a JSON summary; exit 0 only if all tasks ended and the upload
finished within the grace. Wall-clock figures: compare runs on one machine, and name the commit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)

WDL = """version 1.0
workflow shutdown {
  input { Int n }
  scatter (i in range(n)) { call nap { input: i = i } }
}
task nap {
  input { Int i }
  command <<< sleep 600 >>>
  runtime { cpu: 1  memory: "256 MiB" }
}
"""


def _env(emu: Any, stack: Any, tasks: int) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MINIWDL"))}
    env.update(emu.env())
    env.update(stack.miniwdl_env())
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    # passed through to the workflow job: every task in flight at once
    env["MINIWDL__SCHEDULER__TASK_CONCURRENCY"] = str(tasks)
    env["MINIWDL__SCHEDULER__CALL_CONCURRENCY"] = str(tasks)
    return env


def _jobs(batch: Any, queue: str, statuses: List[str]) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for status in statuses:
        for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
            out.extend(page["jobSummaryList"])
    return out


def _wait(pred: Any, guard: float, period: float = 0.25) -> bool:
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(period)
    return bool(pred())


def _log_line_time(logs: Any, stream: Optional[str], needle: str) -> Optional[float]:
    """Epoch seconds of the workflow log's first line containing ``needle``."""
    if not stream:
        return None
    token = None
    while True:
        kw: Dict[str, Any] = {
            "logGroupName": "/aws/batch/job",
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            kw["nextToken"] = token
        resp = logs.get_log_events(**kw)
        for e in resp["events"]:
            if needle in e["message"]:
                return float(e["timestamp"]) / 1000.0
        if resp["nextForwardToken"] == token:
            return None
        token = resp["nextForwardToken"]


def measure(tasks: int, latency: float, grace: float, workdir: str) -> Dict[str, Any]:
    """One shutdown; returns the figures."""
    import boto3

    from miniwdl_aws.emulator import Emulator

    efs = os.path.join(workdir, "efs")
    emu = Emulator(efs_dir=efs, kill_grace=grace, dwell=0.05, strict=True).start()
    try:
        stack = emu.bootstrap(task_max_vcpus=tasks + 8)
        env = _env(emu, stack, tasks)
        for key, value in emu.env().items():
            os.environ[key] = value
        batch = boto3.client("batch")
        wdl = os.path.join(workdir, "shutdown.wdl")
        with open(wdl, "w") as f:
            f.write(WDL)
        cmd = [os.path.join(BIN, "miniwdl_submit_awsbatch"), wdl, f"n={tasks}", "--mount", efs,
               "--s3upload", f"s3://{stack.bucket}/shutdown/", "--image",
               "miniwdl-aws-workflow:local"]  # fmt: skip
        emu.set_faults({"latency": latency})
        sub = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if sub.returncode != 0:
            raise RuntimeError(f"submitter exit {sub.returncode}: {sub.stderr[-2000:]}")
        wf_id = sub.stdout.strip().splitlines()[-1]
        running = _wait(
            lambda: len(_jobs(batch, stack.task_queue, ["RUNNING"])) >= tasks, guard=900, period=2
        )
        if not running:
            raise RuntimeError("the task jobs never all ran")
        emu.reset_stats()
        t0 = time.time()
        batch.terminate_job(jobId=wf_id, reason="bench/shutdown.py")
        active = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]
        ended_at: Dict[str, Optional[float]] = {"tasks": None, "workflow": None}

        def progress() -> bool:
            if ended_at["tasks"] is None and not _jobs(batch, stack.task_queue, active):
                ended_at["tasks"] = time.time()
            wf = batch.describe_jobs(jobs=[wf_id])["jobs"][0]
            if ended_at["workflow"] is None and wf["status"] in ("SUCCEEDED", "FAILED"):
                ended_at["workflow"] = time.time()
            return ended_at["tasks"] is not None and ended_at["workflow"] is not None

        _wait(progress, guard=grace + 120, period=0.2)
        calls = emu.stats()["calls"]
        wf = batch.describe_jobs(jobs=[wf_id])["jobs"][0]
        stream = (wf.get("container") or {}).get("logStreamName")
        uploaded = _log_line_time(boto3.client("logs"), stream, "uploaded and verified")
        rel = lambda t: None if t is None else round(t - t0, 1)  # noqa: E731
        return {
            "tasks": tasks,
            "latency_s": latency,
            "grace_s": grace,
            "all_tasks_terminal_s": rel(ended_at["tasks"]),
            "upload_done_s": rel(uploaded),
            "workflow_job_ended_s": rel(ended_at["workflow"]),
            "workflow_exit_code": (wf.get("container") or {}).get("exitCode"),
            "tasks_left_active": len(_jobs(batch, stack.task_queue, active)),
            "calls": {k: v for k, v in sorted(calls.items()) if v},
        }
    finally:
        emu.stop()


def main(argv: Optional[List[str]] = None) -> int:
    """Measure once and print the figures; exit 0 only within the goal."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=1000)
    p.add_argument("--latency", type=float, default=0.1, help="seconds per AWS call")
    p.add_argument("--grace", type=float, default=30.0, help="SIGTERM → SIGKILL (ECS: 30 s)")
    p.add_argument("--goal", type=float, default=25.0, help="seconds for tasks + upload")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="miniwdl-aws-shutdown-")
    try:
        res = measure(args.tasks, args.latency, args.grace, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    commit = subprocess.run(
        ["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    res["commit"] = commit
    print(json.dumps(res, indent=2))
    ok = (
        res["tasks_left_active"] == 0
        and res["all_tasks_terminal_s"] is not None
        and res["all_tasks_terminal_s"] <= args.goal
        and res["upload_done_s"] is not None
        and res["upload_done_s"] <= args.goal
    )
    print(f"{'met' if ok else 'NOT met'}: all {res['tasks']} task jobs terminal and the upload"
          f" done within {args.goal:g} s of the workflow job's SIGTERM")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
