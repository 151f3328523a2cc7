"""The backend's pure request builder: which queue an attempt goes to."""

from __future__ import annotations

import dataclasses
import logging

from WDL.runtime.config import Loader

from miniwdl_aws import config
from miniwdl_aws.backend import request


def _settings() -> config.AwsSettings:
    s = config.load_settings(Loader(logging.getLogger("t"), []))
    return dataclasses.replace(s, task_queue="spot", task_queue_fallback="ondemand")


def test_fallback_after_the_preemptible_budget() -> None:
    s = _settings()
    rv = {"preemptible": 2}
    assert [request.queue_for_attempt(rv, s, n) for n in range(4)] == [
        "spot",
        "spot",
        "ondemand",
        "ondemand",
    ]
    assert request.queue_for_attempt({}, s, 1) == "ondemand"  # no budget: first interruption
    assert (
        request.queue_for_attempt({}, dataclasses.replace(s, task_queue_fallback=""), 5) == "spot"
    )


def test_a_task_with_its_own_queue_or_a_gpu_never_falls_back() -> None:
    s = _settings()
    assert request.queue_for_attempt({"aws_queue": "gpu-q", "preemptible": 1}, s, 3) == "gpu-q"
    assert request.queue_for_attempt({"gpu": True, "preemptible": 1}, s, 3) == "spot"


def test_overrides_stay_small_whatever_the_paths(tmp_path: object) -> None:
    """AWS fails a job whose overrides (with what Batch adds) pass 8,192 characters, after
    accepting it: the script runs from the shared filesystem, so only its path is in them."""
    import json

    deep = "/mnt/efs/" + "/".join(["call-a_very_long_scatter_call_name-123"] * 60)
    who = request.AttemptIdentity(
        run_id="mw261129T000000-abcdef",
        call_run_id="call-greet-0",
        try_counter=2,
        host_dir=deep,
        work_dir=deep + "/work2",
        stdout_file=deep + "/stdout.txt",
        stderr_file=deep + "/stderr.txt",
        command_shell="/bin/bash",
    )
    s = _settings()
    req = request.submit_request(who, {"cpu": 1}, s, "arn:def", "spot", None)
    overrides = json.dumps(req["containerOverrides"])
    script = request.task_script(who, s)
    assert req["containerOverrides"]["command"] == ["/bin/bash", deep + "/batch_task2.sh"]
    assert len(script) > 4 * len(deep)  # the paths are in the script, several times...
    assert len(overrides) < len(deep) + 1024  # ...and only once in the overrides


def test_memory_after_an_oom_kill_grows_up_to_the_cap() -> None:
    assert request.memory_after_oom(2015, 2.0, 0) == 4030
    assert request.memory_after_oom(2015, 1.5, 0) == 3023  # rounded up
    assert request.memory_after_oom(2015, 2.0, 3000) == 3000  # capped
    assert request.memory_after_oom(3000, 2.0, 3000) is None  # already at the cap
    assert request.memory_after_oom(2015, 1.0, 0) is None  # 1 turns it off


def test_memory_retry_cap_from_the_queue_and_the_option() -> None:
    from miniwdl_aws.batch.infrastructure import UNKNOWN_LIMIT

    s = _settings()
    assert request.memory_retry_cap(s, UNKNOWN_LIMIT) == 0  # nothing limits it
    assert request.memory_retry_cap(s, 16 << 30) == 16384 - 33  # less [aws] memory_delta
    capped = dataclasses.replace(s, memory_retry_max=8000)
    assert request.memory_retry_cap(capped, 16 << 30) == 8000
    assert request.memory_retry_cap(capped, UNKNOWN_LIMIT) == 8000


def test_retry_memory_replaces_the_requested_memory() -> None:
    s = _settings()
    rv = {"cpu": 2, "memory_reservation": 2 << 30}
    assert request.resources(rv, s).memory_mib == 2048 - 33
    assert request.resources(rv, s, 4030).memory_mib == 4030


