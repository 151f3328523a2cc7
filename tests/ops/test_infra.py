"""The CloudFormation template: cfn-lint clean, and the stack it describes passes ``doctor`` when
created in the local AWS (by :mod:`.cfn_local`, which maps each resource to boto3 calls and
refuses what AWS refuses). The submitter's IAM policy covers every AWS call the CLIs make."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import boto3
import pytest
from cfnlint.decode import decode_str

from miniwdl_aws.ops.cli import main

from .cfn_local import BATCH_SERVICE_LINKED_ROLE, LocalDeployer, TemplateError

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE = str(ROOT / "infra" / "miniwdl-aws.yaml")
POLICY = ROOT / "infra" / "submitter-policy.json"
CFN_LINT = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
IMAGE = "ghcr.io/miniwdl-ext/miniwdl-aws:v0.0.0-test"  # not ECR: doctor skips its existence


def test_cfn_lint_clean() -> None:
    done = subprocess.run(
        [CFN_LINT, "--format", "parseable", TEMPLATE], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def _template() -> Dict[str, Any]:
    """A private copy of the parsed template, to rebuild what earlier versions of it said."""
    with open(TEMPLATE) as f:
        template, matches = decode_str(f.read())
    assert not matches
    return copy.deepcopy(template)


def _doctor(
    capsys: pytest.CaptureFixture[str], outputs: Dict[str, Any], image: Optional[str] = None
) -> List[str]:
    argv = [
        "doctor",
        "--workflow-queue",
        outputs["WorkflowQueue"],
        "--s3",
        f"s3://{outputs['OutputBucket']}/runs/",
        "--studio-metadata",
        "/nonexistent/resource-metadata.json",
    ]
    rc = main(argv + (["--image", image] if image else []))
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0, "\n".join(lines)
    assert not [line for line in lines if line.startswith(("PROBLEM", "warn"))], "\n".join(lines)
    return lines


def _queue_tags(name: str) -> Dict[str, str]:
    queue = boto3.client("batch").describe_job_queues(jobQueues=[name])["jobQueues"][0]
    return dict(queue.get("tags") or {})


def _compute_environments(prefix: str) -> Dict[str, Dict[str, Any]]:
    envs = boto3.client("batch").describe_compute_environments()["computeEnvironments"]
    return {
        ce["computeEnvironmentName"]: ce
        for ce in envs
        if ce["computeEnvironmentName"].startswith(prefix + "-")
    }


def _queues(prefix: str) -> List[str]:
    queues = boto3.client("batch").describe_job_queues()["jobQueues"]
    return sorted(q["jobQueueName"] for q in queues if q["jobQueueName"].startswith(prefix + "-"))


def _job_log_groups() -> Dict[str, Any]:
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/batch/job")
    return {g["logGroupName"]: g for g in groups["logGroups"]}


def test_default_stack_passes_doctor(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Defaults (new VPC, One Zone EFS, uid 1000 with an owned root, Spot + on-demand fallback,
    job log group with 30 days), plus the workflow image for the queue's WorkflowImage tag."""
    params = {"NamePrefix": "cfn", "WorkflowImage": IMAGE}
    deployer = LocalDeployer(TEMPLATE, params, stack_name="cfn")
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
    # the compute environments use Batch's service-linked role, not a role of the stack
    assert f"{BATCH_SERVICE_LINKED_ROLE} trusts batch.amazonaws.com" in joined
    assert "AWS::IAM::Role" not in {
        kind for logical, kind in deployer.created if "Service" in logical
    }
    envs = _compute_environments("cfn")
    assert sorted(envs) == ["cfn-task-ondemand", "cfn-task-spot", "cfn-workflow-fargate"]
    for ce in envs.values():
        assert ce["serviceRole"].endswith(
            f":role/aws-service-role/batch.amazonaws.com/{BATCH_SERVICE_LINKED_ROLE}"
        ), ce["serviceRole"]
    tags = _queue_tags("cfn-workflow")
    assert tags["DefaultTaskQueue"] == outputs["TaskQueue"] == "cfn-task"
    assert tags["WorkflowEngineRoleArn"] == outputs["WorkflowRoleArn"]
    assert tags["WorkflowImage"] == IMAGE
    assert "DefaultTaskQueueGpu" not in tags and "TaskQueueGpu" not in outputs
    fs = boto3.client("efs").describe_file_systems(FileSystemId=outputs["FileSystem"])
    fs = fs["FileSystems"][0]
    assert fs["AvailabilityZoneName"]  # One Zone
    assert (fs["PerformanceMode"], fs["ThroughputMode"]) == ("generalPurpose", "elastic")
    assert _job_log_groups()["/aws/batch/job"]["retentionInDays"] == 30


