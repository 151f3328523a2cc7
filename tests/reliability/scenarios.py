"""The reliability scenarios. Each one drives real processes against a local AWS with faults,
measures one figure from what AWS and the file system show afterwards, and returns scorecard
rows. The CI tests call them with small sizes; ``bench/reliability.py`` with the full ones.

Every scenario takes a freshly bootstrapped :class:`~.harness.LocalAws` (one per scenario, so
call counts and job lists belong to it alone) and leaves no job active.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import signal
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import bad_inputs
from .harness import BIN, PYTHON, LocalAws, Proc, ResetProxy, ServedAws, part_missing
from .scorecard import Row, judged, not_run
from .secrets_scan import marked_credentials, scan_aws, scan_files
from .workflows import (
    SCATTER_WDL,
    failed_calls,
    outputs,
    runner_env,
    scatter_expected,
    start_miniwdl,
    write,
)

BACKEND = "miniwdl_aws.backend"
SUBMITTER = "miniwdl_aws.submit.cli"
WRAPPER = "miniwdl_aws.submit.wrapper"
EMULATOR = "miniwdl_aws.emulator"

# Hang guards only: figures never depend on these.
RUN_GUARD = 600.0
SETTLE_GUARD = 60.0


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each scenario is. :data:`FULL` is the issue's figure; :data:`CI` the fast variant
    that asserts the same goals."""

    throttle_tasks: int = 200
    spot_tasks: int = 100
    signal_tasks: int = 20
    kill_tasks: int = 20
    transient_tasks: int = 30
    follow_tasks: int = 10


FULL = Sizes()
CI = Sizes(
    throttle_tasks=30,
    spot_tasks=20,
    signal_tasks=6,
    kill_tasks=6,
    transient_tasks=10,
    follow_tasks=4,
)


def guarded(name: str, goal: str, needs: Sequence[str], body: Callable[[], List[Row]]) -> List[Row]:
    """Run a scenario: *not run* when a part it needs is missing; *FAIL* with the error when
    the scenario itself breaks (that is a finding too, never a pass)."""
    missing = part_missing(*needs)
    if missing:
        return [not_run(name, goal, missing)]
    try:
        return body()
    except Exception as exc:
        return [judged(name, "scenario error", goal, False, f"{type(exc).__name__}: {exc}")]


def _settle(aws: LocalAws, guard: float = SETTLE_GUARD) -> int:
    """Wait (bounded) for every job to be terminal; return how many are still active."""
    aws.wait_until(lambda: aws.active_count() == 0, guard, period=0.5)
    return aws.active_count()


def _tail(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def _scatter_result(aws: LocalAws, name: str, proc: Proc, n: int) -> Dict[str, Any]:
    """Run outcome of a scatter: exit code, tasks failed, outputs correct, active jobs left."""
    code = proc.wait(RUN_GUARD)
    outs = outputs(aws, name) or {}
    failed = failed_calls(aws, name)
    correct = outs.get("scat.results") == scatter_expected(n)
    return {
        "code": code,
        "failed": failed,
        "correct": correct,
        "left": _settle(aws),
        "stderr": proc.stderr,
    }


def _start_scatter(
    aws: LocalAws,
    name: str,
    n: int,
    sleep_s: int = 0,
    preemptible: int = 2,
    env: Optional[Dict[str, str]] = None,
    extra: Sequence[str] = (),
) -> Proc:
    inputs = [f"n={n}", f"sleep_s={sleep_s}", f"preemptible={preemptible}"]
    return start_miniwdl(aws, name, SCATTER_WDL, inputs, env or runner_env(aws), extra)


# --- 1. throttling -------------------------------------------------------------------------


def throttling(aws: LocalAws, n: int, fraction: float = 0.3) -> List[Row]:
    """``fraction`` of every Batch call answered 429 during an ``n``-task scatter."""
    name = f"throttle {fraction:.0%} of Batch calls, {n}-task scatter"

    def body() -> List[Row]:
        aws.set_faults({"seed": 11, "throttle": {"batch.*": fraction}})
        try:
            res = _scatter_result(aws, "throttle", _start_scatter(aws, "throttle", n), n)
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
            f" {_tail(res['stderr'])}"
        )
        return [judged(name, figure, "0", ok, detail)]

    return guarded(name, "0", [BACKEND], body)


# --- 2. spot interruptions -----------------------------------------------------------------


