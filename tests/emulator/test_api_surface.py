"""The local AWS's API surface as unkind as AWS's: responses lost after the call was processed,
new jobs not yet visible (eventual consistency), CloudWatch Logs throttling, streams that do not
exist yet, expiring forward tokens and events arriving late with older timestamps, each met by
the product's own log follower."""

from __future__ import annotations

import os
import time
from typing import Any, List

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from miniwdl_aws.aws.clients import AwsClients
from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.errors import Throttled
from miniwdl_aws.submit.follow import LogFollower, LogLost
from tests.support.miniwdl import run_on_stack

from .helpers import batch, http, job_definition, submit, wait_status

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def _one_shot(service: str) -> Any:
    """A client that makes each call once (no botocore retry hides the lost answer)."""
    return boto3.client(service, config=NO_RETRIES)


def _names(aws: Any, prefix: str) -> List[str]:
    listed = batch().list_jobs(
        jobQueue=aws.task_queue, filters=[{"name": "JOB_NAME", "values": [prefix + "*"]}]
    )
    return [j["jobName"] for j in listed["jobSummaryList"]]


def test_lost_response_after_submit_job_was_processed(aws: Any, emulator: Any) -> None:
    """The job exists although the client only saw its connection reset."""
    jd = job_definition(aws, ["true"], efs=False)
    # set over HTTP, as any client of `serve` (the submitter, the backend, a shell) can
    http(emulator.endpoint_url, "/_emulator/faults", {"lost_response": {"batch.SubmitJob": 1}})
    with pytest.raises(ConnectionClosedError):
        _one_shot("batch").submit_job(jobName="lost-1", jobQueue=aws.task_queue, jobDefinition=jd)
    emulator.clear_faults()
    deadline = time.monotonic() + 10
    while not _names(aws, "lost-") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _names(aws, "lost-") == ["lost-1"]
    job_id = batch().list_jobs(
        jobQueue=aws.task_queue, filters=[{"name": "JOB_NAME", "values": ["lost-1"]}]
    )["jobSummaryList"][0]["jobId"]
    assert wait_status(job_id)["status"] == "SUCCEEDED"


def test_lost_request_never_reaches_aws(aws: Any, emulator: Any) -> None:
    """``lost_request``: the same reset as a lost response, but nothing was done."""
    jd = job_definition(aws, ["true"], efs=False)
    emulator.set_faults({"lost_request": {"batch.SubmitJob": 1}})
    with pytest.raises(ConnectionClosedError):
        _one_shot("batch").submit_job(jobName="unsent", jobQueue=aws.task_queue, jobDefinition=jd)
    stats = emulator.stats()
    emulator.clear_faults()
    assert stats["lost_responses"] == {"request:batch.SubmitJob": 1}
    assert _names(aws, "unsent") == []
    assert batch().list_jobs(jobQueue=aws.task_queue, jobStatus="SUBMITTED")["jobSummaryList"] == []


def test_lost_response_applies_to_every_service(aws: Any, emulator: Any) -> None:
    """Logs, S3 and EFS calls are processed too before their answer is lost."""
    emulator.set_faults({"lost_response": 1.0})
    with pytest.raises(ConnectionClosedError):
        _one_shot("logs").create_log_group(logGroupName="/lost/group")
    with pytest.raises(ConnectionClosedError):
        _one_shot("s3").put_object(Bucket=aws.bucket, Key="lost.txt", Body=b"kept")
    with pytest.raises(ConnectionClosedError):
        _one_shot("efs").create_file_system(CreationToken="lost-fs")
    emulator.clear_faults()
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/lost/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/lost/group"]
    assert boto3.client("s3").get_object(Bucket=aws.bucket, Key="lost.txt")["Body"].read() == (
        b"kept"
    )
    tokens = [
        f["CreationToken"] for f in boto3.client("efs").describe_file_systems()["FileSystems"]
    ]
    assert "lost-fs" in tokens


def test_lost_response_fraction_is_seeded(aws: Any, emulator: Any) -> None:
    """A fraction loses some answers, the same ones for the same seed."""

    def run() -> List[bool]:
        emulator.set_faults({"seed": 5, "lost_response": {"batch.DescribeJobQueues": 0.5}})
        client = _one_shot("batch")
        lost = []
        for _ in range(12):
            try:
                client.describe_job_queues()
                lost.append(False)
            except ConnectionClosedError:
                lost.append(True)
        return lost

    emulator.reset_stats()
    first = run()
    assert 0 < sum(first) < len(first)
    assert emulator.stats()["lost_responses"] == {"batch.DescribeJobQueues": sum(first)}
    assert run() == first


