"""Job execution: statuses, exit codes, env, EFS identity mounts, terminate, cancel, timeout."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3

from tests.support.logs import stream_messages

from .helpers import (
    batch,
    describe,
    job_definition,
    process_gone,
    submit,
    wait_status,
    watch_statuses,
)


def test_success_runs_command_and_writes_to_efs(aws: Any, emulator: Any) -> None:
    out = os.path.join(aws.efs_dir, "hello.txt")
    jd = job_definition(aws, ["sh", "-c", f"echo hello from $AWS_BATCH_JOB_ID > {out}; echo done"])
    emulator.configure(dwell=0.05)
    job_id = submit(aws, jd, name="hello")
    seen = watch_statuses(job_id)
    history = emulator.job_history(job_id)
    assert history == ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
    # what a poller sees is that sequence, possibly with states skipped between two polls
    assert seen == [s for s in history if s in seen]
    desc = describe(job_id)
    assert desc["container"]["exitCode"] == 0
    assert desc["startedAt"] <= desc["stoppedAt"]
    assert len(desc["attempts"]) == 1 and desc["attempts"][0]["container"]["exitCode"] == 0
    with open(out) as f:
        assert f.read() == f"hello from {job_id}\n"
    assert stream_messages(desc["container"]["logStreamName"]) == ["done"]
    assert desc["container"]["logStreamName"] == f"jd/default/{job_id}"


def test_failure_reports_exit_code(aws: Any) -> None:
    jd = job_definition(aws, ["sh", "-c", "echo oops >&2; exit 7"])
    desc = wait_status(submit(aws, jd, name="fails"))
    assert desc["status"] == "FAILED"
    assert desc["container"]["exitCode"] == 7
    assert desc["statusReason"] == "Essential container in task exited"
    assert stream_messages(desc["container"]["logStreamName"]) == ["oops"]


def test_timestamps_absent_before_they_happen(aws: Any, emulator: Any) -> None:
    emulator.configure(dwell=60)  # far longer than any test: the job stays SUBMITTED
    jd = job_definition(aws, ["true"])
    job_id = submit(aws, jd, name="early")
    desc = describe(job_id)
    assert desc["status"] == "SUBMITTED"
    assert "startedAt" not in desc and "stoppedAt" not in desc
    assert "exitCode" not in desc["container"] and desc["attempts"] == []
    batch().cancel_job(jobId=job_id, reason="cancelled while queued")
    desc = describe(job_id)
    assert desc["status"] == "FAILED" and "startedAt" not in desc and "stoppedAt" in desc


def test_environment_is_clean_merged_and_stable(aws: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("MINIWDL__SECRET", "leak")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "leak")
    script = "env | sort > $OUT"
    out = os.path.join(aws.efs_dir, "env.txt")
    jd = job_definition(
        aws,
        ["sh", "-c", script],
        container={"environment": [{"name": "A", "value": "jd"}, {"name": "B", "value": "jd"}]},
    )
    job_id = submit(
        aws,
        jd,
        name="env",
        containerOverrides={
            "environment": [{"name": "B", "value": "override"}, {"name": "OUT", "value": out}]
        },
    )
    desc = wait_status(job_id)
    assert desc["status"] == "SUCCEEDED"
    with open(out) as f:
        env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    assert env["A"] == "jd" and env["B"] == "override"
    assert env["AWS_BATCH_JOB_ID"] == job_id
    assert env["AWS_BATCH_JOB_ATTEMPT"] == "1"
    assert env["AWS_BATCH_JQ_NAME"] == aws.task_queue
    assert env["AWS_ENDPOINT_URL"] == os.environ["AWS_ENDPOINT_URL"]
    assert (
        "MINIWDL__SECRET" not in env and "AWS_SESSION_TOKEN" not in env and "AWS_PROFILE" not in env
    )
    first = describe(job_id)["container"]["environment"]
    for _ in range(3):
        assert describe(job_id)["container"]["environment"] == first
    assert {e["name"]: e["value"] for e in first} == {"A": "jd", "B": "override", "OUT": out}


def test_overrides_and_describe_fields(aws: Any) -> None:
    jd = job_definition(aws, ["false"], retryStrategy={"attempts": 1}, tags={"T": "1"})
    job_id = submit(
        aws,
        jd,
        name="ov",
        containerOverrides={
            "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "2"}],
        },
        tags={"MiniwdlRunId": "r1"},
        timeout={"attemptDurationSeconds": 120},
        retryStrategy={"attempts": 2},
    )
    desc = wait_status(job_id)
    assert desc["status"] == "SUCCEEDED"
    reqs = {r["type"]: r["value"] for r in desc["container"]["resourceRequirements"]}
    assert reqs == {"VCPU": "2", "MEMORY": "1024"}
    assert desc["container"]["command"] == ["true"]
    assert desc["tags"] == {"MiniwdlRunId": "r1"}
    assert desc["timeout"] == {"attemptDurationSeconds": 120}
    assert desc["retryStrategy"]["attempts"] == 2
    assert desc["platformCapabilities"] == ["EC2"]


def test_missing_mount_point_fails_like_aws(aws: Any, tmp_path: Any) -> None:
    missing = str(tmp_path / "not-there")
    jd = job_definition(
        aws,
        ["true"],
        container={"mountPoints": [{"sourceVolume": "efs", "containerPath": missing}]},
    )
    desc = wait_status(submit(aws, jd, name="nomount"))
    assert desc["status"] == "FAILED"
    assert "exitCode" not in desc["container"]
    assert missing in desc["statusReason"]
    assert desc["container"]["reason"] == desc["statusReason"]


def test_host_volume_source_must_exist(aws: Any, tmp_path: Any) -> None:
    jd = job_definition(
        aws,
        ["true"],
        efs=False,
        container={
            "volumes": [{"name": "h", "host": {"sourcePath": str(tmp_path / "nope")}}],
            "mountPoints": [{"sourceVolume": "h", "containerPath": str(tmp_path)}],
        },
    )
    desc = wait_status(submit(aws, jd, name="hostvol"))
    assert desc["status"] == "FAILED" and "bind source path does not exist" in desc["statusReason"]


def test_command_not_found(aws: Any) -> None:
    jd = job_definition(aws, ["no-such-binary-xyz"])
    desc = wait_status(submit(aws, jd, name="nocmd"))
    assert desc["status"] == "FAILED"
    assert desc["statusReason"].startswith("CannotStartContainerError")


def test_terminate_running_job(aws: Any, emulator: Any) -> None:
    pidfile = os.path.join(aws.efs_dir, "pid")
    jd = job_definition(aws, ["sh", "-c", f"echo $$ > {pidfile}; echo started; exec sleep 600"])
    job_id = submit(aws, jd, name="term")
    wait_status(job_id, ["RUNNING"])
    deadline = time.monotonic() + 10
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = int(open(pidfile).read())
    batch().terminate_job(jobId=job_id, reason="stop it")
    desc = wait_status(job_id)
    assert desc["status"] == "FAILED"
    assert desc["statusReason"] == "stop it"
    assert desc["container"]["exitCode"] == 128 + 15  # SIGTERM, as docker reports it
    assert process_gone(pid)


def test_terminate_escalates_to_sigkill(aws: Any, emulator: Any) -> None:
    emulator.configure(kill_grace=0.2)
    jd = job_definition(
        aws,
        [
            "python",
            "-c",
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('up', flush=True)\n"
            "time.sleep(600)",
        ],
    )
    job_id = submit(aws, jd, name="stubborn")
    stream = wait_status(job_id, ["RUNNING"])["container"]["logStreamName"]
    deadline = time.monotonic() + 30
    while stream_messages(stream) != ["up"] and time.monotonic() < deadline:
        time.sleep(0.02)  # "up" is printed once SIGTERM is ignored
    batch().terminate_job(jobId=job_id, reason="die")
    desc = wait_status(job_id)
    assert desc["container"]["exitCode"] == 128 + 9


def test_cancel_before_running_and_not_after(aws: Any, emulator: Any) -> None:
    emulator.configure(dwell=60)  # the first job cannot leave SUBMITTED during this test
    jd = job_definition(aws, ["sleep", "600"])
    queued = submit(aws, jd, name="queued")
    batch().cancel_job(jobId=queued, reason="never mind")
    desc = wait_status(queued)
    assert desc["status"] == "FAILED" and desc["statusReason"] == "never mind"
    assert desc["attempts"] == []
    emulator.configure(dwell=0.01)
    running = submit(aws, jd, name="running")
    wait_status(running, ["RUNNING"])
    batch().cancel_job(jobId=running, reason="too late")
    time.sleep(0.2)
    assert describe(running)["status"] == "RUNNING"
    batch().terminate_job(jobId=running, reason="cleanup")
    assert wait_status(running)["statusReason"] == "cleanup"


def test_timeout_kills_attempt(aws: Any) -> None:
    jd = job_definition(
        aws, ["sleep", "600"], timeout={"attemptDurationSeconds": 1}, retryStrategy={"attempts": 2}
    )
    desc = wait_status(submit(aws, jd, name="slow"))
    assert desc["status"] == "FAILED"
    assert desc["statusReason"] == "Job attempt duration exceeded timeout"
    assert len(desc["attempts"]) == 1  # AWS does not retry an attempt that timed out


def test_leftover_background_processes_are_killed(aws: Any) -> None:
    pidfile = os.path.join(aws.efs_dir, "bgpid")
    jd = job_definition(
        aws, ["sh", "-c", f"sleep 600 > /dev/null 2>&1 & echo $! > {pidfile}; echo bye"]
    )
    desc = wait_status(submit(aws, jd, name="bg"))
    assert desc["status"] == "SUCCEEDED"
    pid = int(open(pidfile).read())
    assert process_gone(pid), "background process of a finished job survived"


def test_job_can_call_the_emulator(aws: Any) -> None:
    """A job (like a workflow job) can submit another job through the injected endpoint."""
    inner = job_definition(aws, ["true"], name="inner")
    code = (
        "import boto3\n"
        f"b = boto3.client('batch')\n"
        f"r = b.submit_job(jobName='child', jobQueue='{aws.task_queue}', jobDefinition='{inner}')\n"
        "print(r['jobId'])\n"
    )
    outer = job_definition(aws, ["python", "-c", code], name="outer")
    desc = wait_status(submit(aws, outer, name="parent"))
    assert desc["status"] == "SUCCEEDED", desc
    (child_id,) = stream_messages(desc["container"]["logStreamName"])
    assert wait_status(child_id)["status"] == "SUCCEEDED"


def test_one_character_job_name_is_accepted(aws: Any) -> None:
    jd = job_definition(aws, ["true"])
    assert wait_status(submit(aws, jd, name="x"))["status"] == "SUCCEEDED"


def test_list_jobs_by_name_prefix(aws: Any) -> None:
    jd = job_definition(aws, ["true"])
    ids = {submit(aws, jd, name=f"run1-{i}") for i in range(3)}
    submit(aws, jd, name="other")
    listed = batch().list_jobs(
        jobQueue=aws.task_queue, filters=[{"name": "JOB_NAME", "values": ["run1-*"]}]
    )
    assert {j["jobId"] for j in listed["jobSummaryList"]} == ids
    for job_id in ids:
        wait_status(job_id)
    assert boto3.client("batch").describe_jobs(jobs=list(ids))["jobs"]
