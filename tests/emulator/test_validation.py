"""Strict validation: requests AWS rejects and stock moto accepts are rejected."""

from __future__ import annotations

from typing import Any, Dict

import boto3
import pytest
from botocore.exceptions import ClientError

from .helpers import batch, job_definition, submit, wait_status


def _rejected(call: Any, match: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Error"]["Code"] == "ClientException"
    assert match in err.value.response["Error"]["Message"]


def _efs_volume(fs_id: str, ap: str = "", encrypted: bool = True) -> Dict[str, Any]:
    cfg: Dict[str, Any] = {"fileSystemId": fs_id}
    if encrypted:
        cfg["transitEncryption"] = "ENABLED"
    if ap:
        cfg["authorizationConfig"] = {"accessPointId": ap}
    return {"name": "efs", "efsVolumeConfiguration": cfg}


def _register(aws: Any, **props: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {
        "image": "x",
        "command": ["true"],
        "resourceRequirements": [
            {"type": "VCPU", "value": "1"},
            {"type": "MEMORY", "value": "2048"},
        ],
    }
    base.update(props)
    return {"jobDefinitionName": "v", "type": "container", "containerProperties": base}


def test_describe_jobs_limit(aws: Any, emulator: Any) -> None:
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(101)]
    _rejected(batch().describe_jobs, "100", jobs=ids)
    assert batch().describe_jobs(jobs=ids[:100])["jobs"] == []
    emulator.configure(strict=False)
    assert batch().describe_jobs(jobs=ids)["jobs"] == []


@pytest.mark.parametrize("name", ["-leading-dash", "x" * 129, "has space", "dot.ted"])
def test_job_name_rules(aws: Any, name: Any) -> None:
    jd = job_definition(aws, ["true"])
    _rejected(
        batch().submit_job, "jobName", jobName=name, jobQueue=aws.task_queue, jobDefinition=jd
    )


def test_timeout_minimum(aws: Any, emulator: Any) -> None:
    emulator.configure(min_timeout=60)
    b = batch()
    _rejected(
        b.register_job_definition,
        "at least 60",
        timeout={"attemptDurationSeconds": 30},
        **_register(aws),
    )
    jd = job_definition(aws, ["true"])
    _rejected(
        b.submit_job,
        "at least 60",
        jobName="t",
        jobQueue=aws.task_queue,
        jobDefinition=jd,
        timeout={"attemptDurationSeconds": 59},
    )
    emulator.configure(strict=False)
    job = submit(aws, jd, name="lenient", timeout={"attemptDurationSeconds": 5})
    assert wait_status(job)["status"] == "SUCCEEDED"


def test_mount_point_without_volume(aws: Any) -> None:
    req = _register(aws, mountPoints=[{"sourceVolume": "nope", "containerPath": "/mnt/x"}])
    _rejected(batch().register_job_definition, "sourceVolume", **req)


def test_unknown_file_system_and_access_point(aws: Any) -> None:
    b = batch()
    mounts = [{"sourceVolume": "efs", "containerPath": aws.efs_dir}]
    _rejected(
        b.register_job_definition,
        "fs-00000000 does not exist",
        **_register(aws, volumes=[_efs_volume("fs-00000000")], mountPoints=mounts),
    )
    _rejected(
        b.register_job_definition,
        "fsap-00000000 does not exist",
        **_register(aws, volumes=[_efs_volume(aws.fs_id, "fsap-00000000")], mountPoints=mounts),
    )
    _rejected(
        b.register_job_definition,
        "transitEncryption",
        **_register(
            aws, volumes=[_efs_volume(aws.fs_id, aws.fsap, encrypted=False)], mountPoints=mounts
        ),
    )
    other_fs = boto3.client("efs").create_file_system(CreationToken="other")["FileSystemId"]
    _rejected(
        b.register_job_definition,
        "does not belong",
        **_register(aws, volumes=[_efs_volume(other_fs, aws.fsap)], mountPoints=mounts),
    )
    ok = _register(aws, volumes=[_efs_volume(aws.fs_id, aws.fsap)], mountPoints=mounts)
    assert b.register_job_definition(**ok)["revision"] >= 1


def _fargate(
    aws: Any, vcpu: str, memory: str, gpu: bool = False, role: bool = True
) -> Dict[str, Any]:
    reqs = [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]
    if gpu:
        reqs.append({"type": "GPU", "value": "1"})
    req = _register(aws, resourceRequirements=reqs)
    if role:
        req["containerProperties"]["executionRoleArn"] = aws.execution_role_arn
    req["platformCapabilities"] = ["FARGATE"]
    return req


def test_fargate_rules(aws: Any) -> None:
    b = batch()
    _rejected(b.register_job_definition, "GPU", **_fargate(aws, "1", "2048", gpu=True))
    _rejected(
        b.register_job_definition, "not a supported combination", **_fargate(aws, "1", "1024")
    )
    _rejected(
        b.register_job_definition, "not a supported combination", **_fargate(aws, "3", "8192")
    )
    _rejected(
        b.register_job_definition, "executionRoleArn", **_fargate(aws, "1", "2048", role=False)
    )
    jd = b.register_job_definition(**_fargate(aws, "0.25", "512"))["jobDefinitionArn"]
    _rejected(
        b.submit_job,
        "not a supported combination",
        jobName="big",
        jobQueue=aws.workflow_queue,
        jobDefinition=jd,
        containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "4"}]},
    )
    job = submit(aws, jd, name="fg", queue=aws.workflow_queue)
    desc = wait_status(job)
    assert desc["status"] == "SUCCEEDED" and desc["platformCapabilities"] == ["FARGATE"]