def test_new_job_invisible_during_visibility_lag(aws: Any, emulator: Any) -> None:
    """With ``visibility_lag``, a just-submitted job is in neither DescribeJobs nor ListJobs,
    then appears in both."""
    jd = job_definition(aws, ["sleep", "1"], efs=False)
    emulator.set_faults({"visibility_lag": 1.0})
    job_id = submit(aws, jd, name="lagged")
    b = batch()
    assert b.describe_jobs(jobs=[job_id])["jobs"] == []
    assert _names(aws, "lagged") == []
    deadline = time.monotonic() + 10
    while not b.describe_jobs(jobs=[job_id])["jobs"]:
        assert time.monotonic() < deadline, "the job never became visible"
        time.sleep(0.05)
    assert _names(aws, "lagged") == ["lagged"]
    emulator.clear_faults()
    assert wait_status(job_id)["status"] == "SUCCEEDED"


# -- CloudWatch Logs --------------------------------------------------------------------------

GROUP = "/aws/batch/job"


def _logs_api() -> LogsApi:
    return LogsApi(AwsClients())


def _put(stream: str, *events: Any) -> None:
    boto3.client("logs").put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": ts, "message": msg} for ts, msg in events],
    )


def _stream(name: str) -> str:
    logs = boto3.client("logs")
    try:
        logs.create_log_group(logGroupName=GROUP)
    except ClientError:
        pass
    logs.create_log_stream(logGroupName=GROUP, logStreamName=name)
    return name


