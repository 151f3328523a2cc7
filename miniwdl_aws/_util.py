"""Shared helpers: miniwdl's structured-log alias and keeping botocore's DEBUG records (which
carry credentials) out of our logs. The boto3 client factory is
:class:`miniwdl_aws.aws.clients.AwsClients`."""

from __future__ import annotations

import logging
import os

from WDL._util import StructuredLogMessage as _  # re-exported for our modules

__all__ = ["_", "BOTOCORE_DEBUG_ENV", "quiet_botocore_debug"]

# botocore's DEBUG records print signed requests: the access key id (Authorization header), the
# session token (X-Amz-Security-Token) and whole request/response bodies (job environments).
# `miniwdl run --debug` turns DEBUG on for every logger, so we cap botocore at INFO unless the
# user opts in with this variable.
BOTOCORE_DEBUG_ENV = "MINIWDL_AWS_BOTOCORE_DEBUG"


def quiet_botocore_debug() -> None:
    """Keep botocore/boto3/s3transfer DEBUG records (which carry credentials) out of our logs,
    unless ``MINIWDL_AWS_BOTOCORE_DEBUG=1``."""
    if os.environ.get(BOTOCORE_DEBUG_ENV, "").strip().lower() in ("1", "true", "yes"):
        return
    for name in ("botocore", "boto3", "s3transfer"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
