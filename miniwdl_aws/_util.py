"""Shared helpers: the boto3 client factory and miniwdl's structured-log alias.

Every production module gets its boto3 clients from :class:`AwsClients`, so that one botocore
``Config`` (retries, connection pool) applies everywhere, clients are built once per process and
shared between threads (clients are thread-safe; sessions are not), and the emulator is reached
through the standard ``AWS_ENDPOINT_URL`` variable with no special casing in our code.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Dict, Optional

import boto3
import botocore.config
from WDL._util import StructuredLogMessage as _  # re-exported for our modules

__all__ = ["_", "AwsClients", "detect_region", "quiet_botocore_debug"]

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


def detect_region(explicit: Optional[str] = None) -> Optional[str]:
    """The AWS region: an explicit setting, then ``AWS_REGION``/``AWS_DEFAULT_REGION``, then the
    boto3 profile's region. Returns None when none is known (we never probe EC2 metadata, which
    costs seconds off AWS)."""
    if explicit:
        return explicit
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(var):
            return os.environ[var]
    return boto3.session.Session().region_name


class AwsClients:
    """Lazily-built, process-shared boto3 clients keyed by service name.

    :param region: AWS region (None: :func:`detect_region`)
    :param max_attempts: botocore ``total_max_attempts`` for transient/throttling errors
    :param retry_mode: botocore retry mode (``standard`` or ``adaptive``)
    :param max_pool_connections: HTTP connections per client; size it to the threads sharing it
    """

    def __init__(
        self,
        region: Optional[str] = None,
        max_attempts: int = 5,
        retry_mode: str = "standard",
        max_pool_connections: int = 32,
    ) -> None:
        quiet_botocore_debug()
        self.region = detect_region(region)
        self._config = botocore.config.Config(
            region_name=self.region,
            retries={"mode": retry_mode, "total_max_attempts": max(1, max_attempts)},  # type: ignore[arg-type]
            max_pool_connections=max_pool_connections,
        )
        self._session = boto3.session.Session()
        self._clients: Dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        """The shared client for ``service`` (``"batch"``, ``"logs"``, ``"s3"``, ...)."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._session.client(service, config=self._config)  # type: ignore[call-overload]
                self._clients[service] = client
            return client
