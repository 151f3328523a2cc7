"""Call counting, the /_emulator side channel, and live, ordered log streaming."""

from __future__ import annotations

import os
import time
import urllib.error
from typing import Any

import boto3
import pytest

from tests.support.logs import stream_messages

from .helpers import batch, http, job_definition, submit, wait_status


def test_stats_count_every_service_and_operation(aws: Any, emulator: Any) -> None:
    emulator.reset_stats()
    b = batch()
    for _ in range(3):
        b.list_jobs(jobQueue=aws.task_queue)
    b.describe_jobs(jobs=["nope"])
    b.describe_job_queues()
    boto3.client("logs").describe_log_groups()
    s3 = boto3.client("s3")
    s3.list_buckets()
    s3.put_object(Bucket=aws.bucket, Key="a/b.txt", Body=b"hi")
    s3.head_object(Bucket=aws.bucket, Key="a/b.txt")
    s3.get_object(Bucket=aws.bucket, Key="a/b.txt")["Body"].read()
    s3.list_objects_v2(Bucket=aws.bucket)
    mpu = s3.create_multipart_upload(Bucket=aws.bucket, Key="big")
    part = s3.upload_part(
        Bucket=aws.bucket, Key="big", UploadId=mpu["UploadId"], PartNumber=1, Body=b"x"
    )
    s3.complete_multipart_upload(
        Bucket=aws.bucket,
        Key="big",
        UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    boto3.client("efs").describe_access_points(AccessPointId=aws.fsap)
    boto3.client("ec2").describe_subnets()
    boto3.client("iam").list_roles()
    boto3.client("sts").get_caller_identity()
    expected = {
        "batch.ListJobs": 3,
        "batch.DescribeJobs": 1,
        "batch.DescribeJobQueues": 1,
        "logs.DescribeLogGroups": 1,
        "s3.ListBuckets": 1,
        "s3.PutObject": 1,
        "s3.HeadObject": 1,
        "s3.GetObject": 1,
        "s3.ListObjectsV2": 1,
        "s3.CreateMultipartUpload": 1,
        "s3.UploadPart": 1,
        "s3.CompleteMultipartUpload": 1,
        "efs.DescribeAccessPoints": 1,
        "ec2.DescribeSubnets": 1,
        "iam.ListRoles": 1,
        "sts.GetCallerIdentity": 1,
    }
    assert emulator.stats() == {"calls": expected}
    assert http(emulator.endpoint_url, "/_emulator/stats") == {"calls": expected}
    assert http(emulator.endpoint_url, "/_emulator/stats/reset", {}) == {"calls": {}}
    assert emulator.stats() == {"calls": {}}


def test_bootstrap_calls_are_not_counted(emulator: Any, aws: Any) -> None:
    assert emulator.stats() == {"calls": {}}


def test_jobs_and_config_endpoints(aws: Any, emulator: Any) -> None:
    url = emulator.endpoint_url
    flag = os.path.join(aws.efs_dir, "go")
    jd = job_definition(aws, ["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.02; done"])
    job_id = submit(aws, jd, name="held")
    wait_status(job_id, ["RUNNING"])
    assert http(url, "/_emulator/jobs") == {"active": {job_id: "RUNNING"}}
    assert emulator.active_jobs() == [job_id]
    open(flag, "w").close()
    emulator.assert_no_active_jobs(timeout=10)
    assert http(url, "/_emulator/jobs") == {"active": {}}
    cfg = http(url, "/_emulator/config", {"dwell": 0.05, "kill_grace": 1})
    assert cfg["dwell"] == 0.05 and cfg["kill_grace"] == 1.0 and cfg["strict"] is True
    assert emulator.settings.dwell == 0.05
    with pytest.raises(urllib.error.HTTPError) as err:
        http(url, "/_emulator/config", {"bogus": 1})
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as err:
        http(url, "/_emulator/nothing")
    assert err.value.code == 404


def test_assert_no_active_jobs_names_the_leak(aws: Any, emulator: Any) -> None:
    jd = job_definition(aws, ["sleep", "600"])
    job_id = submit(aws, jd, name="leak")
    wait_status(job_id, ["RUNNING"])
    with pytest.raises(AssertionError, match=job_id):
        emulator.assert_no_active_jobs(timeout=0.1)
    batch().terminate_job(jobId=job_id, reason="done")
    emulator.assert_no_active_jobs(timeout=10)


def test_logs_stream_live_in_order(aws: Any) -> None:
    flag = os.path.join(aws.efs_dir, "more")
    script = (
        # stdout only: across stdout and stderr the order is not kept (not by Docker either)
        "echo first; echo second; printf 'no newline yet'; echo; "
        f"while [ ! -e {flag} ]; do sleep 0.02; done; "
        "for i in 1 2 3 4 5; do echo after-$i; done; printf tail-without-newline"
    )
    jd = job_definition(aws, ["sh", "-c", script])
    job_id = submit(aws, jd, name="talker")
    desc = wait_status(job_id, ["RUNNING"])
    stream = desc["container"]["logStreamName"]
    deadline = time.monotonic() + 10
    while len(stream_messages(stream)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    # visible while the job is still running
    assert stream_messages(stream) == ["first", "second", "no newline yet"]
    assert wait_status(job_id, ["RUNNING", "SUCCEEDED"])["status"] == "RUNNING"
    open(flag, "w").close()
    assert wait_status(job_id)["status"] == "SUCCEEDED"
    assert stream_messages(stream) == [
        "first",
        "second",
        "no newline yet",
        *[f"after-{i}" for i in range(1, 6)],
        "tail-without-newline",
    ]
    events = boto3.client("logs").get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True
    )["events"]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)


