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