def test_submit_payload_size(aws: Any) -> None:
    jd = job_definition(aws, ["true"])
    params = {f"p{i}": "y" * 1000 for i in range(32)}
    _rejected(
        batch().submit_job,
        "30720",
        jobName="huge",
        jobQueue=aws.task_queue,
        jobDefinition=jd,
        parameters=params,
    )


def test_retry_strategy_range(aws: Any) -> None:
    _rejected(
        batch().register_job_definition,
        "between 1 and 10",
        retryStrategy={"attempts": 11},
        **_register(aws),
    )


def test_evaluate_on_exit_entries_limit(aws: Any) -> None:
    rules = [{"onExitCode": str(i), "action": "EXIT"} for i in range(6)]
    _rejected(
        batch().register_job_definition,
        "at most 5",
        retryStrategy={"attempts": 2, "evaluateOnExit": rules},
        **_register(aws),
    )


@pytest.mark.parametrize("name", ["", "x" * 129, "has space", "dot.ted", "colon:x"])
def test_job_definition_name_rules(aws: Any, name: str) -> None:
    req = _register(aws)
    req["jobDefinitionName"] = name
    _rejected(batch().register_job_definition, "jobDefinitionName", **req)
    ok = _register(aws)
    ok["jobDefinitionName"] = "_ok-" + "x" * 124  # 128, may start with an underscore
    assert batch().register_job_definition(**ok)["revision"] >= 1


def test_register_job_definition_size(aws: Any) -> None:
    """A job definition request over 24 KiB is refused, one under it accepted."""
    req = _register(aws, environment=[{"name": "BIG", "value": "x" * (24 * 1024)}])
    _rejected(batch().register_job_definition, "24576", **req)
    req = _register(aws, environment=[{"name": "BIG", "value": "x" * (23 * 1024)}])
    assert batch().register_job_definition(**req)["revision"] >= 1


