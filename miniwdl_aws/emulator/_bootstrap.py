"""Create the reference stack (network, EFS, IAM, compute environments, queues, bucket) in the
emulator, through its own HTTP endpoint like any client would."""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from typing import Any, Dict, NamedTuple, Tuple

import boto3
import botocore.config

from ._state import INTERNAL_HEADER


@dataclass
class Stack:
    """Names and ids of a bootstrapped stack (see :meth:`Emulator.bootstrap`)."""

    region: str
    efs_dir: str
    fs_id: str
    fsap: str
    task_queue: str
    task_queue_fallback: str
    workflow_queue: str
    bucket: str
    workflow_role_arn: str
    execution_role_arn: str
    task_role_arn: str
    subnet_id: str
    security_group_id: str
    vpc_id: str
    task_compute_environment: str
    task_fallback_compute_environment: str
    workflow_compute_environment: str

    def miniwdl_env(self) -> Dict[str, str]:
        """The ``MINIWDL__*`` variables that point miniwdl-aws at this stack."""
        return {
            "MINIWDL__AWS__TASK_QUEUE": self.task_queue,
            "MINIWDL__AWS__WORKFLOW_QUEUE": self.workflow_queue,
            "MINIWDL__AWS__FSAP": self.fsap,
            "MINIWDL__FILE_IO__ROOT": self.efs_dir,
        }

    def as_dict(self) -> Dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


def _assume(service: str) -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"'
        + service
        + '"},"Action":"sts:AssumeRole"}]}'
    )


class InternalClients:
    """boto3 clients for the emulator's own calls (built once: client creation costs ~0.1 s),
    marked with a header so that they are neither counted nor faulted."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self._config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 3})
        self._clients: Dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str) -> Any:
        with self._lock:
            if name not in self._clients:
                c = self._session.client(  # type: ignore[call-overload]
                    name, endpoint_url=self.endpoint_url, config=self._config
                )
                c.meta.events.register("before-send", _mark_internal)
                self._clients[name] = c
            return self._clients[name]


def _mark_internal(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"


class _Roles(NamedTuple):
    service: str
    instance_profile: str
    execution: str
    task: str
    workflow: str


class _Network(NamedTuple):
    vpc_id: str
    subnet_id: str
    security_group_id: str


def bootstrap(
    client: InternalClients,
    region: str,
    efs_dir: str,
    task_max_vcpus: int = 256,
    workflow_max_vcpus: int = 64,
) -> Stack:
    """Create the stack; ``efs_dir`` (created if missing) stands in for the EFS mount."""
    os.makedirs(efs_dir, exist_ok=True)
    efs_dir = os.path.realpath(efs_dir)
    batch = client("batch")
    roles = _create_roles(client("iam"))
    net = _create_network(client("ec2"))
    fs_id, fsap = _create_efs(client("efs"), net)

    def compute_env(name: str, kind: str, max_vcpus: int) -> str:
        return _create_compute_environment(batch, name, kind, max_vcpus, net, roles)

    task_ce = compute_env("miniwdl-task-spot", "SPOT", task_max_vcpus)
    fallback_ce = compute_env("miniwdl-task-ondemand", "EC2", task_max_vcpus)
    workflow_ce = compute_env("miniwdl-workflow-fargate", "FARGATE", workflow_max_vcpus)
    task_queue, fallback_queue, workflow_queue = _create_queues(
        batch, (task_ce, fallback_ce, workflow_ce), fsap, roles.workflow
    )
    bucket = _create_bucket(client("s3"), region)
    return Stack(
        region=region,
        efs_dir=efs_dir,
        fs_id=fs_id,
        fsap=fsap,
        task_queue=task_queue,
        task_queue_fallback=fallback_queue,
        workflow_queue=workflow_queue,
        bucket=bucket,
        workflow_role_arn=roles.workflow,
        execution_role_arn=roles.execution,
        task_role_arn=roles.task,
        subnet_id=net.subnet_id,
        security_group_id=net.security_group_id,
        vpc_id=net.vpc_id,
        task_compute_environment=task_ce,
        task_fallback_compute_environment=fallback_ce,
        workflow_compute_environment=workflow_ce,
    )


def _create_roles(iam: Any) -> _Roles:
    """The Batch service role, the ECS instance profile and the three task roles."""

    def role(name: str, service: str) -> str:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=_assume(service))["Role"][
            "Arn"
        ]

    service_role = role("miniwdl-batch-service", "batch.amazonaws.com")
    role("miniwdl-ecs-instance", "ec2.amazonaws.com")
    profile = iam.create_instance_profile(InstanceProfileName="miniwdl-ecs-instance")
    iam.add_role_to_instance_profile(
        InstanceProfileName="miniwdl-ecs-instance", RoleName="miniwdl-ecs-instance"
    )
    return _Roles(
        service=service_role,
        instance_profile=profile["InstanceProfile"]["Arn"],
        execution=role("miniwdl-task-execution", "ecs-tasks.amazonaws.com"),
        task=role("miniwdl-task", "ecs-tasks.amazonaws.com"),
        workflow=role("miniwdl-workflow", "ecs-tasks.amazonaws.com"),
    )


def _create_network(ec2: Any) -> _Network:
    """A VPC with one subnet and one security group."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/20")["Subnet"]["SubnetId"]
    sg_id = ec2.create_security_group(GroupName="miniwdl", Description="miniwdl", VpcId=vpc_id)[
        "GroupId"
    ]
    # As a real deployment needs: EFS (NFS, TCP 2049) reachable from the compute environments,
    # which share this group with the mount target.
    ec2.authorize_security_group_ingress(
        GroupId=sg_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "UserIdGroupPairs": [{"GroupId": sg_id}],
            }
        ],
    )
    return _Network(vpc_id=vpc_id, subnet_id=subnet_id, security_group_id=sg_id)


