"""``miniwdl-aws logs RUN_ID [CALL] [--follow]``: a run's log after the fact.

Without ``CALL``, the workflow job's log (``miniwdl run`` as the submitter launched it); with
``CALL``, the log of each Batch job of that call: its attempts, and for a call name inside a
scatter (``greet``), every job of it (``call-greet-0``, ``call-greet-1``...), each under a
``==> … <==`` header as ``tail`` prints several files. Jobs are found as ``runs RUN_ID`` finds
them (:func:`.runs.find_run_jobs`), logs are read with the submitter's follower
(:class:`miniwdl_aws.logfollow.LogFollower`): every line once and in order.

``--follow`` follows one job until it ends: the workflow job up to the wrapper's end-of-log
marker, a task job until it is over and its log has been quiet for one more period.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from .. import naming
from ..aws.batch import BatchApi
from ..aws.logs import LogsApi
from ..errors import MiniwdlAwsError
from ..logfollow import END_OF_LOG, LOG_GROUP, LogFollower
from .runs import ACTIVE_STATUSES

__all__ = ["NothingFound", "select_jobs", "print_logs", "follow_job"]


class NothingFound(MiniwdlAwsError):
    """No job or no log matches (the CLI's exit status 1, as ``grep`` finding nothing)."""


def _call_of(job: Dict[str, Any]) -> str:
    return str((job.get("tags") or {}).get(naming.TAG_CALL, ""))


def _matches(call_tag: str, call: str) -> bool:
    """Whether a job tagged ``call_tag`` (miniwdl's call run id, ``call-greet-0``) belongs to
    the call the user named: the run id itself, or the call name with or without ``call-``,
    any scatter index after it."""
    name = call if call.startswith("call-") else "call-" + call
    return call_tag in (call, name) or call_tag.startswith(name + "-")


def select_jobs(run_id: str, jobs: Sequence[Dict[str, Any]], call: Optional[str]) -> List[Any]:
    """The jobs whose logs to show, oldest first.

    :raises NothingFound: no such job (the message names what exists)
    """
    if not jobs:
        raise NothingFound(f"no jobs found for run {run_id}")
    if call is None:
        chosen = [j for j in jobs if (j.get("tags") or {}).get(naming.TAG_ROLE) == "workflow"]
        if not chosen:
            calls = sorted({_call_of(j) for j in jobs if _call_of(j)})
            raise NothingFound(
                f"run {run_id} has no workflow job (started with a plain miniwdl run?); name a"
                f" call: {' '.join(calls[:10]) or '(none)'}"
            )
        return chosen
    chosen = [j for j in jobs if _matches(_call_of(j), call)]
    if not chosen:
        calls = sorted({_call_of(j) for j in jobs if _call_of(j)})
        raise NothingFound(
            f"run {run_id} has no job of call {call!r}; its calls:"
            f" {' '.join(calls[:10]) or '(none)'}" + (" …" if len(calls) > 10 else "")
        )
    return chosen


def _header(job: Dict[str, Any]) -> str:
    tags = job.get("tags") or {}
    who = _call_of(job) or str(job.get("jobName", ""))
    attempt = tags.get(naming.TAG_ATTEMPT)
    what = f"{who} attempt {attempt}" if attempt else who
    return f"==> {what}: job {job['jobId']} ({job.get('status', '')}) <=="


def _stream(job: Dict[str, Any]) -> Optional[str]:
    return (job.get("container") or {}).get("logStreamName") or None


@dataclass
class Printed:
    """What :func:`print_logs` printed."""

    jobs: int = 0
    lines: int = 0
    without_log: int = 0


def print_logs(
    logs: LogsApi,
    jobs: Sequence[Dict[str, Any]],
    out: Callable[[str], None],
    note: Callable[[str], None],
) -> Printed:
    """Print each job's log (headers when there are several); a job that has no log yet is
    noted on ``note`` (stderr)."""
    done = Printed()
    for job in jobs:
        stream = _stream(job)
        if not stream:
            note(f"job {job['jobId']} ({job.get('status', '')}) has no log stream yet")
            done.without_log += 1
            continue
        if len(jobs) > 1:
            out(_header(job))
        for line in LogFollower(logs, stream, LOG_GROUP).poll():
            if line.startswith(END_OF_LOG):
                break
            out(line)
            done.lines += 1
        done.jobs += 1
    return done


def follow_job(
    batch: BatchApi,
    logs: LogsApi,
    job: Dict[str, Any],
    out: Callable[[str], None],
    note: Callable[[str], None],
    period: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print one job's log as it grows until the job has ended and its log is complete: the
    end-of-log marker of a workflow job, else one more quiet poll after the end (CloudWatch
    delivers late). Returns the lines printed."""
    job_id = job["jobId"]
    follower: Optional[LogFollower] = None
    printed = 0
    ended_quiet = 0
    status = job.get("status", "")
    while True:
        if follower is None and _stream(job):
            follower = LogFollower(logs, str(_stream(job)), LOG_GROUP)
        new = follower.poll() if follower is not None else []
        for line in new:
            if line.startswith(END_OF_LOG):
                return printed
            out(line)
            printed += 1
        if status not in ACTIVE_STATUSES:
            ended_quiet = 0 if new else ended_quiet + 1
            if follower is not None and ended_quiet >= 2:
                return printed
            if follower is None:
                note(f"job {job_id} ended ({status}) without a log stream")
                return printed
        sleep(period)
        found = batch.describe_jobs([job_id])
        if found:
            job = dict(found[0])
            status = job.get("status", "")