def test_follow_with_next_forward_token(aws: Any) -> None:
    """A follower paging with nextForwardToken sees every line exactly once."""
    jd = job_definition(aws, ["sh", "-c", "for i in $(seq 1 200); do echo n$i; done"])
    job_id = submit(aws, jd, name="pager")
    stream = wait_status(job_id, ["RUNNING", "SUCCEEDED"])["container"]["logStreamName"]
    logs = boto3.client("logs")
    seen: list = []
    token = None
    deadline = time.monotonic() + 20
    while len(seen) < 200 and time.monotonic() < deadline:
        kwargs = {
            "logGroupName": "/aws/batch/job",
            "logStreamName": stream,
            "startFromHead": True,
            "limit": 7,
        }
        if token:
            kwargs["nextToken"] = token
        resp = logs.get_log_events(**kwargs)
        seen.extend(e["message"] for e in resp["events"])
        token = resp["nextForwardToken"]
    assert seen == [f"n{i}" for i in range(1, 201)]
    wait_status(job_id)


def test_long_lines_are_split_like_the_awslogs_driver(aws: Any) -> None:
    jd = job_definition(aws, ["python", "-c", "print('x' * 40000); print('end')"])
    desc = wait_status(submit(aws, jd, name="longline"))
    messages = stream_messages(desc["container"]["logStreamName"])
    assert [len(m) for m in messages] == [16384, 16384, 40000 - 2 * 16384, 3]
    assert "".join(messages[:3]) == "x" * 40000


def test_stdout_and_stderr_are_split_into_lines_each_on_its_own(aws: Any) -> None:
    """A partial stdout line and a whole stderr line written meanwhile stay two events, as
    Docker's log copier keeps them (it reads each stream on its own)."""
    script = "printf 'out-start '; sleep 0.3; echo err-line >&2; sleep 0.3; echo out-end"
    jd = job_definition(aws, ["sh", "-c", script])
    desc = wait_status(submit(aws, jd, name="splice"))
    assert stream_messages(desc["container"]["logStreamName"]) == ["err-line", "out-start out-end"]


def test_list_jobs_pages_and_bare_listing_shows_running_only(aws: Any, emulator: Any) -> None:
    jd = job_definition(aws, ["true"])
    ids = [submit(aws, jd, name=f"page-{i}") for i in range(7)]
    for job_id in ids:
        wait_status(job_id)
    b = batch()
    flt = [{"name": "JOB_NAME", "values": ["page-*"]}]
    first = b.list_jobs(jobQueue=aws.task_queue, filters=flt, maxResults=3)
    assert len(first["jobSummaryList"]) == 3 and first["nextToken"]
    seen = [j["jobId"] for j in first["jobSummaryList"]]
    token = first["nextToken"]
    while token:
        page = b.list_jobs(jobQueue=aws.task_queue, filters=flt, maxResults=3, nextToken=token)
        seen += [j["jobId"] for j in page["jobSummaryList"]]
        token = page.get("nextToken")
    assert sorted(seen) == sorted(ids)
    paginated = [
        j["jobId"]
        for p in b.get_paginator("list_jobs").paginate(
            jobQueue=aws.task_queue, filters=flt, PaginationConfig={"PageSize": 2}
        )
        for j in p["jobSummaryList"]
    ]
    assert sorted(paginated) == sorted(ids)
    assert b.list_jobs(jobQueue=aws.task_queue)["jobSummaryList"] == []  # AWS: RUNNING only
    assert len(b.list_jobs(jobQueue=aws.task_queue, jobStatus="SUCCEEDED")["jobSummaryList"]) == 7
    emulator.configure(strict=False)
    assert len(b.list_jobs(jobQueue=aws.task_queue)["jobSummaryList"]) == 7  # moto: everything


def test_unsigned_requests_are_named_too(aws: Any, emulator: Any) -> None:
    from botocore import UNSIGNED
    from botocore.config import Config

    emulator.reset_stats()
    anonymous = boto3.client("s3", config=Config(signature_version=UNSIGNED))
    anonymous.list_objects_v2(Bucket=aws.bucket)
    assert emulator.stats() == {"calls": {"s3.ListObjectsV2": 1}}
