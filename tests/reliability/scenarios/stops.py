"""Stopping a run: signals, TerminateJob, SIGKILL + cleanup, and the endpoint going away."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Dict, Iterable, List, Optional

from tests.support.procs import Proc

from ..harness import BIN, REPO, LocalAws
from ..scorecard import Row, judged, not_run
from ..served import ServedAws
from ..workflows import SCATTER_WDL, runner_env, write
from ._common import (
    BACKEND,
    EMULATOR,
    OPS,
    RUN_GUARD,
    SETTLE_GUARD,
    SUBMITTER,
    WRAPPER,
    cleanup_leftovers,
    guarded,
    start_scatter,
    submit_cmd,
    submitter_env,
    tail,
    wait_running,
)

# Seconds between SIGTERM and SIGKILL when Batch stops a job (ECS's default stopTimeout); the
# scenarios where a wrapper must react to SIGTERM give the local AWS the same.
AWS_KILL_GRACE = 30.0


def signal_stop(
    aws: LocalAws,
    sig: int,
    n: int,
    limit: Optional[float] = 10.0,
    capacity: Optional[int] = None,
) -> List[Row]:
    """``sig`` to ``miniwdl run`` once its ``n`` tasks are submitted and running (or, with
    ``capacity`` vCPUs in the task queue, once that many run and the rest wait RUNNABLE):
    seconds until every job is terminal.

    :param limit: the goal in seconds; None judges only that every job became terminal (CI
        tests must not depend on the machine's speed; the scorecard applies the 10 s goal)
    :param capacity: shrink the task queue's compute environment to this many vCPUs first
    """
    sig_name = signal.Signals(sig).name
    where = f"{capacity} of {n} tasks running, rest queued" if capacity else f"{n} tasks"
    name = f"{sig_name} to miniwdl run mid-scatter ({where})"
    goal = f"<= {limit:g} s" if limit is not None else "all terminal"

    def body() -> List[Row]:
        if capacity:
            aws.client("batch").update_compute_environment(
                computeEnvironment=aws.stack["task_compute_environment"],
                computeResources={"maxvCpus": capacity},
            )
        proc = start_scatter(aws, f"sig{sig}{'q' if capacity else ''}", n, sleep_s=600)
        if not wait_running(aws, proc, capacity or n, total=n):
            proc.signal(signal.SIGKILL)
            cleanup_leftovers(aws)
            return [
                judged(name, "never reached", goal, False, f"not all running; {tail(proc.stderr)}")
            ]
        t0 = time.monotonic()
        proc.signal(sig)
        took = aws.wait_until(lambda: aws.active_count() == 0, SETTLE_GUARD, period=0.1)
        code = proc.wait(SETTLE_GUARD)
        left = aws.active_count()
        if took is None:
            cleanup_leftovers(aws)
        figure = f"{took:.1f} s" if took is not None else f"> {SETTLE_GUARD:.0f} s ({left} active)"
        exited = time.monotonic() - t0
        detail = f"runner exit {code} after {exited:.1f} s; {tail(proc.stderr)}"
        in_time = took is not None and (limit is None or took <= limit)
        ok = in_time and code not in (0, None)
        return [judged(name, figure, goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)


def workflow_terminate(aws: LocalAws, n: int, limit: Optional[float] = 10.0) -> List[Row]:
    """TerminateJob on the submitter's workflow job once its ``n`` tasks run (what ``aws batch
    terminate-job`` or a workflow timeout does): Batch sends SIGTERM to the wrapper, which must
    pass it to miniwdl, which terminates its task jobs. Figure: seconds until every job of the
    run is terminal. The local AWS gets AWS's 30 s SIGTERM-to-SIGKILL grace for this."""
    name = f"TerminateJob of the workflow job mid-scatter ({n} tasks)"
    goal = f"<= {limit:g} s" if limit is not None else "all terminal"

    def body() -> List[Row]:
        saved = aws.configure(kill_grace=AWS_KILL_GRACE)
        try:
            work = os.path.join(aws.workdir, "wfterm")
            wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
            cmd = submit_cmd(aws, wdl, f"n={n}", "sleep_s=600")
            sub = Proc(cmd, submitter_env(aws), work, "submit")
            sub.wait(120)

            def tasks_running() -> bool:
                running = aws.jobs(["RUNNING"])
                return sum(1 for j in running if not j["jobName"].endswith("-wf")) >= n

            if aws.wait_until(tasks_running, 180, period=0.5) is None:
                cleanup_leftovers(aws)
                return [judged(name, "never reached", goal, False, tail(sub.stderr))]
            wf = [j for j in aws.jobs(["RUNNING"]) if j["jobName"].endswith("-wf")]
            t0 = time.monotonic()
            aws.client("batch").terminate_job(jobId=wf[0]["jobId"], reason="reliability test")
            took = aws.wait_until(lambda: aws.active_count() == 0, SETTLE_GUARD, period=0.1)
            left = aws.active_count()
            if took is None:
                cleanup_leftovers(aws)
            figure = (
                f"{took:.1f} s" if took is not None else f"> {SETTLE_GUARD:.0f} s ({left} active)"
            )
            ok = took is not None and (limit is None or took <= limit)
            detail = f"{left} active after the guard; {time.monotonic() - t0:.1f} s measured"
            return [judged(name, figure, goal, ok, detail)]
        finally:
            aws.configure(**saved)

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def follow_interrupt(aws: LocalAws, n: int = 2) -> List[Row]:
    """Ctrl-C (SIGINT) to ``miniwdl_submit_awsbatch --follow`` while the workflow runs: the
    laptop stops waiting, the run keeps going (the point of a workflow job), and the printed
    command stops it. Figures: workflow job still active, and every job terminal after running
    the printed command."""
    name = "Ctrl-C on submitter --follow, then its stop command"
    goal = "run kept, then 0 active"

    def body() -> List[Row]:
        saved = aws.configure(kill_grace=AWS_KILL_GRACE)
        try:
            return ctrl_c()
        finally:
            aws.configure(**saved)

    def ctrl_c() -> List[Row]:
        work = os.path.join(aws.workdir, "ctrlc")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        cmd = submit_cmd(aws, wdl, f"n={n}", "sleep_s=600", "--follow")
        sub = Proc(cmd, submitter_env(aws), work, "submit")

        def tasks_running() -> bool:
            return sub.popen.poll() is not None or len(aws.jobs(["RUNNING"])) >= n + 1

        if aws.wait_until(tasks_running, 180, period=0.5) is None or sub.popen.poll() is not None:
            cleanup_leftovers(aws)
            return [judged(name, "never reached", goal, False, tail(sub.stderr))]
        sub.signal(signal.SIGINT)
        code = sub.wait(60)
        kept = aws.active_count()
        printed = [ln.strip() for ln in sub.stderr.splitlines() if "terminate" in ln]
        stop = next((ln for ln in printed if ln.startswith(("aws ", "miniwdl-aws "))), None)
        left = kept
        if stop:
            # run the printed command as a user would (aws CLI or its boto3 equivalent)
            left = _run_stop_command(aws, stop, work)
        if left:
            cleanup_leftovers(aws)
        traceback = "Traceback (most recent" in sub.stderr
        ok = code not in (0, None) and kept == n + 1 and stop is not None and left == 0
        ok = ok and not traceback
        figure = f"kept {kept}/{n + 1} active, then {left} active"
        detail = f"submitter exit {code}, traceback {traceback}, stop command: {stop!r}"
        return [judged(name, figure, goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def _run_stop_command(aws: LocalAws, command: str, cwd: str) -> int:
    """Run a printed stop command; ``aws batch terminate-job`` is done with boto3 (the aws CLI
    is not a dependency). Returns the jobs still active 10 s (at most) later."""
    import shlex

    words = shlex.split(command)
    if words[:3] == ["aws", "batch", "terminate-job"]:
        job_id = words[words.index("--job-id") + 1]
        reason = words[words.index("--reason") + 1] if "--reason" in words else "stop"
        aws.client("batch").terminate_job(jobId=job_id, reason=reason)
    else:
        Proc(words, aws.env(), cwd, "stop").wait(120)
    aws.wait_until(lambda: aws.active_count() == 0, 10.0, period=0.2)
    return aws.active_count()


def sigkill_cleanup(aws: LocalAws, n: int) -> List[Row]:
    """SIGKILL ``miniwdl run`` mid-scatter, then ``miniwdl-aws cleanup RUN``: jobs left."""
    name = f"SIGKILL miniwdl run ({n} tasks), then cleanup RUN"
    goal = "0 active"

    def body() -> List[Row]:
        from miniwdl_aws.naming import new_run_id

        run_id = new_run_id()
        env = runner_env(aws)
        env["MINIWDL__AWS__RUN_ID"] = run_id
        proc = start_scatter(aws, "kill", n, sleep_s=600, env=env)
        if not wait_running(aws, proc, n):
            proc.signal(signal.SIGKILL)
            cleanup_leftovers(aws)
            return [judged(name, "never reached", goal, False, tail(proc.stderr))]
        proc.signal(signal.SIGKILL)
        proc.wait(30)
        return [_cleanup_row(aws, name, goal, run_id, os.path.dirname(proc.out_path))]

    return guarded(name, goal, [BACKEND, OPS], body)


def workflow_kill_cleanup(aws: LocalAws, n: int) -> List[Row]:
    """The submitter's workflow job dies without a chance to clean up (TerminateJob with no
    SIGTERM grace, as when its Fargate task is lost), leaving its task jobs running; then
    ``miniwdl-aws cleanup RUN`` with the run id the submitter printed: jobs left."""
    name = f"workflow job killed ({n} tasks), then cleanup RUN"
    goal = "0 active"

    def body() -> List[Row]:
        saved = aws.configure(kill_grace=0.0)
        try:
            work = os.path.join(aws.workdir, "wfkill")
            wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
            sub = Proc(
                submit_cmd(aws, wdl, f"n={n}", "sleep_s=600"), submitter_env(aws), work, "submit"
            )
            sub.wait(120)
            found = re.search(r"run id (\S+)", sub.stderr + sub.stdout)
            if not found:
                return [judged(name, "no run id printed", goal, False, tail(sub.stderr))]
            run_id = found.group(1).rstrip(".;,")

            def tasks_running() -> bool:
                return (
                    sum(1 for j in aws.jobs(["RUNNING"]) if not j["jobName"].endswith("-wf")) >= n
                )

            if aws.wait_until(tasks_running, 180, period=0.5) is None:
                cleanup_leftovers(aws)
                return [judged(name, "never reached", goal, False, tail(sub.stderr))]
            wf = [j for j in aws.jobs(["RUNNING"]) if j["jobName"].endswith("-wf")]
            aws.client("batch").terminate_job(jobId=wf[0]["jobId"], reason="host lost")
            aws.wait_until(lambda: not aws.jobs(["RUNNING"], prefix=wf[0]["jobName"]), 30, 0.2)
        finally:
            aws.configure(**saved)
        return [_cleanup_row(aws, name, goal, run_id, work)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER, OPS], body)


def _cleanup_row(aws: LocalAws, name: str, goal: str, run_id: str, cwd: str) -> Row:
    """Run ``miniwdl-aws cleanup RUN`` and judge: some job was active before, none 10 s
    after it returned (Batch stops jobs asynchronously), and it exited 0."""
    before = aws.active_count()
    clean = Proc([os.path.join(BIN, "miniwdl-aws"), "cleanup", run_id], aws.env(), cwd, "cleanup")
    code = clean.wait(120)
    at_exit = aws.active_count()
    aws.wait_until(lambda: aws.active_count() == 0, 10.0, period=0.2)
    left = aws.active_count()
    if left:
        cleanup_leftovers(aws)
    detail = (
        f"active before cleanup {before}, at its exit {at_exit}, 10 s later {left};"
        f" cleanup exit {code}: {tail(clean.stdout + clean.stderr)}"
    )
    ok = before > 0 and left == 0 and code == 0
    return judged(name, f"active jobs left = {left}", goal, ok, detail)


def _hint(text: str, run_id: str) -> bool:
    """Whether ``text`` tells the user what to do next: the commands that list and stop this
    run's jobs, with its run id (what the runner prints when it can no longer follow them)."""
    return bool(run_id) and all(
        f"`miniwdl-aws {command} {run_id}`" in text for command in ("runs", "cleanup")
    )


def job_processes(job_ids: Iterable[str]) -> Dict[str, List[int]]:
    """``{job id: live pids}`` of the jobs among ``job_ids`` that still run on this machine,
    the local AWS's "hosts": it starts every job attempt with ``AWS_BATCH_JOB_ID`` in its
    environment, which the job's children inherit (Linux: read from ``/proc``)."""
    prefix = b"AWS_BATCH_JOB_ID="
    wanted = set(job_ids)
    found: Dict[str, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if state in ("Z", "X"):
            continue
        for item in environ:
            if item.startswith(prefix):
                job_id = item[len(prefix) :].decode(errors="replace")
                if job_id in wanted:
                    found.setdefault(job_id, []).append(int(entry))
                break
    return found


def _kill_job_processes(jobs: Dict[str, List[int]]) -> None:
    """SIGKILL the process group of every pid listed (each job runs in its own group)."""
    for pids in jobs.values():
        for pid in pids:
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except OSError:
                pass  # already gone


def endpoint_restart(
    workdir: str, n: int = 4, down_s: float = 5.0, terminate_wait: Optional[float] = None
) -> List[Row]:
    """The local AWS goes away mid-run and comes back ``down_s`` later on the same port with
    fresh state (its jobs and their records are gone, as after losing the endpoint and the
    hosts): the runner must fail clearly, say what to do (the ``miniwdl-aws runs``/``cleanup``
    commands with its run id), and leave no job running.

    Jobs left are counted on the AWS the run actually used, not on the restarted one alone
    (which starts empty): job processes of the stopped AWS still alive on this machine (its
    "hosts"), plus jobs active on the restarted AWS (submitted after it came back).

    :param terminate_wait: ``[aws] terminate_wait`` for the runner (None: product default);
        CI lowers it, since it bounds how long the runner waits for jobs that no longer exist
    """
    name = "local AWS stopped + restarted mid-run"
    goal = "exit!=0, 0 left, hint"

    def body() -> List[Row]:
        if not os.path.exists(os.path.join(REPO, "miniwdl_aws", "emulator", "__main__.py")):
            return [not_run(name, goal, "part missing: python -m miniwdl_aws.emulator serve")]
        served = ServedAws(workdir).start()
        try:
            env = runner_env(served)
            if terminate_wait is not None:
                env["MINIWDL__AWS__TERMINATE_WAIT"] = str(terminate_wait)
            proc = start_scatter(served, "restart", n, sleep_s=600, env=env)
            if not wait_running(served, proc, n):
                proc.signal(signal.SIGKILL)
                return [judged(name, "never reached", goal, False, tail(proc.stderr))]
            used = [j["jobId"] for j in served.all_jobs()]
            # SIGTERM: the emulator kills its job processes (as if AWS lost the hosts); its
            # endpoint vanishes mid-conversation like a SIGKILL'd server's would.
            served.stop(signal.SIGTERM)
            t0 = time.monotonic()
            time.sleep(down_s)
            served.restart()
            code = proc.wait(RUN_GUARD)
            took = time.monotonic() - t0
            # as in the cleanup rows, stopping may take a moment: 10 s at most
            served.wait_until(lambda: not job_processes(used), 10.0, period=0.2)
            survivors = job_processes(used)
            _kill_job_processes(survivors)  # a failed row leaves nothing running
            on_restarted = served.active_count()
            left = len(survivors) + on_restarted
            errors = [ln for ln in proc.stderr.splitlines() if " ERROR " in ln]
            last = errors[-1] if errors else tail(proc.stderr, 1)
            hint = _hint("\n".join(errors[-5:]), proc.run_id)
            traceback = "Traceback (most recent" in proc.stderr
            ok = code not in (0, None) and left == 0 and hint and not traceback
            figure = f"exit {code}, {left} left, hint {'yes' if hint else 'no'}"
            detail = (
                f"runner ended {took:.0f} s after the endpoint went away; of its {len(used)}"
                f" jobs {len(survivors)} still running on the stopped AWS's hosts, and"
                f" {on_restarted} active jobs on the restarted AWS; last error: {last}"
            )
            return [judged(name, figure, goal, ok, detail)]
        finally:
            served.stop()

    return guarded(name, goal, [BACKEND, EMULATOR], body)