def test_get_log_events_on_a_stream_that_does_not_exist_yet(aws: Any) -> None:
    """ResourceNotFoundException until the stream exists; the follower reads nothing, then the
    stream's lines once it appears."""
    with pytest.raises(ClientError) as err:
        boto3.client("logs").get_log_events(
            logGroupName=GROUP, logStreamName="not/yet/there", startFromHead=True
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    follower = LogFollower(_logs_api(), "not/yet/there")
    assert follower.poll() == []
    _stream("not/yet/there")
    _put("not/yet/there", (int(time.time() * 1000), "first"))
    assert follower.poll() == ["first"]


def test_get_log_events_throttled_as_logs_throttles(aws: Any, emulator: Any) -> None:
    """CloudWatch Logs throttles with 400 ThrottlingException (not Batch's 429); the follower
    reports it as transient and reads on afterwards."""
    _stream("throttled")
    _put("throttled", (int(time.time() * 1000), "one"))
    emulator.set_faults({"throttle": {"logs.GetLogEvents": 1.0}})
    with pytest.raises(ClientError) as err:
        _one_shot("logs").get_log_events(
            logGroupName=GROUP, logStreamName="throttled", startFromHead=True
        )
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    follower = LogFollower(LogsApi(AwsClients(max_attempts=1)), "throttled")
    with pytest.raises(Throttled):
        follower.poll()
    emulator.clear_faults()
    assert follower.poll() == ["one"]


def test_forward_token_expires(aws: Any, emulator: Any) -> None:
    """A token older than its lifetime gets InvalidParameterException; the product's follower
    then re-reads the stream from its head once, printing nothing twice."""
    _stream("expiring")
    now = int(time.time() * 1000)
    _put("expiring", (now, "a"), (now + 1, "b"))
    follower = LogFollower(_logs_api(), "expiring")
    assert follower.poll() == ["a", "b"]
    res = boto3.client("logs").get_log_events(
        logGroupName=GROUP, logStreamName="expiring", startFromHead=True
    )
    token = res["nextForwardToken"]
    emulator.set_faults({"log_token_ttl": 0.2})
    time.sleep(0.5)
    with pytest.raises(ClientError) as err:
        boto3.client("logs").get_log_events(
            logGroupName=GROUP, logStreamName="expiring", startFromHead=True, nextToken=token
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    emulator.clear_faults()  # a new token lives 24 hours again
    _put("expiring", (now + 2, "c"))
    emulator.set_faults({"log_token_ttl": 0.2})
    assert follower.poll() == ["c"]
    assert follower.restarts == 1


def test_token_at_end_of_stream_comes_back_unchanged(aws: Any) -> None:
    _stream("quiet")
    _put("quiet", (int(time.time() * 1000), "only"))
    logs = boto3.client("logs")
    first = logs.get_log_events(logGroupName=GROUP, logStreamName="quiet", startFromHead=True)
    token = first["nextForwardToken"]
    again = logs.get_log_events(
        logGroupName=GROUP, logStreamName="quiet", startFromHead=True, nextToken=token
    )
    assert again["events"] == [] and again["nextForwardToken"] == token


def test_late_event_with_an_older_timestamp(aws: Any) -> None:
    """Events keep their own time and GetLogEvents sorts by it; an event arriving after a
    follower read past its time does not shift the follower's position (moto's index tokens
    would then return an event twice): the follower prints nothing twice, and a read from the
    head shows the stream in timestamp order."""
    _stream("late")
    now = int(time.time() * 1000)
    _put("late", (now, "t0"), (now + 20, "t20"))
    follower = LogFollower(_logs_api(), "late")
    assert follower.poll() == ["t0", "t20"]
    _put("late", (now + 10, "t10 late"), (now + 30, "t30"))
    assert follower.poll() == ["t30"]
    assert follower.poll() == []
    head = boto3.client("logs").get_log_events(
        logGroupName=GROUP, logStreamName="late", startFromHead=True
    )
    assert [e["message"] for e in head["events"]] == ["t0", "t10 late", "t20", "t30"]


def test_job_log_timestamps_are_the_time_lines_were_written(aws: Any) -> None:
    """A job's lines carry the time they were read, in the order written."""
    jd = job_definition(aws, ["sh", "-c", "echo one; sleep 0.3; echo two"], efs=False)
    job_id = submit(aws, jd, name="stamped")
    desc = wait_status(job_id)
    events = boto3.client("logs").get_log_events(
        logGroupName=GROUP, logStreamName=desc["container"]["logStreamName"], startFromHead=True
    )["events"]
    assert [e["message"] for e in events] == ["one", "two"]
    assert events[1]["timestamp"] - events[0]["timestamp"] >= 250


def test_follower_loses_nothing_of_a_job_under_lost_get_log_events_answers(
    aws: Any, emulator: Any
) -> None:
    """GetLogEvents answers lost on the wire: the follower (botocore retries reads) still
    prints every line once, in order."""
    jd = job_definition(aws, ["sh", "-c", "for i in 1 2 3 4 5 6; do echo l$i; done"], efs=False)
    job_id = submit(aws, jd, name="followed")
    desc = wait_status(job_id)
    follower = LogFollower(_logs_api(), desc["container"]["logStreamName"])
    emulator.set_faults({"seed": 2, "lost_response": {"logs.GetLogEvents": 0.3}})
    lines: List[str] = []
    for _ in range(20):
        try:
            lines += follower.poll()
        except (Throttled, LogLost):
            pass
    emulator.clear_faults()
    lines += follower.poll()
    assert lines == [f"l{i}" for i in range(1, 7)]


SCATTER_WDL = os.path.join(os.path.dirname(__file__), "..", "backend", "wdl", "scatter.wdl")


def test_miniwdl_run_under_lag_and_lost_answers(aws: Any, emulator: Any) -> None:
    """The product on an unkind AWS: new jobs invisible for a second, half of SubmitJob
    answers and a fifth of DescribeJobs answers lost after the call was processed. A real
    ``miniwdl run`` still gets every output, with exactly one job per task (no twin from a
    blind SubmitJob retry)."""
    emulator.set_faults(
        {
            "seed": 4,
            "visibility_lag": 1.0,
            "lost_response": {"batch.SubmitJob": 0.5, "batch.DescribeJobs": 0.2},
        }
    )
    res = run_on_stack(emulator, aws, SCATTER_WDL, ["n=6"], timeout=240)
    stats = emulator.stats()
    emulator.clear_faults()
    assert res.returncode == 0, res.stderr[-4000:]
    assert res.outputs["scatter_n.squares"] == [i * i for i in range(6)]
    names = _names(aws, "mw")
    assert len(names) == 6 and len(set(names)) == 6, names
    # a run that met no lost SubmitJob answer would prove nothing
    assert stats["lost_responses"].get("batch.SubmitJob", 0) >= 1, stats
    assert stats["calls"]["batch.SubmitJob"] == 6, stats  # lost ones were settled, not resent


def test_submitter_wait_follow_under_lag_lost_answers_and_log_throttling(
    aws: Any, emulator: Any
) -> None:
    """``miniwdl_submit_awsbatch --wait --follow`` on an unkind AWS: every SubmitJob answer
    lost (the submitter's and the workflow job's), new jobs invisible for half a second, a quarter
    of GetLogEvents answers lost and a quarter throttled. It exits 0, starts one workflow job,
    and prints every log line once, in order."""
    from miniwdl_aws.submit import END_OF_LOG
    from tests.submit.helpers import EXAMPLES, describe, stream_messages, submit

    emulator.set_faults(
        {
            "seed": 3,
            "visibility_lag": 0.5,
            "lost_response": {"batch.SubmitJob": 1.0, "logs.GetLogEvents": 0.25},
            "throttle": {"logs.GetLogEvents": 0.25},
        }
    )
    wdl, inputs = EXAMPLES / "hello_scatter.wdl", EXAMPLES / "hello_scatter.inputs.json"
    res = submit(aws, [str(wdl), "-i", str(inputs), "--wait", "--follow"])
    stats = emulator.stats()
    emulator.clear_faults()
    assert res.returncode == 0, res.stderr[-4000:]
    assert stats["lost_responses"]["batch.SubmitJob"] == stats["calls"]["batch.SubmitJob"]
    listed = batch().list_jobs(jobQueue=aws.workflow_queue, jobStatus="SUCCEEDED")
    workflow = listed["jobSummaryList"]
    assert len(workflow) == 1, workflow
    stream = stream_messages(describe(workflow[0]["jobId"])["container"]["logStreamName"])
    assert stream[-1] == END_OF_LOG
    note = "[miniwdl-aws-submit] "
    lines = res.stderr.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"{note}log stream:"))
    printed = [ln for ln in lines[start + 1 :] if not ln.startswith(note)]
    assert printed == stream[:-1]


