"""End-to-end resilience on the local AWS: spot interruptions, fallback queue, throttling,
signals, poll errors, and bad configuration caught before any job is submitted."""

from __future__ import annotations

import signal
import time
from typing import Any

from conftest import jobs_of_run, run_miniwdl, start_miniwdl

from miniwdl_aws import naming


def _queue_name(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1]


def test_spot_interruptions_retried_within_preemptible(emulator: Any, aws: Any) -> None:
    # the first two tries of the task are interrupted; preemptible = 2 allows both
    emulator.set_faults({"seed": 1, "spot": {"job_name": r"spotty(-try2)?$", "fraction": 1.0}})
    res = run_miniwdl(emulator, aws, "spot.wdl", ["preemptible=2"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["spotty.out"] == "ran attempt 3"
    jobs = sorted(jobs_of_run(aws.task_queue, "mw"), key=lambda j: j["createdAt"])
    assert [j["status"] for j in jobs] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert all(_queue_name(j["jobQueue"]) == _queue_name(aws.task_queue) for j in jobs)
    assert "Host EC2" in jobs[0]["statusReason"]
    assert "preemptible_remaining" in res.stderr


def test_spot_budget_spent_goes_to_fallback_queue(emulator: Any, aws: Any) -> None:
    emulator.set_faults({"seed": 1, "spot": {"job_name": r"spotty$", "fraction": 1.0}})
    res = run_miniwdl(
        emulator,
        aws,
        "spot.wdl",
        ["preemptible=1"],
        extra_env={"MINIWDL__AWS__TASK_QUEUE_FALLBACK": aws.task_queue_fallback},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    first = jobs_of_run(aws.task_queue, "mw")
    second = jobs_of_run(aws.task_queue_fallback, "mw")
    assert [j["status"] for j in first] == ["FAILED"]
    assert [j["status"] for j in second] == ["SUCCEEDED"]
    assert second[0]["jobName"].endswith("-try2")
    assert "task_queue_fallback" in res.stderr


def test_interruption_past_budget_fails_with_failure_info(emulator: Any, aws: Any) -> None:
    emulator.set_faults({"seed": 1, "spot": {"job_name": r"spotty", "fraction": 1.0}})
    res = run_miniwdl(emulator, aws, "spot.wdl", ["preemptible=1"])
    assert res.returncode != 0
    err = res.error
    assert err["error"] == "Interrupted" or err.get("cause", {}).get("error") == "Interrupted"
    info = err.get("cause", err)
    assert "Host EC2" in info["statusReason"] and len(info["attempts"]) == 2


def test_throttling_30_percent_fails_nothing(emulator: Any, aws: Any) -> None:
    emulator.set_faults({"seed": 7, "throttle": {"batch.*": 0.3}})
    res = run_miniwdl(
        emulator,
        aws,
        "scatter.wdl",
        ["n=30"],
        extra_env={"MINIWDL__AWS__BOTO3_RETRIES": '{"max_attempts": 2, "mode": "standard"}'},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["scatter_n.squares"] == [i * i for i in range(30)]
    calls = emulator.stats()["calls"]
    jobs = jobs_of_run(aws.task_queue, "mw")
    # throttled SubmitJobs were retried; none of them created a duplicate job
    assert len(jobs) == 30 and calls["batch.SubmitJob"] > 30


def test_sigterm_mid_run_leaves_no_active_job(emulator: Any, aws: Any) -> None:
    run = start_miniwdl(emulator, aws, "sleepers.wdl", ["n=20", "seconds=120"])
    deadline = time.monotonic() + 60
    while len(emulator.job_pids()) < 20:
        assert time.monotonic() < deadline, "jobs did not start"
        assert run.poll() is None, run.stderr[-3000:]
        time.sleep(0.1)
    run.signal(signal.SIGTERM)
    signalled = time.monotonic()
    emulator.assert_no_active_jobs(timeout=10)
    within = time.monotonic() - signalled
    res = run.finish(timeout=60)
    assert res.returncode != 0
    assert within <= 10
    jobs = jobs_of_run(aws.task_queue, "mw")
    assert len(jobs) == 20 and {j["status"] for j in jobs} == {"FAILED"}
    assert "terminated by miniwdl" in jobs[0]["statusReason"]
    # the log says so at the default level (NOTICE), as the README promises
    said = [ln for ln in res.stderr.splitlines() if "AWS Batch job terminate requested" in ln]
    assert len(said) == 20 and all(" NOTICE " in ln for ln in said)


def test_poll_errors_terminate_the_job(emulator: Any, aws: Any) -> None:
    run = start_miniwdl(
        emulator,
        aws,
        "sleepers.wdl",
        ["n=1", "seconds=120"],
        extra_env={
            "MINIWDL__AWS__BOTO3_RETRIES": '{"max_attempts": 1}',
            "MINIWDL__AWS__DESCRIBE_PERIOD": "0.1",
            "MINIWDL__AWS__DESCRIBE_PERIOD_MAX": "0.2",
            "MINIWDL__AWS__TERMINATE_WAIT": "2",
            "MINIWDL__AWS__DESCRIBE_ERROR_WAIT": "3",
        },
    )
    deadline = time.monotonic() + 60
    while not emulator.job_pids():
        assert time.monotonic() < deadline and run.poll() is None, run.stderr[-3000:]
        time.sleep(0.1)
    emulator.set_faults({"server_error": {"batch.DescribeJobs": 1.0}})
    try:
        res = run.finish(timeout=120)
    finally:
        emulator.clear_faults()
    assert res.returncode != 0
    assert "DescribeJobs failed" in res.stderr
    emulator.assert_no_active_jobs(timeout=5)
    jobs = jobs_of_run(aws.task_queue, "mw")
    assert len(jobs) == 1 and "terminated by miniwdl" in jobs[0]["statusReason"]


def test_call_cache_hit_on_rerun_submits_nothing(emulator: Any, aws: Any) -> None:
    cache = {"MINIWDL__CALL_CACHE__GET": "true", "MINIWDL__CALL_CACHE__PUT": "true"}
    first = run_miniwdl(emulator, aws, "scatter.wdl", ["n=3"], "run1", extra_env=cache)
    assert first.returncode == 0, first.stderr[-3000:]
    emulator.reset_stats()
    second = run_miniwdl(emulator, aws, "scatter.wdl", ["n=3"], "run2", extra_env=cache)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.outputs["scatter_n.squares"] == [0, 1, 4]
    assert emulator.stats()["calls"].get("batch.SubmitJob", 0) == 0


def test_names_are_sanitised(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(emulator, aws, "names.wdl", [])
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = jobs_of_run(aws.task_queue, "mw")
    assert len(jobs) == 3
    import re

    ok = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
    run_id = jobs[0]["tags"][naming.TAG_RUN_ID]
    for j in jobs:
        assert ok.match(j["jobName"]), j["jobName"]
        assert j["jobName"].startswith(run_id + "-")
        # tag values keep the (sanitised) call name
        assert j["tags"][naming.TAG_CALL].startswith("call-")
    # shortened in the middle: the scatter index at the end still tells siblings apart
    assert len({j["jobName"] for j in jobs}) == 3


def test_bad_config_fails_before_any_submission(emulator: Any, aws: Any) -> None:
    cases = {
        "MINIWDL__AWS__FSAP": ("fsap-nothex!", "fsap-<hex>"),
        "MINIWDL__AWS__TASK_QUEUE": ("no-such-queue", "not found"),
    }
    for var, (value, expected) in cases.items():
        emulator.reset_stats()
        res = run_miniwdl(
            emulator, aws, "scatter.wdl", ["n=2"], f"bad{var}", extra_env={var: value}
        )
        assert res.returncode != 0
        assert expected in res.stderr, res.stderr[-2000:]
        assert emulator.stats()["calls"].get("batch.SubmitJob", 0) == 0
    res = run_miniwdl(
        emulator,
        aws,
        "scatter.wdl",
        ["n=2"],
        "badap",
        extra_env={"MINIWDL__AWS__FSAP": "fsap-0123456789abcdef"},
    )
    assert res.returncode != 0 and "access point" in res.stderr


def test_signal_during_retry_wait_ends_the_run_promptly(emulator: Any, aws: Any) -> None:
    run = start_miniwdl(
        emulator, aws, "retry.wdl", [], extra_env={"MINIWDL__AWS__RETRY_WAIT": "120"}
    )
    deadline = time.monotonic() + 60
    try:
        while "failed task will be retried" not in run.stderr:
            assert time.monotonic() < deadline and run.poll() is None, run.stderr[-3000:]
            time.sleep(0.1)
        time.sleep(1.0)  # now in the retry wait
    finally:
        run.signal(signal.SIGTERM)
    signalled = time.monotonic()
    res = run.finish(timeout=60)
    assert res.returncode != 0
    assert time.monotonic() - signalled < 15  # not the 120 s retry_wait
    # the second attempt was never submitted
    assert len(jobs_of_run(aws.task_queue, "mw")) == 1
