"""CloudWatch follower and job waiter, against botocore Stubber responses."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import boto3
import pytest
from botocore.stub import Stubber

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.errors import AwsCallError
from miniwdl_aws.submit import END_OF_LOG
from miniwdl_aws.submit.follow import LOG_GROUP, LogFollower, LogLost
from miniwdl_aws.submit.wait import EXIT_FAILED_NO_CODE, JobWaiter
from tests.support.clients import FakeClients
from tests.support.fake_time import FakeTime

from .helpers import EXAMPLES, describe, stream_messages, submit

STREAM = "wfdef/default/abc"


def _client(service: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _b(batch: Any) -> BatchApi:
    return BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]


def _l(logs: Any) -> LogsApi:
    return LogsApi(FakeClients(logs=logs))  # type: ignore[arg-type]


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


def _following_waiter() -> Tuple[Any, Any, JobWaiter, List[str], List[str], FakeTime]:
    """Stubbable Batch and Logs clients, a waiter over them (5 s polls, 30 s outage limit), the
    log lines and notes it printed, and its :class:`FakeTime`."""
    batch, logs = _client("batch"), _client("logs")
    clock = FakeTime()
    lines: List[str] = []
    notes: List[str] = []
    waiter = JobWaiter(
        _b(batch), _l(logs), lines.append, notes.append, clock.sleep, clock, 5.0, 30.0
    )
    return batch, logs, waiter, lines, notes, clock


def test_waiter_streams_every_line_once_including_after_the_job_ended() -> None:
    batch, logs, waiter, lines, notes, clock = _following_waiter()
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
    clock = FakeTime()
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
    batch, logs, waiter, lines, notes, clock = _following_waiter()
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
    clock = FakeTime()
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


# --- errors no retry fixes: an expired forward token, a missing permission (issue: "Ready for a
# real AWS account", item 7). GetLogEvents' forward tokens expire after 24 hours and it then
# answers InvalidParameterException (400):
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html


def _expired(stub: Stubber, token: str) -> None:
    stub.add_client_error(
        "get_log_events",
        "InvalidParameterException",
        "The specified nextToken has expired.",
        400,
        expected_params={
            "logGroupName": LOG_GROUP,
            "logStreamName": STREAM,
            "startFromHead": True,
            "nextToken": token,
        },
    )


def test_follower_rereads_from_the_head_once_after_an_expired_token() -> None:
    logs = _client("logs")
    follower = LogFollower(_l(logs), STREAM)
    with Stubber(logs) as stub:
        _get(stub, ["a", "b", "a"], None, "f/1")
        _get(stub, [], "f/1", "f/1")
        # a day later: the token has expired; the head is read again, "a b a" skipped
        _expired(stub, "f/1")
        _get(stub, ["a", "b"], None, "g/1")
        _get(stub, ["a", "c"], "g/1", "g/2")
        _get(stub, [], "g/2", "g/2")
        _get(stub, ["d"], "g/2", "g/3")
        _get(stub, [], "g/3", "g/3")
        # expired again: one re-read only, then the log is given up
        _expired(stub, "g/3")
        assert follower.poll() == ["a", "b", "a"]
        assert follower.poll() == ["c"] and follower.restarts == 1
        assert follower.poll() == ["d"]
        with pytest.raises(LogLost, match="InvalidParameterException"):
            follower.poll()
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    "head", [["b", "c", "d"], ["b"]], ids=["older-events-expired", "shorter-stream"]
)
def test_follower_gives_up_when_the_reread_head_is_not_what_it_printed(head: List[str]) -> None:
    logs = _client("logs")
    follower = LogFollower(_l(logs), STREAM)
    with Stubber(logs) as stub:
        _get(stub, ["a", "b"], None, "f/1")
        _get(stub, [], "f/1", "f/1")
        _expired(stub, "f/1")
        _get(stub, head, None, "g/1")
        _get(stub, [], "g/1", "g/1")
        assert follower.poll() == ["a", "b"]
        with pytest.raises(LogLost, match="cannot tell which lines were already printed"):
            follower.poll()


def test_waiter_goes_on_without_the_log_after_access_denied() -> None:
    batch, logs, waiter, lines, notes, clock = _following_waiter()
    with Stubber(batch) as bstub, Stubber(logs) as lstub:
        _describe(bstub, "RUNNING", {"logStreamName": STREAM})
        _get(lstub, ["one"], None, "t1")
        _get(lstub, [], "t1", "t1")
        _describe(bstub, "RUNNING", {"logStreamName": STREAM})
        lstub.add_client_error(
            "get_log_events",
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/me is not authorized to perform:"
            " logs:GetLogEvents",
            400,
        )
        # no more GetLogEvents: DescribeJobs alone until the job ends, exit code mirrored
        _describe(bstub, "RUNNING", {"logStreamName": STREAM})
        _describe(bstub, "FAILED", {"logStreamName": STREAM, "exitCode": 5})
        assert waiter.wait("job-1", follow=True) == 5
        bstub.assert_no_pending_responses()
        lstub.assert_no_pending_responses()
    assert lines == ["one"] and waiter.log_lost
    warnings = [n for n in notes if "WARNING" in n]
    assert len(warnings) == 1 and "\n" not in warnings[0], notes
    assert "stopped following the workflow log" in warnings[0]
    assert "AccessDeniedException" in warnings[0] and "job-1" in warnings[0]
    assert f"--log-stream-names {STREAM}" in warnings[0]
    assert notes[-2:] == ["FAILED\tjob-1", "exit code 5"]


def test_waiter_notes_the_reread_and_prints_no_line_twice() -> None:
    batch, logs, waiter, lines, notes, clock = _following_waiter()
    with Stubber(batch) as bstub, Stubber(logs) as lstub:
        _describe(bstub, "RUNNING", {"logStreamName": STREAM})
        _get(lstub, ["one", "two"], None, "t1")
        _get(lstub, [], "t1", "t1")
        _describe(bstub, "SUCCEEDED", {"logStreamName": STREAM, "exitCode": 0})
        _expired(lstub, "t1")
        _get(lstub, ["one", "two", "three", END_OF_LOG], None, "u1")
        _get(lstub, [], "u1", "u1")
        assert waiter.wait("job-1", follow=True) == 0
        lstub.assert_no_pending_responses()
    assert lines == ["one", "two", "three"] and waiter.saw_end and not waiter.log_lost
    assert sum("read it again from the start" in n for n in notes) == 1
    assert not any("WARNING" in n for n in notes)


# --- the same on the local AWS, end to end (the emulator's `client_error` fault)


def _printed_log_lines(stderr: str) -> List[str]:
    """Every workflow log line the submitter printed: after its "log stream:" note, the lines
    that are not its own notes."""
    lines = stderr.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"{NOTE}log stream:"))
    return [ln for ln in lines[start + 1 :] if not ln.startswith(NOTE)]


NOTE = "[miniwdl-aws-submit] "


def test_submitter_follow_survives_access_denied_on_the_local_aws(
    aws: Any, emulator: Any, wdl_dir: Path
) -> None:
    emulator.set_faults(
        {
            "client_error": {
                "logs.GetLogEvents": {
                    "code": "AccessDeniedException",
                    "status": 400,
                    "message": "User: arn:aws:sts::123456789012:assumed-role/me/x is not"
                    " authorized to perform: logs:GetLogEvents",
                }
            }
        }
    )
    res = submit(aws, [str(wdl_dir / "fail.wdl"), "--follow"])
    assert res.returncode == 3, res.stderr[-3000:]  # the task's exit status, mirrored
    assert "Traceback" not in res.stderr
    warnings = [ln for ln in res.stderr.splitlines() if "stopped following" in ln]
    assert len(warnings) == 1 and "AccessDeniedException" in warnings[0], res.stderr[-3000:]
    assert f"{NOTE}exit code 3" in res.stderr.splitlines()


def test_submitter_follow_rereads_after_an_expired_token_on_the_local_aws(
    aws: Any, emulator: Any
) -> None:
    # the 8th GetLogEvents call (some lines have been printed by then) finds its token expired
    emulator.set_faults(
        {
            "client_error": {
                "logs.GetLogEvents": {
                    "code": "InvalidParameterException",
                    "message": "The specified nextToken has expired.",
                    "calls": [8],
                }
            }
        }
    )
    res = submit(aws, [str(EXAMPLES / "hello_scatter.wdl"), "-i",
                       str(EXAMPLES / "hello_scatter.inputs.json"), "--follow"])  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stderr.splitlines()
    notes = [i for i, ln in enumerate(lines) if "read it again from the start" in ln]
    assert len(notes) == 1, res.stderr[-3000:]
    # lines had been printed before: the re-read skipped them
    assert _printed_log_lines("\n".join(lines[: notes[0]])), res.stderr[-3000:]
    assert f"{NOTE}WARNING" not in res.stderr, res.stderr[-3000:]
    emulator.clear_faults()
    stream = stream_messages(describe(res.stdout.strip())["container"]["logStreamName"])
    assert stream[-1] == END_OF_LOG
    assert _printed_log_lines(res.stderr) == stream[:-1]  # every line once, in order


def test_lines_read_before_a_failed_reread_are_still_handed_out() -> None:
    logs = _client("logs")
    follower = LogFollower(_l(logs), STREAM)
    with Stubber(logs) as stub:
        _get(stub, ["a"], None, "f/1")
        _get(stub, [], "f/1", "f/1")
        # next poll: one more line, then the token is refused and the head no longer matches
        _get(stub, ["b"], "f/1", "f/2")
        _expired(stub, "f/2")
        _get(stub, ["x", "y"], None, "g/1")
        assert follower.poll() == ["a"]
        assert follower.poll() == ["b"]  # not lost with the re-read
        with pytest.raises(LogLost, match="changed"):
            follower.poll()
        stub.assert_no_pending_responses()
