"""One status poller per process: batched, jittered, adaptive DescribeJobs.

Task threads do not call Batch to learn their job's status. Each registers a :class:`JobWatch`
and sleeps on it; a single daemon thread runs *rounds* about every ``period`` seconds (jittered
±20%). A round describes every job that is due, up to 100 ids per call (the DescribeJobs limit),
and tops up the last call with not-yet-due jobs since they ride along for free. A job that just
changed state is due every round; one that has sat in the same state for ``age`` seconds is due
every ``clamp(backoff * age, period, period_max)``, so long-running jobs cost less. Each status
change wakes the job's waiter.

Array children (``<parent id>:<index>``, see :mod:`.arrays`) of a parent with at most
``array_direct_max`` (100) children still followed are described like plain jobs: one
DescribeJobs call covers them all, no dearer than the parent's summary, and a finished child is
seen in the round after it ends rather than after a listing. Children of larger arrays are
followed through their parent when a ``list_array`` function is given: a round describes the
parents that are due (their
``arrayProperties.statusSummary``), and only when a parent's summary differs from the last one
fully accounted for does it list the children of the statuses whose counts changed (ListJobs
with ``arrayJobId`` and ``jobStatus``); children newly seen SUCCEEDED or FAILED are then
described (≤100 per call) for the full description the backend classifies. A child's own watch
thus costs a fraction of a call, and a quiet array one DescribeJobs entry per round. When the
parent has ended, children still not seen ended are described directly (a listing that lagged
behind the summary cannot leave a task waiting).

Persistent DescribeJobs failures (``error_limit`` rounds in a row *and* for ``error_seconds``:
an API outage of a few minutes must not fail runs whose jobs keep running), or a job that
DescribeJobs no longer returns, are delivered to the waiters as :attr:`JobWatch.error` so that
the backend can clean up rather than wait forever.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._util import _
from ..aws.batch import DESCRIBE_JOBS_MAX, LIST_JOBS_PAGE_MAX, TERMINAL_STATES
from ..errors import MiniwdlAwsError
from .arrays import split_child_id

__all__ = ["JobWatch", "StatusPoller", "PollError"]


class PollError(MiniwdlAwsError):
    """The poller could not learn a job's status (DescribeJobs keeps failing, or job unknown)."""


class JobWatch:
    """The latest description of one job, shared by the poller and the task thread waiting on it.

    :ivar version: bumped at each status change (and when an error is delivered)
    """

    def __init__(self, job_id: str, now: float) -> None:
        self.job_id = job_id
        self.version = 0
        self.status: Optional[str] = None
        self.description: Optional[Dict[str, Any]] = None
        self.error: Optional[BaseException] = None
        self.changed_at = now
        self.next_due = now
        self.missing_rounds = 0
        self._cond = threading.Condition()

    @property
    def terminal(self) -> bool:
        """Whether Batch reported the job SUCCEEDED or FAILED."""
        return self.status in TERMINAL_STATES

    def wait(self, seen_version: int, timeout: float) -> int:
        """Block until ``version`` exceeds ``seen_version`` or ``timeout`` passes; returns the
        current version."""
        with self._cond:
            if self.version <= seen_version:
                self._cond.wait(timeout)
            return self.version

    def snapshot(
        self,
    ) -> Tuple[int, Optional[str], Optional[Dict[str, Any]], Optional[BaseException]]:
        """``(version, status, description, error)`` read together."""
        with self._cond:
            return self.version, self.status, self.description, self.error

    def _update(self, description: Dict[str, Any], now: float) -> None:
        with self._cond:
            self.description = description
            self.missing_rounds = 0
            status = description.get("status")
            if status != self.status:
                self.status = status
                self.changed_at = now
                self.version += 1
                self._cond.notify_all()

    def _fail(self, error: BaseException) -> None:
        with self._cond:
            if self.error is None:
                self.error = error
                self.version += 1
                self._cond.notify_all()