@pytest.mark.parametrize(
    "tags,match",
    [
        ({f"k{i}": "v" for i in range(51)}, "at most 50"),
        ({"k" * 129: "v"}, "1-128"),
        ({"k": "v" * 257}, "at most 256"),
        ({"aws:owner": "me"}, "reserved"),
        ({"AWS:Owner": "me"}, "reserved"),
        ({"owner": "aws:me"}, "reserved"),
    ],
)
def test_tag_rules_on_job_definitions_and_jobs(aws: Any, tags: Dict[str, str], match: str) -> None:
    _rejected(batch().register_job_definition, match, tags=tags, **_register(aws))
    jd = job_definition(aws, ["true"])
    _rejected(
        batch().submit_job,
        match,
        jobName="tagged",
        jobQueue=aws.task_queue,
        jobDefinition=jd,
        tags=tags,
    )


def test_fifty_tags_and_aws_batch_tag_key_accepted(aws: Any) -> None:
    tags = {f"k{i}": "v" for i in range(49)}
    tags["AWS_BATCH_PARENT_JOB_ID"] = "x"  # not the reserved "aws:" prefix
    assert batch().register_job_definition(tags=tags, **_register(aws))["revision"] >= 1


def test_refused_submit_leaves_no_half_built_job(aws: Any, emulator: Any) -> None:
    """moto queues a job before it validates its tags: a refused SubmitJob (here with strict
    validation off, so moto itself refuses) must leave nothing behind, and ListJobs with a
    status or a name filter must go on answering."""
    emulator.configure(strict=False)
    jd = job_definition(aws, ["true"])
    with pytest.raises(ClientError):
        batch().submit_job(
            jobName="t",
            jobQueue=aws.task_queue,
            jobDefinition=jd,
            tags={f"k{i}": "v" for i in range(51)},
        )
    emulator.configure(strict=True)
    b = batch()
    assert b.list_jobs(jobQueue=aws.task_queue, jobStatus="SUCCEEDED")["jobSummaryList"] == []
    named = b.list_jobs(jobQueue=aws.task_queue, filters=[{"name": "JOB_NAME", "values": ["t*"]}])[
        "jobSummaryList"
    ]
    assert named == []
    ok = submit(aws, jd, name="t")
    assert wait_status(ok)["status"] == "SUCCEEDED"
    listed = b.list_jobs(jobQueue=aws.task_queue, filters=[{"name": "JOB_NAME", "values": ["t"]}])
    assert [j["jobId"] for j in listed["jobSummaryList"]] == [ok]


def test_environment_names_starting_with_aws_batch(aws: Any) -> None:
    env = [{"name": "AWS_BATCH_JOB_ID", "value": "mine"}]
    _rejected(batch().register_job_definition, "AWS_BATCH", **_register(aws, environment=env))
    jd = job_definition(aws, ["true"])
    _rejected(
        batch().submit_job,
        "AWS_BATCH",
        jobName="env",
        jobQueue=aws.task_queue,
        jobDefinition=jd,
        containerOverrides={"environment": env},
    )


def test_efs_root_directory_with_an_access_point(aws: Any) -> None:
    mounts = [{"sourceVolume": "efs", "containerPath": aws.efs_dir}]
    vol = _efs_volume(aws.fs_id, aws.fsap)
    vol["efsVolumeConfiguration"]["rootDirectory"] = "/data"
    _rejected(
        batch().register_job_definition,
        "rootDirectory",
        **_register(aws, volumes=[vol], mountPoints=mounts),
    )
    vol["efsVolumeConfiguration"]["rootDirectory"] = "/"
    ok = _register(aws, volumes=[vol], mountPoints=mounts)
    assert batch().register_job_definition(**ok)["revision"] >= 1


