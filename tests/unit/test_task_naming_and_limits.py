"""Job names, workflow names, durations and tag values for task jobs; per-job resource limits
from compute environments."""

from __future__ import annotations

import pytest

from miniwdl_aws import naming
from miniwdl_aws.batch import infrastructure, specs


def test_task_job_names() -> None:
    assert naming.task_job_name("mw1-abc", "call-hello", 1) == "mw1-abc-hello"
    assert naming.task_job_name("mw1-abc", "call-hello-2", 3) == "mw1-abc-hello-2-try3"
    long = naming.task_job_name("mw1-abc", "call-" + "x" * 200 + "-17-sample", 2)
    assert len(long) == 128 and long.endswith("-17-sample-try2")


def test_shorten_keeps_head_and_tail() -> None:
    assert naming._shorten("short", 10) == "short"
    name = "t" * 150 + "-17-sample_x"
    out = naming._shorten(name, 100)
    assert len(out) == 100 and out.endswith("-17-sample_x") and out.startswith("ttt")


@pytest.mark.parametrize(
    "host_dir,expected",
    [
        ("/efs/20261125_153000_my_wf/call-a", "my_wf"),
        ("/efs/20261125_153000_my_wf/call-s/call-b-2", "my_wf"),
        ("/efs/runs/call-x", "runs"),
        ("/efs/20261125_153000_taskonly", "taskonly"),
    ],
)
def test_workflow_name_from_run_dir(host_dir: str, expected: str) -> None:
    assert specs.workflow_name(host_dir) == expected


