"""The AWS call layer: typed shared clients, one error translation, per-page call counts, and
the retry policies (TerminateJob retried by us, beside the SubmitJob pacer; Stubber, fake time)."""

from __future__ import annotations

import logging
from typing import Any, List

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.clients import AwsClients
from miniwdl_aws.aws.errors import is_retryable, translate
from miniwdl_aws.aws.retry import TERMINATE, RetryPolicy, retry_call
from miniwdl_aws.errors import Ambiguous, AwsCallError, Throttled
from miniwdl_aws.submit.wait import DEFAULT_OUTAGE_LIMIT, JobWaiter
from tests.support.clients import FakeClients
from tests.support.fake_time import FakeTime


def _batch() -> Any:
    return boto3.client(
        "batch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_clients_without_retries_are_a_shared_sibling() -> None:
    clients = AwsClients(region="us-east-1", max_attempts=7)
    once = clients.no_retries()
    assert once is clients.no_retries() and once.no_retries() is once
    assert once.region == "us-east-1" and once.max_attempts == 1
    assert once("batch").meta.config.retries["total_max_attempts"] == 1
    assert clients("batch").meta.config.retries["total_max_attempts"] == 7
    assert once("batch") is not clients("batch")


def test_a_client_that_cannot_be_built_is_an_aws_call_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    clients = AwsClients()
    assert clients.region is None
    with pytest.raises(AwsCallError) as info:
        clients("batch")
    assert info.value.code == "NoRegionError"


def test_translation_is_one_table() -> None:
    def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
        resp = {
            "Error": {"Code": code, "Message": "m"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return botocore.exceptions.ClientError(resp, "TerminateJob")  # type: ignore[arg-type]

    throttled = translate("TerminateJob", client_error("TooManyRequestsException", 429))
    assert type(throttled) is Throttled and throttled.message == "m"
    assert type(translate("TerminateJob", client_error("InternalFailure", 500))) is Ambiguous
    denied = translate("TerminateJob", client_error("AccessDeniedException", 403))
    assert type(denied) is AwsCallError and denied.code == "AccessDeniedException"
    assert translate("X", denied) is denied
    # translated or raw, the same answer
    assert is_retryable(throttled) and is_retryable(client_error("SlowDown", 503))
    assert not is_retryable(denied) and not is_retryable(botocore.exceptions.NoCredentialsError())


def test_paginated_calls_count_every_page() -> None:
    batch = _batch()
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    flt = [{"name": "JOB_NAME", "values": ["mw1-*"]}]
    with Stubber(batch) as stub:
        stub.add_response(
            "list_jobs",
            {"jobSummaryList": [{"jobId": "a", "jobName": "mw1-a"}], "nextToken": "t"},
            {"jobQueue": "q", "filters": flt},
        )
        stub.add_response(
            "list_jobs",
            {"jobSummaryList": [{"jobId": "b", "jobName": "mw1-b"}]},
            {"jobQueue": "q", "filters": flt, "nextToken": "t"},
        )
        stub.add_client_error("list_jobs", "ClientException", "no such queue", 400)
        assert api.list_job_ids("q", "mw1-") == ["a", "b"]
        with pytest.raises(AwsCallError) as info:
            api.list_job_ids("nope", "mw1-")
    assert info.value.operation == "ListJobs" and not isinstance(info.value, Throttled)
    assert api.call_counts() == {"batch.ListJobs": 3}
    assert api.operation_counts() == {"ListJobs": 3}


def test_terminate_is_retried_on_the_client_without_botocore_retries() -> None:
    plain, once = _batch(), _batch()
    api = BatchApi(FakeClients(batch=plain), FakeClients(batch=once))  # type: ignore[arg-type]
    t = FakeTime()
    with Stubber(once) as stub:
        stub.add_client_error("terminate_job", "TooManyRequestsException", "slow down", 429)
        stub.add_client_error("terminate_job", "ServerException", "oops", 500)
        stub.add_response("terminate_job", {}, {"jobId": "j1", "reason": "bye"})
        api.terminate_job_retrying("j1", "bye", sleep=t.sleep, clock=t.clock)
        stub.assert_no_pending_responses()
    assert api.call_counts() == {"batch.TerminateJob": 3}
    # growing, jittered pauses: 0.5 s then 1 s, each cut by up to half
    assert len(t.sleeps) == 2
    assert 0.25 <= t.sleeps[0] <= 0.5 and 0.5 <= t.sleeps[1] <= 1.0


def test_terminate_gives_up_after_its_attempts_or_at_once_when_hopeless(
    caplog: pytest.LogCaptureFixture,
) -> None:
    once = _batch()
    api = BatchApi(FakeClients(batch=_batch()), FakeClients(batch=once))  # type: ignore[arg-type]
    t = FakeTime()
    logger = logging.getLogger("test-terminate")
    with Stubber(once) as stub, caplog.at_level(logging.INFO, logger="test-terminate"):
        for _ in range(3):
            stub.add_client_error("terminate_job", "TooManyRequestsException", "", 429)
        with pytest.raises(Throttled):
            api.terminate_job_retrying(
                "j1", "bye", attempts=3, logger=logger, sleep=t.sleep, clock=t.clock
            )
        stub.add_client_error("terminate_job", "ClientException", "no job j2", 400)
        with pytest.raises(AwsCallError) as info:
            api.terminate_job_retrying("j2", "bye", sleep=t.sleep, clock=t.clock)
        stub.assert_no_pending_responses()
    assert not isinstance(info.value, Throttled)
    assert api.call_counts() == {"batch.TerminateJob": 4}
    assert sum("TerminateJob failed; retrying" in r.getMessage() for r in caplog.records) == 2


def test_retry_call_stops_at_the_deadline() -> None:
    t = FakeTime()
    calls: List[float] = []

    def refused() -> None:
        calls.append(t.now)
        raise Throttled("TerminateJob", "TooManyRequestsException", "slow down")

    policy = RetryPolicy(attempts=100, first_pause=1.0, max_pause=1.0, deadline=3.0)
    with pytest.raises(Throttled):
        retry_call(refused, policy, sleep=t.sleep, clock=t.clock)
    assert t.now <= 3.0 and 3 <= len(calls) <= 7
    assert TERMINATE.deadline is not None and TERMINATE.attempts >= 2


def test_the_submitter_waits_out_outages_as_long_as_the_backend() -> None:
    from miniwdl_aws.config import OPTIONS_BY_NAME

    assert DEFAULT_OUTAGE_LIMIT == OPTIONS_BY_NAME["describe_error_wait"].default
    waiter = JobWaiter(BatchApi(FakeClients(batch=_batch())), None, print, print)  # type: ignore[arg-type]
    assert waiter._outage_limit == DEFAULT_OUTAGE_LIMIT


def test_container_property_names_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # every task attempt checks its containerProperties keys; a botocore session per check
    # parsed the whole Batch model each time (half of the runner's CPU in a 1,000-task scatter)
    import botocore.session

    sessions = []
    real = botocore.session.get_session

    def counting() -> botocore.session.Session:
        sessions.append(1)
        return real()

    BatchApi.container_property_names.cache_clear()
    monkeypatch.setattr(botocore.session, "get_session", counting)
    first = BatchApi.container_property_names()
    for _ in range(5):
        assert BatchApi.container_property_names() == first
    assert "image" in first and "resourceRequirements" in first
    assert len(sessions) == 1
