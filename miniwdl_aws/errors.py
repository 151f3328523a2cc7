"""Exceptions raised by miniwdl-aws.

::

    MiniwdlAwsError               base; str() is a one-line message fit for a user
    ├── ConfigError               a missing or malformed setting ([aws] key, flag, env var)
    ├── InfrastructureError       the AWS resources named in config are absent or unusable
    │                             (unknown queue, access point, bucket...)
    └── AwsCallError              an AWS API call failed for good (after retries); carries the
        │                         operation name and AWS error code
        └── Throttled             refused for rate, or a transient failure (5xx, no connection):
            │                     worth retrying
            └── Ambiguous         a transient failure after which the request may or may not
                                  have taken effect (lost response, 5xx)

:mod:`miniwdl_aws.aws.errors` turns botocore's exceptions into these.

At the miniwdl backend boundary these are translated to miniwdl's own error types
(``WDL.Error.RuntimeError``, ``WDL.runtime.error.Interrupted``...); the CLIs print ``str(e)`` and
exit non-zero without a traceback.
"""

from __future__ import annotations

from typing import Optional


class MiniwdlAwsError(Exception):
    """Base class of every error miniwdl-aws raises on purpose."""


class ConfigError(MiniwdlAwsError):
    """A setting is missing or malformed; raised before any job is submitted."""


class InfrastructureError(MiniwdlAwsError):
    """An AWS resource named in the configuration does not exist or cannot be used."""


class AwsCallError(MiniwdlAwsError):
    """An AWS API call failed after retries.

    :param operation: API operation, e.g. ``SubmitJob``
    :param code: AWS error code, e.g. ``ClientException``
    """

    def __init__(self, operation: str, code: Optional[str], message: str) -> None:
        super().__init__(f"AWS {operation} failed ({code or 'error'}): {message}")
        self.operation = operation
        self.code = code
        self.message = message


class Throttled(AwsCallError):
    """A call refused for rate (``TooManyRequestsException``) or a transient 5xx or connection
    failure: retryable."""


class Ambiguous(Throttled):
    """A transient failure after which the request may or may not have taken effect (lost
    response, 5xx): retryable, but check first for a call that creates something."""