def test_regional_stack_without_fallback_passes_doctor(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regional Max I/O EFS over two zones (bursting throughput: Elastic needs General Purpose),
    no fallback queue, an existing bucket, no log group, no WorkflowImage tag."""
    params = {
        "NamePrefix": "reg",
        "EfsOneZone": "false",
        "EfsPerformanceMode": "maxIO",
        "OnDemandFallback": "false",
        "OutputBucket": aws.bucket,
        "CreateJobLogGroup": "false",
    }
    deployer = LocalDeployer(TEMPLATE, params, stack_name="reg")
    outputs = deployer.deploy()
    assert outputs["OutputBucket"] == aws.bucket and "TaskQueueFallback" not in outputs
    created = {logical for logical, _ in deployer.created}
    assert {"SubnetB", "MountTargetB"} <= created
    assert not {"TaskFallbackQueue", "TaskOnDemandEnvironment", "Bucket", "JobLogGroup"} & created
    lines = _doctor(capsys, outputs, image=IMAGE)
    mounts = [line for line in lines if "EFS mount targets" in line]
    assert (
        len(mounts) == 1 and "Regional, mount targets in ['us-east-1a', 'us-east-1b']" in mounts[0]
    )
    tags = _queue_tags("reg-workflow")
    assert "DefaultTaskQueueFallback" not in tags and "WorkflowImage" not in tags
    fs = boto3.client("efs").describe_file_systems(FileSystemId=outputs["FileSystem"])
    assert (fs["FileSystems"][0]["PerformanceMode"], fs["FileSystems"][0]["ThroughputMode"]) == (
        "maxIO",
        "bursting",
    )
    assert not _job_log_groups()


def test_existing_network(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24", AvailabilityZone="us-east-1c")
    params = {
        "NamePrefix": "mine",
        "ExistingVpcId": vpc,
        "ExistingSubnetA": subnet["Subnet"]["SubnetId"],
        "AvailabilityZoneA": "us-east-1c",
        "WorkflowImage": IMAGE,
    }
    deployer = LocalDeployer(TEMPLATE, params, stack_name="mine")
    outputs = deployer.deploy()
    created = {logical for logical, _ in deployer.created}
    assert not {"Vpc", "SubnetA", "SubnetB", "InternetGateway"} & created
    lines = _doctor(capsys, outputs)
    assert any("One Zone (us-east-1c), mount targets in ['us-east-1c']" in line for line in lines)


def test_gpu_compute_environment_and_queue(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """GpuComputeEnvironment=true: an on-demand EC2 environment of GPU families and its queue,
    named by the workflow queue's DefaultTaskQueueGpu tag and the TaskQueueGpu output."""
    params = {
        "NamePrefix": "gpu",
        "GpuComputeEnvironment": "true",
        "GpuInstanceTypes": "g4dn,g6",
        "GpuMaxVcpus": "32",
        "WorkflowImage": IMAGE,
    }
    outputs = LocalDeployer(TEMPLATE, params, stack_name="gpu").deploy()
    assert outputs["TaskQueueGpu"] == "gpu-task-gpu"
    assert _queue_tags("gpu-workflow")["DefaultTaskQueueGpu"] == "gpu-task-gpu"
    assert "gpu-task-gpu" in _queues("gpu")
    ce = _compute_environments("gpu")["gpu-task-gpu"]
    res = ce["computeResources"]
    assert (res["type"], res["allocationStrategy"]) == ("EC2", "BEST_FIT_PROGRESSIVE")
    assert res["instanceTypes"] == ["g4dn", "g6"] and res["maxvCpus"] == 32
    assert ce["serviceRole"].endswith(BATCH_SERVICE_LINKED_ROLE)
    queue = boto3.client("batch").describe_job_queues(jobQueues=["gpu-task-gpu"])["jobQueues"][0]
    assert [o["computeEnvironment"] for o in queue["computeEnvironmentOrder"]] == [
        ce["computeEnvironmentArn"]
    ]
    _doctor(capsys, outputs)


def test_rules_reject_an_incomplete_existing_network(aws: Any) -> None:
    with pytest.raises(TemplateError, match="ExistingSubnetA is required with ExistingVpcId"):
        LocalDeployer(TEMPLATE, {"ExistingVpcId": "vpc-12345678"}).deploy()
    assert boto3.client("batch").describe_job_queues(jobQueues=["miniwdl-workflow"])["jobQueues"]


# --- what AWS refuses: the template no longer asks for it, and the deployer refuses it too ---


def _old_file_system(template: Dict[str, Any]) -> Dict[str, Any]:
    """The file system as the template had it: Elastic throughput whatever the mode."""
    props = template["Resources"]["FileSystem"]["Properties"]
    props["PerformanceMode"] = {
        "Fn::If": ["OneZone", "generalPurpose", {"Ref": "EfsPerformanceMode"}]
    }
    props["ThroughputMode"] = "elastic"
    return template


def test_elastic_throughput_with_max_io_is_refused(aws: Any) -> None:
    params = {"NamePrefix": "mio", "EfsOneZone": "false", "EfsPerformanceMode": "maxIO"}
    old = _old_file_system(_template())
    with pytest.raises(TemplateError, match="Elastic throughput is available only with the Gen"):
        LocalDeployer(TEMPLATE, params, stack_name="mio", template=old).deploy()
    assert not _queues("mio")
    # the same template with General Purpose deploys: the rule is about the combination
    old = _old_file_system(_template())
    LocalDeployer(TEMPLATE, {**params, "EfsPerformanceMode": "generalPurpose"}, "gp", old).deploy()
    # and Max I/O is for Regional file systems only (the template never asks for it on One Zone)
    one_zone = _template()
    one_zone["Resources"]["FileSystem"]["Properties"].update(
        PerformanceMode="maxIO", ThroughputMode="bursting"
    )
    with pytest.raises(TemplateError, match="maxIO mode is not supported on One Zone"):
        LocalDeployer(TEMPLATE, {"NamePrefix": "oz"}, stack_name="oz", template=one_zone).deploy()


def test_one_zone_file_system_must_be_in_the_existing_subnets_zone(aws: Any) -> None:
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24", AvailabilityZone="us-east-1c")
    params = {
        "NamePrefix": "oops",
        "ExistingVpcId": vpc,
        "ExistingSubnetA": subnet["Subnet"]["SubnetId"],
    }
    efs = boto3.client("efs")
    before = len(efs.describe_file_systems()["FileSystems"])
    # the template: without AvailabilityZoneA the file system would default to the first zone
    with pytest.raises(TemplateError, match=r"AvailabilityZoneA \(the zone of ExistingSubnetA\)"):
        LocalDeployer(TEMPLATE, params, stack_name="oops").deploy()
    assert len(efs.describe_file_systems()["FileSystems"]) == before  # refused before creating
    # the template before the rule: the file system lands in us-east-1a, the mount target fails
    old = _template()
    del old["Rules"]["OneZoneInTheExistingSubnetsZone"]
    with pytest.raises(TemplateError, match="AvailabilityZonesMismatch: subnet .* in us-east-1c"):
        LocalDeployer(TEMPLATE, params, stack_name="old", template=old).deploy()
    # a wrong zone given explicitly is refused as AWS refuses it
    wrong = {**params, "NamePrefix": "wrong", "AvailabilityZoneA": "us-east-1b"}
    with pytest.raises(TemplateError, match="AvailabilityZonesMismatch.* is in us-east-1b"):
        LocalDeployer(TEMPLATE, wrong, stack_name="wrong").deploy()
    assert not _queues("oops") + _queues("old") + _queues("wrong")


def test_one_mount_target_per_zone(aws: Any) -> None:
    params = {
        "NamePrefix": "same",
        "EfsOneZone": "false",
        "AvailabilityZoneA": "us-east-1a",
        "AvailabilityZoneB": "us-east-1a",
    }
    with pytest.raises(TemplateError, match="AvailabilityZoneA and AvailabilityZoneB must differ"):
        LocalDeployer(TEMPLATE, params, stack_name="same").deploy()
    old = _template()
    del old["Rules"]["TwoDistinctZones"]
    with pytest.raises(TemplateError, match="MountTargetConflict: .* in us-east-1a"):
        LocalDeployer(TEMPLATE, params, stack_name="same", template=old).deploy()


def test_service_role_created_in_the_stack_is_refused(aws: Any) -> None:
    """The template's former BatchServiceRole: IAM propagation races the compute environments
    (INVALID), and infrastructure updates need the service-linked role."""
    old = _template()
    policy = "service-role/AWSBatchServiceRole"
    old["Resources"]["BatchServiceRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "batch.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "ManagedPolicyArns": [{"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/{policy}"}],
        },
    }
    for spec in old["Resources"].values():
        if spec["Type"] == "AWS::Batch::ComputeEnvironment":
            spec["Properties"]["ServiceRole"] = {"Fn::GetAtt": ["BatchServiceRole", "Arn"]}
    with pytest.raises(TemplateError, match="ServiceRole is BatchServiceRole, a role created in"):
        LocalDeployer(TEMPLATE, {"NamePrefix": "svc"}, stack_name="svc", template=old).deploy()
    assert not _compute_environments("svc")


