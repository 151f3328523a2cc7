"""Submit a Batch job at most once, even when SubmitJob's response is lost.

SubmitJob has no idempotency token: when the request reached AWS but its answer did not come
back (connection reset or read timeout after sending, a 5xx), the job may exist, and submitting
again could start a twin that nobody waits for. ListJobs, the only way to look a job up by name,
is eventually consistent, so a job just created may be missing from it for a while.

:func:`submit_without_twins` therefore, after such an *ambiguous* failure, looks the job up by its
exact (unique) name again and again, with growing pauses, for a window longer than ListJobs'
lag. Finding it ends the search. A job listed once stays listed, so the lookup at the *end* of
the window decides: when it answers "absent", the job was certainly not created (earlier
lookups that failed do not matter: they could only have shown a job this one would show too),
and only then is it submitted again (a bounded number of times, each followed by the same
search). When that final lookup cannot be answered (after a few tries), the outcome stays
unknown and :class:`SubmitOutcomeUnknown` says so: the caller must not submit a second time.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Optional, Protocol

from .._util import _
from ..errors import Ambiguous, AwsCallError, Throttled

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "JobSubmitApi",
    "SubmitOutcomeUnknown",
    "submit_without_twins",
]

DEFAULT_WINDOW_SECONDS = 30.0
FIRST_PAUSE = 0.5  # seconds before the second lookup; then doubling...
MAX_PAUSE = 8.0  # ...up to this, so a 30 s window costs about 8 ListJobs rounds
# Each resubmission follows a lookup that proved the job absent, so it cannot start a twin; the
# bound only ends a hopeless loop. At 2, three lost answers in a row failed the task: a 20% rate
# of 5xx answers did that to about 1 task in 125 (1 run in 5 of the scorecard's transient row).
MAX_RESUBMITS = 8
FINAL_LOOKUP_TRIES = 4  # the deciding lookup, retried through a brief ListJobs brownout


class JobSubmitApi(Protocol):
    """What :func:`submit_without_twins` needs of :class:`~miniwdl_aws.aws.batch.BatchApi`."""

    def submit_job(self, request: Dict[str, Any]) -> str:
        """One SubmitJob without automatic retries; returns the job id."""
        ...

    def find_job(self, job_queue: str, job_name: str, created_after_ms: int) -> Optional[str]:
        """Id of the job named exactly ``job_name`` created at or after ``created_after_ms``."""
        ...


class SubmitOutcomeUnknown(AwsCallError):
    """SubmitJob's response was lost and the lookups by name failed: the job may or may not
    exist. Not retryable (submitting again could start a twin).

    :param job_name: the job's name
    :param job_queue: its queue
    """

    def __init__(self, job_name: str, job_queue: str, code: Optional[str], reason: str) -> None:
        super().__init__(
            "SubmitJob",
            code,
            f"cannot tell whether job {job_name} was created in queue {job_queue}: {reason}",
        )
        self.job_name = job_name
        self.job_queue = job_queue


def submit_without_twins(
    api: JobSubmitApi,
    request: Dict[str, Any],
    since_ms: int,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    log: Optional[logging.Logger] = None,
    max_resubmits: int = MAX_RESUBMITS,
    first_pause: float = FIRST_PAUSE,
    max_pause: float = MAX_PAUSE,
) -> str:
    """Submit ``request`` (a SubmitJob request with a unique ``jobName``) and return its job
    id, never creating two jobs.

    :param api: SubmitJob through a client without botocore retries, raising
        :class:`~miniwdl_aws.errors.Ambiguous` when the job may have been created
    :param since_ms: epoch milliseconds before the first SubmitJob (minus clock-skew slack):
        only jobs created since then are this one
    :param window_seconds: how long to keep looking before the job counts as absent; longer
        than ListJobs' lag behind SubmitJob
    :param sleep: pause function (injectable for tests)
    :param clock: monotonic time source (injectable for tests)
    :param log: where to report lost responses and their resolution
    :param max_resubmits: SubmitJob calls after the first, each only once the job before it is
        certainly absent
    :param first_pause: seconds between the first two lookups; each pause doubles...
    :param max_pause: ...up to this
    :raises Throttled: SubmitJob was refused before it was processed (throttling, no
        connection); nothing was created, so the caller may pace itself and call again
    :raises SubmitOutcomeUnknown: a response was lost and the deciding lookup failed
    :raises AwsCallError: SubmitJob failed for good (a non-retryable error, or every response
        lost while the job was certainly never created)
    """
    search = _Search(api, str(request["jobQueue"]), str(request["jobName"]), since_ms)
    search.configure(window_seconds, sleep, clock, first_pause, max_pause)
    resubmits = 0
    while True:
        try:
            return api.submit_job(request)
        except Ambiguous as exn:
            lost = exn
        _note(log, "SubmitJob response was lost; looking the job up by name", search, lost)
        found = search.run(lost)
        if found:
            _note(log, "SubmitJob response was lost; found the job", search, jobId=found)
            return found
        if resubmits >= max_resubmits:
            raise AwsCallError(
                "SubmitJob",
                lost.code,
                f"{resubmits + 1} responses lost in a row; job {search.name} was not created:"
                f" {lost}",
            )
        resubmits += 1
        _note(log, "SubmitJob response was lost and the job was not created; submitting again",
              search, resubmit=resubmits)  # fmt: skip


class _Search:
    """Looking one job up by name over a window (see the module docstring)."""

    def __init__(self, api: JobSubmitApi, queue: str, name: str, since_ms: int) -> None:
        self.api, self.queue, self.name, self.since_ms = api, queue, name, since_ms

    def configure(
        self,
        window: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        first_pause: float,
        max_pause: float,
    ) -> None:
        """Timing of the lookups."""
        self.window, self.sleep, self.clock = window, sleep, clock
        self.first_pause, self.max_pause = first_pause, max_pause

    def run(self, lost: AwsCallError) -> Optional[str]:
        """The job's id, or None when the lookup at the end of the window answered "absent".

        :raises SubmitOutcomeUnknown: the deciding lookup could not be answered
        """
        deadline = self.clock() + self.window
        pause = self.first_pause
        while self.clock() < deadline:
            try:
                found = self._lookup(lost)
            except Throttled:
                found = None  # a later lookup answers for this one
            if found:
                return found
            now = self.clock()
            if now < deadline:
                self.sleep(min(pause, deadline - now))
                pause = min(pause * 2, self.max_pause)
        return self._final(lost)

    def _final(self, lost: AwsCallError) -> Optional[str]:
        last: Optional[AwsCallError] = None
        for attempt in range(FINAL_LOOKUP_TRIES):
            try:
                return self._lookup(lost)
            except Throttled as exn:
                last = exn
                if attempt + 1 < FINAL_LOOKUP_TRIES:
                    self.sleep(min(self.first_pause * 2**attempt, self.max_pause))
        raise SubmitOutcomeUnknown(
            self.name,
            self.queue,
            lost.code,
            f"its response was lost and the lookup by name at the end of the {self.window:g} s"
            f" window failed {FINAL_LOOKUP_TRIES} times (last: {last})",
        )

    def _lookup(self, lost: AwsCallError) -> Optional[str]:
        try:
            return self.api.find_job(self.queue, self.name, self.since_ms)
        except Throttled:
            raise
        except AwsCallError as exn:  # denied, misconfigured...: every lookup would fail so
            raise SubmitOutcomeUnknown(
                self.name,
                self.queue,
                lost.code,
                f"its response was lost and looking it up failed ({exn})",
            ) from None


def _note(log: Optional[logging.Logger], message: str, search: _Search, lost: Any = None,
          **extra: Any) -> None:  # fmt: skip
    if log is None:
        return
    fields: Dict[str, Any] = {"jobName": search.name, "jobQueue": search.queue, **extra}
    if lost is not None:
        fields.update(error=str(lost), window_seconds=search.window)
    log.warning(_(message, **fields))