class StatusPoller:
    """Process-wide poller of Batch job status.

    :param describe: DescribeJobs for ≤100 ids, returning job descriptions
    :param list_array: ListJobs of an array's children in one status (every page); None:
        array children are described like any job
    :param array_direct_max: children of an array with at most this many followed children are
        described directly, as plain jobs are
    :param period: seconds between rounds; also the interval for jobs that just changed state
    :param period_max: longest interval between checks of any one job
    :param backoff: a job unchanged for ``age`` seconds is checked every ``backoff * age`` seconds
        (bounded by ``period`` and ``period_max``)
    :param error_limit: consecutive failed rounds before the error is delivered to waiters
    :param error_seconds: ... and for at least this long since the first of them
    :param missing_limit: rounds a job may be absent from DescribeJobs before it is an error
    :param clock: monotonic time source (injectable); :param rng: jitter source (injectable)
    :param autostart: start the polling thread on the first :meth:`watch` (False: the caller
        drives rounds with :meth:`poll_once`, as unit tests do)
    """

    def __init__(
        self,
        describe: Callable[[List[str]], List[Dict[str, Any]]],
        list_array: Optional[Callable[[str, str], List[Dict[str, Any]]]] = None,
        array_direct_max: int = DESCRIBE_JOBS_MAX,
        period: float = 1.0,
        period_max: float = 5.0,
        backoff: float = 0.2,
        error_limit: int = 10,
        error_seconds: float = 300.0,
        missing_limit: int = 5,
        clock: Callable[[], float] = time.monotonic,
        rng: Optional[random.Random] = None,
        logger: Optional[logging.Logger] = None,
        autostart: bool = True,
    ) -> None:
        assert 0 < period <= period_max
        self._autostart = autostart
        self._describe = describe
        self._list_array = list_array
        self.array_direct_max = array_direct_max
        # array parent id -> the statusSummary last fully accounted for by listings
        self._summaries: Dict[str, Dict[str, int]] = {}
        self.period = period
        self.period_max = period_max
        self.backoff = backoff
        self.error_limit = error_limit
        self.error_seconds = error_seconds
        self._failing_since: Optional[float] = None
        self.missing_limit = missing_limit
        self._clock = clock
        self._rng = rng or random.Random()
        self._logger = logger or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._watches: Dict[str, JobWatch] = {}
        self._errors = 0
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.rounds = 0
        self.calls = 0

    # --- task-thread side ---

    def watch(self, job_id: str) -> JobWatch:
        """Start following ``job_id`` (idempotent); starts the poller thread on first use."""
        with self._lock:
            w = self._watches.get(job_id)
            if w is None:
                # first check one period from now: a just-submitted job is still SUBMITTED
                w = JobWatch(job_id, self._clock())
                w.next_due = self._clock() + self.period
                self._watches[job_id] = w
                child = split_child_id(job_id)
                if child is not None:
                    # a new child of a parent already accounted for must be listed again
                    self._summaries.pop(child[0], None)
            if self._autostart and (self._thread is None or not self._thread.is_alive()):
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._loop, name="miniwdl-aws-poller", daemon=True
                )
                self._thread.start()
            return w

    def unwatch(self, job_id: str) -> None:
        """Stop following ``job_id``."""
        with self._lock:
            self._watches.pop(job_id, None)

    def expedite(self, job_id: str) -> None:
        """Check ``job_id`` in the next round (e.g. right after terminating it)."""
        with self._lock:
            w = self._watches.get(job_id)
            if w is not None:
                w.next_due = self._clock()
                w.changed_at = self._clock()

    def watched(self) -> int:
        """How many jobs are followed."""
        with self._lock:
            return len(self._watches)

    # --- the round ---

    def _interval(self, w: JobWatch, now: float) -> float:
        return min(self.period_max, max(self.period, self.backoff * (now - w.changed_at)))

    def poll_once(self) -> int:
        """Run one round now; returns the number of Batch calls made."""
        now = self._clock()
        with self._lock:
            live = [w for w in self._watches.values() if not w.terminal and w.error is None]
        horizon = now + 0.5 * self.period
        children: Dict[str, List[JobWatch]] = {}
        plain: List[JobWatch] = []
        for w in live:
            child = split_child_id(w.job_id) if self._list_array is not None else None
            if child is None:
                plain.append(w)
            else:
                children.setdefault(child[0], []).append(w)
        for parent in [p for p, ws in children.items() if len(ws) <= self.array_direct_max]:
            plain.extend(children.pop(parent))
        calls = self._poll_plain(plain, now, horizon)
        if children:
            calls += self._poll_arrays(children, now, horizon)
        if calls:
            self.rounds += 1
        return calls

    def _poll_plain(self, live: List[JobWatch], now: float, horizon: float) -> int:
        due = sorted((w for w in live if w.next_due <= horizon), key=lambda w: w.next_due)
        if not due:
            return 0
        spare = sorted((w for w in live if w.next_due > horizon), key=lambda w: w.next_due)
        ncalls = math.ceil(len(due) / DESCRIBE_JOBS_MAX)
        batch = (due + spare)[: ncalls * DESCRIBE_JOBS_MAX]
        return self._describe_and_deliver(batch)

    def _describe_and_deliver(self, batch: List[JobWatch]) -> int:
        calls = 0
        for i in range(0, len(batch), DESCRIBE_JOBS_MAX):
            chunk = batch[i : i + DESCRIBE_JOBS_MAX]
            calls += 1
            self.calls += 1
            try:
                descriptions = self._describe([w.job_id for w in chunk])
            except Exception as exn:
                self._round_failed(exn, chunk)
                return calls
            self._round_ok()
            self._deliver(chunk, descriptions, self._clock())
        return calls

    def _round_ok(self) -> None:
        self._errors = 0
        self._failing_since = None

    def _poll_arrays(self, children: Dict[str, List[JobWatch]], now: float, horizon: float) -> int:
        """One round for array children: their due parents' summaries, then listings and
        descriptions only where a summary changed (see the module docstring)."""
        with self._lock:
            for parent in [p for p in self._summaries if p not in children]:
                del self._summaries[parent]  # every child of it ended or was unwatched
        parents = sorted(p for p, ws in children.items() if any(w.next_due <= horizon for w in ws))
        calls = 0
        to_describe: List[JobWatch] = []
        for i in range(0, len(parents), DESCRIBE_JOBS_MAX):
            chunk = parents[i : i + DESCRIBE_JOBS_MAX]
            watches = [w for p in chunk for w in children[p]]
            calls += 1
            self.calls += 1
            try:
                by_id = {d.get("jobId"): d for d in self._describe(chunk)}
                self._round_ok()
                for parent in chunk:
                    calls += self._reconcile(parent, by_id.get(parent), children[parent],
                                             to_describe)  # fmt: skip
            except Exception as exn:
                self._round_failed(exn, watches)
                return calls
            later = self._clock()
            for w in watches:
                w.next_due = later + self._interval(w, later)
        if to_describe:
            calls += self._describe_and_deliver(to_describe)
        return calls

    def _reconcile(
        self,
        parent: str,
        desc: Optional[Dict[str, Any]],
        watches: List[JobWatch],
        to_describe: List[JobWatch],
    ) -> int:
        """Bring the watches of ``parent``'s children up to its summary; returns the ListJobs
        calls made. Children to describe (newly ended) are added to ``to_describe``."""
        assert self._list_array is not None
        if desc is None:  # the parent is unknown: as for a job DescribeJobs does not return
            for w in watches:
                w.missing_rounds += 1
                if w.missing_rounds >= self.missing_limit:
                    w._fail(PollError(f"DescribeJobs does not know array job {parent}"))
            return 0
        summary = dict((desc.get("arrayProperties") or {}).get("statusSummary") or {})
        with self._lock:
            known = self._summaries.get(parent)
        by_id = {w.job_id: w for w in watches}
        calls = 0
        complete = True
        if summary != known:
            for status, count in sorted(summary.items()):
                # a status whose count did not change may still have new members: RUNNING is
                # listed whenever anything changed (it starts the task's stderr tailing)
                same = known is not None and known.get(status) == count and status != "RUNNING"
                if not count or same:
                    continue
                listed = self._list_array(parent, status)
                calls += 1 + len(listed) // LIST_JOBS_PAGE_MAX
                self.calls += 1 + len(listed) // LIST_JOBS_PAGE_MAX
                # a listing lagging behind the summary: list again next round
                complete = complete and len(listed) >= count
                now = self._clock()
                for item in listed:
                    child = by_id.get(str(item.get("jobId")))
                    if child is None or child.status == status:
                        continue
                    if status in TERMINAL_STATES:
                        to_describe.append(child)  # the backend classifies full descriptions
                    else:
                        child._update(item, now)
            if complete:
                with self._lock:
                    self._summaries[parent] = summary
        if desc.get("status") in TERMINAL_STATES:
            # the parent ends after its last child: none of them may be left waiting
            seen = {id(w) for w in to_describe}
            to_describe.extend(w for w in watches if not w.terminal and id(w) not in seen)
        return calls

    def refresh(self, job_id: str) -> None:
        """Describe one watched job now, outside the rounds (for a job the poller gave up on,
        e.g. after an outage); raises what DescribeJobs raised."""
        with self._lock:
            w = self._watches.get(job_id)
        if w is None:
            return
        for d in self._describe([job_id]):
            if d.get("jobId") == job_id:
                w._update(d, self._clock())

    def _deliver(
        self, chunk: List[JobWatch], descriptions: List[Dict[str, Any]], now: float
    ) -> None:
        by_id = {d.get("jobId"): d for d in descriptions}
        for w in chunk:
            d = by_id.get(w.job_id)
            if d is None:
                w.missing_rounds += 1
                if w.missing_rounds >= self.missing_limit:
                    w._fail(PollError(f"DescribeJobs does not know job {w.job_id}"))
                w.next_due = now + self.period
                continue
            w._update(d, now)
            w.next_due = now + self._interval(w, now)

    def _round_failed(self, exn: Exception, chunk: List[JobWatch]) -> None:
        self._errors += 1
        now = self._clock()
        if self._failing_since is None:
            self._failing_since = now
        failing_for = now - self._failing_since
        self._logger.warning(
            _(
                "DescribeJobs failed",
                error=str(exn),
                failing_for_s=round(failing_for, 1),
                tries_remaining=max(0, self.error_limit - self._errors),
                gives_up_after_s=self.error_seconds,
            )
        )
        for w in chunk:
            # back off these jobs a little, so a bad batch doesn't spin
            w.next_due = now + min(self.period_max, self.period * 2 ** min(self._errors, 16))
        if self._errors >= self.error_limit and failing_for >= self.error_seconds:
            err = PollError(
                f"DescribeJobs failed {self._errors} times in a row over {failing_for:.0f}s: {exn}"
            )
            with self._lock:
                watches = list(self._watches.values())
            for w in watches:
                if not w.terminal:
                    w._fail(err)

    # --- the thread ---

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                idle = not self._watches
            if idle:
                self._wake.wait(self.period)
                self._wake.clear()
                continue
            try:
                self.poll_once()
            except Exception as exn:  # never let the poller die silently
                self._logger.error(_("status poller error", error=str(exn)))
            self._stop.wait(self.period * self._rng.uniform(0.8, 1.2))

    def stop(self) -> None:
        """Stop the poller thread (tests; the thread is a daemon otherwise)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
