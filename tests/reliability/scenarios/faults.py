"""Faults while work runs: throttling, spot reclaims, transient errors, outage, lost responses."""

from __future__ import annotations

import collections
import os
import re
import signal
import time
from typing import Any, Dict, List

from tests.support.procs import Proc

from ..harness import LocalAws
from ..proxy import ResetProxy
from ..scorecard import Row, judged
from ..workflows import SCATTER_WDL, runner_env, write
from ._common import (
    BACKEND,
    RUN_GUARD,
    SUBMITTER,
    WRAPPER,
    cleanup_leftovers,
    guarded,
    result_objects,
    scatter_result,
    settle,
    start_scatter,
    submit_cmd,
    submitter_env,
    tail,
    wait_running,
)


def throttling(aws: LocalAws, n: int, fraction: float = 0.3) -> List[Row]:
    """``fraction`` of every Batch call answered 429 during an ``n``-task scatter."""
    name = f"throttle {fraction:.0%} of Batch calls, {n}-task scatter"

    def body() -> List[Row]:
        aws.set_faults({"seed": 11, "throttle": {"batch.*": fraction}})
        try:
            res = scatter_result(aws, "throttle", start_scatter(aws, "throttle", n), n)
        finally:
            aws.set_faults({})
        calls = aws.calls()
        batch_calls = sum(v for k, v in calls.items() if k.startswith("batch."))
        submits = calls.get("batch.SubmitJob", 0)
        ok = res["code"] == 0 and res["correct"] and not res["failed"] and res["left"] == 0
        figure = f"tasks failed = {len(res['failed'])}" + (
            "" if res["code"] == 0 else " (run failed)"
        )
        detail = (
            f"exit {res['code']}, outputs correct {res['correct']}, active left {res['left']},"
            f" Batch calls {batch_calls}, SubmitJob calls {submits} for {n} jobs;"
            f" {tail(res['stderr'])}"
        )
        return [judged(name, figure, "0", ok, detail)]

    return guarded(name, "0", [BACKEND], body)