def _attempt_history(aws: LocalAws, run_id: str) -> Dict[str, List[Dict[str, Any]]]:
    """Jobs of each call of one run, oldest first (by creation time), from the jobs' tags."""
    by_call: Dict[str, List[Dict[str, Any]]] = collections.defaultdict(list)
    for job in aws.all_jobs(prefix=run_id + "-"):
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
        # Spot capacity is reclaimed only on the spot queue: with maxRetries 0, try N of a task
        # exists only after N-1 interruptions, so tries 1..preemptible+1 run on the task queue
        # and later ones on the on-demand fallback, which AWS never reclaims.
        aws.set_faults(
            {
                "seed": 5,
                "spot": {
                    "job_name": _tries_regex(preemptible + 1),
                    "fraction": fraction,
                    "after": 0.3,
                },
            }
        )
        try:
            proc = _start_scatter(aws, "spot", n, sleep_s=1, preemptible=preemptible, env=env)
            res = _scatter_result(aws, "spot", proc, n)
        finally:
            aws.set_faults({})
        history = _attempt_history(aws, proc.run_id)
        interruptions = sum(1 for jobs in history.values() for j in jobs if _interrupted(j))
        within, past, past_on_fallback = 0, 0, 0
        failed_within = 0
        for jobs in history.values():
            spots = sum(1 for j in jobs if _interrupted(j))
            last = jobs[-1]
            if spots <= preemptible:
                within += 1
                failed_within += last.get("status") != "SUCCEEDED"
            else:
                past += 1
                after_budget = jobs[preemptible + 1 :]
                past_on_fallback += all(_queue_name(j) == fallback for j in after_budget)
        detail = (
            f"exit {res['code']}, {len(history)} calls, {interruptions} interruptions,"
            f" {past} tasks past budget ({past_on_fallback} moved to fallback),"
            f" run failed calls {res['failed']}; {_tail(res['stderr'])}"
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
    return "(" + "|".join(["-work-\\d+"] + [f"-try{t}" for t in range(2, last + 1)]) + ")$"


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
        proc = _start_scatter(aws, "fallback", 2, sleep_s=1, preemptible=preemptible, env=env)
        res = _scatter_result(aws, "fallback", proc, 2)
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


# --- 3. SIGINT / SIGTERM -------------------------------------------------------------------


def _wait_running(aws: LocalAws, proc: Proc, k: int, guard: float = 120.0) -> bool:
    def enough() -> bool:
        return proc.popen.poll() is not None or len(aws.jobs(["RUNNING"])) >= k

    aws.wait_until(enough, guard, period=0.3)
    return proc.popen.poll() is None and len(aws.jobs(["RUNNING"])) >= k


def signal_stop(aws: LocalAws, sig: int, n: int, limit: Optional[float] = 10.0) -> List[Row]:
    """``sig`` to ``miniwdl run`` once ``n`` tasks run: seconds until every job is terminal.

    :param limit: the goal in seconds; None judges only that every job became terminal (CI
        tests must not depend on the machine's speed; the scorecard applies the 10 s goal)
    """
    sig_name = signal.Signals(sig).name
    name = f"{sig_name} to miniwdl run mid-scatter ({n} tasks)"
    goal = f"<= {limit:g} s" if limit is not None else "all terminal"

    def body() -> List[Row]:
        proc = _start_scatter(aws, f"sig{sig}", n, sleep_s=600)
        if not _wait_running(aws, proc, n):
            proc.signal(signal.SIGKILL)
            _cleanup_leftovers(aws)
            return [
                judged(name, "never reached", goal, False, f"not all running; {_tail(proc.stderr)}")
            ]
        t0 = time.monotonic()
        proc.signal(sig)
        took = aws.wait_until(lambda: aws.active_count() == 0, SETTLE_GUARD, period=0.1)
        code = proc.wait(SETTLE_GUARD)
        left = aws.active_count()
        if took is None:
            _cleanup_leftovers(aws)
        figure = f"{took:.1f} s" if took is not None else f"> {SETTLE_GUARD:.0f} s ({left} active)"
        exited = time.monotonic() - t0
        detail = f"runner exit {code} after {exited:.1f} s; {_tail(proc.stderr)}"
        in_time = took is not None and (limit is None or took <= limit)
        ok = in_time and code not in (0, None)
        return [judged(name, figure, goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)


def _cleanup_leftovers(aws: LocalAws) -> None:
    """Terminate whatever a failed scenario left, so the next one starts clean."""
    batch = aws.client("batch")
    for job in aws.jobs():
        batch.terminate_job(jobId=job["jobId"], reason="reliability scenario cleanup")
    _settle(aws, 20)


def workflow_terminate(aws: LocalAws, n: int, limit: Optional[float] = 10.0) -> List[Row]:
    """TerminateJob on the submitter's workflow job once its ``n`` tasks run (what ``aws batch
    terminate-job`` or a workflow timeout does): Batch sends SIGTERM to the wrapper, which must
    pass it to miniwdl, which terminates its task jobs. Figure: seconds until every job of the
    run is terminal. The local AWS gets AWS's 30 s SIGTERM-to-SIGKILL grace for this."""
    name = f"TerminateJob of the workflow job mid-scatter ({n} tasks)"
    goal = f"<= {limit:g} s" if limit is not None else "all terminal"

    def body() -> List[Row]:
        saved = aws.get("config")
        aws._request("POST", "config", {"kill_grace": 30.0})
        try:
            work = os.path.join(aws.workdir, "wfterm")
            wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
            cmd = _submit_cmd(aws, wdl, f"n={n}", "sleep_s=600")
            sub = Proc(cmd, _submitter_env(aws), work, "submit")
            sub.wait(120)

            def tasks_running() -> bool:
                running = aws.jobs(["RUNNING"])
                return sum(1 for j in running if not j["jobName"].endswith("-wf")) >= n

            if aws.wait_until(tasks_running, 180, period=0.5) is None:
                _cleanup_leftovers(aws)
                return [judged(name, "never reached", goal, False, _tail(sub.stderr))]
            wf = [j for j in aws.jobs(["RUNNING"]) if j["jobName"].endswith("-wf")]
            t0 = time.monotonic()
            aws.client("batch").terminate_job(jobId=wf[0]["jobId"], reason="reliability test")
            took = aws.wait_until(lambda: aws.active_count() == 0, SETTLE_GUARD, period=0.1)
            left = aws.active_count()
            if took is None:
                _cleanup_leftovers(aws)
            figure = (
                f"{took:.1f} s" if took is not None else f"> {SETTLE_GUARD:.0f} s ({left} active)"
            )
            ok = took is not None and (limit is None or took <= limit)
            detail = f"{left} active after the guard; {time.monotonic() - t0:.1f} s measured"
            return [judged(name, figure, goal, ok, detail)]
        finally:
            aws._request("POST", "config", {"kill_grace": saved.get("kill_grace", 2.0)})

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


# --- 4. SIGKILL + cleanup --------------------------------------------------------------------


def cleanup_command() -> Optional[List[str]]:
    """The run-cleanup command (``miniwdl-aws cleanup``), or None if it doesn't exist yet."""
    exe = os.path.join(BIN, "miniwdl-aws")
    if os.path.exists(exe):
        return [exe]
    if os.path.exists(
        os.path.join(os.path.dirname(__file__), "..", "..", "miniwdl_aws", "ops", "__main__.py")
    ):
        return [PYTHON, "-m", "miniwdl_aws.ops"]
    return None


def sigkill_cleanup(aws: LocalAws, n: int) -> List[Row]:
    """SIGKILL ``miniwdl run`` mid-scatter, then ``miniwdl-aws cleanup RUN``: jobs left."""
    name = f"SIGKILL miniwdl run ({n} tasks), then cleanup RUN"
    goal = "0 active"

    def body() -> List[Row]:
        from miniwdl_aws.naming import new_run_id

        cmd = cleanup_command()
        if cmd is None:
            return [not_run(name, goal, "part missing: miniwdl-aws cleanup command")]
        run_id = new_run_id()
        env = runner_env(aws)
        env["MINIWDL_AWS_RUN_ID"] = run_id
        proc = _start_scatter(aws, "kill", n, sleep_s=600, env=env)
        if not _wait_running(aws, proc, n):
            proc.signal(signal.SIGKILL)
            _cleanup_leftovers(aws)
            return [judged(name, "never reached", goal, False, _tail(proc.stderr))]
        proc.signal(signal.SIGKILL)
        proc.wait(30)
        before = aws.active_count()
        clean = Proc(
            [*cmd, "cleanup", run_id], aws.env(), os.path.dirname(proc.out_path), "cleanup"
        )
        code = clean.wait(120)
        at_exit = aws.active_count()
        aws.wait_until(lambda: aws.active_count() == 0, 10.0, period=0.2)
        left = aws.active_count()
        if left:
            _cleanup_leftovers(aws)
        detail = (
            f"active before cleanup {before}, at its exit {at_exit}, 10 s later {left};"
            f" cleanup exit {code}: {_tail(clean.stdout + clean.stderr)}"
        )
        ok = before > 0 and left == 0 and code == 0
        return [judged(name, f"active jobs left = {left}", goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)


# --- 5. transient endpoint errors ---------------------------------------------------------


def transient(aws: LocalAws, n: int, server_error: float = 0.2, resets: float = 0.1) -> List[Row]:
    """5xx on ``server_error`` of the calls to every service plus connection resets (before the
    request reaches AWS) on ``resets`` of the requests, for ``miniwdl run`` and, when it exists,
    the submitter's whole path (logs, S3): the outcome must be that of a fault-free run."""
    name = f"5xx on {server_error:.0%} of calls + {resets:.0%} conn. resets ({n} tasks)"
    goal = "unchanged"

    def body() -> List[Row]:
        proxy = ResetProxy(int(aws.endpoint.rsplit(":", 1)[1]), resets, seed=3)
        env = runner_env(aws)
        env["AWS_ENDPOINT_URL"] = proxy.endpoint
        aws.set_faults({"seed": 9, "server_error": {"*": server_error}})
        sub_note, sub_ok = "submitter not run (part missing)", True
        try:
            proc = _start_scatter(aws, "transient", n, env=env)
            res = _scatter_result(aws, "transient", proc, n)
            if part_missing(SUBMITTER, WRAPPER) is None:
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
            f" services called {services}; {_tail(res['stderr'], 2)}"
        )
        figure = "unchanged" if not changed else "CHANGED"
        return [judged(name, figure, goal, not changed and _settle(aws) == 0, detail)]

    return guarded(name, goal, [BACKEND], body)


def _submit_with_upload(aws: LocalAws, name: str, n: int, endpoint: str) -> tuple:
    """Submitter ``--follow --s3upload`` of an ``n``-task scatter through ``endpoint``:
    ``(ok, note)`` where ok means exit 0 and every task's result uploaded to S3."""
    work = os.path.join(aws.workdir, name)
    wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
    bucket = aws.stack["bucket"]
    env = _submitter_env(aws)
    env["AWS_ENDPOINT_URL"] = endpoint
    cmd = _submit_cmd(aws, wdl, f"n={n}", "--follow", "--s3upload", f"s3://{bucket}/{name}/")
    proc = Proc(cmd, env, work, "submit")
    code = proc.wait(RUN_GUARD)
    uploaded = _result_objects(aws, bucket, prefix=f"{name}/")
    ok = code == 0 and uploaded >= {f"result-{i}" for i in range(n)}
    return ok, f"submitter exit {code}, {len(uploaded)}/{n} results in S3"


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
        cmd = _submit_cmd(
            aws,
            wdl,
            f"n={n}",
            f"sleep_s={int(seconds) + 5}",
            "--follow",
            "--s3upload",
            f"s3://{bucket}/outage/",
        )
        proc = Proc(cmd, _submitter_env(aws), work, "submit")

        def tasks_running() -> bool:
            return proc.popen.poll() is not None or len(aws.jobs(["RUNNING"])) >= n + 1

        aws.wait_until(tasks_running, 180, period=0.5)
        aws.set_faults({"server_error": {"batch.*": 1.0, "logs.*": 1.0}})
        try:
            time.sleep(seconds)
        finally:
            aws.set_faults({})
        code = proc.wait(RUN_GUARD)
        left = _settle(aws)
        uploaded = _result_objects(aws, bucket, prefix="outage/")
        ok = code == 0 and uploaded >= {f"result-{i}" for i in range(n)} and left == 0
        traceback = "Traceback (most recent" in proc.stderr
        detail = (
            f"submitter exit {code}, {len(uploaded)}/{n} results in S3, traceback {traceback},"
            f" active left {left}; {_tail(proc.stderr, 2)}"
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
            proc = _start_scatter(aws, "lost", n, env=env)
            res = _scatter_result(aws, "lost", proc, n)
        finally:
            proxy.close()
        jobs = aws.all_jobs(prefix=proc.run_id + "-")
        extra = len(jobs) - n
        left = _settle(aws)
        detail = (
            f"exit {res['code']}, outputs correct {res['correct']}, {len(jobs)} jobs for {n}"
            f" tasks, {proxy.resets}/{proxy.requests} responses lost, active left {left};"
            f" {_tail(res['stderr'], 2)}"
        )
        ok = extra == 0 and res["code"] == 0 and res["correct"] and left == 0
        return [judged(name, f"{extra} extra jobs", goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)


# --- 6. --follow under log lag and disorder -------------------------------------------------


def _stream_messages(aws: LocalAws, group: str, stream: str) -> List[str]:
    from .secrets_scan import _stream_lines

    return list(_stream_lines(aws.client("logs"), group, stream))


def _submit_cmd(aws: LocalAws, wdl_path: str, *args: str) -> List[str]:
    return [
        os.path.join(BIN, "miniwdl_submit_awsbatch"),
        wdl_path,
        *args,
        "--mount",
        aws.efs_dir,
        "--poll-seconds",
        "0.5",
    ]


def _submitter_env(aws: LocalAws) -> Dict[str, str]:
    # MINIWDL__* settings pass through to the workflow job; the task concurrency stands in for
    # the workflow image's miniwdl-aws.cfg, which the local AWS does not load
    return runner_env(aws)


def follow(aws: LocalAws, n: int, lag: float = 1.0) -> List[Row]:
    """``--follow`` while CloudWatch delivers the workflow log late and in bursts: every line
    of the log stream must be printed exactly once, in order."""
    name = f"--follow with {lag:g} s log lag + disorder"
    goal = "0 lost, 0 dup"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "follow")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        aws.set_faults({"seed": 2, "log_lag": lag, "log_disorder": True})
        try:
            cmd = _submit_cmd(aws, wdl, f"n={n}", "--follow", "--verbose")
            proc = Proc(cmd, _submitter_env(aws), work, "submit")
            code = proc.wait(RUN_GUARD)
        finally:
            aws.set_faults({})
        left = _settle(aws)
        wf_jobs = [
            j for j in aws.all_jobs() if (j.get("tags") or {}).get("MiniwdlRole") == "workflow"
        ]
        if len(wf_jobs) != 1:
            return [
                judged(name, "no workflow job", goal, False, f"exit {code}; {_tail(proc.stderr)}")
            ]
        stream = wf_jobs[0]["container"]["logStreamName"]
        from miniwdl_aws.submit import END_OF_LOG

        # the end-of-log marker is the follower's own signal to stop, not a line for the user
        truth = [m for m in _stream_messages(aws, "/aws/batch/job", stream) if m != END_OF_LOG]
        printed = (proc.stderr + proc.stdout).splitlines()
        truth_count = collections.Counter(truth)
        printed_count = collections.Counter(line for line in printed if line in truth_count)
        lost = sum(max(0, c - printed_count[line]) for line, c in truth_count.items())
        dup = sum(max(0, printed_count[line] - c) for line, c in truth_count.items())
        in_order = [line for line in printed if line in truth_count] == truth
        missing = [line for line, c in truth_count.items() if printed_count[line] < c]
        detail = (
            f"exit {code}, {len(truth)} lines in the stream, in order {in_order}, active left"
            f" {left}; first lost: {missing[:2]!r}; {_tail(proc.stderr)}"
        )
        ok = lost == 0 and dup == 0 and in_order and code == 0 and len(truth) > n
        return [judged(name, f"{lost} lost, {dup} dup", goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


# --- 7. S3 upload failure with --delete-after success ---------------------------------------


def s3_failure(aws: LocalAws, n: int = 3) -> List[Row]:
    """Every S3 write under the upload folder fails; ``--delete-after success`` must keep the
    run directory (0 bytes lost) and the submitter must exit non-zero."""
    name = "S3 upload fails, --delete-after success"
    goal = "0 B lost, exit != 0"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "s3fail")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        bucket = aws.stack["bucket"]
        aws.set_faults({"s3_fail": {"key": "^upload/"}})
        try:
            cmd = _submit_cmd(
                aws,
                wdl,
                f"n={n}",
                "--follow",
                "--s3upload",
                f"s3://{bucket}/upload/",
                "--delete-after",
                "success",
            )
            proc = Proc(cmd, _submitter_env(aws), work, "submit")
            code = proc.wait(RUN_GUARD)
        finally:
            aws.set_faults({})
        left = _settle(aws)
        expected = {f"result-{i}": len(f"result-{i}\n") for i in range(n)}
        found = _result_files(aws.efs_dir) | _result_objects(aws, bucket)
        lost = sum(size for text, size in expected.items() if text not in found)
        detail = f"exit {code}, active left {left}; {_tail(proc.stderr)}"
        ok = lost == 0 and code not in (0, None)
        return [judged(name, f"{lost} B lost, exit {code}", goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def _result_files(root: str) -> set:
    found = set()
    for dirpath, _dirs, files in os.walk(root):
        if "result.txt" in files:
            with open(os.path.join(dirpath, "result.txt")) as f:
                found.add(f.read().strip())
    return found


def _result_objects(aws: LocalAws, bucket: str, prefix: str = "") -> set:
    s3 = aws.client("s3")
    found = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("result.txt"):
                found.add(
                    s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().strip()
                )
    return found


# --- 8. emulator killed and restarted ---------------------------------------------------------

# What counts as telling the user what to do next.
_HINT = re.compile(r"cleanup|miniwdl-aws runs|re-?run|retry|try again|check|make sure", re.I)


def endpoint_restart(
    workdir: str, n: int = 4, down_s: float = 5.0, terminate_wait: Optional[float] = None
) -> List[Row]:
    """The local AWS goes away mid-run and comes back ``down_s`` later on the same port with
    fresh state (its jobs and their records are gone, as after losing the endpoint and the
    hosts): the runner must fail clearly, say what to do, and leave no job running.

    :param terminate_wait: ``[aws] terminate_wait`` for the runner (None: product default);
        CI lowers it, since it bounds how long the runner waits for jobs that no longer exist
    """
    name = "local AWS stopped + restarted mid-run"
    goal = "exit!=0, 0 left, hint"

    def body() -> List[Row]:
        if not os.path.exists(
            os.path.join(
                os.path.dirname(__file__), "..", "..", "miniwdl_aws", "emulator", "__main__.py"
            )
        ):
            return [not_run(name, goal, "part missing: python -m miniwdl_aws.emulator serve")]
        served = ServedAws(workdir).start()
        try:
            env = runner_env(served)
            if terminate_wait is not None:
                env["MINIWDL__AWS__TERMINATE_WAIT"] = str(terminate_wait)
            proc = _start_scatter(served, "restart", n, sleep_s=600, env=env)
            if not _wait_running(served, proc, n):
                proc.signal(signal.SIGKILL)
                return [judged(name, "never reached", goal, False, _tail(proc.stderr))]
            # SIGTERM: the emulator kills its job processes (as if AWS lost the hosts); its
            # endpoint vanishes mid-conversation like a SIGKILL'd server's would.
            served.stop(signal.SIGTERM)
            t0 = time.monotonic()
            time.sleep(down_s)
            served.restart()
            code = proc.wait(RUN_GUARD)
            took = time.monotonic() - t0
            left = served.active_count()
            errors = [ln for ln in proc.stderr.splitlines() if " ERROR " in ln]
            last = errors[-1] if errors else _tail(proc.stderr, 1)
            hint = bool(_HINT.search(" ".join(errors[-5:])))
            traceback = "Traceback (most recent" in proc.stderr
            ok = code not in (0, None) and left == 0 and hint and not traceback
            figure = f"exit {code}, {left} left, hint {'yes' if hint else 'no'}"
            detail = f"runner ended {took:.0f} s after the endpoint went away; last error: {last}"
            return [judged(name, figure, goal, ok, detail)]
        finally:
            served.stop()

    return guarded(name, goal, [BACKEND, EMULATOR], body)


# --- 9. bad inputs -----------------------------------------------------------------------------


def bad_input_table(aws: LocalAws) -> List[Row]:
    """Every bad input: non-zero exit, one line naming the problem, no traceback, no job."""
    cases = bad_inputs.CASES
    name = f"bad inputs (config, CLI, WDL): {len(cases)} cases"
    goal = f"{len(cases)}/{len(cases)}"

    def body() -> List[Row]:
        outcomes, submitted = bad_inputs.run_all(aws, cases)
        bad = (
            [f"{submitted['(unattributed)']} job(s) from no known case"]
            if "(unattributed)" in submitted
            else []
        )
        for o in outcomes:
            problems = o.problems + (
                [f"{submitted[o.case.name]} job(s)"] if submitted[o.case.name] else []
            )
            if problems:
                bad.append(f"{o.case.name}: {', '.join(problems)}")
        _cleanup_leftovers(aws)
        good = len(cases) - len(bad)
        return [
            judged(
                name,
                f"{good}/{len(cases)} as required",
                goal,
                not bad and len(cases) >= 25,
                "; ".join(bad),
            )
        ]

    return guarded(name, goal, [BACKEND, SUBMITTER], body)


# --- 10. secrets -----------------------------------------------------------------------------


def secrets(aws: LocalAws, n: int = 2) -> List[Row]:
    """Run with marked credentials (``miniwdl run --debug``, and the submitter with
    ``--follow --s3upload`` when it exists), then scan everything for them."""
    name = "credentials in job defs/jobs/tags/logs/S3/files"
    goal = "0 hits"

    def body() -> List[Row]:
        creds = marked_credentials()
        env = runner_env(aws)
        env.update(creds)
        # tasks print their whole environment too, so a credential that reached a container by
        # any route lands in stderr.txt and CloudWatch, where the scan looks
        wdl = SCATTER_WDL.replace("set -e\n", "set -e\n    env | sort >&2\n")
        inputs = [f"n={n}"]
        verbose = start_miniwdl(aws, "secrets-verbose", wdl, inputs, env, ["--verbose"])
        codes = [verbose.wait(RUN_GUARD)]
        proc = start_miniwdl(aws, "secrets-debug", wdl, inputs, env, ["--debug"])
        codes.append(proc.wait(RUN_GUARD))
        code = 0 if codes == [0, 0] else next(c for c in codes if c != 0)
        ran = [f"miniwdl run --verbose and --debug: max exit {code}"]
        if part_missing(SUBMITTER, WRAPPER) is None:
            work = os.path.join(aws.workdir, "secrets-submit")
            wdl_path = write(os.path.join(work, "wf.wdl"), wdl)
            senv = _submitter_env(aws)
            senv.update(creds)
            bucket = aws.stack["bucket"]
            cmd = _submit_cmd(
                aws, wdl_path, *inputs, "--follow", "--s3upload", f"s3://{bucket}/sec/"
            )
            sub = Proc(cmd, senv, work, "submit")
            ran.append(f"submitter exit {sub.wait(RUN_GUARD)}")
        _settle(aws)
        hits = scan_aws(aws, creds)
        roots = [aws.workdir]
        if not os.path.realpath(aws.efs_dir).startswith(os.path.realpath(aws.workdir) + os.sep):
            roots.append(aws.efs_dir)
        for root in roots:
            hits += scan_files(root, creds, skip=("emulator.log",))
        detail = f"{'; '.join(ran)}; hits: {sorted(set(hits))[:6]}"
        ok = not hits and code == 0
        return [judged(name, f"{len(hits)} hits", goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)


# --- the card ------------------------------------------------------------------------------

# (key, row names it produces, runner). Runners take (aws, sizes); ``endpoint_restart`` takes
# a scratch folder instead, as it starts its own emulator process.
PLAN: List[tuple] = [
    ("throttle", lambda aws, z: throttling(aws, z.throttle_tasks)),
    ("spot", lambda aws, z: spot(aws, z.spot_tasks)),
    ("follow", lambda aws, z: follow(aws, z.follow_tasks)),
    ("sigint", lambda aws, z: signal_stop(aws, signal.SIGINT, z.signal_tasks)),
    ("sigterm", lambda aws, z: signal_stop(aws, signal.SIGTERM, z.signal_tasks)),
    ("wfterm", lambda aws, z: workflow_terminate(aws, z.signal_tasks)),
    ("sigkill", lambda aws, z: sigkill_cleanup(aws, z.kill_tasks)),
    ("transient", lambda aws, z: transient(aws, z.transient_tasks)),
    ("outage", lambda aws, z: outage(aws)),
    ("lost", lambda aws, z: lost_responses(aws, z.transient_tasks)),
    ("s3fail", lambda aws, z: s3_failure(aws)),
    ("restart", None),
    ("bad_inputs", lambda aws, z: bad_input_table(aws)),
    ("secrets", lambda aws, z: secrets(aws)),
]
