"""The process's boto3 clients: one session, one botocore ``Config``, built once and shared.

Every call miniwdl-aws makes goes through a client from :class:`AwsClients`, so that one
``Config`` (retries, connection pool) applies everywhere, clients are built once per process and
shared between threads (clients are thread-safe; sessions are not), and the local AWS is reached
through the standard ``AWS_ENDPOINT_URL`` variable with no special casing in our code.

Clients are typed per service (``clients("batch")`` is a ``mypy_boto3_batch.BatchClient``); the
type stubs are a test-time dependency, so they are imported for the type checker only.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Dict, Literal, Mapping, Optional, Protocol, cast, overload

import boto3
import botocore.config

from .._util import quiet_botocore_debug
from .errors import AWS_EXCEPTIONS, translate

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_efs import EFSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

__all__ = ["AwsClients", "EcrClient", "SageMakerClient", "detect_region"]


class EcrClient(Protocol):
    """The ECR call we make (its type stubs are not worth requiring for one call)."""

    def describe_images(
        self, *, registryId: str, repositoryName: str, imageIds: Any
    ) -> Mapping[str, Any]:
        """DescribeImages."""
        ...


class SageMakerClient(Protocol):
    """The SageMaker calls we make (its type stubs are too large to require for two calls)."""

    def describe_domain(self, *, DomainId: str) -> Mapping[str, Any]:
        """DescribeDomain."""
        ...

    def describe_user_profile(self, *, DomainId: str, UserProfileName: str) -> Mapping[str, Any]:
        """DescribeUserProfile."""
        ...


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
        self.max_attempts = max(1, max_attempts)
        self._retry_mode = retry_mode
        self._pool = max_pool_connections
        self._config = botocore.config.Config(
            region_name=self.region,
            retries={
                "mode": cast(Literal["legacy", "standard", "adaptive"], retry_mode),
                "total_max_attempts": self.max_attempts,
            },
            max_pool_connections=max_pool_connections,
        )
        self._session = boto3.session.Session()
        self._clients: Dict[str, Any] = {}
        self._no_retries: Optional[AwsClients] = None
        self._lock = threading.Lock()

    def no_retries(self) -> AwsClients:
        """Clients like these but without botocore retries (one attempt per call), for calls
        that are not idempotent (SubmitJob) or that we retry ourselves (TerminateJob)."""
        if self.max_attempts == 1 and self._retry_mode == "standard":
            return self
        with self._lock:
            if self._no_retries is None:
                # standard mode even when these are adaptive: adaptive mode also delays sends
                # client-side, a second pacer beside ours
                self._no_retries = AwsClients(
                    region=self.region, max_attempts=1, max_pool_connections=self._pool
                )
            return self._no_retries

    @overload
    def __call__(self, service: Literal["batch"]) -> BatchClient: ...
    @overload
    def __call__(self, service: Literal["ec2"]) -> EC2Client: ...
    @overload
    def __call__(self, service: Literal["efs"]) -> EFSClient: ...
    @overload
    def __call__(self, service: Literal["iam"]) -> IAMClient: ...
    @overload
    def __call__(self, service: Literal["logs"]) -> CloudWatchLogsClient: ...
    @overload
    def __call__(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def __call__(self, service: Literal["sts"]) -> STSClient: ...
    @overload
    def __call__(self, service: Literal["sagemaker"]) -> SageMakerClient: ...
    @overload
    def __call__(self, service: Literal["ecr"]) -> EcrClient: ...

    def __call__(self, service: str) -> Any:
        """The shared client for ``service`` (``"batch"``, ``"logs"``, ``"s3"``, ...)."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                try:
                    client = self._session.client(service, config=self._config)  # type: ignore[call-overload]
                except AWS_EXCEPTIONS as exn:  # no region, unknown profile...
                    raise translate(f"{service} client", exn) from None
                self._clients[service] = client
            return client
