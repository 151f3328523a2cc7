"""End-to-end: scatters as Batch array jobs ([aws] array_jobs), real ``miniwdl run`` on the
local AWS."""

from __future__ import annotations

import glob
import json
import os
import signal
import time
from typing import Any, Dict, List, Tuple

from conftest import FAST_ENV, WDL_DIR, jobs_of_run, run_miniwdl, start_miniwdl

from miniwdl_aws import naming

ARRAYS_ENV = {
    "MINIWDL__AWS__ARRAY_JOBS": "true",
    "MINIWDL__AWS__ARRAY_JOB_MIN_SIZE": "2",
    # long enough that the whole scatter is ready within it on a loaded machine; the count of
    # arrays is not asserted exactly for that reason
    "MINIWDL__AWS__ARRAY_JOB_WINDOW": "2",
}


def _batch_calls(emulator: Any) -> Dict[str, int]:
    return {k: v for k, v in emulator.stats()["calls"].items() if k.startswith("batch.")}


def test_scatter_as_array_jobs(emulator: Any, aws: Any) -> None:
    emulator.reset_stats()
    n = 40
    res = run_miniwdl(emulator, aws, "scatter.wdl", [f"n={n}"], extra_env=ARRAYS_ENV)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["scatter_n.squares"] == [i * i for i in range(n)]
    calls = _batch_calls(emulator)
    print(f"arrays scatter{n} calls={calls}")
    # each task ran as its own child <parent>:<index>, found in its own awsBatchJob.json; the
    # scatter's first task went plain (nothing of its shape before it), and so may a straggler
    # that a loaded machine started after its group closed
    children, plain = [], []
    for path in glob.glob(os.path.join(res.run_dir, "call-square-*", "awsBatchJob.json")):
        with open(path) as infile:
            desc = json.load(infile)
        assert desc["status"] == "SUCCEEDED"
        parent, _, index = desc["jobId"].rpartition(":")
        if not parent:
            plain.append(desc["jobId"])
            continue
        assert index.isdigit(), desc["jobId"]
        assert desc["arrayProperties"]["index"] == int(index)
        children.append(desc["jobId"])
    assert len(plain) >= 1 and len(set(children)) == n - len(plain) >= n // 2
    parents = {c.rpartition(":")[0] for c in children}
    assert calls["batch.SubmitJob"] == len(parents) + len(plain) <= n // 4, calls
    # (how many DescribeJobs/ListJobs rounds the run took depends on the machine's speed:
    # measured in bench/, not asserted here)
    # the run summary attributes each child to its own task, not to the array
    with open(os.path.join(res.run_dir, "aws_batch_summary.json")) as infile:
        summary = json.load(infile)
    tasks = {t["task"]: [j["job_id"] for j in t["jobs"]] for t in summary["tasks"]}
    calls_run = glob.glob(os.path.join(res.run_dir, "call-square-*"))
    assert len(calls_run) == n
    assert sorted(tasks) == sorted(os.path.basename(d) for d in calls_run), sorted(tasks)
    assert sorted(j for ids in tasks.values() for j in ids) == sorted(children + plain)


def _said(res: Any) -> List[Tuple[int, str, str]]:
    out = []
    for line in res.outputs["array_tasks.said"]:
        _task, index, _attempt, attempt, _job, job_id = line.split()
        out.append((int(index), attempt, job_id))
    return out


def test_child_failure_is_its_task_alone_and_retried_as_plain_job(emulator: Any, aws: Any) -> None:
    emulator.reset_stats()
    n = 6
    res = run_miniwdl(
        emulator, aws, "array_tasks.wdl", [f"n={n}", "fail_index=3"], extra_env=ARRAYS_ENV
    )
    assert res.returncode == 0, res.stderr[-3000:]
    said = _said(res)
    assert [s[0] for s in said] == list(range(n))
    for index, attempt, job_id in said:
        if index == 3:  # the retry: a plain job of its own
            assert attempt == "2" and ":" not in job_id, said
        else:
            assert attempt == "1", said
    # first attempts were children, but the scatter's first (plain: nothing of its shape before
    # it) and any straggler; task 3's first attempt is not in the outputs (its retry is)
    others = [job_id for i, _a, job_id in said if i != 3]
    children = [job_id for job_id in others if ":" in job_id]
    assert len(children) >= 2, said
    parents = {job_id.rpartition(":")[0] for job_id in children}
    plain_firsts = len(others) - len(children)
    # + task 3's retry, + task 3's first attempt if it was plain or in an array of its own
    extra = _batch_calls(emulator)["batch.SubmitJob"] - len(parents) - plain_firsts - 1
    assert extra in (0, 1), said


