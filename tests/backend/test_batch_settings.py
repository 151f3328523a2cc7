"""Per-task AWS Batch settings (the runtime ``aws`` object) reaching the SubmitJob request and
the job definition, fair-share queues, and task queues that can never run a job failing before
any job is submitted."""

from __future__ import annotations

import json
from typing import Any, List

from conftest import batch_client, jobs_of_run, run_miniwdl


def _submit_lines(stderr: str) -> List[str]:
    return [ln for ln in stderr.splitlines() if " SubmitJob :: " in ln]


def _fair_share_queue(aws: Any, name: str) -> str:
    client = batch_client()
    policy = client.create_scheduling_policy(
        name=name + "-policy",
        fairsharePolicy={"shareDecaySeconds": 0, "shareDistribution": []},
    )["arn"]
    client.create_job_queue(
        jobQueueName=name,
        state="ENABLED",
        priority=1,
        schedulingPolicyArn=policy,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": aws.task_compute_environment}],
    )
    return name


def test_aws_object_reaches_the_request_and_the_definition(emulator: Any, aws: Any) -> None:
    role = aws.task_role_arn
    res = run_miniwdl(
        emulator,
        aws,
        "settings.wdl",
        [
            f"queue={aws.task_queue_fallback}",
            f"job_role={role}",
            "priority=5",
            "share=ignored",
            'consumables={"lic": 2}',
        ],
        args=["--debug"],
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (job,) = jobs_of_run(aws.task_queue_fallback, "mw")
    assert job["timeout"] == {"attemptDurationSeconds": 7200}
    (jobdef,) = batch_client().describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ]
    assert jobdef["containerProperties"]["jobRoleArn"] == role
    # a plain queue never gets the fair-share fields (AWS refuses them there)
    (line,) = _submit_lines(res.stderr)
    assert "shareIdentifier" not in line and "schedulingPriorityOverride" not in line
    lic = '{"consumableResourceList": [{"consumableResource": "lic", "quantity": 2}]}'
    assert f"consumableResourcePropertiesOverride: {lic}" in line