def test_existing_job_log_group(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Batch creates /aws/batch/job when a job first logs; CloudFormation cannot create it then.
    CreateJobLogGroup=false leaves the existing group (and its retention) alone."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/aws/batch/job")
    with pytest.raises(TemplateError, match="log group /aws/batch/job already exists"):
        LocalDeployer(TEMPLATE, {"NamePrefix": "lg1"}, stack_name="lg1").deploy()
    params = {"NamePrefix": "lg2", "CreateJobLogGroup": "false", "WorkflowImage": IMAGE}
    outputs = LocalDeployer(TEMPLATE, params, stack_name="lg2").deploy()
    assert "retentionInDays" not in _job_log_groups()["/aws/batch/job"]
    _doctor(capsys, outputs)


# --- the IAM policy of a user who submits and operates runs ---

# miniwdl_aws/aws/<module>.py -> IAM service prefix
_SERVICES = {
    "batch": "batch",
    "ec2": "ec2",
    "ecr": "ecr",
    "efs": "elasticfilesystem",
    "iam": "iam",
    "logs": "logs",
    "s3": "s3",
    "sagemaker": "sagemaker",
    "sts": "sts",
}
# operations named after a boto3 helper rather than an API action -> the actions they need
_S3_HELPERS = {
    "UploadFile": ["s3:PutObject", "s3:AbortMultipartUpload"],
    "DownloadFile": ["s3:GetObject"],
    "HeadObject": ["s3:GetObject"],
    "HeadBucket": ["s3:ListBucket"],
}
# actions the code calls that a submitting user does not need, and why
_NOT_FOR_SUBMITTERS = {
    "sts:GetCallerIdentity": "needs no permission",
    "ec2:DescribeInstanceTypes": "task backend only (workflow job, WorkflowRole)",
    "batch:GetJobQueueSnapshot": "task backend only (workflow job, WorkflowRole)",
}


