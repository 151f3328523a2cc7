"""Fault injection: throttling, TPS caps, 5xx, spot loss, image pull, log lag/disorder, S3."""

from __future__ import annotations

import time
from typing import Any, List

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.support.logs import stream_messages

from .helpers import describe, http, job_definition, submit, wait_status

NO_RETRY = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})


def _outcomes(client: Any, n: int) -> List[str]:
    out = []
    for _ in range(n):
        try:
            client.list_jobs(jobQueue="miniwdl-task")
            out.append("ok")
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            out.append(f"{status} {exc.response['Error']['Code']}")
    return out


def test_throttle_fraction_is_deterministic_per_seed(aws: Any, emulator: Any) -> None:
    client = boto3.client("batch", config=NO_RETRY)
    emulator.set_faults({"seed": 7, "throttle": {"batch.*": 0.5}})
    first = _outcomes(client, 30)
    emulator.set_faults({"seed": 7, "throttle": {"batch.*": 0.5}})
    assert _outcomes(client, 30) == first
    assert set(first) == {"ok", "429 TooManyRequestsException"}
    emulator.set_faults({"seed": 8, "throttle": {"batch.*": 0.5}})
    assert _outcomes(client, 30) != first


def test_throttle_exact_name_beats_glob_and_retries_recover(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"seed": 1, "throttle": {"batch.ListJobs": 1.0, "batch.*": 0.0}})
    client = boto3.client("batch", config=NO_RETRY)
    assert _outcomes(client, 2) == ["429 TooManyRequestsException"] * 2
    client.describe_jobs(jobs=[])  # not throttled
    twice = boto3.client(
        "batch",
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    emulator.reset_stats()
    with pytest.raises(ClientError):
        twice.list_jobs(jobQueue="miniwdl-task")
    assert emulator.stats()["calls"]["batch.ListJobs"] == 2  # faulted calls are counted too


def test_tps_cap(aws: Any, emulator: Any) -> None:
    client = boto3.client("batch", config=NO_RETRY)
    for _ in range(5):  # the cap is per rolling second; retry if this machine was too slow
        emulator.set_faults({"tps": {"batch.ListJobs": 2}})
        start = time.monotonic()
        outcomes = _outcomes(client, 4)
        if time.monotonic() - start < 1.0:
            break
    assert outcomes == ["ok", "ok", "429 TooManyRequestsException", "429 TooManyRequestsException"]


def test_server_errors(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"server_error": {"*": 1.0}})
    codes = {o.split()[0] for o in _outcomes(boto3.client("batch", config=NO_RETRY), 20)}
    assert codes <= {"500", "503"} and codes
    with pytest.raises(ClientError):
        boto3.client("logs", config=NO_RETRY).describe_log_groups()
    emulator.set_faults({"seed": 3, "server_error": {"batch.*": 0.3}})
    patient = boto3.client(
        "batch",
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 20}),
    )
    for _ in range(3):
        patient.list_jobs(jobQueue="miniwdl-task")


def test_spot_interruption(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"spot": {"job_name": "^victim", "fraction": 1.0, "after": 0.1}})
    jd = job_definition(aws, ["sh", "-c", "echo up; exec sleep 600"])
    victim = submit(aws, jd, name="victim-1")
    bystander = submit(aws, job_definition(aws, ["true"], name="quick"), name="bystander")
    desc = wait_status(victim)
    assert desc["status"] == "FAILED"
    assert desc["statusReason"] == "Host EC2 (instance i-0123456789abcdef0) terminated."
    assert "exitCode" not in desc["container"]
    assert "exitCode" not in desc["attempts"][0]["container"]
    assert wait_status(bystander)["status"] == "SUCCEEDED"


def test_spot_fraction_is_seeded(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"seed": 5, "spot": {"job_name": ".", "fraction": 0.5, "after": 0.0}})
    jd = job_definition(aws, ["sh", "-c", "sleep 0.3"])
    ids = [submit(aws, jd, name=f"s{i}") for i in range(8)]
    reasons = [wait_status(j).get("statusReason", "") for j in ids]
    hit = [r.startswith("Host EC2") for r in reasons]
    assert any(hit) and not all(hit)
    emulator.set_faults({"seed": 5, "spot": {"job_name": ".", "fraction": 0.5, "after": 0.0}})
    again_ids = [submit(aws, jd, name=f"s{i}") for i in range(8)]
    again = [wait_status(j).get("statusReason", "") for j in again_ids]
    assert [r.startswith("Host EC2") for r in again] == hit


def test_spot_fraction_draws_for_each_array_child(aws: Any, emulator: Any) -> None:
    # children share their parent's name: each must still meet the fault on its own, as each
    # runs on a host of its own
    emulator.set_faults({"seed": 5, "spot": {"job_name": "^arrspot", "fraction": 0.5}})
    jd = job_definition(aws, ["sh", "-c", "sleep 0.3"])
    parent = submit(aws, jd, name="arrspot", arrayProperties={"size": 8})
    reasons = [wait_status(f"{parent}:{i}").get("statusReason", "") for i in range(8)]
    hit = [r.startswith("Host EC2") for r in reasons]
    assert any(hit) and not all(hit), reasons