def test_failed_child_fails_the_run_and_its_siblings_are_terminated(
    emulator: Any, aws: Any
) -> None:
    env = dict(ARRAYS_ENV, MINIWDL__AWS__TERMINATE_WAIT="10")
    res = run_miniwdl(
        emulator,
        aws,
        "array_tasks.wdl",
        ["n=5", "fail_child0=true", "retries=0", "seconds=120"],
        extra_env=env,
    )
    assert res.returncode != 0
    cause = res.error["cause"]
    assert cause["error"] == "CommandFailed" and cause["exit_status"] == 3
    parent, _, index = cause["jobId"].rpartition(":")
    assert parent and index == "0", cause["jobId"]
    assert cause["attempts"][0]["jobId"] == cause["jobId"]
    emulator.assert_no_active_jobs(timeout=10)


def test_sigterm_leaves_no_child_running(emulator: Any, aws: Any) -> None:
    n = 8
    run = start_miniwdl(
        emulator, aws, "sleepers.wdl", [f"n={n}", "seconds=120"], extra_env=ARRAYS_ENV
    )
    deadline = time.monotonic() + 60
    while len(emulator.job_pids()) < n:
        assert time.monotonic() < deadline, "jobs did not start"
        assert run.poll() is None, run.stderr[-3000:]
        time.sleep(0.1)
    run.signal(signal.SIGTERM)
    emulator.assert_no_active_jobs(timeout=10)
    res = run.finish(timeout=60)
    assert res.returncode != 0
    jobs = jobs_of_run(aws.task_queue, "mw")  # plain jobs (the first task's) and array parents
    parents = [j for j in jobs if "size" in (j.get("arrayProperties") or {})]
    in_arrays = sum(p["arrayProperties"]["size"] for p in parents)
    assert parents and in_arrays + len(jobs) - len(parents) == n
    assert {j["status"] for j in jobs} == {"FAILED"}


def test_spot_interrupted_children_retry_as_plain_jobs(emulator: Any, aws: Any) -> None:
    emulator.reset_stats()
    emulator.set_faults({"seed": 1, "spot": {"job_name": r"-array\d+-", "fraction": 1.0}})
    n = 4
    res = run_miniwdl(
        emulator, aws, "array_tasks.wdl", [f"n={n}", "preemptible=1"], extra_env=ARRAYS_ENV
    )
    assert res.returncode == 0, res.stderr[-3000:]
    said = _said(res)
    # the children were interrupted and retried as plain jobs; the first attempts that went
    # plain (the scatter's first, any straggler) were not interrupted: only array names are
    assert all(":" not in job_id for _i, _attempt, job_id in said), said
    attempts = [attempt for _i, attempt, _j in said]
    retried, plain_firsts = attempts.count("2"), attempts.count("1")
    assert retried >= 2 and retried + plain_firsts == n, said
    arrays = _batch_calls(emulator)["batch.SubmitJob"] - plain_firsts - retried
    assert 1 <= arrays <= retried // 2, said


def test_cleanup_after_a_crash_terminates_the_array_and_its_children(
    emulator: Any, aws: Any
) -> None:
    from miniwdl_aws.aws.batch import BatchApi
    from miniwdl_aws.aws.clients import AwsClients
    from miniwdl_aws.ops.runs import cleanup_run
    from tests.support.miniwdl import start_on_stack

    n = 6
    run_id = naming.new_run_id()
    env = dict(FAST_ENV, **ARRAYS_ENV)
    env[naming.ENV_RUN_ID] = run_id
    proc = start_on_stack(
        emulator,
        aws,
        os.path.join(WDL_DIR, "sleepers.wdl"),
        [f"n={n}", "seconds=300"],
        "crashed",
        extra_env=env,
        new_session=True,
    )
    try:
        deadline = time.monotonic() + 60  # hang guard
        while len(emulator.job_pids()) < n:
            assert proc.poll() is None, proc.stderr[-3000:]
            assert time.monotonic() < deadline, "children never started"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no chance to terminate its children
        proc.wait(30)
    assert len(emulator.active_jobs()) == n  # the crash really left the jobs running
    # a name filter finds the parent only (AWS: "The filter doesn't apply to child jobs");
    # terminating it terminates its children
    result = cleanup_run(BatchApi(AwsClients()), run_id, [aws.task_queue], wait=30, period=0.2)
    # the plain jobs (the first task's) and the array parents, nothing more
    assert 2 <= len(result.terminated) < n and result.still_active == []
    emulator.assert_no_active_jobs(timeout=10)


def test_call_cache_is_unaffected_by_arrays(emulator: Any, aws: Any) -> None:
    """Outputs of tasks run as array children go into the call cache as any task's: the same
    scatter again (a new run directory) is served from the cache, with no SubmitJob at all."""
    env = dict(ARRAYS_ENV, MINIWDL__CALL_CACHE__GET="true", MINIWDL__CALL_CACHE__PUT="true")
    first = run_miniwdl(emulator, aws, "scatter.wdl", ["n=12"], "cached1", extra_env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "AWS Batch array job submitted" in first.stderr
    emulator.reset_stats()
    second = run_miniwdl(emulator, aws, "scatter.wdl", ["n=12"], "cached2", extra_env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.outputs["scatter_n.squares"] == [i * i for i in range(12)]
    assert emulator.stats()["calls"].get("batch.SubmitJob", 0) == 0
