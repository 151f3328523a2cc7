"""What every scenario shares: part checks, run drivers, settling, and reading results."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence

from tests.support.logs import stream_messages as _stream_messages
from tests.support.procs import Proc
from tests.support.submitter import submit_cmd as _submit_cmd

from ..harness import LocalAws, PartBroken, part_missing
from ..scorecard import Row, judged, not_run
from ..workflows import (
    SCATTER_WDL,
    failed_calls,
    outputs,
    runner_env,
    scatter_expected,
    start_miniwdl,
)

BACKEND = "miniwdl_aws.backend"
SUBMITTER = "miniwdl_aws.submit.cli"
WRAPPER = "miniwdl_aws.submit.wrapper"
EMULATOR = "miniwdl_aws.emulator"
OPS = "miniwdl_aws.ops.cli"

# Hang guards only: figures never depend on these.
RUN_GUARD = 600.0
SETTLE_GUARD = 60.0


def guarded(name: str, goal: str, needs: Sequence[str], body: Callable[[], List[Row]]) -> List[Row]:
    """Run a scenario: *not run* when a part it needs does not exist; *FAIL* when a part exists
    but does not import, and with the error when the scenario itself breaks (findings too,
    never a pass)."""
    try:
        missing = part_missing(*needs)
    except PartBroken as exc:
        return [judged(name, "part broken", goal, False, str(exc))]
    if missing:
        return [not_run(name, goal, missing)]
    try:
        return body()
    except Exception as exc:
        return [judged(name, "scenario error", goal, False, f"{type(exc).__name__}: {exc}")]


def settle(aws: LocalAws, guard: float = SETTLE_GUARD) -> int:
    """Wait (bounded) for every job to be terminal; return how many are still active."""
    aws.wait_until(lambda: aws.active_count() == 0, guard, period=0.5)
    return aws.active_count()


def tail(text: str, n: int = 3) -> str:
    """The last ``n`` non-blank lines of a process output, joined on one line."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def scatter_result(aws: LocalAws, name: str, proc: Proc, n: int) -> Dict[str, Any]:
    """Run outcome of a scatter: exit code, tasks failed, outputs correct, active jobs left."""
    code = proc.wait(RUN_GUARD)
    outs = outputs(aws, name) or {}
    failed = failed_calls(aws, name)
    correct = outs.get("scat.results") == scatter_expected(n)
    return {
        "code": code,
        "failed": failed,
        "correct": correct,
        "left": settle(aws),
        "stderr": proc.stderr,
    }


def start_scatter(
    aws: LocalAws,
    name: str,
    n: int,
    sleep_s: int = 0,
    preemptible: int = 2,
    env: Optional[Dict[str, str]] = None,
    extra: Sequence[str] = (),
) -> Proc:
    """Start ``miniwdl run`` of the scatter workflow (``n`` tasks sleeping ``sleep_s``)."""
    inputs = [f"n={n}", f"sleep_s={sleep_s}", f"preemptible={preemptible}"]
    return start_miniwdl(aws, name, SCATTER_WDL, inputs, env or runner_env(aws), extra)


def wait_running(aws: LocalAws, proc: Proc, k: int, guard: float = 120.0, total: int = 0) -> bool:
    """Wait (bounded) until ``k`` jobs run and ``total`` jobs exist; False if the runner
    exited first or the guard ran out."""

    def enough() -> bool:
        if proc.popen.poll() is not None:
            return True
        if len(aws.jobs(["RUNNING"])) < k:
            return False
        return not total or len(aws.jobs()) >= total

    aws.wait_until(enough, guard, period=0.3)
    return proc.popen.poll() is None and len(aws.jobs(["RUNNING"])) >= k


def cleanup_leftovers(aws: LocalAws) -> None:
    """Terminate whatever a failed scenario left, so the next one starts clean."""
    batch = aws.client("batch")
    for job in aws.jobs():
        batch.terminate_job(jobId=job["jobId"], reason="reliability scenario cleanup")
    settle(aws, 20)


def stream_messages(aws: LocalAws, group: str, stream: str) -> List[str]:
    """Every message of one CloudWatch Logs stream, oldest first (read by the observer)."""
    return _stream_messages(stream, group, aws.client("logs"))


def submit_cmd(aws: LocalAws, wdl_path: str, *args: str) -> List[str]:
    """``miniwdl_submit_awsbatch`` on ``wdl_path`` with the EFS stand-in as its mount and a
    short poll period (a hidden test knob)."""
    return _submit_cmd([wdl_path, *args], poll_seconds=0.5, mount=aws.efs_dir)


def submitter_env(aws: LocalAws) -> Dict[str, str]:
    """Environment for the submitter (its ``MINIWDL__*`` settings reach the workflow job)."""
    # MINIWDL__* settings pass through to the workflow job; the task concurrency stands in for
    # the workflow image's miniwdl-aws.cfg, which the local AWS does not load
    return runner_env(aws)


def result_files(root: str) -> set:
    """Contents of every task ``result.txt`` found under ``root``."""
    found = set()
    for dirpath, _dirs, files in os.walk(root):
        if "result.txt" in files:
            with open(os.path.join(dirpath, "result.txt")) as f:
                found.add(f.read().strip())
    return found


def result_objects(aws: LocalAws, bucket: str, prefix: str = "") -> set:
    """Contents of every ``result.txt`` object in ``bucket`` under ``prefix``."""
    s3 = aws.client("s3")
    found = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("result.txt"):
                found.add(
                    s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().strip()
                )
    return found
