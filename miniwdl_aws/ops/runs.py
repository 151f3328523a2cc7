"""Find, inspect and terminate the Batch jobs of miniwdl-aws runs.

A run's jobs are found by the naming contract (:mod:`miniwdl_aws.naming`): every job name starts
with ``<run id>-`` and every job carries the ``MiniwdlRunId`` tag. ``ListJobs`` with a
``JOB_NAME`` filter ``<run id>-*`` returns the jobs of every status in one queue (Batch ignores
``jobStatus`` when a filter is given), so one run costs one ListJobs page per queue plus one
DescribeJobs call per 100 jobs. Nothing here needs the process that started the run.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import re
import shlex
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .. import naming
from ..aws.batch import BatchApi
from ..errors import ConfigError

__all__ = [
    "ACTIVE_STATUSES",
    "RunOverview",
    "CleanupResult",
    "check_run_id",
    "run_id_of_job",
    "find_run_jobs",
    "expand_arrays",
    "job_counts",
    "list_runs",
    "cleanup_run",
]

ACTIVE_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
STATUS_ORDER = ACTIVE_STATUSES + ("SUCCEEDED", "FAILED")


def check_run_id(run_id: str) -> str:
    """``run_id`` when it is a well-formed run id.

    :raises ConfigError: it could not be a run id (and a job-name filter on it would be unsafe)
    """
    if not naming.is_valid_run_id(run_id):
        raise ConfigError(f"not a run id: {run_id!r} (expected e.g. mw261125T153012-a1b2c3)")
    return run_id


def run_id_of_job(job_name: str, tags: Optional[Dict[str, str]] = None) -> Optional[str]:
    """The run a job belongs to: its ``MiniwdlRunId`` tag, else a generated run id prefixing its
    name, else None (not a miniwdl-aws job, as far as we can tell)."""
    if tags and tags.get(naming.TAG_RUN_ID):
        return tags[naming.TAG_RUN_ID]
    return naming.generated_run_id_in(job_name)


def search_queues(api: BatchApi, queues: Optional[Sequence[str]]) -> List[str]:
    """The queues to search: those given (each once), else every queue of the region."""
    return list(dict.fromkeys(q for q in queues if q)) if queues else api.queue_names()


def find_run_jobs(
    api: BatchApi,
    run_id: str,
    queues: Optional[Sequence[str]] = None,
    job_name: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """Descriptions of every job of ``run_id`` in ``queues`` (None: every queue), sorted by
    creation time. A job counts when its name starts with ``<run id>-`` (or is ``job_name``,
    one of the run's names, when given) and its ``MiniwdlRunId`` tag, if any, is ``run_id``."""
    check_run_id(run_id)
    flt = [{"name": "JOB_NAME", "values": [job_name or f"{run_id}-*"]}]
    ids: List[str] = []
    for queue in search_queues(api, queues):
        ids.extend(j["jobId"] for j in api.list_jobs(queue, flt))
    jobs = [
        j
        for j in api.describe_jobs_in_order(ids)
        if (j.get("tags") or {}).get(naming.TAG_RUN_ID, run_id) == run_id
    ]
    jobs.sort(key=lambda j: (j.get("createdAt", 0), j.get("jobName", "")))
    return jobs


@dataclasses.dataclass
class RunOverview:
    """One run as seen in a listing of recent jobs."""

    run_id: str
    workflow: str = ""
    created_at: int = 0  # epoch ms of its first job
    last_at: int = 0  # epoch ms of its latest start/stop/creation
    statuses: Dict[str, int] = dataclasses.field(default_factory=dict)
    workflow_job_id: str = ""

    @property
    def jobs(self) -> int:
        """How many jobs the run has."""
        return sum(self.statuses.values())

    @property
    def active(self) -> int:
        """How many of its jobs are not finished."""
        return sum(self.statuses.get(s, 0) for s in ACTIVE_STATUSES)


def list_runs(
    api: BatchApi,
    queues: Optional[Sequence[str]] = None,
    since: Optional[float] = None,
    now: Optional[float] = None,
) -> List[RunOverview]:
    """Runs with a job created in the last ``since`` seconds (default one day), newest first.

    Jobs are listed per queue with an ``AFTER_CREATED_AT`` filter; their tags (workflow name, role)
    come from DescribeJobs."""
    now = time.time() if now is None else now
    after_ms = int((now - (86400.0 if since is None else since)) * 1000)
    flt = [{"name": "AFTER_CREATED_AT", "values": [str(after_ms)]}]
    summaries: List[Dict[str, Any]] = []
    for queue in search_queues(api, queues):
        summaries.extend(j for j in api.list_jobs(queue, flt) if j.get("createdAt", 0) >= after_ms)
    # A generated run id shows in the job name, so statuses need no DescribeJobs; describe only
    # the first job of each such run (for its workflow tag) and every job with another name (its
    # MiniwdlRunId tag tells whether and to which run it belongs), 100 per call.
    summaries.sort(key=lambda j: (j.get("createdAt", 0), j.get("jobName", "")))
    by_run: Dict[str, List[Dict[str, Any]]] = {}
    to_describe: List[str] = []
    # Array parents ([aws] array_jobs) are described too: their children, one per task, are
    # counted from the parent's status summary, which ListJobs does not carry.
    for job in summaries:
        run_id = run_id_of_job(job.get("jobName", ""))
        if run_id is None:
            to_describe.append(job["jobId"])
            continue
        if run_id not in by_run or (job.get("arrayProperties") or {}).get("size"):
            to_describe.append(job["jobId"])
        by_run.setdefault(run_id, []).append(job)
    listed = {j["jobId"]: j for j in summaries}
    described: Dict[str, Dict[str, Any]] = {}
    for job in api.describe_jobs_in_order(to_describe):
        described[job["jobId"]] = job
        tags = job.get("tags") or {}
        run_id = run_id_of_job(job.get("jobName", ""), tags)
        if run_id and run_id_of_job(job.get("jobName", "")) is None:
            by_run.setdefault(run_id, []).append(listed[job["jobId"]])
    runs: List[RunOverview] = []
    for run_id, jobs in by_run.items():
        run = RunOverview(run_id)
        for job in sorted(jobs, key=lambda j: j.get("createdAt", 0)):
            _add_to_overview(run, job, described.get(job["jobId"]))
        runs.append(run)
    return sorted(runs, key=lambda r: (r.created_at, r.run_id), reverse=True)


def job_counts(job: Dict[str, Any]) -> Dict[str, int]:
    """Jobs per status that ``job`` stands for: itself, or for an array parent (described, with
    ``arrayProperties.statusSummary``) its children, those not yet created counted in the
    parent's status."""
    status = job.get("status", "")
    array = job.get("arrayProperties") or {}
    size = int(array.get("size") or 0)
    if not size or "index" in array:
        return {status: 1}
    counts = {s: int(n) for s, n in (array.get("statusSummary") or {}).items() if n}
    missing = size - sum(counts.values())
    if missing > 0:
        counts[status] = counts.get(status, 0) + missing
    return counts


def _add_to_overview(
    run: RunOverview, job: Dict[str, Any], description: Optional[Dict[str, Any]]
) -> None:
    tags = (description or {}).get("tags") or {}
    for status, n in job_counts(description or job).items():
        run.statuses[status] = run.statuses.get(status, 0) + n
    created = job.get("createdAt", 0)
    run.created_at = min(run.created_at or created, created)
    run.last_at = max(run.last_at, created, job.get("startedAt") or 0, job.get("stoppedAt") or 0)
    if tags.get(naming.TAG_WORKFLOW) and not run.workflow:
        run.workflow = tags[naming.TAG_WORKFLOW]
    if tags.get(naming.TAG_ROLE) == "workflow":
        run.workflow_job_id = job["jobId"]


@dataclasses.dataclass
class CleanupResult:
    """What :func:`cleanup_run` did."""

    terminated: List[str]
    still_active: List[str]
    passes: int
    found: int = 0  # jobs of the run found in the first pass, active or not


def cleanup_run(
    api: BatchApi,
    run_id: str,
    queues: Optional[Sequence[str]] = None,
    reason: str = "terminated by miniwdl-aws cleanup",
    wait: float = 120.0,
    period: float = 2.0,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Optional[Callable[[str], None]] = None,
) -> CleanupResult:
    """Terminate every active job of ``run_id`` and wait until none is active.

    The workflow job goes first, so that a live runner cannot submit more task jobs; then every
    active task job. Jobs are listed again each pass (a job submitted just before the runner died
    may appear late) until a pass finds no active job or ``wait`` seconds have passed."""
    queue_list = search_queues(api, queues)
    terminated: List[str] = []
    deadline = clock() + wait
    passes = 0
    found = 0
    while True:
        passes += 1
        jobs = find_run_jobs(api, run_id, queue_list)
        found = found or len(jobs)
        active = [j for j in jobs if _is_active(j)]
        if not active or dry_run:
            if dry_run and progress:
                for job in active:
                    progress(f"would terminate {job['jobId']} {job.get('jobName', '')}")
            return CleanupResult(terminated, [j["jobId"] for j in active], passes, found)
        if clock() >= deadline:
            return CleanupResult(terminated, [j["jobId"] for j in active], passes, found)
        active.sort(key=lambda j: (j.get("tags") or {}).get(naming.TAG_ROLE) != "workflow")
        for job in active:
            if job["jobId"] in terminated:
                continue  # already asked; Batch is still stopping it
            api.terminate_job_retrying(job["jobId"], reason, sleep=sleep, clock=clock)
            terminated.append(job["jobId"])
            if progress:
                progress(f"terminated {job['jobId']} {job.get('jobName', '')} ({job['status']})")
        sleep(min(period, max(0.0, deadline - clock())))


def _is_active(job: Dict[str, Any]) -> bool:
    return job.get("status") in ACTIVE_STATUSES


def status_counts(jobs: Iterable[Dict[str, Any]]) -> Dict[str, int]:
    """Jobs per status, in Batch's lifecycle order (an array parent counts its children)."""
    counts: collections.Counter[str] = collections.Counter()
    for job in jobs:
        counts.update(job_counts(job))
    return {s: counts[s] for s in STATUS_ORDER if counts.get(s)}


def expand_arrays(api: BatchApi, jobs: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``jobs`` with each array parent (``[aws] array_jobs``) replaced by its children, each
    tagged with its own task's call. AWS's name filter lists parents only, and a child carries
    its parent's tags; which task child ``i`` ran is line ``i`` of the list file that the
    parent's command names (``batch/arrays.py``), read from the shared filesystem."""
    parents: Dict[str, Tuple[Dict[str, Any], Dict[int, str]]] = {}
    child_ids: List[str] = []
    for job in jobs:
        props = job.get("arrayProperties") or {}
        if "size" in props and "index" not in props:
            parents[job["jobId"]] = (job, _array_calls(job))
            child_ids.extend(f"{job['jobId']}:{i}" for i in range(int(props["size"])))
    # the children of every parent together, 100 per DescribeJobs (not a call per parent)
    children: Dict[str, List[Dict[str, Any]]] = {}
    for child in api.describe_jobs_in_order(child_ids):
        children.setdefault(str(child.get("jobId", "")).rpartition(":")[0], []).append(child)
    out: List[Dict[str, Any]] = []
    for job in jobs:
        if job.get("jobId") not in parents:
            out.append(job)
            continue
        parent, calls = parents[job["jobId"]]
        for child in children.get(job["jobId"], []):
            tags = dict(child.get("tags") or parent.get("tags") or {})
            call = calls.get(int((child.get("arrayProperties") or {}).get("index", -1)))
            if call:
                tags[naming.TAG_CALL] = call
            out.append(dict(child, tags=tags))
    return out


_CHILD_CALL = re.compile(r"\bexport " + naming.ENV_TASK_RUN_ID + r"=(\S+?);")


def _array_calls(parent: Dict[str, Any]) -> Dict[int, str]:
    """``{child index: its task's call run id}`` from the parent's list file ({} if unreadable)."""
    command = (parent.get("container") or {}).get("command") or []
    if not command:
        return {}
    try:
        with open(str(command[-1])) as infile:
            lines = infile.read().splitlines()
    except OSError:
        return {}
    out: Dict[int, str] = {}
    for i, line in enumerate(lines):
        m = _CHILD_CALL.search(line)
        if m:
            value = m.group(1)
            if not any(c in value for c in "'\"\\"):  # as shlex.quote leaves a plain id
                out[i] = value
                continue
            with contextlib.suppress(ValueError):
                out[i] = shlex.split(value)[0]
    return out
