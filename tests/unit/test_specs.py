"""Pure request builders: resources, GPU, memory_delta, timeouts, definition hashing, script."""

from __future__ import annotations

import os
import subprocess

import pytest

from miniwdl_aws.aws.batch import requested_resources
from miniwdl_aws.batch import specs
from miniwdl_aws.errors import ConfigError

VOL = [specs.efs_volume("fs-0123456789abcdef0", "fsap-0123456789abcdef0")]
MP = [{"containerPath": "/mnt/efs", "sourceVolume": specs.VOLUME_NAME}]


def _content(**kw: object) -> specs.DefinitionContent:
    args: dict = {"image": "ubuntu:22.04", "volumes": VOL, "mount_points": MP}
    args.update(kw)
    return specs.DefinitionContent(**args)


def test_efs_volume_uses_access_point_with_transit_encryption() -> None:
    efs = VOL[0]["efsVolumeConfiguration"]
    assert efs["fileSystemId"] == "fs-0123456789abcdef0"
    assert efs["transitEncryption"] == "ENABLED"
    assert efs["authorizationConfig"]["accessPointId"] == "fsap-0123456789abcdef0"
    assert "authorizationConfig" not in specs.efs_volume("fs-1", None)["efsVolumeConfiguration"]
    assert specs.host_volume("/fsx")["host"] == {"sourcePath": "/fsx"}


@pytest.mark.parametrize(
    "mem_bytes,delta,expected",
    [
        (4 * 2**30, -33, 4096 - 33),
        (4 * 2**30, 0, 4096),
        (0, -33, 991),
        (2**20 + 1, 0, 991),
        (10**9, 0, 991),
        (16 * 10**9, -33, 15259 - 33),
    ],
)
def test_memory_mib(mem_bytes: int, delta: int, expected: int) -> None:
    assert specs.memory_mib(mem_bytes, delta) == expected


def test_resources_shape_gpu_only_when_requested() -> None:
    assert specs.Resources(4, 8000).requirements() == [
        {"type": "VCPU", "value": "4"},
        {"type": "MEMORY", "value": "8000"},
    ]
    assert specs.Resources(2, 4000, gpu=2).requirements()[-1] == {"type": "GPU", "value": "2"}


def test_definition_holds_no_per_task_resources_but_gpu() -> None:
    plain = _content().container_properties()
    gpu = _content(gpu=1).container_properties()
    kinds = {r["type"] for r in plain["resourceRequirements"]}
    assert kinds == {"VCPU", "MEMORY"}
    assert {"type": "GPU", "value": "1"} in gpu["resourceRequirements"]
    assert plain["volumes"] == VOL and plain["mountPoints"] == MP
    assert "command" not in plain and "environment" not in plain


def test_definition_hash_is_content_keyed() -> None:
    a = specs.register_request("p", _content().container_properties())
    b = specs.register_request("p", _content().container_properties())
    c = specs.register_request("p", _content(image="debian:12").container_properties())
    d = specs.register_request("p", _content(user="1000:1000").container_properties())
    assert a["jobDefinitionName"] == b["jobDefinitionName"]
    assert len({a["jobDefinitionName"], c["jobDefinitionName"], d["jobDefinitionName"]}) == 3
    assert a["jobDefinitionName"].startswith("p-")
    assert a["tags"][specs.TAG_DEFINITION_HASH].startswith(a["jobDefinitionName"][2:])
    assert a["propagateTags"] is True and a["platformCapabilities"] == ["EC2"]


def test_extra_properties_merge_but_cannot_override() -> None:
    props = _content(extra_properties={"linuxParameters": {"sharedMemorySize": 64}})
    assert props.container_properties()["linuxParameters"] == {"sharedMemorySize": 64}
    with pytest.raises(ConfigError, match="image"):
        _content(extra_properties={"image": "x"}).container_properties()


def test_submit_request_shape() -> None:
    req = specs.submit_request(
        job_name="mw1-hello",
        job_queue="q",
        job_definition="arn:def",
        command=["/bin/bash", "-c", "true"],
        resources=specs.Resources(2, 3000, 1),
        timeout_seconds=120,
        environment={"A": "1", "EMPTY": ""},
        tags={"k": "v"},
    )
    assert req["containerOverrides"]["environment"] == [{"name": "A", "value": "1"}]
    assert req["containerOverrides"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"},
        {"type": "MEMORY", "value": "3000"},
        {"type": "GPU", "value": "1"},
    ]
    assert req["timeout"] == {"attemptDurationSeconds": 120}
    assert req["propagateTags"] is True and req["tags"] == {"k": "v"}


@pytest.mark.parametrize(
    "task,default,expected",
    [(None, 86400, 86400), (5, 86400, 60), (3600.5, 60, 3601), (None, 10, 60)],
)
def test_effective_timeout(task: float | None, default: int, expected: int) -> None:
    assert specs.effective_timeout(task, default) == expected


def test_task_script_tees_both_streams_and_keeps_exit_code(tmp_path: str) -> None:
    d = str(tmp_path)
    os.mkdir(os.path.join(d, "work2"))
    with open(os.path.join(d, "command"), "w") as f:
        f.write('echo "out $(basename $PWD)"\necho err >&2\nexit 7\n')
    cmd = specs.task_script(
        f"{d}/work2", f"{d}/command", f"{d}/stdout2.txt", f"{d}/stderr2.txt", container_sync=True
    )
    assert cmd[:2] == ["/bin/bash", "-c"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 7
    assert p.stdout == "out work2\n" and p.stderr == "err\n"
    assert open(f"{d}/stdout2.txt").read() == "out work2\n"
    assert open(f"{d}/stderr2.txt").read() == "err\n"


def test_requested_resources_reads_what_requirements_writes_else_the_legacy_fields() -> None:
    """One reader of a job's vCPU/memory request, for outcomes, the summary and the attempt
    records: the inverse of Resources.requirements, with the legacy fields as fallback."""
    res = specs.Resources(vcpu=4, memory_mib=7000, gpu=1)
    assert requested_resources({"resourceRequirements": res.requirements()}) == (4.0, 7000.0)
    assert requested_resources({"vcpus": 2, "memory": 1024}) == (2.0, 1024.0)
    mixed = {
        "vcpus": 2,
        "memory": 1024,
        "resourceRequirements": [{"type": "MEMORY", "value": "3000"}],
    }
    assert requested_resources(mixed) == (2.0, 3000.0)
    assert requested_resources({}) == (None, None)
    junk = {"resourceRequirements": [{"type": "MEMORY", "value": "lots"}, {"type": "VCPU"}]}
    assert requested_resources(junk) == (None, None)
