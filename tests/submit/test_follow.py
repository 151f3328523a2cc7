"""CloudWatch follower and job waiter, against botocore Stubber responses."""

from __future__ import annotations

from typing import Any, Dict, List

import boto3
import pytest
from botocore.stub import Stubber

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.errors import AwsCallError
from miniwdl_aws.submit import END_OF_LOG
from miniwdl_aws.submit.follow import LOG_GROUP, LogFollower
from miniwdl_aws.submit.wait import EXIT_FAILED_NO_CODE, JobWaiter

STREAM = "wfdef/default/abc"


def _client(service: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class FakeClients:
    """Stands in for AwsClients: hands out one pre-built (stubbed) client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, service: str) -> Any:
        return self.client

    def no_retries(self) -> FakeClients:
        return self


def _b(batch: Any) -> BatchApi:
    return BatchApi(FakeClients(batch))  # type: ignore[arg-type]


def _l(logs: Any) -> LogsApi:
    return LogsApi(FakeClients(logs))  # type: ignore[arg-type]


def _events(*msgs: str) -> List[Dict[str, Any]]:
    return [
        {"timestamp": 1000 + i, "message": m, "ingestionTime": 2000} for i, m in enumerate(msgs)
    ]


def _get(stub: Stubber, msgs: List[str], token_in: Any, token_out: str) -> None:
    params: Dict[str, Any] = {
        "logGroupName": LOG_GROUP,
        "logStreamName": STREAM,
        "startFromHead": True,
    }
    if token_in is not None:
        params["nextToken"] = token_in
    stub.add_response(
        "get_log_events",
        {"events": _events(*msgs), "nextForwardToken": token_out, "nextBackwardToken": "b"},
        params,
    )


def test_follower_pages_forward_and_picks_up_late_events() -> None:
    logs = _client("logs")
    follower = LogFollower(_l(logs), STREAM)
    with Stubber(logs) as stub:
        # stream not created yet
        stub.add_client_error("get_log_events", "ResourceNotFoundException")
        # first poll: two pages, then the end (same token back)
        _get(stub, ["a", "b"], None, "f/1")
        _get(stub, ["c"], "f/1", "f/2")
        _get(stub, [], "f/2", "f/2")
        # second poll: a late line arrives behind the same token
        _get(stub, ["d"], "f/2", "f/3")
        _get(stub, [], "f/3", "f/3")
        # third poll: nothing new
        _get(stub, [], "f/3", "f/3")
        assert follower.poll() == []
        assert follower.poll() == ["a", "b", "c"]
        assert follower.poll() == ["d"]
        assert follower.poll() == []
        stub.assert_no_pending_responses()


def _describe(stub: Stubber, status: str, container: Dict[str, Any], reason: str = "") -> None:
    job: Dict[str, Any] = {
        "jobName": "n",
        "jobId": "job-1",
        "jobQueue": "q",
        "status": status,
        "startedAt": 1,
        "jobDefinition": "d",
        "container": container,
    }
    if reason:
        job["statusReason"] = reason
    stub.add_response("describe_jobs", {"jobs": [job]}, {"jobs": ["job-1"]})


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: List[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s

    def __call__(self) -> float:
        return self.now


def test_waiter_streams_every_line_once_including_after_the_job_ended() -> None:
    batch, logs = _client("batch"), _client("logs")
    clock = _Clock()
    lines: List[str] = []
    notes: List[str] = []
    waiter = JobWaiter(
        _b(batch), _l(logs), lines.append, notes.append, clock.sleep, clock, 5.0, 30.0
    )
    with Stubber(batch) as bstub, Stubber(logs) as lstub:
        _describe(bstub, "RUNNABLE", {})
        _describe(bstub, "RUNNING", {"logStreamName": STREAM})
        _get(lstub, ["one", "two"], None, "t1")
        _get(lstub, [], "t1", "t1")
        _describe(bstub, "SUCCEEDED", {"logStreamName": STREAM, "exitCode": 0})
        _get(lstub, [], "t1", "t1")
        # after SUCCEEDED the rest arrives late, marker last
        _get(lstub, ["three"], "t1", "t2")
        _get(lstub, [], "t2", "t2")
        _get(lstub, ["four", END_OF_LOG], "t2", "t3")
        _get(lstub, [], "t3", "t3")
        assert waiter.wait("job-1", follow=True) == 0
        bstub.assert_no_pending_responses()
        lstub.assert_no_pending_responses()
    assert lines == ["one", "two", "three", "four"]
    assert waiter.saw_end
    assert clock.sleeps == [5.0, 5.0, 1.0, 1.0]
    assert not any("WARNING" in n for n in notes)


def test_waiter_warns_when_the_marker_never_comes() -> None:
    batch, logs = _client("batch"), _client("logs")
    clock = _Clock()
    notes: List[str] = []
    waiter = JobWaiter(
        _b(batch), _l(logs), lambda _: None, notes.append, clock.sleep, clock, 1.0, 3.0
    )
    with Stubber(batch) as bstub, Stubber(logs) as lstub:
        _describe(bstub, "FAILED", {"logStreamName": STREAM, "exitCode": 3})
        _get(lstub, ["partial"], None, "t0")
        _get(lstub, [], "t0", "t0")
        for _ in range(3):  # the 3 s grace, polled every second
            _get(lstub, [], "t0", "t0")
        assert waiter.wait("job-1", follow=True) == 3
        lstub.assert_no_pending_responses()
    assert any("end-of-log marker not seen" in n for n in notes)


def test_failed_without_exit_code_prints_reason() -> None:
    batch, logs = _client("batch"), _client("logs")
    notes: List[str] = []
    waiter = JobWaiter(_b(batch), _l(logs), lambda _: None, notes.append, lambda _: None)
    with Stubber(batch) as bstub:
        _describe(bstub, "FAILED", {}, reason="CannotPullContainerError: no such image")
        assert waiter.wait("job-1", follow=True) == EXIT_FAILED_NO_CODE
    assert any("CannotPullContainerError" in n for n in notes)


@pytest.mark.parametrize("code", [0, 2, 42])
def test_exit_code_is_mirrored_without_follow(code: int) -> None:
    batch = _client("batch")
    waiter = JobWaiter(_b(batch), None, lambda _: None, lambda _: None, lambda _: None)
    with Stubber(batch) as bstub:
        _describe(bstub, "RUNNING", {})
        _describe(bstub, "SUCCEEDED" if code == 0 else "FAILED", {"exitCode": code})
        assert waiter.wait("job-1", follow=False) == code


def test_follower_hands_out_lines_already_read_when_a_later_page_fails() -> None:
    logs = _client("logs")
    follower = LogFollower(_l(logs), STREAM)
    with Stubber(logs) as stub:
        _get(stub, ["a", "b"], None, "f/1")
        stub.add_client_error("get_log_events", "ServiceUnavailableException", http_status_code=503)
        _get(stub, ["c"], "f/1", "f/2")
        _get(stub, [], "f/2", "f/2")
        assert follower.poll() == ["a", "b"]  # not lost although the token moved past them
        assert follower.poll() == ["c"]
        stub.assert_no_pending_responses()


def test_waiter_rides_out_an_outage_and_loses_no_line() -> None:
    batch, logs = _client("batch"), _client("logs")
    clock = _Clock()
    lines: List[str] = []
    notes: List[str] = []
    waiter = JobWaiter(
        _b(batch), _l(logs), lines.append, notes.append, clock.sleep, clock, 5.0, 30.0
    )
    with Stubber(batch) as bstub, Stubber(logs) as lstub:
        _describe(bstub, "RUNNING", {"logStreamName": STREAM})
        _get(lstub, ["one"], None, "t1")
        _get(lstub, [], "t1", "t1")
        # Batch and Logs fail (after botocore's own retries) for a while
        bstub.add_client_error("describe_jobs", "InternalFailure", http_status_code=500)
        lstub.add_client_error("get_log_events", "InternalFailure", http_status_code=500)
        bstub.add_client_error("describe_jobs", "ServerException", http_status_code=500)
        bstub.add_response("describe_jobs", {"jobs": []}, {"jobs": ["job-1"]})  # lost state
        _describe(bstub, "SUCCEEDED", {"logStreamName": STREAM, "exitCode": 0})
        _get(lstub, ["two", END_OF_LOG], "t1", "t2")
        _get(lstub, [], "t2", "t2")
        assert waiter.wait("job-1", follow=True) == 0
        bstub.assert_no_pending_responses()
        lstub.assert_no_pending_responses()
    assert lines == ["one", "two"]
    # two outages (Batch, then Logs once Batch was back), each noted once and its end too
    assert sum("will keep trying" in n for n in notes) == 2
    assert sum("answers again" in n for n in notes) == 2


def test_waiter_gives_up_after_a_long_outage_with_a_clear_message() -> None:
    batch = _client("batch")
    clock = _Clock()
    waiter = JobWaiter(
        _b(batch),
        None,
        lambda _: None,
        lambda _: None,
        clock.sleep,
        clock,
        60.0,
        outage_limit=120.0,
    )
    with Stubber(batch) as bstub:
        for _ in range(4):
            bstub.add_client_error("describe_jobs", "InternalFailure", http_status_code=500)
        with pytest.raises(AwsCallError, match="may still be running") as info:
            waiter.wait("job-1", follow=False)
    assert "job-1" in str(info.value)


def test_waiter_does_not_wait_out_a_permanent_error() -> None:
    batch = _client("batch")
    waiter = JobWaiter(_b(batch), None, lambda _: None, lambda _: None, lambda _: None)
    with Stubber(batch) as bstub:
        bstub.add_client_error("describe_jobs", "AccessDeniedException", http_status_code=403)
        with pytest.raises(AwsCallError) as info:
            waiter.wait("job-1", follow=False)
    assert info.value.code == "AccessDeniedException"
