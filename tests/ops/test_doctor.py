"""``miniwdl-aws doctor`` against the local AWS's reference stack and deliberately broken variants.

Each broken variant changes one thing with boto3 and checks that doctor exits 1 with a PROBLEM
line about exactly that thing (and no other problem), so a check that stopped looking, or one
that complains about everything, both fail here.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, List

import boto3
import pytest

from miniwdl_aws.ops.cli import main


def _doctor(capsys: pytest.CaptureFixture[str], stack: Any, *extra: str) -> tuple:
    args = ["doctor", "--studio-metadata", "/nonexistent/resource-metadata.json"]
    if "--workflow-queue" not in extra:
        args += ["--workflow-queue", stack.workflow_queue]
    if "--s3" not in extra:
        args += ["--s3", f"s3://{stack.bucket}/doctor/"]
    if "--image" not in extra and "--no-image" not in extra:
        args += ["--image", "miniwdl-aws-workflow:local"]  # not in ECR: reported, not checked
    extra = tuple(x for x in extra if x != "--no-image")
    rc = main(args + list(extra))
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    return rc, out, problems


def test_reference_stack_passes(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, problems = _doctor(capsys, stack)
    assert rc == 0, out
    assert problems == []
    # every area was actually checked, with the defaults taken from the workflow queue's tags
    for needle in (
        "ok       credentials:",
        f"ok       default fsap: {stack.fsap}",
        f"ok       task queue {stack.task_queue}: ENABLED, VALID",
        f"ok       workflow queue {stack.workflow_queue}: ENABLED, VALID",
        "ok       compute environment miniwdl-workflow-fargate: ENABLED, VALID, FARGATE",
        f"EFS access point {stack.fsap}",
        f"ok       EFS mount targets of {stack.fs_id}",
        "ok       NFS from miniwdl-task-spot: TCP 2049 open",
        "ok       workflow role: miniwdl-workflow trusts ecs-tasks.amazonaws.com",
        "ok       instance role of miniwdl-task-spot",
        f"ok       S3 upload folder s3://{stack.bucket}/doctor/: writable",
    ):
        assert needle in out, needle
    assert out.rstrip().endswith("no problems found")


# --- broken variants: (what to break) -> extra CLI args; the expected problem line pattern ---


def _disable_task_queue(stack: Any) -> List[str]:
    boto3.client("batch").update_job_queue(jobQueue=stack.task_queue, state="DISABLED")
    return []


def _disable_task_ce(stack: Any) -> List[str]:
    boto3.client("batch").update_compute_environment(
        computeEnvironment=stack.task_compute_environment, state="DISABLED"
    )
    return []


def _task_queue_without_capacity(stack: Any) -> List[str]:
    batch = boto3.client("batch")
    ce = batch.describe_compute_environments(computeEnvironments=[stack.task_compute_environment])
    resources = dict(ce["computeEnvironments"][0]["computeResources"], maxvCpus=0)
    arn = batch.create_compute_environment(
        computeEnvironmentName="no-capacity",
        type="MANAGED",
        state="ENABLED",
        computeResources=resources,
        serviceRole=ce["computeEnvironments"][0]["serviceRole"],
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName="starved",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": arn}],
    )
    return ["--task-queue", "starved"]


def _queue_over(name: str, compute_environment: str) -> None:
    boto3.client("batch").create_job_queue(
        jobQueueName=name,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": compute_environment}],
    )


def _task_queue_on_fargate(stack: Any) -> List[str]:
    _queue_over("tasks-on-fargate", stack.workflow_compute_environment)
    return ["--task-queue", "tasks-on-fargate"]


def _missing_task_queue(stack: Any) -> List[str]:
    return ["--task-queue", "no-such-queue"]


def _workflow_queue_not_fargate(stack: Any) -> List[str]:
    _queue_over("wf-on-ec2", stack.task_compute_environment)
    return [
        "--workflow-queue",
        "wf-on-ec2",
        "--task-queue",
        stack.task_queue,
        "--fsap",
        stack.fsap,
        "--workflow-role",
        stack.workflow_role_arn,
    ]


def _delete_mount_target(stack: Any) -> List[str]:
    efs = boto3.client("efs")
    for mt in efs.describe_mount_targets(FileSystemId=stack.fs_id)["MountTargets"]:
        efs.delete_mount_target(MountTargetId=mt["MountTargetId"])
    return []


def _revoke_nfs(stack: Any) -> List[str]:
    boto3.client("ec2").revoke_security_group_ingress(
        GroupId=stack.security_group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "UserIdGroupPairs": [{"GroupId": stack.security_group_id}],
            }
        ],
    )
    return []


def _missing_access_point(stack: Any) -> List[str]:
    return ["--fsap", "fsap-0123456789abcdef0"]


def _uid_cannot_write_root(stack: Any) -> List[str]:
    ap = boto3.client("efs").create_access_point(
        FileSystemId=stack.fs_id, PosixUser={"Uid": 1000, "Gid": 1000}, RootDirectory={"Path": "/"}
    )
    return ["--fsap", ap["AccessPointId"]]


def _root_owned_by_other_uid(stack: Any) -> List[str]:
    ap = boto3.client("efs").create_access_point(
        FileSystemId=stack.fs_id,
        PosixUser={"Uid": 1000, "Gid": 1000},
        RootDirectory={
            "Path": "/miniwdl",
            "CreationInfo": {"OwnerUid": 2000, "OwnerGid": 2000, "Permissions": "0755"},
        },
    )
    return ["--fsap", ap["AccessPointId"]]


def _one_zone_elsewhere(stack: Any) -> List[str]:
    subnet = boto3.client("ec2").describe_subnets(SubnetIds=[stack.subnet_id])["Subnets"][0]
    zone = "us-east-1f" if subnet["AvailabilityZone"] != "us-east-1f" else "us-east-1e"
    efs = boto3.client("efs")
    fs = efs.create_file_system(CreationToken="one-zone", AvailabilityZoneName=zone)
    ap = efs.create_access_point(FileSystemId=fs["FileSystemId"], RootDirectory={"Path": "/"})
    return ["--fsap", ap["AccessPointId"]]


def _workflow_role_trusts_ec2(stack: Any) -> List[str]:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    boto3.client("iam").update_assume_role_policy(
        RoleName=stack.workflow_role_arn.rsplit("/", 1)[-1], PolicyDocument=json.dumps(policy)
    )
    return []


def _workflow_role_missing(stack: Any) -> List[str]:
    return ["--workflow-role", "arn:aws:iam::123456789012:role/no-such-role"]


def _instance_profile_without_role(stack: Any) -> List[str]:
    iam = boto3.client("iam")
    for profile in iam.list_instance_profiles()["InstanceProfiles"]:
        for role in profile["Roles"]:
            iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=role["RoleName"]
            )
    return []


def _bucket_missing(stack: Any) -> List[str]:
    return ["--s3", "s3://no-such-bucket-miniwdl/out/"]


BROKEN: Dict[str, tuple] = {
    "task queue disabled": (_disable_task_queue, r"task queue miniwdl-task: state DISABLED"),
    "task compute environment disabled": (
        _disable_task_ce,
        # the environment, and the task queue it leaves with nothing to run on
        r"compute environment miniwdl-task-spot: state DISABLED|task queue miniwdl-task: no"
        r" ENABLED and VALID compute environment \(miniwdl-task-spot DISABLED/VALID\)",
    ),
    "task queue on Fargate only": (
        _task_queue_on_fargate,
        r"task queue tasks-on-fargate: runs on Fargate only \(task jobs need EC2 or Spot\)",
    ),
    "task queue missing": (_missing_task_queue, r"task queue no-such-queue: does not exist"),
    "task queue without capacity": (
        _task_queue_without_capacity,
        r"compute environment no-capacity: maxvCpus is 0 \(no capacity\)",
    ),
    "workflow queue not Fargate": (
        _workflow_queue_not_fargate,
        r"workflow queue wf-on-ec2: no Fargate compute environment",
    ),
    "no mount target": (_delete_mount_target, r"EFS mount targets of fs-\w+: no available"),
    "NFS blocked": (_revoke_nfs, r"NFS from miniwdl-\S+: mount target fsmt-\w+ .* does not admit"),
    "access point missing": (_missing_access_point, r"EFS access point fsap-0123456789abcdef0: "),
    "uid cannot write EFS root": (
        _uid_cannot_write_root,
        r"EFS access point fsap-\w+: .*uid 1000 cannot write",
    ),
    "root owned by another uid": (
        _root_owned_by_other_uid,
        r"EFS access point fsap-\w+: .*owned by uid 2000 .* jobs run as uid 1000",
    ),
    "One Zone EFS in another zone": (
        _one_zone_elsewhere,
        r"EFS mount targets of fs-\w+: One Zone file system in us-east-1[ef], but compute"
        r" environments use \['us-east-1[a-f]'\]",
    ),
    "workflow role trusts ec2": (
        _workflow_role_trusts_ec2,
        r"workflow role: miniwdl-workflow does not trust ecs-tasks",
    ),
    "workflow role missing": (
        _workflow_role_missing,
        r"workflow role: .*no-such-role: NoSuchEntity",
    ),
    "instance profile without role": (
        _instance_profile_without_role,
        r"instance role of miniwdl-task-\w+: instance profile miniwdl-ecs-instance has no role",
    ),
    "S3 bucket missing": (_bucket_missing, r"S3 upload folder s3://no-such-bucket-miniwdl/out/: "),
}


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_broken_variant(stack: Any, capsys: pytest.CaptureFixture[str], variant: str) -> None:
    breaker: Callable[[Any], List[str]] = BROKEN[variant][0]
    pattern: str = BROKEN[variant][1]
    extra = breaker(stack)
    rc, out, problems = _doctor(capsys, stack, *extra)
    assert rc == 1, out
    assert problems, out
    for line in problems:
        assert re.search(pattern, line), f"unexpected problem: {line}\n{out}"
        assert " -> fix: " in line or "S3" in line or "access point" in line, line


@pytest.mark.parametrize(
    "breaker, line",
    [
        (
            _task_queue_on_fargate,
            "PROBLEM  task queue tasks-on-fargate: runs on Fargate only (task jobs need EC2 or"
            " Spot) -> fix: give it an ENABLED and VALID EC2 or SPOT compute environment",
        ),
        (
            _disable_task_ce,
            "PROBLEM  task queue miniwdl-task: no ENABLED and VALID compute environment"
            " (miniwdl-task-spot DISABLED/VALID) -> fix: give it an ENABLED and VALID EC2 or"
            " SPOT compute environment",
        ),
    ],
)
def test_task_queue_that_can_never_run_a_task_job(
    stack: Any, capsys: pytest.CaptureFixture[str], breaker: Callable, line: str
) -> None:
    """The rule of the backend and the submitter (:func:`miniwdl_aws.queues.
    task_environment_problems`): a PROBLEM of the queue itself, not a warning, with a fix."""
    rc, out, problems = _doctor(capsys, stack, *breaker(stack))
    assert rc == 1, out
    assert [p for p in problems if p.startswith(line)], out


def test_no_region(stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    rc, out, problems = _doctor(capsys, stack)
    assert rc == 1
    assert problems == [
        "PROBLEM  region: no AWS region configured -> fix: set AWS_DEFAULT_REGION, [aws] region"
        " or --region"
    ]


def test_unreachable_endpoint(
    stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    rc, out, problems = _doctor(capsys, stack)
    assert rc == 1
    assert len(problems) == 1 and problems[0].startswith("PROBLEM  credentials: ")
    assert "aws configure" in problems[0]


def _ecr_image(tag: str) -> str:
    ecr = boto3.client("ecr")
    repo = ecr.create_repository(repositoryName="miniwdl-aws")["repository"]
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    )
    ecr.put_image(repositoryName="miniwdl-aws", imageManifest=manifest, imageTag=tag)
    return f"{repo['repositoryUri']}:{tag}"


def test_workflow_image(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """No image anywhere is a problem saying how to make one; an ECR image is looked up
    (present: ok, missing tag: problem); the WorkflowImage tag of the workflow queue counts; an
    image elsewhere is reported as not checked."""
    rc, out, problems = _doctor(capsys, stack, "--no-image")
    assert rc == 1 and len(problems) == 1 and "workflow image: not configured" in problems[0]
    assert "Dockerfile" in out
    image = _ecr_image("v1")
    rc, out, problems = _doctor(capsys, stack, "--image", image)
    assert rc == 0 and f"ok       workflow image: {image} exists" in out, out
    missing = image.replace(":v1", ":v2")
    rc, out, problems = _doctor(capsys, stack, "--image", missing)
    assert rc == 1 and len(problems) == 1, out
    assert problems[0].startswith(f"PROBLEM  workflow image: {missing} not found in ECR -> fix")
    queue_arn = boto3.client("batch").describe_job_queues(jobQueues=[stack.workflow_queue])
    arn = queue_arn["jobQueues"][0]["jobQueueArn"]
    boto3.client("batch").tag_resource(resourceArn=arn, tags={"WorkflowImage": image})
    rc, out, problems = _doctor(capsys, stack, "--no-image")
    assert rc == 0 and f"default workflow_image: {image}" in out and f"{image} exists" in out, out
    rc, out, _ = _doctor(capsys, stack)
    assert "workflow image: miniwdl-aws-workflow:local: not in ECR, existence not checked" in out


@pytest.mark.parametrize(
    "state, status, verdict",
    [
        ("ENABLED", "VALID", "ok"),
        ("ENABLED", "UPDATING", "warn"),  # usable once Batch is done, as the backend judges it
        ("ENABLED", "CREATING", "warn"),
        ("ENABLED", "INVALID", "PROBLEM"),
        ("ENABLED", "DELETING", "PROBLEM"),
        ("DISABLED", "VALID", "PROBLEM"),
    ],
)
def test_compute_environment_verdict_follows_the_shared_rule(
    state: str, status: str, verdict: str
) -> None:
    from miniwdl_aws.aws.clients import AwsClients
    from miniwdl_aws.ops.checks import Targets
    from miniwdl_aws.ops.doctor import Doctor

    doctor = Doctor(AwsClients("us-east-1"), Targets(region="us-east-1"))
    doctor._check_ce(
        {
            "computeEnvironmentName": "ce",
            "state": state,
            "status": status,
            "type": "MANAGED",
            "computeResources": {"type": "EC2", "maxvCpus": 16},
        }
    )
    (check,) = doctor.checks
    assert check.status == verdict, check
