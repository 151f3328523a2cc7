"""``miniwdl-aws logs RUN_ID [CALL] [--follow]``: a run's log after the fact.

Without ``CALL``, the workflow job's log (``miniwdl run`` as the submitter launched it); with
``CALL``, the log of each Batch job of that call: its attempts, and for a call name inside a
scatter (``greet``), every job of it (``call-greet-0``, ``call-greet-1``...), each under a
``==> … <==`` header as ``tail`` prints several files. Jobs are found as ``runs RUN_ID`` finds
them (:func:`.runs.find_run_jobs`), logs are read with the submitter's follower
(:class:`miniwdl_aws.logfollow.LogFollower`): every line once and in order.

``--follow`` follows one job until it ends: the workflow job up to the wrapper's end-of-log
marker, a task job until it is over and its log has been quiet for one more period. A task job
that FAILED is then followed into its call's next attempt (:func:`follow_attempts`): after an
out-of-memory kill, a Spot interruption or a plain failure within ``maxRetries`` the runner
submits that attempt ``[aws] retry_wait`` seconds later as a new job, which is what someone
following the task wants to see next.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import naming
from ..aws.batch import BatchApi
from ..aws.logs import LogsApi
from ..errors import MiniwdlAwsError
from ..logfollow import END_OF_LOG, LOG_GROUP, LogFollower
from .runs import ACTIVE_STATUSES

__all__ = [
    "NothingFound",
    "NoMoreAttempts",
    "select_jobs",
    "print_logs",
    "follow_job",
    "follow_attempts",
]

# how long past [aws] retry_wait to look for a failed attempt's successor: the runner may take
# a few polls to notice the failure, and SubmitJob may be paced
NEXT_ATTEMPT_SLACK_S = 30.0


class NothingFound(MiniwdlAwsError):
    """No job or no log matches (the CLI's exit status 1, as ``grep`` finding nothing)."""


class NoMoreAttempts(Exception):
    """Raised by :func:`follow_attempts`'s ``next_attempt``: no next attempt will come (the
    run's workflow job has ended), so waiting for one is pointless."""


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


def _who(job: Dict[str, Any]) -> str:
    """``call-greet-0 attempt 2`` (the job's name when it has no call tag)."""
    who = _call_of(job) or str(job.get("jobName", ""))
    attempt = (job.get("tags") or {}).get(naming.TAG_ATTEMPT)
    return f"{who} attempt {attempt}" if attempt else who


def _header(job: Dict[str, Any]) -> str:
    return f"==> {_who(job)}: job {job['jobId']} ({job.get('status', '')}) <=="


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
    return _follow(batch, logs, job, out, note, period, sleep)[0]


def follow_attempts(
    batch: BatchApi,
    logs: LogsApi,
    job: Dict[str, Any],
    next_attempt: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]],
    out: Callable[[str], None],
    note: Callable[[str], None],
    period: float = 2.0,
    wait: float = 20.0 + NEXT_ATTEMPT_SLACK_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Follow a task job (:func:`follow_job`) and, each time one ends FAILED, the next attempt
    of its call: ``next_attempt(job)`` looks for it (None: not there yet; raises
    :class:`NoMoreAttempts` when none will come), every ``period`` for up to ``wait`` seconds
    (``[aws] retry_wait`` plus some slack). Stops after an attempt that did not fail, or when no
    next attempt came (retries used up, or the run ended). Returns the lines printed."""
    printed = 0
    while True:
        lines, status = _follow(batch, logs, job, out, note, period, sleep)
        printed += lines
        if status != "FAILED":
            return printed
        deadline = clock() + wait
        successor = None
        try:
            while successor is None and clock() < deadline:
                sleep(period)
                successor = next_attempt(job)
        except NoMoreAttempts:
            pass
        if successor is None:
            return printed
        out(f"==> following {successor['jobId']}, the next attempt: {_who(successor)} <==")
        job = successor


def _follow(
    batch: BatchApi,
    logs: LogsApi,
    job: Dict[str, Any],
    out: Callable[[str], None],
    note: Callable[[str], None],
    period: float,
    sleep: Callable[[float], None],
) -> Tuple[int, str]:
    """:func:`follow_job`, also returning the job's last known status."""
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
                return printed, status
            out(line)
            printed += 1
        if status not in ACTIVE_STATUSES:
            ended_quiet = 0 if new else ended_quiet + 1
            if follower is not None and ended_quiet >= 2:
                return printed, status
            if follower is None:
                note(f"job {job_id} ended ({status}) without a log stream")
                return printed, status
        sleep(period)
        found = batch.describe_jobs([job_id])
        if found:
            job = dict(found[0])
            status = job.get("status", "")
