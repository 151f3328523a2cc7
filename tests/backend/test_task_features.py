"""End-to-end task features: resource/GPU/timeout/queue shapes, resource limits from the compute
environments, RUNNABLE warning, --verbose stderr tailing, and the no-EFS backend."""

from __future__ import annotations

from typing import Any

from conftest import batch_client, jobs_of_run, run_miniwdl


def _gpu_queue(aws: Any) -> str:
    """A queue over GPU instances (g4dn), like the stack's optional GPU queue: "optimal" has no
    GPUs, so a GPU task sent elsewhere would stay RUNNABLE (MISCONFIGURATION) as on AWS."""
    b = batch_client()
    (ce,) = b.describe_compute_environments(
        computeEnvironments=[aws.task_fallback_compute_environment]
    )["computeEnvironments"]
    resources = dict(ce["computeResources"], instanceTypes=["g4dn"])
    arn = b.create_compute_environment(
        computeEnvironmentName="miniwdl-task-gpu",
        type="MANAGED",
        state="ENABLED",
        computeResources=resources,
        serviceRole=ce["serviceRole"],
    )["computeEnvironmentArn"]
    b.create_job_queue(
        jobQueueName="miniwdl-task-gpu",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": arn}],
    )
    return "miniwdl-task-gpu"


def test_resource_gpu_timeout_queue_and_properties_shapes(emulator: Any, aws: Any) -> None:
    gpu_queue = _gpu_queue(aws)
    res = run_miniwdl(emulator, aws, "resources.wdl", [f"queue={gpu_queue}"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert jobs_of_run(aws.task_queue, "mw") == []
    (job,) = jobs_of_run(gpu_queue, "mw")
    req = {r["type"]: r["value"] for r in job["container"]["resourceRequirements"]}
    assert req == {"VCPU": "3", "MEMORY": str(5 * 1024 - 33), "GPU": "2"}
    assert job["timeout"] == {"attemptDurationSeconds": 7200}
    assert job["container"]["linuxParameters"] == {"sharedMemorySize": 256}
    (jobdef,) = batch_client().describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ]
    props = jobdef["containerProperties"]
    assert props["image"] == "nvidia/cuda:12.2.0-base-ubuntu22.04"
    assert {"type": "GPU", "value": "2"} in props["resourceRequirements"]
    (volume,) = props["volumes"]
    assert volume["efsVolumeConfiguration"]["authorizationConfig"]["accessPointId"] == aws.fsap
    assert props["mountPoints"] == [{"containerPath": aws.efs_dir, "sourceVolume": volume["name"]}]


def test_task_that_cannot_fit_fails_fast(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(
        emulator,
        aws,
        "queueing.wdl",
        ["cpu=300"],
        extra_env={"MINIWDL__TASK_RUNTIME__CPU_MAX": "-1"},
    )
    assert res.returncode != 0
    assert "at most 192 vCPU" in res.stderr  # c7i.48xlarge, the largest "optimal" type
    assert emulator.stats()["calls"].get("batch.SubmitJob", 0) == 0


def test_cpu_clamped_to_queue_limit_by_default(emulator: Any, aws: Any) -> None:
    # miniwdl's clamping uses our detect_resource_limits: 192 vCPU on the emulator's "optimal"
    # queue (its largest instance type, below the queue's maxvCpus of 256)
    res = run_miniwdl(emulator, aws, "queueing.wdl", ["cpu=300"], "clamped")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "runtime.cpu adjusted to host limit" in res.stderr
    for job in jobs_of_run(aws.task_queue, "mw"):
        if "first" in job["jobName"] or "second" in job["jobName"]:
            req = {r["type"]: r["value"] for r in job["container"]["resourceRequirements"]}
            assert req["VCPU"] == "192"


def test_runnable_warning_and_verbose_stderr(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(
        emulator,
        aws,
        "queueing.wdl",
        [],
        extra_env={"MINIWDL__AWS__RUNNABLE_WARNING": "0.5"},
        args=["--verbose"],
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "has been RUNNABLE for long" in res.stderr
    warned = [ln for ln in res.stderr.splitlines() if "RUNNABLE for long" in ln]
    assert len(warned) == 1  # whichever job waited for the other's vCPUs, warned once
    # --verbose: the task's stderr lines appear in the log, both before and after the sleep
    assert "line one to stderr" in res.stderr and "line two to stderr" in res.stderr
    assert "stderr" in next(ln for ln in res.stderr.splitlines() if "line two to stderr" in ln)


def test_no_efs_backend_uses_host_volume(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(
        emulator,
        aws,
        "scatter.wdl",
        ["n=2"],
        extra_env={
            "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "aws_batch_job_no_efs",
            "MINIWDL__AWS__FSAP": "",
        },
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["scatter_n.squares"] == [0, 1]
    job = jobs_of_run(aws.task_queue, "mw")[0]
    (jobdef,) = batch_client().describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ]
    (volume,) = jobdef["containerProperties"]["volumes"]
    assert volume["host"] == {"sourcePath": aws.efs_dir}


def test_parent_job_tag_and_user_tags(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(
        emulator,
        aws,
        "scatter.wdl",
        ["n=1"],
        extra_env={
            "AWS_BATCH_JOB_ID": "parent-job-123",
            "MINIWDL__AWS__JOB_TAGS": '{"team": "genomics", "cost-center": 42}',
        },
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (job,) = jobs_of_run(aws.task_queue, "mw")
    assert job["tags"]["AWS_BATCH_PARENT_JOB_ID"] == "parent-job-123"
    assert job["tags"]["team"] == "genomics" and job["tags"]["cost-center"] == "42"
    assert job["propagateTags"] is True


def test_job_that_no_instance_can_place_fails_after_the_grace(emulator: Any, aws: Any) -> None:
    """A GPU task on a queue without GPU instances stays RUNNABLE with Batch's
    MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT reason (the local AWS does as AWS does); once
    that persists for [aws] unschedulable_grace, the job is terminated and the task fails with
    Batch's reason, leaving no job behind."""
    res = run_miniwdl(
        emulator,
        aws,
        "resources.wdl",
        [f"queue={aws.task_queue}"],
        extra_env={"MINIWDL__AWS__UNSCHEDULABLE_GRACE": "1"},
    )
    assert res.returncode != 0
    assert "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" in res.stderr, res.stderr[-3000:]
    assert "unschedulable_grace" in res.stderr
    (job,) = jobs_of_run(aws.task_queue, "mw")
    assert job["status"] == "FAILED"
    emulator.assert_no_active_jobs(timeout=10)
