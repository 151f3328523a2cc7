"""Capacity queueing, retryStrategy/evaluateOnExit, dependencies, many jobs."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.logs import stream_messages

from .helpers import batch, describe, job_definition, submit, wait_status


def _wait_for_flag(flag: str) -> list:
    return ["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.02; done; echo released"]


def test_jobs_wait_in_runnable_while_capacity_is_used(aws: Any) -> None:
    flag = os.path.join(aws.efs_dir, "go")
    # bootstrap: 256 vCPUs on the task queue's compute environment -> two 100-vCPU jobs fit
    jd = job_definition(aws, _wait_for_flag(flag), vcpus="100")
    ids = [submit(aws, jd, name=f"big{i}") for i in range(3)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statuses = sorted(describe(j)["status"] for j in ids)
        if statuses == ["RUNNABLE", "RUNNING", "RUNNING"]:
            break
        time.sleep(0.02)
    assert statuses == ["RUNNABLE", "RUNNING", "RUNNING"]
    time.sleep(0.3)  # still queued: capacity is what holds it, not dwell
    assert sorted(describe(j)["status"] for j in ids) == ["RUNNABLE", "RUNNING", "RUNNING"]
    # a small job on another queue (its own compute environment) is not held back
    small = job_definition(aws, ["true"], name="small", vcpus="1")
    assert (
        wait_status(submit(aws, small, name="other", queue=aws.task_queue_fallback))["status"]
        == "SUCCEEDED"
    )
    open(flag, "w").close()
    assert [wait_status(j)["status"] for j in ids] == ["SUCCEEDED"] * 3


def test_retry_until_success_each_attempt_has_its_own_stream(aws: Any, emulator: Any) -> None:
    jd = job_definition(
        aws,
        [
            "sh",
            "-c",
            'echo "attempt $AWS_BATCH_JOB_ATTEMPT"; [ "$AWS_BATCH_JOB_ATTEMPT" -ge 3 ] || exit 5',
        ],
        retryStrategy={"attempts": 4},
    )
    job_id = submit(aws, jd, name="flaky")
    desc = wait_status(job_id)
    assert desc["status"] == "SUCCEEDED"
    attempt = ["RUNNABLE", "STARTING", "RUNNING"]
    assert emulator.job_history(job_id) == ["SUBMITTED", *attempt * 3, "SUCCEEDED"]
    attempts = desc["attempts"]
    assert [a["container"].get("exitCode") for a in attempts] == [5, 5, 0]
    streams = [a["container"]["logStreamName"] for a in attempts]
    assert len(set(streams)) == 3
    assert desc["container"]["logStreamName"] == streams[-1]
    assert [stream_messages(s) for s in streams] == [["attempt 1"], ["attempt 2"], ["attempt 3"]]
    assert all(a["startedAt"] <= a["stoppedAt"] for a in attempts)


def test_retry_attempts_exhausted(aws: Any) -> None:
    jd = job_definition(aws, ["sh", "-c", "exit 9"], retryStrategy={"attempts": 2})
    desc = wait_status(submit(aws, jd, name="always"))
    assert desc["status"] == "FAILED" and len(desc["attempts"]) == 2
    assert desc["container"]["exitCode"] == 9


def test_evaluate_on_exit_exit_action(aws: Any) -> None:
    strategy = {
        "attempts": 5,
        "evaluateOnExit": [
            {"onExitCode": "3*", "action": "EXIT"},
            {"onReason": "*", "action": "retry"},
        ],
    }
    jd = job_definition(aws, ["sh", "-c", "exit 33"], retryStrategy=strategy)
    desc = wait_status(submit(aws, jd, name="exit33"))
    assert desc["status"] == "FAILED" and len(desc["attempts"]) == 1


def test_evaluate_on_exit_no_match_retries(aws: Any) -> None:
    strategy = {"attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}]}
    jd = job_definition(aws, ["sh", "-c", "exit 2"], retryStrategy=strategy)
    desc = wait_status(submit(aws, jd, name="nomatch"))
    assert len(desc["attempts"]) == 2


def test_submit_retry_strategy_overrides_definition(aws: Any) -> None:
    jd = job_definition(aws, ["sh", "-c", "exit 1"], retryStrategy={"attempts": 3})
    desc = wait_status(submit(aws, jd, name="ovr", retryStrategy={"attempts": 1}))
    assert len(desc["attempts"]) == 1 and desc["retryStrategy"] == {"attempts": 1}


def test_spot_interruption_retried_by_status_reason(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"spot": {"job_name": "^spotty", "attempts": [1], "after": 0.1}})
    strategy = {
        "attempts": 3,
        "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"},
        ],
    }
    jd = job_definition(
        aws,
        ["sh", "-c", '[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ] || exec sleep 600'],
        retryStrategy=strategy,
    )
    desc = wait_status(submit(aws, jd, name="spotty"))
    assert desc["status"] == "SUCCEEDED"
    first, second = desc["attempts"]
    assert (
        first["statusReason"].startswith("Host EC2 (instance i-")
        and "exitCode" not in first["container"]
    )
    assert second["container"]["exitCode"] == 0


def test_depends_on(aws: Any) -> None:
    marker = os.path.join(aws.efs_dir, "first")
    first = submit(
        aws, job_definition(aws, ["sh", "-c", f"sleep 0.2; touch {marker}"]), name="first"
    )
    second = submit(
        aws,
        job_definition(aws, ["test", "-e", marker], name="check"),
        name="second",
        dependsOn=[{"jobId": first}],
    )
    assert wait_status(second)["status"] == "SUCCEEDED"
    failing = submit(aws, job_definition(aws, ["false"], name="bad"), name="bad")
    blocked = submit(
        aws,
        job_definition(aws, ["true"], name="ok"),
        name="blocked",
        dependsOn=[{"jobId": failing}],
    )
    assert wait_status(blocked)["status"] == "FAILED"


def test_many_jobs_with_limited_capacity(aws: Any) -> None:
    """100 jobs through a 16-vCPU queue; all succeed and capacity is never exceeded."""
    log = os.path.join(aws.efs_dir, "log")
    script = f'echo "+ $(date +%s%N)" >> {log}; sleep 0.05; echo "- $(date +%s%N)" >> {log}'
    b = batch()
    b.update_compute_environment(
        computeEnvironment="miniwdl-task-spot", computeResources={"maxvCpus": 16}
    )
    jd = job_definition(aws, ["sh", "-c", script], vcpus="4")
    ids = [submit(aws, jd, name=f"scatter-{i}") for i in range(100)]
    done: list = []
    deadline = time.monotonic() + 60
    while len(done) < 100 and time.monotonic() < deadline:
        jobs = b.describe_jobs(jobs=ids)["jobs"]
        done = [j for j in jobs if j["status"] in ("SUCCEEDED", "FAILED")]
        time.sleep(0.05)
    assert {j["status"] for j in done} == {"SUCCEEDED"}
    running = peak = 0
    events = sorted((int(t), s) for s, t in (line.split() for line in open(log)))
    for _, sign in sorted(events, key=lambda e: (e[0], e[1] == "+")):
        running += 1 if sign == "+" else -1
        peak = max(peak, running)
    assert 1 <= peak <= 4


def test_array_job_children_run_with_their_index(aws: Any) -> None:
    out = os.path.join(aws.efs_dir, "idx")
    jd = job_definition(aws, ["sh", "-c", f"touch {out}-$AWS_BATCH_JOB_ARRAY_INDEX"])
    parent = submit(aws, jd, name="arr", arrayProperties={"size": 3})
    children = [f"{parent}:{i}" for i in range(3)]
    assert [wait_status(c)["status"] for c in children] == ["SUCCEEDED"] * 3
    assert sorted(os.listdir(aws.efs_dir)) == ["idx-0", "idx-1", "idx-2"]
    desc = describe(parent)
    assert desc["status"] == "SUCCEEDED"
    assert desc["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 3


def test_array_parent_ends_with_its_last_child_without_being_described(aws: Any) -> None:
    jd = job_definition(aws, ["sh", "-c", "test $AWS_BATCH_JOB_ARRAY_INDEX != 1"])
    parent = submit(aws, jd, name="arrfail", arrayProperties={"size": 3})
    children = [wait_status(f"{parent}:{i}") for i in range(3)]
    assert [c["status"] for c in children] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    # only the children were described: the parent's status must not wait for a DescribeJobs
    listed = batch().list_jobs(jobQueue=aws.task_queue, jobStatus="FAILED")["jobSummaryList"]
    assert parent in [j["jobId"] for j in listed]
    first, again = describe(parent), describe(parent)
    assert first["status"] == again["status"] == "FAILED"
    assert first["stoppedAt"] == again["stoppedAt"] >= max(c["stoppedAt"] for c in children)
    assert first["arrayProperties"]["statusSummary"]["FAILED"] == 1


def test_disabled_compute_environment_and_queue(aws: Any) -> None:
    b = batch()
    b.update_compute_environment(computeEnvironment="miniwdl-task-spot", state="DISABLED")
    jd = job_definition(aws, ["true"])
    job_id = submit(aws, jd, name="parked")
    wait_status(job_id, ["RUNNABLE"])
    time.sleep(0.3)
    assert describe(job_id)["status"] == "RUNNABLE"  # no enabled compute environment
    b.update_compute_environment(computeEnvironment="miniwdl-task-spot", state="ENABLED")
    assert wait_status(job_id)["status"] == "SUCCEEDED"
    b.update_job_queue(jobQueue=aws.task_queue, state="DISABLED")
    with pytest.raises(ClientError, match="DISABLED"):
        submit(aws, jd, name="refused")
