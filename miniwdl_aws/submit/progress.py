"""Progress while waiting: how many task jobs of the run are queued, running, done and failed.

The run's task jobs are found as ``miniwdl-aws runs`` finds them: every job name starts with
``<run id>-``, and ListJobs with a ``JOB_NAME`` filter ``<run id>-*`` returns the jobs of every
status of one queue, with their status, so no DescribeJobs is needed. One refresh costs one
ListJobs call per task queue (the task queue and its fallback) per 100 task jobs, and happens at
most once per ``period`` seconds (default 10). Every attempt is a job of its own, so a retried
task counts once per attempt.

On a terminal the counts are one line rewritten in place (cleared before any other line is
printed); otherwise a plain line is printed each time the counts change.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence, TextIO

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.errors import AwsCallError

DEFAULT_PERIOD = 10.0
# Batch's job statuses → the four counts shown
_KIND = {
    "SUBMITTED": "queued",
    "PENDING": "queued",
    "RUNNABLE": "queued",
    "STARTING": "running",
    "RUNNING": "running",
    "SUCCEEDED": "done",
    "FAILED": "failed",
}
KINDS = ("queued", "running", "done", "failed")


def count(statuses: Sequence[str]) -> Dict[str, int]:
    """The four counts of a list of Batch job statuses."""
    counts = dict.fromkeys(KINDS, 0)
    for status in statuses:
        counts[_KIND.get(status, "queued")] += 1
    return counts


def render(counts: Dict[str, int]) -> str:
    """``task jobs: 2 queued, 1 running, 5 done, 0 failed``."""
    return "task jobs: " + ", ".join(f"{counts[k]} {k}" for k in KINDS)


class TaskProgress:
    """Shows the counts of one run's task jobs, refreshed at most every ``period`` seconds.

    :param batch: the Batch calls (ListJobs)
    :param run_id: the run whose jobs to count
    :param queues: the task queues to look in (empty ones are skipped)
    :param workflow_job_id: not counted (when it shares a queue with the tasks)
    :param out: where to write (stderr)
    :param tty: rewrite one line in place (a terminal) rather than print a line per change
    :param prefix: put before each plain line (the submitter's ``[miniwdl-aws-submit] ``)
    """

    def __init__(
        self,
        batch: BatchApi,
        run_id: str,
        queues: Sequence[str],
        workflow_job_id: str,
        out: TextIO,
        tty: bool,
        prefix: str = "",
        period: float = DEFAULT_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._batch = batch
        self._filter = [{"name": "JOB_NAME", "values": [f"{run_id}-*"]}]
        self._queues: List[str] = list(dict.fromkeys(q for q in queues if q))
        self._workflow_job_id = workflow_job_id
        self._out = out
        self._tty = tty
        self._prefix = prefix
        self._period = period
        self._clock = clock
        self._last_poll: Optional[float] = None
        self._shown: Optional[str] = None  # the last line shown
        self._on_screen = False  # a line in place on the terminal, to clear before others
        self.refreshes = 0

    @property
    def period(self) -> float:
        """Seconds between refreshes."""
        return self._period

    def _counts(self) -> Optional[Dict[str, int]]:
        statuses: List[str] = []
        try:
            for queue in self._queues:
                statuses += [
                    str(j.get("status", ""))
                    for j in self._batch.list_jobs(queue, self._filter)
                    if j.get("jobId") != self._workflow_job_id
                ]
        except AwsCallError:  # progress is a courtesy: waiting goes on without it
            return None
        self.refreshes += 1
        return count(statuses)

    def clear(self) -> None:
        """Erase the in-place line (before another line is printed)."""
        if self._on_screen:
            self._out.write("\r\x1b[K")
            self._out.flush()
            self._on_screen = False

    def tick(self, force: bool = False) -> None:
        """Refresh and show the counts if ``period`` has passed since the last refresh (or
        ``force``)."""
        now = self._clock()
        if not force and self._last_poll is not None and now - self._last_poll < self._period:
            return
        self._last_poll = now
        counts = self._counts()
        if counts is None:
            return
        line = render(counts)
        if self._tty:
            self._out.write("\r\x1b[K" + line)
            self._out.flush()
            self._on_screen = True
        elif line != self._shown:
            self._out.write(self._prefix + line + "\n")
            self._out.flush()
        self._shown = line

    def finish(self) -> None:
        """The final counts, as a line of their own (the run has ended)."""
        self.tick(force=True)
        if self._on_screen:
            self._out.write("\n")
            self._out.flush()
            self._on_screen = False
