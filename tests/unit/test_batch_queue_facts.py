"""The Batch and EC2 reads behind the task-queue checks: a job's place at the front of its
queue (GetJobQueueSnapshot) and the largest instance type of a family (DescribeInstanceTypes),
with botocore's Stubber."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from miniwdl_aws.aws.batch import BatchApi
from tests.support.clients import FakeClients


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_queue_position_from_the_snapshot_or_none() -> None:
    batch = _client("batch")
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    jobs = [{"jobArn": "arn:a", "earliestTimeAtPosition": 1}, {"jobArn": "arn:b"}]
    with Stubber(batch) as stub:
        stub.add_response(
            "get_job_queue_snapshot", {"frontOfQueue": {"jobs": jobs}}, {"jobQueue": "q"}
        )
        stub.add_response(
            "get_job_queue_snapshot", {"frontOfQueue": {"jobs": jobs}}, {"jobQueue": "q"}
        )
        stub.add_client_error("get_job_queue_snapshot", "AccessDeniedException", "no", 403)
        assert api.queue_position("q", "arn:b") == 2
        assert api.queue_position("q", "arn:c") is None  # not at the front
        assert api.queue_position("q", "arn:a") is None  # not allowed: no position, no error


def test_family_limits_take_the_largest_size() -> None:
    ec2 = _client("ec2")
    api = BatchApi(FakeClients(ec2=ec2, batch=_client("batch")))  # type: ignore[arg-type]

    def t(name: str, cpu: int, mib: int) -> dict:
        return {
            "InstanceType": name,
            "VCpuInfo": {"DefaultVCpus": cpu},
            "MemoryInfo": {"SizeInMiB": mib},
        }

    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_instance_types",
            {
                "InstanceTypes": [t("r5.large", 2, 16384), t("r5.24xlarge", 96, 786432)],
                "NextToken": "n",
            },
            {"Filters": [{"Name": "instance-type", "Values": ["c5.*", "r5.*"]}]},
        )
        stub.add_response(
            "describe_instance_types",
            {"InstanceTypes": [t("c5.24xlarge", 96, 196608), t("c5n.18xlarge", 72, 196608)]},
            {"Filters": [{"Name": "instance-type", "Values": ["c5.*", "r5.*"]}], "NextToken": "n"},
        )
        got = api.family_limits(["c5", "r5"])
    assert got == {
        "r5": {"cpu": 96, "mem_bytes": 786432 << 20},
        "c5": {"cpu": 96, "mem_bytes": 196608 << 20},
    }