def test_fair_share_queue_gets_a_share_identifier(emulator: Any, aws: Any) -> None:
    queue = _fair_share_queue(aws, "fair")
    env = {"MINIWDL__AWS__TASK_QUEUE": queue}
    # default: the workflow's name as in the MiniwdlWorkflow tag, from the run directory (the
    # test's --dir; miniwdl's default directory would give "settings")
    res = run_miniwdl(emulator, aws, "settings.wdl", [], "fs1", extra_env=env, args=["--debug"])
    assert res.returncode == 0, res.stderr[-3000:]
    (line,) = _submit_lines(res.stderr)
    assert 'shareIdentifier: "fs1"' in line
    assert "schedulingPriorityOverride" not in line
    # [aws] share_identifier, then the task's own share and priority
    env["MINIWDL__AWS__SHARE_IDENTIFIER"] = "teamA"
    res = run_miniwdl(emulator, aws, "settings.wdl", [], "fs2", extra_env=env, args=["--debug"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'shareIdentifier: "teamA"' in _submit_lines(res.stderr)[0]
    res = run_miniwdl(
        emulator,
        aws,
        "settings.wdl",
        ["share=teamB", "priority=7"],
        "fs3",
        extra_env=env,
        args=["--debug"],
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (line,) = _submit_lines(res.stderr)
    assert 'shareIdentifier: "teamB"' in line and "schedulingPriorityOverride: 7" in line


def test_local_aws_refuses_a_fair_share_submit_without_share_identifier(
    emulator: Any, aws: Any
) -> None:
    import botocore.exceptions
    import pytest

    queue = _fair_share_queue(aws, "fair2")
    client = batch_client()
    jd = client.register_job_definition(
        jobDefinitionName="plain",
        type="container",
        containerProperties={
            "image": "ubuntu",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "1024"},
            ],
        },
    )["jobDefinitionArn"]
    with pytest.raises(botocore.exceptions.ClientError, match="shareIdentifier"):
        client.submit_job(jobName="x", jobQueue=queue, jobDefinition=jd)
    with pytest.raises(botocore.exceptions.ClientError, match="shareIdentifier"):
        client.submit_job(
            jobName="x", jobQueue=aws.task_queue, jobDefinition=jd, shareIdentifier="a"
        )


def _no_job_submitted(emulator: Any) -> bool:
    return emulator.stats()["calls"].get("batch.SubmitJob", 0) == 0


def _one_error_line(res: Any, *words: str) -> str:
    (line,) = [ln for ln in res.stderr.splitlines() if "miniwdl-run ERROR" in ln]
    for word in words:
        assert word in line, line
    assert "Traceback" not in res.stderr
    return line


def test_task_queue_with_only_a_disabled_environment_fails_at_start(
    emulator: Any, aws: Any
) -> None:
    client = batch_client()
    client.update_compute_environment(
        computeEnvironment=aws.task_compute_environment, state="DISABLED"
    )
    res = run_miniwdl(emulator, aws, "settings.wdl", [])
    assert res.returncode != 0
    _one_error_line(res, "[aws] task_queue", "no ENABLED and VALID compute environment")
    assert _no_job_submitted(emulator)
    assert res.error  # error.json written


def test_fargate_queue_as_task_queue_fails_before_submitting(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(emulator, aws, "settings.wdl", [f"queue={aws.workflow_queue}"])
    assert res.returncode != 0
    _one_error_line(res, "runtime.aws.queue", "runs on Fargate", "call-one")
    assert _no_job_submitted(emulator)
    assert "runs on Fargate" in json.dumps(res.error)


def test_task_that_can_never_fit_optimal_fails_before_submitting(emulator: Any, aws: Any) -> None:
    # the emulator's task queue has instanceTypes ["optimal"], whose largest type has 1 TiB
    res = run_miniwdl(
        emulator,
        aws,
        "settings.wdl",
        ["memory=2 TB"],
        extra_env={"MINIWDL__TASK_RUNTIME__MEMORY_MAX": "-1"},
    )
    assert res.returncode != 0
    _one_error_line(res, "2000000000000 bytes of memory", "at most")
    assert _no_job_submitted(emulator)


def test_aws_object_per_call_from_the_inputs_json(emulator: Any, aws: Any, tmp_path: Any) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text(
        json.dumps({"settings.one.runtime.aws": {"queue": aws.task_queue_fallback, "timeout": 600}})
    )
    res = run_miniwdl(emulator, aws, "settings.wdl", [], args=["-i", str(inputs)])
    assert res.returncode == 0, res.stderr[-3000:]
    assert jobs_of_run(aws.task_queue, "mw") == []
    (job,) = jobs_of_run(aws.task_queue_fallback, "mw")
    # the inputs' object replaces the task's own (its "2h" timeout is gone)
    assert job["timeout"] == {"attemptDurationSeconds": 600}
    inputs.write_text(json.dumps({"settings.one.runtime.aws": {"queue": "q", "colour": "red"}}))
    res = run_miniwdl(emulator, aws, "settings.wdl", [], "bad", args=["-i", str(inputs)])
    assert res.returncode != 0
    _one_error_line(res, "unknown key runtime.aws.colour", "call-one")


def test_wdl_1_2_requirements_and_disks(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(emulator, aws, "requirements12.wdl", [])
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["req12.attempts"] == [1, 0]  # max_retries retried the first call
    jobs = jobs_of_run(aws.task_queue, "mw")
    assert len(jobs) == 3
    for job in jobs:
        req = {r["type"]: r["value"] for r in job["container"]["resourceRequirements"]}
        assert req == {"VCPU": "2", "MEMORY": str(3 * 1024 - 33)}
    warned = [ln for ln in res.stderr.splitlines() if "runtime disks is not applied" in ln]
    assert len(warned) == 1 and " WARNING " in warned[0]  # once per run, not per task


def test_bad_container_properties_fail_with_one_line(emulator: Any, aws: Any) -> None:
    for props, words in (
        ('{"linuxParamters": {}}', ["'linuxParamters'", "known keys", "call-one"]),
        ("{not json", ["runtime.aws.container_properties", "call-one"]),
        ('{"image": "x"}', ["may not override 'image'", "call-one"]),
    ):
        res = run_miniwdl(emulator, aws, "settings.wdl", [f"props={props}"], f"p{len(props)}")
        assert res.returncode != 0
        _one_error_line(res, *words)
        assert "\\n" not in json.dumps(res.error["cause"]["message"])
        assert _no_job_submitted(emulator)