def test_cannot_pull(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"cannot_pull": {"job_name": "^nopull"}})
    jd = job_definition(aws, ["true"])
    desc = wait_status(submit(aws, jd, name="nopull"))
    assert desc["status"] == "FAILED"
    assert desc["statusReason"].startswith("CannotPullContainerError:")
    assert desc["container"]["reason"] == desc["statusReason"]
    assert "exitCode" not in desc["container"]
    assert wait_status(submit(aws, jd, name="pulls"))["status"] == "SUCCEEDED"


def test_log_lag(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"log_lag": 0.5})
    jd = job_definition(aws, ["sh", "-c", "echo one; echo two"])
    desc = wait_status(submit(aws, jd, name="laggy"))
    stream = desc["container"]["logStreamName"]
    logs = boto3.client("logs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(stream_messages(stream)) < 2:
        time.sleep(0.05)
    events = logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True
    )["events"]
    assert [e["message"] for e in events] == ["one", "two"]
    assert all(e["ingestionTime"] - e["timestamp"] >= 500 for e in events)


def test_log_disorder_keeps_each_stream_ordered(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"seed": 2, "log_disorder": True, "log_lag": 0.05})
    jd = job_definition(aws, ["sh", "-c", "for i in $(seq 1 60); do echo line$i; done"])
    ids = [submit(aws, jd, name=f"noisy{i}") for i in range(3)]
    logs = boto3.client("logs")
    for job_id in ids:
        stream = wait_status(job_id)["container"]["logStreamName"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(stream_messages(stream)) < 60:
            time.sleep(0.05)
        events = logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True
        )["events"]
        assert [e["message"] for e in events] == [f"line{i}" for i in range(1, 61)]
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps)


def test_s3_fail(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"s3_fail": {"key": "^out/bad"}})
    s3 = boto3.client("s3", config=NO_RETRY)
    s3.put_object(Bucket=aws.bucket, Key="out/good.txt", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=aws.bucket, Key="out/bad.txt", Body=b"x")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert err.value.response["Error"]["Code"] == "InternalError"
    upload = s3.create_multipart_upload(Bucket=aws.bucket, Key="out/bad-big")  # not in "ops"
    with pytest.raises(ClientError):
        s3.upload_part(
            Bucket=aws.bucket,
            Key="out/bad-big",
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"x",
        )
    assert s3.get_object(Bucket=aws.bucket, Key="out/good.txt")["Body"].read() == b"x"


def test_faults_over_http(aws: Any, emulator: Any) -> None:
    url = emulator.endpoint_url
    spec = {"seed": 4, "throttle": {"batch.ListJobs": 1.0}}
    assert http(url, "/_emulator/faults", spec) == spec
    assert http(url, "/_emulator/faults") == spec
    assert _outcomes(boto3.client("batch", config=NO_RETRY), 1) == ["429 TooManyRequestsException"]
    assert http(url, "/_emulator/faults", {}) == {}
    assert _outcomes(boto3.client("batch", config=NO_RETRY), 1) == ["ok"]
    with pytest.raises(Exception) as err:
        http(url, "/_emulator/faults", {"no_such_fault": 1})
    assert "400" in str(err.value)


def test_describe_reports_faulted_job_state(aws: Any, emulator: Any) -> None:
    """A spot-killed attempt leaves no process behind."""
    emulator.set_faults({"spot": {"job_name": "^gone", "after": 0.1}})
    jd = job_definition(aws, ["sleep", "600"])
    job_id = submit(aws, jd, name="gone")
    wait_status(job_id)
    assert emulator.job_pids() == []
    assert describe(job_id)["status"] == "FAILED"


def test_oom_kill(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"oom": {"job_name": "^hungry", "attempts": [1], "after": 0.1}})
    jd = job_definition(aws, ["sh", "-c", '[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ] || exec sleep 600'])
    once = submit(aws, jd, name="hungry-once")
    desc = wait_status(once)
    assert desc["status"] == "FAILED"
    # ECS: the task stopped because its essential container exited; the container says why
    assert desc["statusReason"] == "Essential container in task exited"
    assert desc["container"]["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert desc["container"]["exitCode"] == 137
    assert desc["attempts"][0]["container"]["reason"] == desc["container"]["reason"]
    retried = submit(aws, jd, name="hungry-twice", retryStrategy={"attempts": 2})
    desc = wait_status(retried)
    assert desc["status"] == "SUCCEEDED" and len(desc["attempts"]) == 2
    assert "reason" not in desc["container"]


def test_latency_holds_matching_calls(aws: Any, emulator: Any) -> None:
    import concurrent.futures

    emulator.set_faults({"latency": {"batch.ListJobs": 0.4}})
    batch = boto3.client("batch", region_name="us-east-1", config=NO_RETRY)
    t0 = time.monotonic()
    batch.describe_job_queues()  # not matched: answered at once
    unmatched = time.monotonic() - t0
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: batch.list_jobs(jobQueue="miniwdl-task"), range(4)))
    overlapped = time.monotonic() - t0
    # lower bounds only (a sleep is never shorter), four calls in flight at once
    assert overlapped >= 0.4 and unmatched < 0.4
    emulator.set_faults({"latency": 0.2})
    t0 = time.monotonic()
    batch.describe_job_queues()
    assert time.monotonic() - t0 >= 0.2