class _Event:
    def __init__(self, ts: int, event_id: int) -> None:
        self.timestamp, self.event_id, self.message = ts, event_id, f"m{ts}"

    def to_response_dict(self) -> dict:
        return {"timestamp": self.timestamp, "message": self.message, "ingestionTime": 0}


class _Stream:
    def __init__(self) -> None:
        self.events: List[_Event] = []
        self._ids = 0

    def put(self, *timestamps: int) -> None:
        for ts in timestamps:
            self._ids += 1
            self.events.append(_Event(ts, self._ids))


def _read(stream: _Stream, token: Any, limit: int, head: bool = True, now: int = 0) -> Any:
    from miniwdl_aws.emulator._logs import get_log_events

    return get_log_events(stream, None, None, limit, token, head, now_ms=now)


def test_token_paging_forward_backward_and_from_the_tail() -> None:
    """``_logs.get_log_events`` alone: forward pages in timestamp order with no event twice
    although older events arrive between pages; from the tail and backward."""
    stream = _Stream()
    stream.put(10, 30, 20)  # PutLogEvents calls need not arrive in time order
    events, _, fwd = _read(stream, None, 2)
    assert [e["timestamp"] for e in events] == [10, 20]
    stream.put(15, 40)  # 15 is older than the position: not returned forward
    events, _, fwd = _read(stream, fwd, 2)
    assert [e["timestamp"] for e in events] == [30, 40]
    events, _, again = _read(stream, fwd, 2)
    assert events == [] and again == fwd
    events, back, _ = _read(stream, None, 2, head=False)
    assert [e["timestamp"] for e in events] == [30, 40]
    events, back, _ = _read(stream, back, 2)
    assert [e["timestamp"] for e in events] == [15, 20]
    events, _, _ = _read(stream, back, 5)
    assert [e["timestamp"] for e in events] == [10]


def test_tokens_expire_after_24_hours_and_foreign_tokens_are_refused() -> None:
    from moto.logs.exceptions import InvalidParameterException

    stream = _Stream()
    stream.put(1)
    _, _, fwd = _read(stream, None, 10, now=1_000)
    _read(stream, fwd, 10, now=1_000 + 24 * 3600 * 1000)  # still valid at exactly 24 h
    with pytest.raises(InvalidParameterException):
        _read(stream, fwd, 10, now=1_001 + 24 * 3600 * 1000)
    with pytest.raises(InvalidParameterException):
        _read(stream, "f/00000000000000000001", 10)
