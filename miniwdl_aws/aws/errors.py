"""The one translation of botocore/boto3 exceptions into :mod:`miniwdl_aws.errors`.

- throttling (``TooManyRequestsException``, HTTP 429...) → :class:`Throttled`;
- a 5xx, or a connection reset / read timeout once the request was sent → :class:`Ambiguous`
  (the request may have taken effect);
- no connection at all (the request never left) → :class:`Throttled` (certainly no effect);
- anything else (bad parameters, permissions, credentials, a missing resource) →
  :class:`AwsCallError`, which no retry can fix.
"""

from __future__ import annotations

from typing import Tuple, Type

import boto3.exceptions
import botocore.exceptions

from ..errors import Ambiguous, AwsCallError, Throttled

__all__ = [
    "AWS_EXCEPTIONS",
    "Ambiguous",
    "AwsCallError",
    "THROTTLE_CODES",
    "Throttled",
    "is_retryable",
    "translate",
]

# What a boto3 call raises for an AWS-side or transport failure (the layer catches these only:
# programming errors such as a TypeError still surface as themselves).
AWS_EXCEPTIONS: Tuple[Type[Exception], ...] = (
    botocore.exceptions.ClientError,
    botocore.exceptions.BotoCoreError,
    boto3.exceptions.Boto3Error,
)

THROTTLE_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "ServerException",
    }
)

# failures before the request left this host: it certainly had no effect
_NOT_SENT = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
)


def translate(operation: str, exn: BaseException) -> AwsCallError:
    """The :mod:`miniwdl_aws.errors` exception for ``exn`` raised by the call ``operation``
    (an ``AwsCallError`` is returned as it is)."""
    if isinstance(exn, AwsCallError):
        return exn
    if isinstance(exn, botocore.exceptions.ClientError):
        err = exn.response.get("Error", {})
        code = err.get("Code")
        status = exn.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        message = err.get("Message") or str(exn)
        if status >= 500 and code != "TooManyRequestsException":
            return Ambiguous(operation, code, message)
        if code in THROTTLE_CODES or status == 429:
            return Throttled(operation, code, message)
        return AwsCallError(operation, code, message)
    if isinstance(exn, _NOT_SENT):
        return Throttled(operation, type(exn).__name__, str(exn))
    if isinstance(
        exn, (botocore.exceptions.HTTPClientError, botocore.exceptions.ResponseStreamingError)
    ):
        # connection reset or read timeout after sending: the call may have happened
        return Ambiguous(operation, type(exn).__name__, str(exn))
    # no credentials, no region, invalid parameters...: retrying cannot help
    return AwsCallError(operation, type(exn).__name__, str(exn))


def is_retryable(exn: BaseException) -> bool:
    """Whether a failed call is worth retrying: throttling, 5xx, connection trouble (not bad
    credentials, parameters or permissions). Takes a translated error or a raw botocore one."""
    return isinstance(translate("", exn), Throttled)
