"""Who retries what: one policy per kind of call, never two retry loops around one call.

(a) **SubmitJob** creates a job and has no idempotency token. It goes through a client without
    botocore retries (:meth:`miniwdl_aws.aws.clients.AwsClients.no_retries`); a lost response
    (:class:`~miniwdl_aws.errors.Ambiguous`) is settled by looking the job up by name
    (:func:`miniwdl_aws.batch.recovery.submit_without_twins`), and throttling is paced and
    retried by the process's one :class:`~miniwdl_aws.batch.submitter.AdaptiveSubmitter`.
    Nothing else goes through that pacer.
(b) **Idempotent reads** (Describe*, List*, Get*, Head*) and calls whose repetition is harmless
    (RegisterJobDefinition of identical content, S3 uploads of the same object) get botocore's
    own retries only (``[aws] boto3_retries``, standard mode: exponential backoff with jitter and
    a client-side retry quota), with no loop of ours around them. Pollers that call again on
    their period (the status poller, the submitter's waiter) are waiting, not retrying; they give
    up after ``[aws] describe_error_wait`` seconds of failures.
(c) **TerminateJob** is idempotent and metered by AWS apart from SubmitJob. It goes through the
    client without botocore retries and is retried here (:data:`TERMINATE`, :func:`retry_call`),
    with backoff and an overall deadline, so that shutdown is quick and a throttled TerminateJob
    never slows submissions down.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Callable, Optional, TypeVar

from ..errors import AwsCallError, Throttled

__all__ = ["RetryPolicy", "TERMINATE", "retry_call"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How :func:`retry_call` retries a retryable (:class:`~miniwdl_aws.errors.Throttled`) failure.

    :param attempts: calls in all, the first included
    :param first_pause: seconds before the second call; each pause doubles (with jitter)...
    :param max_pause: ...up to this
    :param deadline: no new call starts after this many seconds since the first (None: no limit)
    """

    attempts: int
    first_pause: float
    max_pause: float
    deadline: Optional[float] = None


# Five tries within 20 s: TerminateJob is usually called while miniwdl is stopping, and a slow
# shutdown is worse than leaving a job to `miniwdl-aws cleanup` (the caller logs that hint).
TERMINATE = RetryPolicy(attempts=5, first_pause=0.5, max_pause=4.0, deadline=20.0)


def retry_call(
    fn: Callable[[], T],
    policy: RetryPolicy,
    on_retry: Optional[Callable[[int, AwsCallError, float], None]] = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Optional[random.Random] = None,
) -> T:
    """``fn()``, called again after a :class:`~miniwdl_aws.errors.Throttled` failure as
    ``policy`` allows; any other error, or the last retryable one, is raised.

    :param on_retry: told ``(attempt, error, pause)`` before each pause (for logging)
    """
    rng = rng or random.Random()
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Throttled as exn:
            if attempt >= max(1, policy.attempts):
                raise
            base = min(policy.max_pause, policy.first_pause * 2 ** (attempt - 1))
            pause = base * rng.uniform(0.5, 1.0)  # jitter: threads retrying together spread out
            if policy.deadline is not None and clock() + pause - start > policy.deadline:
                raise
            if on_retry is not None:
                on_retry(attempt, exn, pause)
            sleep(pause)
