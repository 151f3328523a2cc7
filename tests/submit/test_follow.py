"""CloudWatch follower and job waiter, against botocore Stubber responses."""

from __future__ import annotations

from typing import Any, Dict, List

import boto3
import pytest
from botocore.stub import Stubber

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
    follower = LogFollower(logs, STREAM)
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
    waiter = JobWaiter(batch, logs, lines.append, notes.append, clock.sleep, clock, 5.0, 30.0)
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
    waiter = JobWaiter(batch, logs, lambda _: None, notes.append, clock.sleep, clock, 1.0, 3.0)
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
    waiter = JobWaiter(batch, logs, lambda _: None, notes.append, lambda _: None)
    with Stubber(batch) as bstub:
        _describe(bstub, "FAILED", {}, reason="CannotPullContainerError: no such image")
        assert waiter.wait("job-1", follow=True) == EXIT_FAILED_NO_CODE
    assert any("CannotPullContainerError" in n for n in notes)


@pytest.mark.parametrize("code", [0, 2, 42])
def test_exit_code_is_mirrored_without_follow(code: int) -> None:
    batch = _client("batch")
    waiter = JobWaiter(batch, None, lambda _: None, lambda _: None, lambda _: None)
    with Stubber(batch) as bstub:
        _describe(bstub, "RUNNING", {})
        _describe(bstub, "SUCCEEDED" if code == 0 else "FAILED", {"exitCode": code})
        assert waiter.wait("job-1", follow=False) == code
