"""The CloudFormation template: cfn-lint clean, and the stack it describes passes ``doctor`` when
created in the local AWS (by :mod:`.cfn_local`, which maps each resource to boto3 calls)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Dict, List

import boto3
import pytest

from miniwdl_aws.ops.cli import main

from .cfn_local import LocalDeployer, TemplateError

TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "infra", "miniwdl-aws.yaml")
CFN_LINT = os.path.join(os.path.dirname(sys.executable), "cfn-lint")


def test_cfn_lint_clean() -> None:
    done = subprocess.run(
        [CFN_LINT, "--format", "parseable", TEMPLATE], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def _doctor(capsys: pytest.CaptureFixture[str], outputs: Dict[str, Any]) -> List[str]:
    rc = main(
        [
            "doctor",
            "--workflow-queue",
            outputs["WorkflowQueue"],
            "--s3",
            f"s3://{outputs['OutputBucket']}/runs/",
            "--studio-metadata",
            "/nonexistent/resource-metadata.json",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0, "\n".join(lines)
    assert not [line for line in lines if line.startswith(("PROBLEM", "warn"))], "\n".join(lines)
    return lines


def _queue_tags(name: str) -> Dict[str, str]:
    queue = boto3.client("batch").describe_job_queues(jobQueues=[name])["jobQueues"][0]
    return dict(queue.get("tags") or {})


def test_default_stack_passes_doctor(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Defaults: new VPC, One Zone EFS, uid 1000 with an owned root, Spot + on-demand fallback."""
    deployer = LocalDeployer(TEMPLATE, {"NamePrefix": "cfn"}, stack_name="cfn")
    outputs = deployer.deploy()
    lines = _doctor(capsys, outputs)
    joined = "\n".join(lines)
    assert f"ok       default fsap: {outputs['AccessPoint']}" in joined
    assert "ok       default task_queue_fallback: cfn-task-ondemand" in joined
    assert "ok       compute environment cfn-task-spot: ENABLED, VALID, SPOT" in joined
    assert "ok       compute environment cfn-workflow-fargate: ENABLED, VALID, FARGATE" in joined
    assert f"ok       EFS access point {outputs['AccessPoint']}: " in joined
    assert "uid 1000:1000, root created for uid 1000" in joined
    assert "One Zone (" in joined
    assert "ok       NFS from cfn-task-spot: TCP 2049 open" in joined
    assert "ok       workflow role: cfn-WorkflowRole trusts ecs-tasks.amazonaws.com" in joined
    assert "trusts batch.amazonaws.com" in joined  # the compute environments' service role
    tags = _queue_tags("cfn-workflow")
    assert tags["DefaultTaskQueue"] == outputs["TaskQueue"] == "cfn-task"
    assert tags["WorkflowEngineRoleArn"] == outputs["WorkflowRoleArn"]
    efs = boto3.client("efs").describe_file_systems(FileSystemId=outputs["FileSystem"])
    assert efs["FileSystems"][0]["AvailabilityZoneName"]  # One Zone


def test_regional_stack_without_fallback_passes_doctor(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regional EFS over two zones, no fallback queue, an existing output bucket."""
    params = {
        "NamePrefix": "reg",
        "EfsOneZone": "false",
        "EfsPerformanceMode": "maxIO",
        "OnDemandFallback": "false",
        "OutputBucket": aws.bucket,
    }
    deployer = LocalDeployer(TEMPLATE, params, stack_name="reg")
    outputs = deployer.deploy()
    assert outputs["OutputBucket"] == aws.bucket and "TaskQueueFallback" not in outputs
    created = {logical for logical, _ in deployer.created}
    assert {"SubnetB", "MountTargetB"} <= created
    assert not {"TaskFallbackQueue", "TaskOnDemandEnvironment", "Bucket"} & created
    lines = _doctor(capsys, outputs)
    mounts = [line for line in lines if "EFS mount targets" in line]
    assert (
        len(mounts) == 1 and "Regional, mount targets in ['us-east-1a', 'us-east-1b']" in mounts[0]
    )
    assert "DefaultTaskQueueFallback" not in _queue_tags("reg-workflow")
    fs = boto3.client("efs").describe_file_systems(FileSystemId=outputs["FileSystem"])
    assert fs["FileSystems"][0]["PerformanceMode"] == "maxIO"


def test_existing_network(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24", AvailabilityZone="us-east-1c")
    params = {
        "NamePrefix": "mine",
        "ExistingVpcId": vpc,
        "ExistingSubnetA": subnet["Subnet"]["SubnetId"],
        "AvailabilityZoneA": "us-east-1c",
    }
    deployer = LocalDeployer(TEMPLATE, params, stack_name="mine")
    outputs = deployer.deploy()
    created = {logical for logical, _ in deployer.created}
    assert not {"Vpc", "SubnetA", "SubnetB", "InternetGateway"} & created
    lines = _doctor(capsys, outputs)
    assert any("One Zone (us-east-1c), mount targets in ['us-east-1c']" in line for line in lines)


def test_rules_reject_an_incomplete_existing_network(aws: Any) -> None:
    with pytest.raises(TemplateError, match="ExistingSubnetA is required with ExistingVpcId"):
        LocalDeployer(TEMPLATE, {"ExistingVpcId": "vpc-12345678"}).deploy()
    assert boto3.client("batch").describe_job_queues(jobQueues=["miniwdl-workflow"])["jobQueues"]


def test_one_zone_in_the_wrong_zone_fails_doctor(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The deployer is not a rubber stamp: a One Zone EFS in another zone than the existing
    subnet deploys, and doctor catches it."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24", AvailabilityZone="us-east-1a")
    params = {
        "NamePrefix": "oops",
        "ExistingVpcId": vpc,
        "ExistingSubnetA": subnet["Subnet"]["SubnetId"],
        "AvailabilityZoneA": "us-east-1b",
    }
    outputs = LocalDeployer(TEMPLATE, params, stack_name="oops").deploy()
    rc = main(["doctor", "--workflow-queue", outputs["WorkflowQueue"]])
    out = capsys.readouterr().out
    assert rc == 1
    assert "One Zone file system in us-east-1b, but compute environments use ['us-east-1a']" in out