def test_fargate_refuses_privileged_devices_host_volumes_and_old_platform_for_efs(
    aws: Any,
) -> None:
    b = batch()
    req = _fargate(aws, "1", "2048")
    req["containerProperties"]["privileged"] = True
    _rejected(b.register_job_definition, "privileged", **req)
    req = _fargate(aws, "1", "2048")
    req["containerProperties"]["linuxParameters"] = {"devices": [{"hostPath": "/dev/fuse"}]}
    _rejected(b.register_job_definition, "devices", **req)
    req = _fargate(aws, "1", "2048")
    req["containerProperties"]["volumes"] = [{"name": "h", "host": {"sourcePath": "/tmp"}}]
    _rejected(b.register_job_definition, "host volumes", **req)
    req = _fargate(aws, "1", "2048")
    req["containerProperties"]["volumes"] = [_efs_volume(aws.fs_id, aws.fsap)]
    req["containerProperties"]["fargatePlatformConfiguration"] = {"platformVersion": "1.3.0"}
    _rejected(b.register_job_definition, "1.4.0", **req)
    req["containerProperties"]["fargatePlatformConfiguration"] = {"platformVersion": "1.4.0"}
    req["containerProperties"]["privileged"] = False
    assert b.register_job_definition(**req)["revision"] >= 1


def test_platform_of_job_definition_and_queue_must_match(aws: Any) -> None:
    """An EC2 job definition on a Fargate-only queue, and the reverse, are refused."""
    b = batch()
    ec2 = job_definition(aws, ["true"])
    _rejected(
        b.submit_job,
        "FARGATE compute environments only",
        jobName="ec2-on-fargate",
        jobQueue=aws.workflow_queue,
        jobDefinition=ec2,
    )
    fargate = b.register_job_definition(**_fargate(aws, "0.25", "512"))["jobDefinitionArn"]
    _rejected(
        b.submit_job,
        "EC2 compute environments only",
        jobName="fargate-on-ec2",
        jobQueue=aws.task_queue,
        jobDefinition=fargate,
    )


@pytest.mark.parametrize(
    "service,call,code,status",
    [
        ("batch", "describe_job_queues", "InvalidSignatureException", 403),
        ("logs", "describe_log_groups", "InvalidSignatureException", 403),
        ("efs", "describe_file_systems", "InvalidSignatureException", 403),
        ("ec2", "describe_vpcs", "SignatureDoesNotMatch", 403),
        ("s3", "list_buckets", "AuthorizationHeaderMalformed", 400),
    ],
)
def test_unknown_region_answered_as_aws(
    aws: Any, service: str, call: str, code: str, status: int
) -> None:
    """A request signed for a region that does not exist gets AWS's error, not an HTML 500."""
    client = boto3.client(service, region_name="xx-nowhere-9")
    with pytest.raises(ClientError) as err:
        getattr(client, call)()
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "valid region" in err.value.response["Error"]["Message"]


def test_efs_refuses_elastic_throughput_with_max_io_and_max_io_on_one_zone(aws: Any) -> None:
    efs = boto3.client("efs")
    with pytest.raises(ClientError) as err:
        efs.create_file_system(
            CreationToken="mio", PerformanceMode="maxIO", ThroughputMode="elastic"
        )
    assert err.value.response["Error"]["Code"] == "BadRequest"
    with pytest.raises(ClientError) as err:
        efs.create_file_system(
            CreationToken="oz", PerformanceMode="maxIO", AvailabilityZoneName="us-east-1a"
        )
    assert err.value.response["Error"]["Code"] == "BadRequest"
    fs = efs.create_file_system(
        CreationToken="gp", PerformanceMode="generalPurpose", ThroughputMode="elastic"
    )
    assert fs["ThroughputMode"] == "elastic"


def test_one_zone_mount_target_only_in_the_file_systems_zone(aws: Any) -> None:
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")
    subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZone="us-east-1b")
    efs = boto3.client("efs")
    fs = efs.create_file_system(CreationToken="onezone", AvailabilityZoneName="us-east-1a")
    with pytest.raises(ClientError) as err:
        efs.create_mount_target(
            FileSystemId=fs["FileSystemId"], SubnetId=subnet_b["Subnet"]["SubnetId"]
        )
    assert err.value.response["Error"]["Code"] == "AvailabilityZonesMismatch"
    mt = efs.create_mount_target(
        FileSystemId=fs["FileSystemId"], SubnetId=subnet_a["Subnet"]["SubnetId"]
    )
    assert mt["AvailabilityZoneName"] == "us-east-1a"
