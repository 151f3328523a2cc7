"""Job-definition cache: content-keyed, registered once, reuses ACTIVE definitions (Stubber)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.batch import specs
from miniwdl_aws.batch.job_definitions import JobDefinitionCache
from miniwdl_aws.errors import AwsCallError, Throttled
from tests.support.clients import FakeClients

LOG = logging.getLogger("test")


@pytest.fixture
def batch() -> Any:
    return boto3.client(
        "batch",
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _props(image: str = "ubuntu:22.04") -> dict:
    return specs.DefinitionContent(
        image=image,
        volumes=[specs.host_volume("/mnt/x")],
        mount_points=[{"containerPath": "/mnt/x", "sourceVolume": specs.VOLUME_NAME}],
    ).container_properties()


def _arn(name: str, rev: int) -> str:
    return f"arn:aws:batch:us-west-2:123456789012:job-definition/{name}:{rev}"


def test_registers_once_per_content(batch: Any) -> None:
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    cache = JobDefinitionCache(api, "mwt", {"team": "x"})
    name = specs.register_request("mwt", _props())["jobDefinitionName"]
    name2 = specs.register_request("mwt", _props("debian:12"))["jobDefinitionName"]
    with Stubber(batch) as stub:
        stub.add_response(
            "describe_job_definitions",
            {"jobDefinitions": []},
            {"jobDefinitionName": name, "status": "ACTIVE"},
        )
        stub.add_response(
            "register_job_definition",
            {"jobDefinitionName": name, "jobDefinitionArn": _arn(name, 1), "revision": 1},
            {
                "jobDefinitionName": name,
                "type": "container",
                "containerProperties": _props(),
                "platformCapabilities": ["EC2"],
                "propagateTags": True,
                "tags": {"team": "x", specs.TAG_DEFINITION_HASH: ANY},
            },
        )
        stub.add_response(
            "describe_job_definitions",
            {"jobDefinitions": []},
            {"jobDefinitionName": name2, "status": "ACTIVE"},
        )
        stub.add_response(
            "register_job_definition",
            {"jobDefinitionName": name2, "jobDefinitionArn": _arn(name2, 1), "revision": 1},
            None,
        )
        for _ in range(5):
            assert cache.get(LOG, _props()) == _arn(name, 1)
        assert cache.get(LOG, _props("debian:12")) == _arn(name2, 1)
        stub.assert_no_pending_responses()
    assert cache.registered == 2
    assert api.call_counts() == {
        "batch.DescribeJobDefinitions": 2,
        "batch.RegisterJobDefinition": 2,
    }


def test_reuses_active_definition_from_earlier_run(batch: Any) -> None:
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    cache = JobDefinitionCache(api, "mwt")
    req = specs.register_request("mwt", _props())
    name, digest = req["jobDefinitionName"], req["tags"][specs.TAG_DEFINITION_HASH]
    with Stubber(batch) as stub:
        stub.add_response(
            "describe_job_definitions",
            {
                "jobDefinitions": [
                    {
                        "jobDefinitionName": name,
                        "jobDefinitionArn": _arn(name, 3),
                        "revision": 3,
                        "type": "container",
                        "tags": {specs.TAG_DEFINITION_HASH: "someone-else"},
                    },
                    {
                        "jobDefinitionName": name,
                        "jobDefinitionArn": _arn(name, 2),
                        "revision": 2,
                        "type": "container",
                        "tags": {specs.TAG_DEFINITION_HASH: digest},
                    },
                ]
            },
            {"jobDefinitionName": name, "status": "ACTIVE"},
        )
        assert cache.get(LOG, _props()) == _arn(name, 2)
        assert cache.get(LOG, _props()) == _arn(name, 2)
        stub.assert_no_pending_responses()
    assert cache.registered == 0


def test_concurrent_callers_share_one_lookup_and_failures_are_not_cached() -> None:
    calls: list = []
    gate = threading.Event()

    class SlowApi:
        def active_job_definitions(self, name: str) -> list:
            calls.append(name)
            gate.wait(5)
            if len(calls) == 1:
                raise Throttled("DescribeJobDefinitions", "TooManyRequestsException", "slow down")
            return []

        def register_job_definition(self, request: dict) -> str:
            return "arn:" + request["jobDefinitionName"]

    cache = JobDefinitionCache(SlowApi(), "mwt")  # type: ignore[arg-type]
    results: list = []

    def worker() -> None:
        try:
            results.append(cache.get(LOG, _props()))
        except AwsCallError as exn:
            results.append(exn)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    # all eight waited on the single failing lookup; the failure is shared, not cached
    assert len(calls) == 1 and len(results) == 8
    assert all(isinstance(r, Throttled) for r in results)
    assert cache.get(LOG, _props()).startswith("arn:mwt-")
    assert len(calls) == 2


def test_api_translates_throttling_and_errors(batch: Any) -> None:
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    with Stubber(batch) as stub:
        stub.add_client_error("submit_job", "TooManyRequestsException", "Too Many Requests", 429)
        stub.add_client_error("submit_job", "ClientException", "queue not found", 400)
        stub.add_client_error("submit_job", "ServerException", "oops", 500)
        with pytest.raises(Throttled):
            api.submit_job({"jobName": "a", "jobQueue": "q", "jobDefinition": "d"})
        with pytest.raises(AwsCallError) as info:
            api.submit_job({"jobName": "a", "jobQueue": "q", "jobDefinition": "d"})
        assert not isinstance(info.value, Throttled)
        assert info.value.code == "ClientException" and "SubmitJob" in str(info.value)
        with pytest.raises(Throttled):
            api.submit_job({"jobName": "a", "jobQueue": "q", "jobDefinition": "d"})
    assert api.call_counts() == {"batch.SubmitJob": 3}


def test_lost_responses_are_ambiguous_and_unsent_requests_are_not() -> None:
    import botocore.exceptions

    from miniwdl_aws.aws.errors import translate as _translate
    from miniwdl_aws.errors import Ambiguous

    reset = botocore.exceptions.ConnectionClosedError(endpoint_url="http://x")
    timeout = botocore.exceptions.ReadTimeoutError(endpoint_url="http://x")
    unsent = botocore.exceptions.EndpointConnectionError(endpoint_url="http://x")
    assert isinstance(_translate("SubmitJob", reset), Ambiguous)
    assert isinstance(_translate("SubmitJob", timeout), Ambiguous)
    unsent_err = _translate("SubmitJob", unsent)
    assert isinstance(unsent_err, Throttled) and not isinstance(unsent_err, Ambiguous)
    # not transient at all: never retried
    no_creds = _translate("SubmitJob", botocore.exceptions.NoCredentialsError())
    assert isinstance(no_creds, AwsCallError) and not isinstance(no_creds, Throttled)


def test_find_job_by_exact_name_and_creation_time(batch: Any) -> None:
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    summaries = [
        {"jobId": "old", "jobName": "mw1-a", "createdAt": 1000},
        {"jobId": "new", "jobName": "mw1-a", "createdAt": 5000},
        {"jobId": "other", "jobName": "mw1-ab", "createdAt": 6000},
    ]
    with Stubber(batch) as stub:
        for _ in range(2):
            stub.add_response(
                "list_jobs",
                {"jobSummaryList": summaries},
                {"jobQueue": "q", "filters": [{"name": "JOB_NAME", "values": ["mw1-a"]}]},
            )
        assert api.find_job("q", "mw1-a", 2000) == "new"
        assert api.find_job("q", "mw1-a", 9000) is None


def test_submit_job_uses_the_no_retry_client(batch: Any) -> None:
    plain = boto3.client(
        "batch",
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    api = BatchApi(FakeClients(batch=plain), FakeClients(batch=batch))  # type: ignore[arg-type]
    with Stubber(batch) as stub:
        stub.add_response("submit_job", {"jobId": "j1", "jobName": "a"}, None)
        assert api.submit_job({"jobName": "a", "jobQueue": "q", "jobDefinition": "d"}) == "j1"
