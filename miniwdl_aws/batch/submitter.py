"""One shared, adaptive-rate gate for SubmitJob calls of the whole process.

Only SubmitJob goes through it: reads have botocore's retries, and TerminateJob its own retry
(:mod:`miniwdl_aws.aws.retry`), so neither slows submissions down nor waits behind them.

Rate limiting is a GCRA token bucket (``rate`` calls per second with ``burst`` back to back).
When Batch answers with throttling or a 5xx, the call is retried after a pause, and the rate
goes down in proportion to the share of refused calls: at most once per ``decrease_interval``
(as TCP backs off once per round trip, so refusals of calls already in flight count together),
by a factor ``1 - refused/2`` (so at worst it halves), never below ``min_rate``. Between
refusals the rate climbs back linearly, to ``max_rate`` within ``recovery_seconds``. So a
throttled account slows down every task of the process at once, random refusals don't drive
the rate to the floor, and throttling never fails a task: only ``terminating()`` or a
non-retryable error ends the loop.

The bucket schedules *when* each caller may go, but a busy process wakes its threads late and
they then send together: measured on 2 loaded cores, a 40/s bucket put up to 51 SubmitJob calls
into one second at the server. So each call is also admitted against the calls actually sent in
the last second (a sliding window of ``rate + burst - 1``), which bounds what AWS counts.
AWS's budget is shared by every Batch call of the account, DescribeJobs and ListJobs included,
so the process's other Batch calls are entered in that window too (:meth:`note_other_call`):
they are never held back, but SubmitJob leaves them room. With a thousand tasks in flight the
poller's DescribeJobs take about ten calls a second. (Plain jobs at that concurrency saw about a
third of SubmitJob calls refused on the local AWS's 50-per-second budget before this and after
it alike: that the window lowers refusals is not established, see ``bench/RESULTS.md``.)
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from typing import Callable, Dict, Optional, TypeVar

from .._util import _
from ..errors import Throttled

__all__ = ["AdaptiveSubmitter", "SubmitAborted"]

T = TypeVar("T")


class SubmitAborted(Exception):
    """``terminating()`` became true while waiting for a submission slot."""


class AdaptiveSubmitter:
    """Thread-safe adaptive rate limiter with retry for throttled calls.

    :param max_rate: ceiling in calls per second (``1 / [aws] submit_period``)
    :param burst: calls allowed back to back at full rate
    :param min_rate: floor in calls per second when throttled
    :param recovery_seconds: time to climb from ``min_rate`` back to ``max_rate``
    :param clock: monotonic time source (injectable for tests)
    :param sleep: sleep function (injectable for tests)
    :param rng: jitter source (injectable for tests)
    :param max_slice: longest single sleep, so ``terminating()`` is checked often
    :param decrease_interval: minimum seconds between two rate decreases
    """

    def __init__(
        self,
        max_rate: float,
        burst: int = 1,
        min_rate: float = 0.2,
        recovery_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Optional[random.Random] = None,
        max_slice: float = 0.5,
        decrease_interval: float = 1.0,
    ) -> None:
        assert max_rate > 0 and burst >= 1 and 0 < min_rate
        self.max_rate = max_rate
        self.min_rate = min(min_rate, max_rate)
        self.rate = max_rate
        self.burst = burst
        self._recovery_per_s = (max_rate - self.min_rate) / max(recovery_seconds, 1e-9)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._max_slice = max_slice
        self._lock = threading.Lock()
        self._tat = clock()  # GCRA "theoretical arrival time"
        self._decrease_interval = decrease_interval
        self._last_decrease = float("-inf")
        self._last_increase = clock()
        self._sent: collections.deque[float] = collections.deque()  # sends in the last second
        self._window_calls = 0  # outcomes since the last decrease
        self._window_refused = 0
        self.calls = 0
        self.throttles = 0

    def _reserve(self) -> float:
        """Reserve the next slot; returns how long to wait for it."""
        with self._lock:
            now = self._clock()
            interval = 1.0 / self.rate
            tat = max(self._tat, now)
            start = tat - (self.burst - 1) * interval
            self._tat = tat + interval
            wait = start - now
            return wait if wait > 1e-6 else 0.0  # ignore float residue from summed intervals

    def _admit(self, terminating: Callable[[], bool]) -> None:
        """Wait until fewer than ``rate + burst - 1`` calls went out in the last second, then
        count this one as sent."""
        while True:
            with self._lock:
                now = self._prune_sent()
                if len(self._sent) < max(1, int(self.rate) + self.burst - 1):
                    self._sent.append(now)
                    return
                wait = self._sent[0] + 1.0 - now
            self._wait(wait, terminating)

    def note_other_call(self) -> None:
        """Enter a Batch call that does not go through this gate (DescribeJobs, ListJobs,
        TerminateJob...) in the last-second window, so SubmitJob admission leaves it room."""
        with self._lock:
            self._sent.append(self._prune_sent())

    def _prune_sent(self) -> float:
        """Drop sends older than a second from the window (under the lock); returns now."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        return now

    def _on_throttle(self) -> float:
        """Slow down (see the module doc) and push the bucket back; returns the pause before the
        retry."""
        with self._lock:
            self.throttles += 1
            self._window_calls += 1
            self._window_refused += 1
            now = self._clock()
            if now - self._last_decrease >= self._decrease_interval:
                refused = self._window_refused / self._window_calls
                self.rate = max(self.min_rate, self.rate * (1.0 - refused / 2.0))
                self._last_decrease = now
                self._window_calls = self._window_refused = 0
            self._last_increase = now
            interval = 1.0 / self.rate
            pause = interval * self._rng.uniform(0.5, 1.5)
            # use up the burst allowance too, so every caller (not just this one) slows down now
            self._tat = max(self._tat, now + (self.burst - 1) * interval) + pause
            return pause

    def _on_success(self) -> None:
        with self._lock:
            self.calls += 1
            self._window_calls += 1
            now = self._clock()
            elapsed = max(0.0, now - self._last_increase)
            self.rate = min(self.max_rate, self.rate + self._recovery_per_s * elapsed)
            self._last_increase = now

    def _wait(self, seconds: float, terminating: Callable[[], bool]) -> None:
        deadline = self._clock() + seconds
        while True:
            if terminating():
                raise SubmitAborted()
            left = deadline - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, self._max_slice))

    def call(
        self,
        fn: Callable[[], T],
        terminating: Callable[[], bool],
        logger: Optional[logging.Logger] = None,
        max_tries: Optional[int] = None,
    ) -> T:
        """Run ``fn`` (e.g. one SubmitJob) when the rate allows, retrying it on :class:`Throttled`
        (without limit unless ``max_tries`` is given).

        :raises SubmitAborted: ``terminating()`` became true before ``fn`` succeeded
        """
        attempt = 0
        while True:
            self._wait(self._reserve(), terminating)
            self._admit(terminating)
            if terminating():
                raise SubmitAborted()
            attempt += 1
            try:
                ans = fn()
            except Throttled as exn:
                if max_tries is not None and attempt >= max_tries:
                    raise
                pause = self._on_throttle()
                if logger:
                    logger.info(
                        _(
                            "Batch throttled a submission; slowing down and retrying",
                            error=str(exn),
                            attempt=attempt,
                            rate_per_s=round(self.rate, 3),
                        )
                    )
                if logger:
                    logger.debug(_("submission retry pause", seconds=round(pause, 3)))
                continue
            self._on_success()
            return ans

    def stats(self) -> Dict[str, float]:
        """Current rate and counters, for logs and tests."""
        with self._lock:
            return {"rate": self.rate, "calls": self.calls, "throttles": self.throttles}