def _who(host_dir: str = "/mnt/efs/runs/20261129_000000_wf/call-a") -> request.AttemptIdentity:
    return request.AttemptIdentity(
        run_id="mw261129T000000-abcdef",
        call_run_id="call-a",
        try_counter=1,
        host_dir=host_dir,
        work_dir=host_dir + "/work",
        stdout_file=host_dir + "/stdout.txt",
        stderr_file=host_dir + "/stderr.txt",
        command_shell="/bin/bash",
    )


def test_fair_share_fields_only_on_a_fair_share_queue() -> None:
    s = _settings()
    rv = {"aws_share": "teamA", "aws_priority": 9}
    plain = request.submit_request(_who(), rv, s, "arn:def", "spot", None)
    assert "shareIdentifier" not in plain and "schedulingPriorityOverride" not in plain
    fair = request.submit_request(_who(), rv, s, "arn:def", "fair", None, fair_share=True)
    assert (fair["shareIdentifier"], fair["schedulingPriorityOverride"]) == ("teamA", 9)
    # defaults: [aws] share_identifier, else the workflow's name (alphanumeric only)
    got = request.submit_request(_who(), {}, s, "arn:def", "fair", None, fair_share=True)
    assert got["shareIdentifier"] == "wf" and "schedulingPriorityOverride" not in got
    named = dataclasses.replace(s, share_identifier="lab1")
    got = request.submit_request(_who(), {}, named, "arn:def", "fair", None, fair_share=True)
    assert got["shareIdentifier"] == "lab1"
    odd = _who("/mnt/efs/runs/20261129_000000_my-wf_2/call-a")
    got = request.submit_request(odd, {}, s, "arn:def", "fair", None, fair_share=True)
    assert got["shareIdentifier"] == "mywf2"


def test_consumables_and_job_role_reach_the_request_and_definition() -> None:
    s = _settings()
    rv = {"aws_consumables": {"licence": 2, "arn:aws:batch:r:1:consumable-resource/db": 1}}
    got = request.submit_request(_who(), rv, s, "arn:def", "spot", None)
    assert got["consumableResourcePropertiesOverride"] == {
        "consumableResourceList": [
            {"consumableResource": "arn:aws:batch:r:1:consumable-resource/db", "quantity": 1},
            {"consumableResource": "licence", "quantity": 2},
        ]
    }
    assert "consumableResourcePropertiesOverride" not in request.submit_request(
        _who(), {}, s, "arn:def", "spot", None
    )
    role = "arn:aws:iam::123456789012:role/reader"
    props = request.container_properties({"aws_job_role": role}, s, [], "/mnt/efs", None)
    assert props["jobRoleArn"] == role
    assert "jobRoleArn" not in request.container_properties({}, s, [], "/mnt/efs", None)


def test_request_is_valid_for_botocore() -> None:
    """Every field we add is one SubmitJob's model knows, with the right shape."""
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    s = _settings()
    rv = {"aws_share": "a", "aws_priority": 1, "aws_consumables": {"x": 1}, "cpu": 2}
    req = request.submit_request(_who(), rv, s, "arn:def", "fair", None, 4096, fair_share=True)
    shape = get_session().get_service_model("batch").operation_model("SubmitJob").input_shape
    report = ParamValidator().validate(req, shape)
    assert not report.has_errors(), report.generate_report()


def test_consumables_also_declared_in_the_job_definition() -> None:
    """AWS lets SubmitJob override only the quantities of the definition's consumables, so the
    definition declares them (and its content hash covers them)."""
    from miniwdl_aws.batch import specs

    props = {"image": "ubuntu"}
    plain = specs.register_request("p", props)
    assert "consumableResourceProperties" not in plain
    assert plain["tags"][specs.TAG_DEFINITION_HASH] == specs.definition_hash(props)
    with_lic = specs.register_request("p", props, consumables={"lic": 2})
    assert with_lic["consumableResourceProperties"] == {
        "consumableResourceList": [{"consumableResource": "lic", "quantity": 2}]
    }
    assert with_lic["jobDefinitionName"] != plain["jobDefinitionName"]
