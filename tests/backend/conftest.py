"""Helpers for the backend's end-to-end tests: run real ``miniwdl run`` subprocesses against the
local AWS with only ``MINIWDL__*`` env config (plus ``emulator.env()``), through the one launcher
in :mod:`tests.support.miniwdl`."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from tests.support.miniwdl import FAST_ENV, MiniwdlRun, RunResult, run_on_stack, start_on_stack

__all__ = ["FAST_ENV", "batch_client", "jobs_of_run", "run_miniwdl", "start_miniwdl"]

WDL_DIR = os.path.join(os.path.dirname(__file__), "wdl")


def start_miniwdl(
    emulator: Any,
    stack: Any,
    wdl: str,
    inputs: List[str],
    run_name: str = "run",
    extra_env: Optional[Dict[str, str]] = None,
    args: Optional[List[str]] = None,
) -> MiniwdlRun:
    """Start ``miniwdl run`` of ``wdl/<wdl>`` in the background (:mod:`tests.support.miniwdl`)."""
    wdl_path = os.path.join(WDL_DIR, wdl)
    return start_on_stack(emulator, stack, wdl_path, inputs, run_name, extra_env, args or ())


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
    """Run ``miniwdl run`` of ``wdl/<wdl>`` to completion (timeout is only a hang guard)."""
    wdl_path = os.path.join(WDL_DIR, wdl)
    return run_on_stack(emulator, stack, wdl_path, inputs, run_name, extra_env, args or (), timeout)


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


def memory_by_attempt(queue: str) -> List[int]:
    """The MEMORY (MiB) each job of the run in ``queue`` requested, oldest first."""
    jobs = sorted(jobs_of_run(queue, "mw"), key=lambda j: j["createdAt"])
    return [
        int(
            next(
                r["value"] for r in j["container"]["resourceRequirements"] if r["type"] == "MEMORY"
            )
        )
        for j in jobs
    ]