@pytest.mark.parametrize(
    "value,seconds",
    [
        (90, 90.0),
        (1.5, 1.5),
        ("120", 120.0),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        (" 2 H ", 7200.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert specs.parse_duration(value) == seconds


@pytest.mark.parametrize("bad", ["soon", "1w", "", "-5m", True])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        specs.parse_duration(bad)


def test_tag_values_are_sanitised_and_bounded() -> None:
    assert specs.tag_value("call-a b:c/d=e+f@g.h") == "call-a b:c/d=e+f@g.h"
    assert specs.tag_value("x{y}[z]") == "x_y__z_"
    assert len(specs.tag_value("v" * 400)) == 256


class _FakeApi:
    def __init__(self, envs: list, types: dict) -> None:
        self.envs, self.types = envs, types

    def describe_compute_environments(self, names: list) -> list:
        return [e for e in self.envs if e["computeEnvironmentName"] in names]

    def instance_type_limits(self, types: list) -> dict:
        return {t: self.types[t] for t in types if t in self.types}

    def family_limits(self, families: list) -> dict:
        from miniwdl_aws.errors import AwsCallError

        raise AwsCallError("DescribeInstanceTypes", "UnauthorizedOperation", "denied")


def _ce(name: str, kind: str, max_vcpus: int = 256, types: list | None = None) -> dict:
    res: dict = {"type": kind, "maxvCpus": max_vcpus}
    if types is not None:
        res["instanceTypes"] = types
    return {"computeEnvironmentName": name, "type": "MANAGED", "computeResources": res}


def _limits(envs: list, names: list, types: dict | None = None) -> dict:

    api = _FakeApi(envs, types or {})
    return _limits_of(api, names)


def _limits_of(api: _FakeApi, names: list) -> dict:
    import logging

    envs = api.describe_compute_environments(names)
    return infrastructure.limits_of(api, envs, logging.getLogger("t"))  # type: ignore[arg-type]


GIB = 1 << 30


def test_limits_from_concrete_instance_types() -> None:
    types = {
        "m5.2xlarge": {"cpu": 8, "mem_bytes": 32 * GIB},
        "r5.4xlarge": {"cpu": 16, "mem_bytes": 128 * GIB},
    }
    got = _limits([_ce("a", "SPOT", 256, ["m5.2xlarge", "r5.4xlarge"])], ["a"], types)
    assert got == {"cpu": 16, "mem_bytes": 128 * GIB}


def test_limits_capped_by_max_vcpus_and_best_environment_wins() -> None:
    envs = [_ce("small", "EC2", 4, ["optimal"]), _ce("fargate", "FARGATE")]
    got = _limits(envs, ["small", "fargate"])
    # per dimension, the most any environment offers ("optimal" from the documented table
    # when DescribeInstanceTypes is denied: r6i.32xlarge, 1024 GiB)
    assert got == {"cpu": 16, "mem_bytes": 1024 * GIB}
    assert _limits([_ce("fargate", "FARGATE")], ["fargate"]) == {"cpu": 16, "mem_bytes": 120 * GIB}
    got = _limits([_ce("small", "EC2", 4, ["optimal"])], ["small"])
    assert got == {"cpu": 4, "mem_bytes": 1024 * GIB}
    got = _limits([_ce("arm", "EC2", 256, ["default_arm64"])], ["arm"])
    assert got == {"cpu": 64, "mem_bytes": 512 * GIB}


def test_limits_of_families_from_ec2_else_unknown() -> None:
    class Ec2Api(_FakeApi):
        def family_limits(self, families: list) -> dict:
            known = {"x9": {"cpu": 8, "mem_bytes": 64 * GIB}}
            return {f: known[f] for f in families if f in known}

    api = Ec2Api([_ce("a", "EC2", 256, ["x9"]), _ce("b", "EC2", 256, ["zz1"])], {})
    got = _limits_of(api, ["a"])
    assert got == {"cpu": 8, "mem_bytes": 64 * GIB}
    got = _limits_of(api, ["b"])
    assert got["mem_bytes"] > 1 << 40  # a family neither EC2 nor the table knows


def test_task_queue_needs_an_enabled_valid_ec2_environment() -> None:
    import pytest

    from miniwdl_aws.errors import InfrastructureError

    def ce(name: str, kind: str, state: str = "ENABLED", status: str = "VALID") -> dict:
        return dict(_ce(name, kind), state=state, status=status)

    infrastructure.check_task_environments([ce("a", "SPOT")], "task_queue", "q")
    infrastructure.check_task_environments(
        [ce("a", "SPOT", "DISABLED"), ce("b", "EC2")], "task_queue", "q"
    )
    fargate = r"^\[aws\] task_queue: .*'q' can never run a task job: runs on Fargate"
    with pytest.raises(InfrastructureError, match=fargate):
        infrastructure.check_task_environments([ce("f", "FARGATE_SPOT")], "task_queue", "q")
    for envs in (
        [ce("a", "SPOT", "DISABLED")],
        [ce("a", "EC2", status="INVALID"), ce("b", "SPOT", "DISABLED")],
        [],
    ):
        with pytest.raises(InfrastructureError, match="no ENABLED and VALID compute environment"):
            infrastructure.check_task_environments(envs, "runtime.aws.queue", "q")


def test_optimal_limits_are_its_largest_instances_not_max_vcpus() -> None:
    # no instance Batch launches for "optimal" has more than 192 vCPUs (c7i.48xlarge)
    assert _limits([_ce("big", "EC2", 1024, ["optimal"])], ["big"])["cpu"] == 192
    assert _limits([_ce("arm", "SPOT", 256, ["default_arm64"])], ["arm"]) == {
        "cpu": 64,
        "mem_bytes": 512 * GIB,
    }


def test_unmanaged_environment_means_unknown_limits() -> None:
    envs = [{"computeEnvironmentName": "u", "type": "UNMANAGED"}]
    got = _limits(envs, ["u"])
    assert got["cpu"] > 1 << 40 and got["mem_bytes"] > 1 << 40


def test_limits_unknown_when_not_permitted() -> None:
    from miniwdl_aws.errors import AwsCallError

    class DeniedApi(_FakeApi):
        def instance_type_limits(self, types: list) -> dict:
            raise AwsCallError("DescribeInstanceTypes", "UnauthorizedOperation", "denied")

    api = DeniedApi([_ce("a", "EC2", 64, ["m5.large"])], {})
    got = _limits_of(api, ["a"])
    assert got["cpu"] > 1 << 40