def _with_array_calls(aws: LocalAws, jobs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``jobs`` with each array child ([aws] array_jobs) tagged with its own task's call, as
    ``miniwdl-aws runs`` tags it (a child carries its parent's tags)."""
    from miniwdl_aws.aws.batch import BatchApi
    from miniwdl_aws.ops.runs import expand_arrays
    from tests.support.clients import FakeClients

    parents = sorted({j["jobId"].rpartition(":")[0] for j in jobs if ":" in j["jobId"]})
    if not parents:
        return jobs

    batch = aws.client("batch")  # the harness's own (uncounted, fault-free) client
    described = [d for i in range(0, len(parents), 100)
                 for d in batch.describe_jobs(jobs=parents[i : i + 100])["jobs"]]  # fmt: skip
    children = expand_arrays(BatchApi(FakeClients(batch=batch)), described)  # type: ignore[arg-type]
    return [j for j in jobs if ":" not in j["jobId"]] + children


def _attempt_history(aws: LocalAws, run_id: str) -> Dict[str, List[Dict[str, Any]]]:
    """Jobs of each call of one run, oldest first (by creation time), from the jobs' tags."""
    by_call: Dict[str, List[Dict[str, Any]]] = collections.defaultdict(list)
    for job in _with_array_calls(aws, aws.all_jobs(prefix=run_id + "-")):
        tags = job.get("tags") or {}
        call = tags.get("MiniwdlCall") or re.sub(r"-\d+$", "", job["jobName"])
        by_call[call].append(job)
    for jobs in by_call.values():
        jobs.sort(key=lambda j: (j.get("createdAt", 0), j["jobName"]))
    return by_call


def _interrupted(job: Dict[str, Any]) -> bool:
    return job.get("status") == "FAILED" and "Host EC2" in (job.get("statusReason") or "")


def spot(aws: LocalAws, n: int, fraction: float = 0.2, preemptible: int = 2) -> List[Row]:
    """Spot interruptions on ``fraction`` of attempts; ``task_queue_fallback`` configured."""
    name = f"spot on {fraction:.0%} of attempts, {n} tasks, preemptible={preemptible}"
    name2 = "spot budget spent -> fallback queue used"

    def body() -> List[Row]:
        fallback = aws.stack["task_queue_fallback"]
        env = runner_env(aws, task_queue_fallback=fallback)
        # Spot capacity is reclaimed only on the spot queue. With maxRetries 0, try N of a task
        # exists only after N-1 interruptions; tries 1..preemptible run on the task queue, and
        # once all of them were reclaimed the budget is spent and the last try runs on the
        # on-demand fallback, which AWS never reclaims. So only those tries are eligible.
        aws.set_faults(
            {
                "seed": 5,
                "spot": {
                    "job_name": _tries_regex(preemptible),
                    "fraction": fraction,
                    "after": 0.3,
                },
            }
        )
        try:
            proc = start_scatter(aws, "spot", n, sleep_s=1, preemptible=preemptible, env=env)
            res = scatter_result(aws, "spot", proc, n)
        finally:
            aws.set_faults({})
        history = _attempt_history(aws, proc.run_id)
        interruptions = sum(1 for jobs in history.values() for j in jobs if _interrupted(j))
        past, past_on_fallback, failed_within = 0, 0, 0
        for jobs in history.values():
            spots = sum(1 for j in jobs if _interrupted(j))
            if spots < preemptible:
                failed_within += jobs[-1].get("status") != "SUCCEEDED"
            else:  # the budget is spent: every later try belongs on the fallback queue
                past += 1
                after_budget = jobs[preemptible:]
                on_fallback = bool(after_budget) and all(
                    _queue_name(j) == fallback for j in after_budget
                )
                past_on_fallback += on_fallback
        detail = (
            f"exit {res['code']}, {len(history)} calls, {interruptions} interruptions,"
            f" {past} tasks spent the budget ({past_on_fallback} then on the fallback),"
            f" run failed calls {res['failed']}; {tail(res['stderr'])}"
        )
        failed_all = sum(1 for jobs in history.values() if jobs[-1].get("status") != "SUCCEEDED")
        ok1 = failed_all == 0 and res["code"] == 0 and res["left"] == 0 and len(history) == n
        figure = f"tasks failed = {failed_all} ({failed_within} within budget)"
        rows = [judged(name, figure, "0", ok1, detail)]
        if past:
            rows.append(
                judged(
                    name2,
                    f"{past_on_fallback}/{past} on fallback",
                    "all",
                    past_on_fallback == past,
                    detail,
                )
            )
        else:
            rows.append(fallback_forced(aws, preemptible=1))
        return rows

    return guarded(name, "0", [BACKEND], body)


def _tries_regex(last: int) -> str:
    """Job names of tries 1..``last`` of a scatter call: retries are new jobs named
    ``<run>-<call>-try<N>``."""
    first = ["-work-\\d+", "-array\\d+-of-\\d+-[0-9a-f]+"]  # a first try, or an array of them
    return "(" + "|".join(first + [f"-try{t}" for t in range(2, last + 1)]) + ")$"


def _queue_name(job: Dict[str, Any]) -> str:
    return str(job.get("jobQueue", "")).rsplit("/", 1)[-1]


def fallback_forced(aws: LocalAws, preemptible: int = 1) -> Row:
    """Every task-queue attempt is interrupted; the task must finish on the fallback queue."""
    name = "spot budget spent -> fallback queue used"
    fallback = aws.stack["task_queue_fallback"]
    task_queue = aws.stack["task_queue"]
    env = runner_env(aws, task_queue_fallback=fallback)
    # Interrupt the first `preemptible` tries of every task, whatever their queue: retries are
    # new jobs named <run>-<call>-try<N>, so the fault is targeted by name. Any try after the
    # budget runs uninterrupted and must be on the fallback queue.
    aws.set_faults({"seed": 1, "spot": {"job_name": _tries_regex(preemptible), "after": 0.2}})
    try:
        proc = start_scatter(aws, "fallback", 2, sleep_s=1, preemptible=preemptible, env=env)
        res = scatter_result(aws, "fallback", proc, 2)
    finally:
        aws.set_faults({})
    history = _attempt_history(aws, proc.run_id)
    finals = [jobs[-1] for jobs in history.values()]
    on_fallback = sum(
        1 for j in finals if _queue_name(j) == fallback and j["status"] == "SUCCEEDED"
    )
    queues = {c: [_queue_name(j) for j in jobs] for c, jobs in history.items()}
    detail = f"exit {res['code']}; queues per call {queues} (task queue {task_queue})"
    spent = all(sum(1 for j in jobs if _interrupted(j)) == preemptible for jobs in history.values())
    ok = res["code"] == 0 and on_fallback == len(finals) == 2 and spent
    return judged(name, f"{on_fallback}/{len(finals)} finished on fallback", "all", ok, detail)


def transient(aws: LocalAws, n: int, server_error: float = 0.2, resets: float = 0.1) -> List[Row]:
    """5xx on ``server_error`` of the calls to every service plus connection resets (before the
    request reaches AWS) on ``resets`` of the requests, for ``miniwdl run`` and the submitter's
    whole path (logs, S3): the outcome must be that of a fault-free run. Both are measured, so
    the row needs both: without the submitter it is not run (never passed on half the path)."""
    name = f"5xx on {server_error:.0%} of calls + {resets:.0%} conn. resets ({n} tasks)"
    goal = "unchanged"

    def body() -> List[Row]:
        proxy = ResetProxy(int(aws.endpoint.rsplit(":", 1)[1]), resets, seed=3)
        # The local AWS lists a job the moment it is created (ListJobs lag is not modelled
        # here), so a short lookup window after a lost SubmitJob answer is as certain as AWS's
        # 30 s default; it keeps a 5xx from costing 30 s per submission in this row.
        env = runner_env(aws, submit_recovery_seconds=3)
        env["AWS_ENDPOINT_URL"] = proxy.endpoint
        aws.set_faults({"seed": 9, "server_error": {"*": server_error}})
        try:
            proc = start_scatter(aws, "transient", n, env=env)
            res = scatter_result(aws, "transient", proc, n)
            sub_ok, sub_note = _submit_with_upload(aws, "transient-submit", 3, proxy.endpoint)
        finally:
            aws.set_faults({})
            proxy.close()
        services = sorted({k.split(".")[0] for k in aws.calls()})
        jobs = len(aws.all_jobs(prefix=proc.run_id + "-"))
        changed = res["code"] != 0 or not res["correct"] or jobs != n or not sub_ok
        detail = (
            f"miniwdl run exit {res['code']}, outputs correct {res['correct']}, {jobs} jobs for"
            f" {n} tasks; {sub_note}; {proxy.resets}/{proxy.requests} requests reset;"
            f" services called {services}; {tail(res['stderr'], 2)}"
        )
        figure = "unchanged" if not changed else "CHANGED"
        return [judged(name, figure, goal, not changed and settle(aws) == 0, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def _submit_with_upload(aws: LocalAws, name: str, n: int, endpoint: str) -> tuple:
    """Submitter ``--follow --s3upload`` of an ``n``-task scatter through ``endpoint``:
    ``(ok, note)`` where ok means exit 0 and every task's result uploaded to S3."""
    work = os.path.join(aws.workdir, name)
    wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
    bucket = aws.stack["bucket"]
    env = submitter_env(aws)
    env["AWS_ENDPOINT_URL"] = endpoint
    cmd = submit_cmd(aws, wdl, f"n={n}", "--follow", "--s3upload", f"s3://{bucket}/{name}/")
    proc = Proc(cmd, env, work, "submit")
    code = proc.wait(RUN_GUARD)
    uploaded = result_objects(aws, bucket, prefix=f"{name}/")
    ok = code == 0 and uploaded >= {f"result-{i}" for i in range(n)}
    return ok, f"submitter exit {code}, {len(uploaded)}/{n} results in S3"


def run_outage(aws: LocalAws, seconds: float = 10.0, n: int = 4) -> List[Row]:
    """Batch answers every call with 5xx for ``seconds`` while ``miniwdl run`` waits on its
    running tasks: the backend's poller must ride it out (botocore alone gives up after about
    7 s). The outcome must be that of a fault-free run."""
    name = f"Batch down for {seconds:g} s during miniwdl run ({n} tasks)"
    goal = "unchanged"

    def body() -> List[Row]:
        proc = start_scatter(aws, "runoutage", n, sleep_s=int(seconds) + 5)
        if not wait_running(aws, proc, n):
            proc.signal(signal.SIGKILL)
            cleanup_leftovers(aws)
            return [judged(name, "never reached", goal, False, tail(proc.stderr))]
        aws.set_faults({"server_error": {"batch.*": 1.0}})
        try:
            time.sleep(seconds)
        finally:
            aws.set_faults({})
        res = scatter_result(aws, "runoutage", proc, n)
        ok = res["code"] == 0 and res["correct"] and res["left"] == 0
        detail = (
            f"exit {res['code']}, outputs correct {res['correct']}, active left {res['left']};"
            f" {tail(res['stderr'], 2)}"
        )
        return [judged(name, "unchanged" if ok else "CHANGED", goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)


def outage(aws: LocalAws, seconds: float = 10.0, n: int = 3) -> List[Row]:
    """Batch and CloudWatch Logs answer every call with 5xx for ``seconds`` while the submitter
    follows a running workflow (``--follow --s3upload``): longer than botocore's own retries
    (five attempts, about 7 s of backoff), so the product's own waits must ride it out. The
    outcome must be that of a fault-free run."""
    name = f"Batch + Logs down for {seconds:g} s during --follow"
    goal = "unchanged"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "outage")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        bucket = aws.stack["bucket"]
        cmd = submit_cmd(
            aws,
            wdl,
            f"n={n}",
            f"sleep_s={int(seconds) + 5}",
            "--follow",
            "--s3upload",
            f"s3://{bucket}/outage/",
        )
        proc = Proc(cmd, submitter_env(aws), work, "submit")

        def tasks_running() -> bool:
            return proc.popen.poll() is not None or len(aws.jobs(["RUNNING"])) >= n + 1

        aws.wait_until(tasks_running, 180, period=0.5)
        aws.set_faults({"server_error": {"batch.*": 1.0, "logs.*": 1.0}})
        try:
            time.sleep(seconds)
        finally:
            aws.set_faults({})
        code = proc.wait(RUN_GUARD)
        left = settle(aws)
        uploaded = result_objects(aws, bucket, prefix="outage/")
        ok = code == 0 and uploaded >= {f"result-{i}" for i in range(n)} and left == 0
        traceback = "Traceback (most recent" in proc.stderr
        detail = (
            f"submitter exit {code}, {len(uploaded)}/{n} results in S3, traceback {traceback},"
            f" active left {left}; {tail(proc.stderr, 2)}"
        )
        return [judged(name, "unchanged" if ok else "CHANGED", goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def lost_responses(aws: LocalAws, n: int, fraction: float = 0.2) -> List[Row]:
    """Connections reset *after* a SubmitJob request reached AWS, on ``fraction`` of them: the
    job was created but the answer was lost, and the client retries. SubmitJob has no
    idempotency token, so a blind retry starts a second job; the figure is jobs beyond one per
    task (each an orphan nobody waits for)."""
    name = f"{fraction:.0%} of SubmitJob responses lost, {n} tasks"
    goal = "0 extra jobs"

    def body() -> List[Row]:
        port = int(aws.endpoint.rsplit(":", 1)[1])
        proxy = ResetProxy(port, fraction, seed=4, after=True, only=b"/v1/submitjob")
        env = runner_env(aws)
        env["AWS_ENDPOINT_URL"] = proxy.endpoint
        try:
            proc = start_scatter(aws, "lost", n, env=env)
            res = scatter_result(aws, "lost", proc, n)
        finally:
            proxy.close()
        jobs = aws.all_jobs(prefix=proc.run_id + "-")
        extra = len(jobs) - n
        left = settle(aws)
        detail = (
            f"exit {res['code']}, outputs correct {res['correct']}, {len(jobs)} jobs for {n}"
            f" tasks, {proxy.resets}/{proxy.requests} responses lost, active left {left};"
            f" {tail(res['stderr'], 2)}"
        )
        ok = extra == 0 and res["code"] == 0 and res["correct"] and left == 0
        return [judged(name, f"{extra} extra jobs", goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)
