"""End-to-end: real ``miniwdl run`` subprocesses on the local AWS, configured only by env vars."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from conftest import jobs_of_run, run_miniwdl

from miniwdl_aws import naming

JOB_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def _batch_calls(emulator: Any) -> dict:
    return {k: v for k, v in emulator.stats()["calls"].items() if k.startswith("batch.")}


def test_files_and_directories_in_and_out(emulator: Any, aws: Any) -> None:
    greeting = os.path.join(aws.efs_dir, "greeting.txt")
    with open(greeting, "w") as f:
        f.write("Hello\n")
    res = run_miniwdl(emulator, aws, "files.wdl", [f"greeting={greeting}"])
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.outputs
    cards = [open(p).read() for p in out["files.cards"]]
    assert cards == ["Hello, Alyssa!\n", "Hello, Ben!\n"]
    assert sorted(os.listdir(out["files.deck"])) == ["card0.txt", "card1.txt"]
    assert out["files.n"] == 2
    # env vars inside the container: the task's run id, attempt, and the run id of the process
    assert out["files.env_check"] == "call-count/1/set"
    # stdout/stderr went to the task's files on the shared filesystem
    with open(os.path.join(res.run_dir, "call-greet-0-Alyssa", "stderr.txt")) as f:
        assert f.read() == "made card for Alyssa\n"
    # one job definition for one image; every job named with the run id prefix and tagged
    calls = _batch_calls(emulator)
    assert calls["batch.RegisterJobDefinition"] <= 1
    assert calls["batch.SubmitJob"] == 4
    jobs = jobs_of_run(aws.task_queue, "mw")
    assert len(jobs) == 4
    run_ids = {j["tags"][naming.TAG_RUN_ID] for j in jobs}
    assert len(run_ids) == 1
    run_id = run_ids.pop()
    for j in jobs:
        assert j["jobName"].startswith(run_id + "-") and JOB_NAME_OK.match(j["jobName"])
        assert j["tags"][naming.TAG_ROLE] == "task"
        assert j["tags"][naming.TAG_ATTEMPT] == "1"
        assert j["tags"][naming.TAG_WORKFLOW] == "run"
        assert j["status"] == "SUCCEEDED"
    assert {j["tags"][naming.TAG_CALL] for j in jobs} == {
        "call-greet-0-Alyssa",
        "call-greet-1-Ben",
        "call-gather",
        "call-count",
    }
    # the log stream of each job is logged
    assert res.stderr.count("logStreamName") >= 4


# README and bench/RESULTS.md: "Batch calls per task attempt besides DescribeJobs <= 1.05"
CALLS_PER_ATTEMPT_TARGET = 1.05


class CallsAboveTarget(AssertionError):
    """Batch calls per task attempt besides DescribeJobs miss :data:`CALLS_PER_ATTEMPT_TARGET`."""


@pytest.mark.xfail(
    raises=CallsAboveTarget,
    strict=True,
    reason=(
        "measured 1.100 Batch calls per task attempt besides DescribeJobs on this 50-task"
        " scatter (55 calls: 50 SubmitJob, 4 one-time queue/compute-environment/job-definition"
        " calls, 1 ListJobs of the run summary), target 1.05: the 5 calls per run amortize to"
        " 1.05 only from 100 tasks"
    ),
)
def test_scatter_50_is_economical(emulator: Any, aws: Any) -> None:
    emulator.reset_stats()
    res = run_miniwdl(emulator, aws, "scatter.wdl", ["n=50"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["scatter_n.squares"] == [i * i for i in range(50)]
    calls = _batch_calls(emulator)
    submits = calls["batch.SubmitJob"]
    assert submits == 50
    # control-plane calls besides DescribeJobs and the run summary's ListJobs, per task attempt
    others = sum(v for k, v in calls.items() if k not in ("batch.DescribeJobs", "batch.ListJobs"))
    # the target's figure: every Batch call besides DescribeJobs, ListJobs included
    besides_describe = sum(v for k, v in calls.items() if k != "batch.DescribeJobs")
    per_attempt = besides_describe / submits
    describes_per_task = calls.get("batch.DescribeJobs", 0) / submits
    print(
        f"scatter50 calls={calls} per_attempt={per_attempt:.3f}"
        f" describe_per_task={describes_per_task:.3f}"
    )
    # per task: exactly one SubmitJob; per process: a few one-time calls (queues, compute
    # environments, job definition lookup + registration) and one ListJobs for the summary
    assert others - submits <= 4, calls
    assert besides_describe - submits <= 5, calls  # no worse than measured
    assert calls["batch.RegisterJobDefinition"] <= 1
    assert describes_per_task <= 0.6, calls
    if per_attempt > CALLS_PER_ATTEMPT_TARGET:
        raise CallsAboveTarget(
            f"{per_attempt:.3f} Batch calls per task attempt besides DescribeJobs"
            f" > {CALLS_PER_ATTEMPT_TARGET}: {calls}"
        )


def test_failing_task_exit_code_and_failure_info(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(emulator, aws, "fail.wdl", [])
    assert res.returncode != 0
    err = res.error
    assert err["error"] == "RunFailed"
    cause = err["cause"]
    assert cause["error"] == "CommandFailed" and cause["exit_status"] == 3
    assert cause["run"] == "call-bad"
    info = cause  # miniwdl merges more_info (our failure_info) into the error record
    assert info["jobId"] and info["status"] == "FAILED" and info["exitCode"] == 3
    assert info["statusReason"]
    assert info["logStreamName"]
    assert info["attempts"][0]["jobId"] == info["jobId"]
    # fail-fast: the long-running sibling was terminated, nothing left running
    emulator.assert_no_active_jobs(timeout=10)
    (said,) = [ln for ln in res.stderr.splitlines() if "AWS Batch job terminate requested" in ln]
    assert " NOTICE " in said


def test_max_retries_each_attempt_in_its_own_dir(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(
        emulator, aws, "retry.wdl", [], extra_env={"MINIWDL__FILE_IO__MOUNT_TMPDIR": "true"}
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["flaky.said"] == "attempt 2 in work2 tmp work2"
    assert os.path.isfile(os.path.join(res.run_dir, "work", "attempt.txt"))
    assert open(os.path.join(res.run_dir, "stderr.txt")).read() == "first attempt fails\n"
    jobs = sorted(jobs_of_run(aws.task_queue, "mw"), key=lambda j: j["createdAt"])
    assert [j["status"] for j in jobs] == ["FAILED", "SUCCEEDED"]
    assert [j["tags"][naming.TAG_ATTEMPT] for j in jobs] == ["1", "2"]
    assert jobs[1]["jobName"].endswith("-try2")


def test_copy_input_files_mode(emulator: Any, aws: Any) -> None:
    greeting = os.path.join(aws.efs_dir, "greeting.txt")
    with open(greeting, "w") as f:
        f.write("Hi\n")
    res = run_miniwdl(
        emulator,
        aws,
        "files.wdl",
        [f"greeting={greeting}"],
        extra_env={"MINIWDL__FILE_IO__COPY_INPUT_FILES": "true"},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert [open(p).read() for p in res.outputs["files.cards"]] == ["Hi, Alyssa!\n", "Hi, Ben!\n"]
    copied = os.path.join(res.run_dir, "call-greet-0-Alyssa", "work", "_miniwdl_inputs", "0")
    (name,) = os.listdir(copied)
    assert not os.path.islink(os.path.join(copied, name))  # a copy, not a symlink


def test_job_definitions_per_image_and_reused_across_runs(emulator: Any, aws: Any) -> None:
    emulator.reset_stats()
    first = run_miniwdl(emulator, aws, "images.wdl", [], "first")
    assert first.returncode == 0, first.stderr[-3000:]
    calls = _batch_calls(emulator)
    # six tasks with different cpu/memory on two images: two definitions
    assert calls["batch.RegisterJobDefinition"] == 2 and calls["batch.SubmitJob"] == 6
    emulator.reset_stats()
    second = run_miniwdl(emulator, aws, "images.wdl", [], "second")
    assert second.returncode == 0, second.stderr[-3000:]
    calls = _batch_calls(emulator)
    assert calls.get("batch.RegisterJobDefinition", 0) == 0
    assert calls["batch.DescribeJobDefinitions"] == 2 and calls["batch.SubmitJob"] == 6
