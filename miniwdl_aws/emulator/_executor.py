"""The local Batch executor: queueing, capacity, processes, logs, retries, timeouts, kills.

State machine per job (all transitions under ``Executor.lock``)::

    SUBMITTED -dwell-> [PENDING until dependencies succeed] -> RUNNABLE -dwell-> (wait for vCPUs)
      -> STARTING -dwell-> launch: RUNNING ... process exits -> SUCCEEDED | FAILED | retry: RUNNABLE

Timed steps go through one :class:`TimerThread`; each RUNNING job has one thread that reads its
merged stdout/stderr (``select`` on the pipe and a pidfd, no polling) and ships lines to CloudWatch.
One more thread samples the running jobs' memory (``enforce_memory``) and kills a job over its
MEMORY requirement as ECS's OOM killer would.

A job's processes are killed by process group at once, and the ones that left it (``setsid``,
daemons) by their marker variable in a batched sweep (``_procs``); a guardian process kills them
all if this process dies without cleaning up (SIGKILL).
An array parent is never admitted (moto starts only its children): it ends when its last child
ends, here, so that no request that reads jobs has to change them.

The executor reaches jobs only through their own methods and is handed to them by
``_patches.bind`` (it satisfies ``_jobs.JobRunner`` and ``_patches.BatchHooks``), so no module
below it imports it back.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _procs
from ._container import (
    EXITED_REASON,
    MAX_LINE,
    OOM_REASON,
    OOM_STATUS_REASON,
    OVERRIDES_LIMIT,
    OVERRIDES_REASON,
    PULL_REASON,
    SPOT_REASON,
    TIMEOUT_REASON,
    job_env,
    mount_problem,
    overrides_length,
    placement_problem,
    should_retry,
    split_long,
)
from ._faults import FaultInjector
from ._jobs import TERMINAL, LocalJob, now_ms
from ._logs import LogShipper
from ._state import Settings
from ._timers import TimerThread

_logger = logging.getLogger("miniwdl_aws.emulator")


class Executor:
    """Runs admitted :class:`LocalJob` objects. ``env_provider`` gives the AWS_* variables that
    let a job call the emulator back."""

    def __init__(
        self,
        settings: Settings,
        faults: FaultInjector,
        env_provider: Callable[[], Dict[str, str]],
        workdir: str,
    ) -> None:
        self.settings = settings
        self.faults = faults
        self.env_provider = env_provider
        self.workdir = workdir
        self.lock = threading.RLock()
        self.timers = TimerThread()
        self.logs = LogShipper(faults, self.timers)
        self.active: Dict[str, LocalJob] = {}
        self.pending: Dict[str, List[LocalJob]] = {}  # queue arn -> RUNNABLE jobs, FIFO
        self.usage: Dict[str, float] = {}  # compute environment arn -> vCPUs in use
        self.waiting: List[LocalJob] = []  # PENDING on dependencies
        self.runners: Dict[str, threading.Thread] = {}
        self.job_index: Dict[str, LocalJob] = {}  # every admitted job, for O(1) describe
        # array parent id -> {child id: final status}, until every child has finished
        self.array_done: Dict[str, Dict[str, str]] = {}
        # Every job process carries MARKER_ENV=<token>:<job>#<attempt>; the guardian kills
        # whatever carries the token once this process is gone.
        self.token = uuid.uuid4().hex[:16]
        self._guardian, self._guardian_pipe = _procs.start_guardian(self.token)
        self._sweep_lock = threading.Lock()
        self._sweeps: Dict[str, int] = {}  # marker -> signal, for the next sweep
        self._stopping = threading.Event()
        self._memory_thread = threading.Thread(
            target=self._watch_memory, name="emulator-memory", daemon=True
        )
        self._memory_thread.start()

    # -- admission and queueing --------------------------------------------------------------

    def admit(self, job: LocalJob) -> None:
        """Called from SubmitJob (through ``LocalJob.start``)."""
        with self.lock:
            job.set_status("SUBMITTED")
            self.active[job.job_id] = job
            self.job_index[job.job_id] = job
            job.timers.append(
                self.timers.call_later(self.settings.dwell, self._after_submitted, job)
            )

    def _after_submitted(self, job: LocalJob) -> None:
        with self.lock:
            if job.status != "SUBMITTED":
                return
            if job.waits_for:
                job.set_status("PENDING")
                self.waiting.append(job)
                self._check_dependencies()
            else:
                self._make_runnable(job)

    def _check_dependencies(self) -> None:
        for job in list(self.waiting):
            states = [self._status_of(dep) for dep in job.waits_for]
            if "FAILED" in states:
                self.waiting.remove(job)
                self._finalize(job, "FAILED", "Dependent Job failed")
            elif all(s in (None, "SUCCEEDED") for s in states):
                self.waiting.remove(job)
                self._make_runnable(job)

    def _status_of(self, job_id: str) -> Optional[str]:
        dep = self.job_index.get(job_id)
        return dep.status if dep is not None else None

    def _make_runnable(self, job: LocalJob) -> None:
        job.set_status("RUNNABLE")
        job.timers.append(self.timers.call_later(self.settings.dwell, self._enqueue, job))

    def _enqueue(self, job: LocalJob) -> None:
        with self.lock:
            if job.status != "RUNNABLE":
                return
            self.pending.setdefault(job.job_queue.arn, []).append(job)
            self._dispatch(job.job_queue)

    def _dispatch(self, queue: Any) -> None:
        pending = self.pending.get(queue.arn, [])
        i = 0
        while i < len(pending):
            job = pending[i]
            problem = placement_problem(job, list(queue.environments))
            if problem is not None:
                # AWS leaves it RUNNABLE, saying why, at the head of its queue, blocking it
                job.status_reason = problem
                return
            free = self._free_vcpus(queue)
            if not free or max(f for _, f in free) < 0.25:
                return  # full: nothing else can start (0.25 vCPU is the smallest Batch job)
            if job.status_reason is not None:
                job.status_reason = None
            ce = next((c for c, f in free if f >= job.vcpus), None)
            if ce is None:
                i += 1
                continue
            pending.pop(i)
            self.usage[ce.arn] = self.usage.get(ce.arn, 0.0) + job.vcpus
            job.ce = ce
            job.set_status("STARTING")
            job.timers.append(self.timers.call_later(self.settings.dwell, self._launch, job))

    def _free_vcpus(self, queue: Any) -> List[Tuple[Any, float]]:
        out = []
        for ce in queue.environments:
            if (
                getattr(ce, "state", "ENABLED") == "DISABLED"
                or getattr(ce, "status", "") == "INVALID"
            ):
                continue  # AWS places no new jobs there; running ones carry on
            resources = getattr(ce, "compute_resources", None) or {}
            limit = float(resources.get("maxvCpus", 1e9)) if resources else 1e9
            out.append((ce, limit - self.usage.get(ce.arn, 0.0)))
        return out

    def capacity_changed(self) -> None:
        """A compute environment was resized: start whatever now fits."""
        with self.lock:
            for jobs in list(self.pending.values()):
                if jobs:
                    self._dispatch(jobs[0].job_queue)

    def _release(self, job: LocalJob) -> None:
        if job.ce is not None:
            self.usage[job.ce.arn] = max(0.0, self.usage.get(job.ce.arn, 0.0) - job.vcpus)
            job.ce = None
            self._dispatch(job.job_queue)
            for queue_arn in list(self.pending):
                if queue_arn != job.job_queue.arn and self.pending[queue_arn]:
                    self._dispatch(self.pending[queue_arn][0].job_queue)

    # -- launching ---------------------------------------------------------------------------

    def _launch(self, job: LocalJob) -> None:
        with self.lock:
            if job.status != "STARTING":
                return
            if overrides_length(job) > OVERRIDES_LIMIT:
                # ECS's RunTask refuses the overrides; Batch accepted the job and fails it now
                self._release(job)
                self._finalize(job, "FAILED", OVERRIDES_REASON)
                return
            _begin_attempt(job)
            problem = self._start_problem(job)
            if problem is not None:
                self._attempt_failed_to_start(job, problem)
                return
            argv = job.command()
            job.tmpdir = tempfile.mkdtemp(prefix=f"job-{job.job_id[:8]}-", dir=self.workdir)
            stream = _stream_name(job)
            job.current_stream = stream
            job.log_stream_name = stream
            self.logs.open_stream(job._log_backend, stream)
            env = job_env(job, self.env_provider(), self.settings.images)
            env[_procs.MARKER_ENV] = self._marker(job)
            try:
                proc = _spawn(argv, job.tmpdir, env)
            except OSError as exc:
                self._attempt_failed_to_start(job, _exec_failure(argv[0], exc))
                return
            _mark_running(job, proc, stream)
            self._arm_attempt_timers(job, proc)
            self._start_runner(job, proc)

    def _marker(self, job: LocalJob) -> str:
        return _procs.marker(self.token, job.job_id, job.attempt_no)

    def _start_problem(self, job: LocalJob) -> Optional[str]:
        """Why this attempt cannot start (an AWS-like reason), or None."""
        if self.faults.cannot_pull(job.job_name):
            return PULL_REASON.format(image=str(job.container_properties().get("image", "")))
        problem = mount_problem(job)
        if problem is None and not job.command():
            problem = "CannotStartContainerError: the job has no command (images are not run)"
        return problem

    def _arm_attempt_timers(self, job: LocalJob, proc: subprocess.Popen) -> None:
        """Schedule the attempt's timeout and any spot/OOM fault that applies to it."""
        duration = job.attempt_duration()
        if duration:
            job.timers.append(
                self.timers.call_later(
                    float(duration), self._kill, job, proc, TIMEOUT_REASON, False, None
                )
            )
        index = job.array_properties.get("index")
        spot = self.faults.spot_after(job.job_name, job.attempt_no, index)
        if spot is not None:
            job.timers.append(self.timers.call_later(spot, self._spot, job, proc))
        oom = self.faults.oom_after(job.job_name, job.attempt_no, index)
        if oom is not None:
            job.timers.append(self.timers.call_later(oom, self._oom, job, proc))

    def _start_runner(self, job: LocalJob, proc: subprocess.Popen) -> None:
        runner = threading.Thread(
            target=self._pump,
            args=(job, proc),
            name=f"emulator-job-{job.job_id[:8]}",
            daemon=True,
        )
        self.runners[job.job_id] = runner
        runner.start()

    # -- running -----------------------------------------------------------------------------

    def _pump(self, job: LocalJob, proc: subprocess.Popen) -> None:
        """Ship output line by line until the main process has exited and both pipes are drained.

        stdout and stderr are read from separate pipes and split into lines each on its own, as
        Docker's log copier does for the awslogs driver: two writers never splice into one line.
        """
        assert proc.stdout is not None and proc.stderr is not None
        pipes = {proc.stdout.fileno(): b"", proc.stderr.fileno(): b""}
        pidfd = os.pidfd_open(proc.pid)
        exited = False
        stream = job.current_stream or ""
        # poll, not select: a big scatter has well over FD_SETSIZE (1024) descriptors open
        poller = select.poll()
        for fd in pipes:
            poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        try:
            while pipes:
                for rfd, _ in poller.poll():
                    if rfd == pidfd:
                        if not exited:
                            exited = True
                            poller.unregister(pidfd)
                            # The main process is gone (a zombie until reaped, so the group id is
                            # still ours): like a container stopping, take every leftover
                            # process with it.
                            self._signal_job(job, proc, signal.SIGKILL)
                        continue
                    if rfd not in pipes:
                        continue
                    data = os.read(rfd, 65536)
                    if not data:
                        rest = pipes.pop(rfd)
                        if rest:  # a last line without its newline
                            self.logs.ship(job._log_backend, stream, [rest])
                        poller.unregister(rfd)
                        continue
                    lines, pipes[rfd] = _complete_lines(pipes[rfd] + data)
                    if lines:
                        self.logs.ship(job._log_backend, stream, split_long(lines))
            if not exited:
                # The pipes can close before the process is reported exited (or the job closed
                # them early): wait for the exit, then stop leftovers as above.
                waiter = select.poll()
                waiter.register(pidfd, select.POLLIN)
                waiter.poll()
                self._signal_job(job, proc, signal.SIGKILL)
        finally:
            os.close(pidfd)
            proc.stdout.close()
            proc.stderr.close()
        with self.lock:
            rc = proc.wait()
            job.proc_done = True
            self.runners.pop(job.job_id, None)
            self._attempt_finished(job, rc)

    def _signal_group(self, proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _signal_job(self, job: LocalJob, proc: subprocess.Popen, sig: int) -> None:
        """Signal every process of the attempt, as stopping a container's cgroup would: its
        process group now, and the processes that left it (by their marker) in the next sweep."""
        self._signal_group(proc, sig)
        with self._sweep_lock:
            first = not self._sweeps
            mark = self._marker(job)
            # SIGKILL wins over SIGTERM if both are asked for before the sweep
            self._sweeps[mark] = (
                signal.SIGKILL if sig == signal.SIGKILL else self._sweeps.get(mark, sig)
            )
        if first:
            # batched: one pass over /proc for every job stopped in the meantime
            self.timers.call_later(0.05, self._sweep)

    def _sweep(self) -> None:
        with self._sweep_lock:
            todo, self._sweeps = self._sweeps, {}
        if not todo:
            return
        with self.lock:
            live = {
                j.proc.pid for j in self.active.values() if j.proc is not None and not j.proc_done
            }
        procs = _procs.snapshot()
        for pid, value in _procs.marked(procs, list(todo), live).items():
            if value in todo:
                _procs.kill([pid], todo[value])

    # -- memory ------------------------------------------------------------------------------

    def _watch_memory(self) -> None:
        """Sample the resident memory of every running job's session; kill the ones over their
        MEMORY requirement as ECS's OOM killer does (SIGKILL, exit 137, the OOM reason)."""
        while not self._stopping.wait(max(0.05, self.settings.memory_poll)):
            if not self.settings.enforce_memory:
                continue
            with self.lock:
                watched = {
                    j.proc.pid: (j, j.proc, j.memory_mib())
                    for j in self.active.values()
                    if j.proc is not None and not j.proc_done and j.memory_mib() is not None
                }
            if not watched:
                continue
            for sid, used in _procs.session_rss(set(watched)).items():
                job, proc, limit = watched[sid]
                if limit is not None and used > limit * 1024 * 1024:
                    _logger.info(
                        "emulator: job %s uses %d MiB, over its MEMORY %g MiB: OOM kill",
                        job.job_id,
                        used // (1024 * 1024),
                        limit,
                    )
                    self._oom(job, proc)

    def _kill(
        self,
        job: LocalJob,
        proc: subprocess.Popen,
        reason: str,
        retryable: bool,
        container_reason: Optional[str],
    ) -> None:
        """Stop a running attempt: SIGTERM, then SIGKILL after ``kill_grace``."""
        with self.lock:
            if job.proc is not proc or job.proc_done:
                return
            if job.kill_reason is None:
                job.kill_reason = reason
                job.kill_retryable = retryable
                job.kill_container_reason = container_reason
            self._signal_job(job, proc, signal.SIGTERM)
            job.timers.append(
                self.timers.call_later(self.settings.kill_grace, self._hard_kill, job, proc)
            )

    def _hard_kill(self, job: LocalJob, proc: subprocess.Popen) -> None:
        with self.lock:
            if job.proc is proc and not job.proc_done:
                self._signal_job(job, proc, signal.SIGKILL)

    def _spot(self, job: LocalJob, proc: subprocess.Popen) -> None:
        with self.lock:
            if job.proc is not proc or job.proc_done:
                return
            job.kill_reason = SPOT_REASON
            job.kill_retryable = True
            job.kill_container_reason = None
            job.exit_code = None
            self._signal_job(job, proc, signal.SIGKILL)  # the host vanishes: no grace period

    def _oom(self, job: LocalJob, proc: subprocess.Popen) -> None:
        with self.lock:
            if job.proc is not proc or job.proc_done:
                return
            job.kill_reason = OOM_STATUS_REASON
            job.kill_retryable = True
            job.kill_container_reason = OOM_REASON
            self._signal_job(job, proc, signal.SIGKILL)  # the OOM killer: exit code 137

    # -- finishing ---------------------------------------------------------------------------

    def _attempt_failed_to_start(self, job: LocalJob, reason: str) -> None:
        job.attempt_records.append(
            {
                "container": {"reason": reason},
                "startedAt": now_ms(),
                "stoppedAt": now_ms(),
                "statusReason": reason,
            }
        )
        job.exit_code = None
        job.container_reason = reason
        self._end_attempt(job, None, reason, reason, retryable=True)

    def _attempt_finished(self, job: LocalJob, rc: int) -> None:
        if job.status in TERMINAL:  # already finalized (kill_all gave up waiting for us)
            return
        exit_code: Optional[int] = rc if rc >= 0 else 128 - rc  # killed by signal N -> 128+N
        container_reason = job.kill_container_reason
        if job.kill_reason == SPOT_REASON:
            exit_code = None
        status_reason = job.kill_reason or EXITED_REASON
        # Replace the record rather than mutating it: DescribeJobs may be copying it right now.
        old = job.attempt_records[-1]
        container = dict(old["container"])
        if exit_code is not None:
            container["exitCode"] = exit_code
        if container_reason:
            container["reason"] = container_reason
        job.attempt_records[-1] = {
            **old,
            "container": container,
            "stoppedAt": now_ms(),
            "statusReason": status_reason,
        }
        job.container_reason = container_reason
        job.exit_code = exit_code
        job.proc = None
        if job.tmpdir:
            shutil.rmtree(job.tmpdir, ignore_errors=True)
            job.tmpdir = None
        if job.kill_reason is None and exit_code == 0:
            self._release(job)
            self._finalize(job, "SUCCEEDED", EXITED_REASON)
            return
        self._end_attempt(job, exit_code, status_reason, container_reason, job.kill_retryable)

    def _end_attempt(
        self,
        job: LocalJob,
        exit_code: Optional[int],
        status_reason: str,
        container_reason: Optional[str],
        retryable: bool,
    ) -> None:
        self._release(job)
        if (
            retryable
            and job.attempt_no < job.max_attempts()
            and should_retry(job.retry_strategy, exit_code, status_reason, container_reason)
        ):
            job.status_reason = None
            self._make_runnable(job)
            return
        self._finalize(job, "FAILED", status_reason)

    def _finalize(self, job: LocalJob, status: str, reason: Optional[str]) -> None:
        for timer in job.timers:
            timer.cancel()
        job.timers = []
        job.status_reason = reason
        job.stopped_ms = now_ms()
        job.set_status(status)
        self.active.pop(job.job_id, None)
        self._child_finished(job, status)
        if self.waiting:
            self._check_dependencies()

    def _child_finished(self, job: LocalJob, status: str) -> None:
        """End an array parent once its last child has ended. Counting per child keeps this O(1)
        for big arrays; the parent is never admitted, so nothing else would end it."""
        parent_id = job.array_parent_id()
        if parent_id is None:
            return
        done = self.array_done.setdefault(parent_id, {})
        done[job.job_id] = status
        parent = job.backend.get_job_by_id(parent_id)
        if not isinstance(parent, LocalJob) or len(done) < parent.array_size():
            return
        del self.array_done[parent_id]
        if parent.status not in TERMINAL:
            parent.finish_array(failed="FAILED" in done.values())

    # -- external requests -------------------------------------------------------------------

    def terminate(self, job: LocalJob, reason: str, cancel_only: bool) -> None:
        """TerminateJob / CancelJob."""
        with self.lock:
            status = job.status
            if job.job_id not in self.active or status in TERMINAL:
                return
            if cancel_only and status not in ("SUBMITTED", "PENDING", "RUNNABLE"):
                return  # AWS: jobs that progressed to STARTING or RUNNING aren't canceled
            if status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING"):
                pending = self.pending.get(job.job_queue.arn, [])
                was_queued = job in pending
                if was_queued:
                    pending.remove(job)
                if job in self.waiting:
                    self.waiting.remove(job)
                if status == "STARTING":
                    self._release(job)
                self._finalize(job, "FAILED", reason)
                if was_queued:
                    self._dispatch(job.job_queue)  # it may have been holding the queue's head
            elif status == "RUNNING" and job.proc is not None:
                self._kill(job, job.proc, reason, False, None)

    def kill_all(self, reason: str = "Emulator stopped") -> None:
        """SIGKILL every job process group at once and mark every active job FAILED."""
        with self.lock:
            jobs = list(self.active.values())
            for job in jobs:
                if job.proc is not None and not job.proc_done:
                    job.kill_reason = job.kill_reason or reason
                    job.kill_retryable = False
                    self._signal_group(job.proc, signal.SIGKILL)
            runners = list(self.runners.values())
        # and every process that left its job's group, in one pass
        _procs.kill(_procs.marked(_procs.snapshot(), [self.token + ":"], set()), signal.SIGKILL)
        for runner in runners:
            runner.join(5.0)
        with self.lock:
            for job in list(self.active.values()):
                for timer in job.timers:
                    timer.cancel()
                if job.ce is not None:
                    self.usage[job.ce.arn] = 0.0
                    job.ce = None
                self._finalize(job, "FAILED", reason)
            self.pending.clear()
            self.waiting.clear()
            self.usage.clear()

    def forget(self) -> None:
        """Drop every reference to jobs (after moto's state was wiped)."""
        with self.lock:
            self.job_index.clear()
            self.active.clear()
            self.array_done.clear()
        self.logs.forget()

    def active_jobs(self) -> Dict[str, str]:
        """``{job_id: status}`` of jobs not yet SUCCEEDED/FAILED."""
        with self.lock:
            return {jid: str(job.status) for jid, job in self.active.items()}

    def history(self, job_id: str) -> List[str]:
        """Every status the job has been in, in order (attempts repeat RUNNABLE...)."""
        with self.lock:
            job = self.job_index.get(job_id)
            return list(job.history) if job is not None else []

    def live_pids(self) -> List[int]:
        """Process-group ids of running job processes."""
        with self.lock:
            return [
                j.proc.pid for j in self.active.values() if j.proc is not None and not j.proc_done
            ]

    def shutdown(self) -> None:
        """Kill everything, stop the threads, and let the guardian go (it finds nothing left)."""
        self.kill_all()
        self._stopping.set()
        self.timers.stop()
        os.close(self._guardian_pipe)
        try:
            self._guardian.wait(10)
        except subprocess.TimeoutExpired:
            self._guardian.kill()
            self._guardian.wait()


def _complete_lines(buf: bytes) -> Tuple[List[bytes], bytes]:
    """The lines ready to ship from ``buf`` (a partial line reaching 16 KiB counts, as with
    docker's awslogs driver), and the partial line left to wait for more output."""
    lines: List[bytes] = []
    if b"\n" in buf:
        *lines, buf = buf.split(b"\n")
    while len(buf) >= MAX_LINE:
        lines.append(buf[:MAX_LINE])
        buf = buf[MAX_LINE:]
    return lines, buf


def _begin_attempt(job: LocalJob) -> None:
    """Count a new attempt and forget how the previous one was stopped."""
    job.attempt_no += 1
    job.kill_reason = None
    job.kill_container_reason = None
    job.kill_retryable = True


def _stream_name(job: LocalJob) -> str:
    """The CloudWatch stream of the job's current attempt."""
    # Each attempt has its own stream on AWS (a new ECS task id); keep it recognisable.
    suffix = f"-{job.attempt_no}" if job.attempt_no > 1 else ""
    return f"{job.job_definition.name}/default/{job.job_id}{suffix}"


def _spawn(argv: List[str], cwd: str, env: Dict[str, str]) -> subprocess.Popen:
    """Start the command in its own process group, stdout and stderr each on its own pipe."""
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _exec_failure(program: str, exc: OSError) -> str:
    """The reason AWS gives when a container's command cannot be executed."""
    return (
        "CannotStartContainerError: Error response from daemon: failed to create task: "
        f'exec: "{program}": {exc.strerror}: unknown'
    )


def _mark_running(job: LocalJob, proc: subprocess.Popen, stream: str) -> None:
    """Record the started attempt and move the job to RUNNING."""
    job.proc = proc
    job.proc_done = False
    job.started_ms = job.started_ms or now_ms()
    job.attempt_records.append({"container": {"logStreamName": stream}, "startedAt": now_ms()})
    job.job_started_at = datetime.now()
    job.set_status("RUNNING")
