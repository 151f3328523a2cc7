"""Pure computations from the raw instruments: emulator call counts, job timestamps (ListJobs
``createdAt``/``startedAt``/``stoppedAt``, epoch ms) and the runner's per-task ``task.log`` files.
No I/O except :func:`noticed_times_from_dir`, which reads the logs."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

# miniwdl's log format: "%(asctime)s.%(msecs)03d %(name)s %(levelname)s %(message)s", local time
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) ")
# Batch job ids are UUIDs (so are moto's); an array child's is "<parent UUID>:<index>"
_JOB_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?::\d+)?\b")
# the runner logs that it saw the job's terminal state (both sides put the state in the line)
_TERMINAL = re.compile(r"\b(SUCCEEDED|FAILED)\b")
# miniwdl's own line once the task (outputs included) is finished: the fallback notice
_DONE = re.compile(r" NOTICE done$")
# miniwdl's lines where an attempt starts: the task's first line, or a retry decision
_ATTEMPT_START = re.compile(r" NOTICE task setup\b| will be retried\b")


def log_line_time(line: str) -> Optional[float]:
    """Epoch seconds of a miniwdl log line (local time, ms precision), None if it has none."""
    m = _LOG_TIME.match(line)
    if not m:
        return None
    return time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000.0


def noticed_times(log_text: str) -> Dict[str, float]:
    """``{job id: when the runner noticed the job ended}`` from one task's ``task.log``.

    A job id is the last UUID mentioned so far (a retry mentions a new one). The notice is the
    first later line naming a terminal state (SUCCEEDED/FAILED), or else miniwdl's ``done`` line
    (the runner then noticed no later than that)."""
    out: Dict[str, float] = {}
    current: Optional[str] = None
    for line in log_text.splitlines():
        ts = log_line_time(line)
        ids = _JOB_ID.findall(line)
        if ids:
            current = ids[-1]
        if ts is None or current is None or current in out:
            continue
        if _TERMINAL.search(line) or _DONE.search(line):
            out[current] = ts
    return out


def attempt_start_times(log_text: str) -> Dict[str, float]:
    """``{job id: when miniwdl started the attempt}`` from one task's ``task.log``: the last
    ``task setup`` or ``... will be retried`` line before the job id first appears. With the
    job's ``createdAt`` this isolates the runner's own submission pipeline (queueing for rate
    slots, job-definition lookup, preparing the task directory)."""
    out: Dict[str, float] = {}
    start: Optional[float] = None
    for line in log_text.splitlines():
        ts = log_line_time(line)
        if ts is not None and _ATTEMPT_START.search(line):
            start = ts
        for job in _JOB_ID.findall(line):
            if job not in out and start is not None:
                out[job] = start
    return out


def task_log_times(run_dir: Path) -> Tuple[Dict[str, float], Dict[str, float]]:
    """(:func:`noticed_times`, :func:`attempt_start_times`) over every ``task.log`` under
    ``run_dir``."""
    noticed: Dict[str, float] = {}
    started: Dict[str, float] = {}
    for path in run_dir.rglob("task.log"):
        text = path.read_text(errors="replace")
        noticed.update(noticed_times(text))
        started.update(attempt_start_times(text))
    return noticed, started


def noticed_times_from_dir(run_dir: Path) -> Dict[str, float]:
    """:func:`noticed_times` over every ``task.log`` under ``run_dir``."""
    return task_log_times(run_dir)[0]


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """The ``p``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def notice_latencies(jobs: Iterable[Dict[str, Any]], noticed: Dict[str, float]) -> List[float]:
    """Seconds from each ended job's ``stoppedAt`` to the runner noticing it."""
    out = []
    for job in jobs:
        stopped = job.get("stoppedAt")
        seen = noticed.get(job["jobId"])
        if stopped and seen is not None:
            out.append(seen - stopped / 1000.0)
    return out


def submit_delays(jobs: Iterable[Dict[str, Any]], started: Dict[str, float]) -> List[float]:
    """Seconds from miniwdl starting each attempt to its job's ``createdAt``."""
    out = []
    for job in jobs:
        t = started.get(job["jobId"])
        if t is not None and job.get("createdAt"):
            out.append(job["createdAt"] / 1000.0 - t)
    return out


def batch_calls(stats: Dict[str, Any]) -> Dict[str, int]:
    """``{Operation: count}`` of Batch calls from the emulator's ``/_emulator/stats``."""
    calls = stats.get("calls", {})
    return {k.split(".", 1)[1]: int(v) for k, v in calls.items() if k.startswith("batch.")}


def per_attempt(calls: Dict[str, int], attempts: int) -> Dict[str, float]:
    """Each operation's count divided by the number of task attempts."""
    return {op: n / attempts for op, n in sorted(calls.items())} if attempts else {}


def job_seconds(jobs: Iterable[Dict[str, Any]], start_key: str = "startedAt") -> float:
    """Sum over ended jobs of ``stoppedAt - <start_key>``, in seconds (``startedAt``: time
    running; ``createdAt``: time the runner had to watch it)."""
    total = 0.0
    for job in jobs:
        if job.get("stoppedAt") and job.get(start_key):
            total += (job["stoppedAt"] - job[start_key]) / 1000.0
    return total


def max_in_window(times_ms: Iterable[int], window_ms: int = 1000) -> int:
    """The largest number of events inside any window of ``window_ms`` (e.g. jobs created, that
    is SubmitJob calls accepted, in any one second)."""
    xs = sorted(times_ms)
    best = lo = 0
    for hi, t in enumerate(xs):
        while xs[lo] <= t - window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def peak_overlap(intervals: Iterable[Tuple[int, int]]) -> int:
    """The most intervals ``(start, end)`` open at one instant (e.g. active jobs)."""
    events: List[Tuple[int, int]] = []
    for start, end in intervals:
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end and a start at the same ms do not overlap
    best = cur = 0
    for _t, delta in events:
        cur += delta
        best = max(best, cur)
    return best


def active_intervals(jobs: Iterable[Dict[str, Any]]) -> List[Tuple[int, int]]:
    """``(createdAt, stoppedAt)`` of every ended job."""
    return [
        (j["createdAt"], j["stoppedAt"]) for j in jobs if j.get("createdAt") and j.get("stoppedAt")
    ]
