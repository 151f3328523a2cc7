"""Shared helpers: client factory and keeping credentials out of debug logs."""

from __future__ import annotations

import logging

import pytest

from miniwdl_aws._util import BOTOCORE_DEBUG_ENV
from miniwdl_aws.aws.clients import AwsClients


@pytest.fixture
def botocore_levels():
    names = ("botocore", "boto3", "s3transfer")
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.NOTSET)
    yield names
    for n, level in saved.items():
        logging.getLogger(n).setLevel(level)


def test_clients_cap_botocore_debug_even_when_root_is_debug(
    botocore_levels, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(BOTOCORE_DEBUG_ENV, raising=False)
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)  # what `miniwdl run --debug` does
    try:
        AwsClients(region="us-east-1")
        for name in botocore_levels:
            assert not logging.getLogger(name + ".endpoint").isEnabledFor(logging.DEBUG), name
    finally:
        root.setLevel(old)


def test_botocore_debug_is_an_explicit_opt_in(
    botocore_levels, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BOTOCORE_DEBUG_ENV, "1")
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    try:
        AwsClients(region="us-east-1")
        assert logging.getLogger("botocore.endpoint").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(old)


def test_clients_are_built_once_and_shared() -> None:
    clients = AwsClients(region="us-east-1")
    assert clients("batch") is clients("batch")
    assert clients("batch") is not clients("logs")
    assert clients("batch").meta.region_name == "us-east-1"


def test_is_retryable_separates_outages_from_mistakes() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    from miniwdl_aws.aws.errors import is_retryable

    def client_error(code: str, status: int) -> ClientError:
        resp = {
            "Error": {"Code": code, "Message": "m"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return ClientError(resp, "DescribeJobs")  # type: ignore[arg-type]

    assert is_retryable(client_error("InternalFailure", 500))
    assert is_retryable(client_error("TooManyRequestsException", 429))
    assert is_retryable(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert not is_retryable(client_error("AccessDeniedException", 403))
    assert not is_retryable(NoCredentialsError())