def _create_efs(efs: Any, net: _Network) -> Tuple[str, str]:
    """An EFS file system with a mount target and a root access point: ``(fs_id, fsap)``."""
    fs_id = efs.create_file_system(
        CreationToken="miniwdl-efs", Tags=[{"Key": "Name", "Value": "miniwdl"}]
    )["FileSystemId"]
    efs.create_mount_target(
        FileSystemId=fs_id, SubnetId=net.subnet_id, SecurityGroups=[net.security_group_id]
    )
    fsap = efs.create_access_point(
        FileSystemId=fs_id, PosixUser={"Uid": 0, "Gid": 0}, RootDirectory={"Path": "/"}
    )["AccessPointId"]
    return fs_id, fsap


def _create_compute_environment(
    batch: Any, name: str, kind: str, max_vcpus: int, net: _Network, roles: _Roles
) -> str:
    """A managed compute environment of ``kind`` (SPOT, EC2 or FARGATE); returns its ARN."""
    resources: Dict[str, Any] = {
        "type": kind,
        "maxvCpus": max_vcpus,
        "subnets": [net.subnet_id],
        "securityGroupIds": [net.security_group_id],
    }
    if kind != "FARGATE":
        resources.update(
            minvCpus=0,
            instanceTypes=["optimal"],
            instanceRole=roles.instance_profile,
        )
        if kind == "SPOT":
            resources["allocationStrategy"] = "SPOT_CAPACITY_OPTIMIZED"
    return batch.create_compute_environment(
        computeEnvironmentName=name,
        type="MANAGED",
        state="ENABLED",
        computeResources=resources,
        serviceRole=roles.service,
    )["computeEnvironmentArn"]


def _create_queues(
    batch: Any, ces: Tuple[str, str, str], fsap: str, workflow_role: str
) -> Tuple[str, str, str]:
    """The task, fallback and workflow queues over the compute environments in ``ces`` (same
    order); the workflow queue's tags tell the submitter the rest of the stack."""
    task_ce, fallback_ce, workflow_ce = ces
    task_queue = _create_queue(batch, "miniwdl-task", task_ce, {})
    fallback_queue = _create_queue(batch, "miniwdl-task-fallback", fallback_ce, {})
    workflow_tags = {
        "DefaultTaskQueue": task_queue,
        "DefaultTaskQueueFallback": fallback_queue,
        "DefaultFsap": fsap,
        "WorkflowEngineRoleArn": workflow_role,
    }
    workflow_queue = _create_queue(batch, "miniwdl-workflow", workflow_ce, workflow_tags)
    return task_queue, fallback_queue, workflow_queue


def _create_queue(batch: Any, name: str, ce: str, tags: Dict[str, str]) -> str:
    """An ENABLED job queue over one compute environment; returns its name."""
    kwargs: Dict[str, Any] = {
        "jobQueueName": name,
        "state": "ENABLED",
        "priority": 1,
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": ce}],
    }
    if tags:
        kwargs["tags"] = tags
    batch.create_job_queue(**kwargs)
    return name


def _create_bucket(s3: Any, region: str) -> str:
    """The demo bucket; returns its name."""
    bucket = "miniwdl-demo"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    return bucket