def _actions_in_code() -> Dict[str, str]:
    """Every IAM action behind an AWS call of miniwdl_aws/aws/*.py -> the module calling it."""
    found: Dict[str, str] = {}
    for path in sorted((ROOT / "miniwdl_aws" / "aws").glob("*.py")):
        ops = re.findall(r"_(?:call|pages)\(\s*\"([A-Z][A-Za-z]+)\"", path.read_text())
        if not ops:
            continue
        assert path.stem in _SERVICES, f"{path.name} calls AWS: add its IAM prefix here"
        for op in ops:
            if path.stem == "s3" and op in _S3_HELPERS:
                actions = _S3_HELPERS[op]
            else:
                actions = [f"{_SERVICES[path.stem]}:{op}"]
            for action in actions:
                found[action] = path.name
    return found


def test_submitter_policy_covers_every_call() -> None:
    policy = json.loads(POLICY.read_text())
    allowed = set()
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert all(":" in a and "*" not in a for a in actions), actions
        allowed.update(actions)
    code = _actions_in_code()
    assert {
        "batch:SubmitJob",
        "logs:GetLogEvents",
        "elasticfilesystem:DescribeAccessPoints",
    } <= set(code)
    missing = {a: m for a, m in code.items() if a not in allowed and a not in _NOT_FOR_SUBMITTERS}
    assert not missing, f"infra/submitter-policy.json lacks {missing}"
    # tag-on-create: SubmitJob with tags also needs batch:TagResource; the job definition names
    # the workflow role, so registering it needs iam:PassRole
    assert {"batch:TagResource", "iam:PassRole"} <= allowed
    placeholders = set(re.findall(r"<[A-Z_]+>", POLICY.read_text()))
    assert placeholders == {
        "<REGION>",
        "<ACCOUNT_ID>",
        "<NAME_PREFIX>",
        "<OUTPUT_BUCKET>",
        "<WORKFLOW_ROLE_ARN>",
    }
    readme = (ROOT / "README.md").read_text() + (ROOT / "infra" / "README.md").read_text()
    assert "submitter-policy.json" in readme and all(p in readme for p in placeholders)


def test_workflow_role_allows_the_backend_only_calls() -> None:
    template = _template()
    statements = template["Resources"]["WorkflowRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    allowed = {a for st in statements for a in st["Action"]}
    assert {a for a, why in _NOT_FOR_SUBMITTERS.items() if "WorkflowRole" in why} <= allowed
