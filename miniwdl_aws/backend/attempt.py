"""The Batch jobs of one task, attempt after attempt: register (or reuse) the job definition,
submit without twins, follow the job until it ends, and stop it when the task is aborted.

Two rules hold whatever happens: never two attempts' jobs at once (a retry first waits until
the previous job is confirmed terminal), and no orphans (every job submitted is terminated
unless Batch reported it ended, and the wait for that is bounded by ``[aws] terminate_wait``).
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack, suppress
from typing import Any, Callable, Dict, List, Optional, Tuple

import WDL
from WDL.runtime.error import Terminated

from .._util import _
from ..aws.batch import TERMINAL_STATES, requested_resources
from ..batch import outcomes
from ..batch.poller import JobWatch
from ..batch.recovery import submit_without_twins
from ..batch.submitter import SubmitAborted
from ..config import AwsSettings
from ..errors import AwsCallError, MiniwdlAwsError
from .services import Services

__all__ = ["JobLifecycle", "QUEUED", "WAKE_SECONDS"]

QUEUED = frozenset({"SUBMITTED", "PENDING", "RUNNABLE"})
WAKE_SECONDS = 0.5  # how often a waiting task thread checks terminating() and tails stderr


class JobLifecycle:
    """One task's Batch jobs across its attempts.

    :ivar attempts: one record per submitted job (attempt, jobId, jobQueue, status...), for
        ``error.json`` and the run summary
    """

    def __init__(self, services: Services, settings: AwsSettings) -> None:
        self.services = services
        self.settings = settings
        self.attempts: List[Dict[str, Any]] = []
        self.unconfirmed_job: Optional[str] = None  # terminated, not yet seen terminal

    def run_hint(self) -> str:
        """How to find and stop this run's jobs once we can no longer follow them."""
        run_id = self.services.run_id
        return (
            f"see this run's jobs with `miniwdl-aws runs {run_id}` and terminate any left with"
            f" `miniwdl-aws cleanup {run_id}`"
        )

    def failure_info(self, details: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """``more_info`` for miniwdl's error.json: the failure details and every attempt."""
        info: Dict[str, Any] = dict(details or {})
        info["attempts"] = [dict(a) for a in self.attempts]
        return info

    # --- before submitting ---

    def definition(
        self,
        logger: logging.Logger,
        props: Dict[str, Any],
        terminating: Callable[[], bool],
        consumables: Optional[Dict[str, int]] = None,
    ) -> str:
        """ARN of the job definition with exactly ``props`` and ``consumables`` (cached;
        registered if new; its calls are idempotent reads and registrations of identical
        content, retried by botocore)."""
        return self.services.definitions.get(logger, props, consumables)

    def confirm_previous_terminal(self, logger: logging.Logger) -> None:
        """Never two attempts at once: a retry waits for the previous attempt's job to end."""
        job_id = self.unconfirmed_job
        if not job_id:
            return
        poller = self.services.poller
        watch = poller.watch(job_id)
        try:
            poller.expedite(job_id)
            if not self.wait_terminal(watch, self.settings.terminate_wait):
                raise WDL.Error.RuntimeError(
                    f"previous attempt's AWS Batch job {job_id} has not ended; not retrying",
                    more_info=self.failure_info(),
                )
        finally:
            poller.unwatch(job_id)
        self.unconfirmed_job = None
        logger.info(_("previous attempt's AWS Batch job ended", jobId=job_id))

    # --- submitting ---

    def submit(
        self,
        logger: logging.Logger,
        request: Dict[str, Any],
        attempt: int,
        terminating: Callable[[], bool],
    ) -> str:
        """Submit through the paced submitter, never starting a twin; returns the job id."""
        since_ms = int(time.time() * 1000) - 5000  # slack for clock skew
        window = self.settings.submit_recovery_seconds

        def once() -> str:
            # not cut short by terminating(): finding the job is what lets us terminate it
            return submit_without_twins(self.services.api, request, since_ms, window, log=logger)

        # a first attempt may become a child of an array job; retries are plain jobs
        arrays = self.services.arrays if attempt == 1 else None
        try:
            job_id = arrays.submit(logger, request, terminating) if arrays else None
            job_id = job_id or self.services.submitter.call(once, terminating, logger)
        except SubmitAborted:
            raise Terminated(quiet=True) from None
        record = {"attempt": attempt, "jobId": job_id, "jobQueue": request["jobQueue"]}
        _vcpus, memory = requested_resources(request.get("containerOverrides") or {})
        if memory:
            record["memoryMiB"] = int(memory)  # grows after an out-of-memory kill
        self.attempts.append(record)
        logger.notice(  # type: ignore[attr-defined]
            _(
                "AWS Batch job submitted",
                jobId=job_id,
                jobName=request["jobName"],
                jobQueue=request["jobQueue"],
            )
        )
        return job_id

    # --- following ---

    def follow(
        self,
        logger: logging.Logger,
        terminating: Callable[[], bool],
        watch: JobWatch,
        poll_stderr: Callable[[], None],
        on_running: Callable[[], None],
        requirements: Callable[[], Any],
        scaling: Optional[Callable[[], Optional[Tuple[Any, ...]]]] = None,
    ) -> Dict[str, Any]:
        """Wait until the job is terminal and return its description; on ``terminating()``
        terminate it and raise Terminated. A job that Batch says can never be placed, for
        ``[aws] unschedulable_grace`` while ``scaling()`` (its queue's
        :func:`~miniwdl_aws.batch.outcomes.scaling_signature`) shows nothing scaling, is
        terminated and the task fails with Batch's reason."""
        seen = 0
        observed: List[str] = []
        runnable_since: Optional[float] = None
        warned = False
        unschedulable = outcomes.UnschedulableClock(self.settings.unschedulable_grace)
        while True:
            if terminating():
                self.terminate(logger, watch.job_id)
                raise Terminated(quiet=not set(observed) - QUEUED)
            watch.wait(seen, WAKE_SECONDS)
            version, status, desc, error = watch.snapshot()
            if error is not None:
                raise error
            if version != seen and status is not None and desc is not None:
                seen = version
                self._on_status(logger, status, desc, observed, on_running)
                runnable_since = time.monotonic() if status == "RUNNABLE" else None
            if desc is not None and scaling is not None and unschedulable.grace > 0:
                evidence = scaling() if outcomes.is_unschedulable(desc) else ()
                if unschedulable.observe(desc, time.monotonic(), evidence):
                    self._give_up_unschedulable(logger, watch.job_id, desc)
            if "RUNNING" in observed:
                poll_stderr()
            if (
                runnable_since is not None
                and not warned
                and self._runnable_too_long(runnable_since)
            ):
                warned = True
                self._warn_runnable(logger, watch.job_id, runnable_since, desc, requirements())
            if status in TERMINAL_STATES:
                assert desc is not None
                self.unconfirmed_job = None
                return desc

    def _give_up_unschedulable(
        self, logger: logging.Logger, job_id: str, desc: Dict[str, Any]
    ) -> None:
        reason = desc.get("statusReason")
        grace = self.settings.unschedulable_grace
        if self.attempts:
            self.attempts[-1].update({"status": "RUNNABLE", "statusReason": reason})
        message = (
            f"AWS Batch job {job_id} can never be placed on its queue {desc.get('jobQueue')}:"
            f" {reason} (for {grace:g}s, with no compute environment scaling up; [aws]"
            " unschedulable_grace); terminated"
        )
        logger.error(_(message, jobId=job_id))
        self.terminate(logger, job_id)
        raise WDL.Error.RuntimeError(message, more_info=self.failure_info())

    def _runnable_too_long(self, since: float) -> bool:
        limit = self.settings.runnable_warning
        return limit > 0 and time.monotonic() - since > limit

    def _warn_runnable(
        self,
        logger: logging.Logger,
        job_id: str,
        since: float,
        desc: Optional[Dict[str, Any]],
        requirements: Any,
    ) -> None:
        logger.warning(
            _(
                "AWS Batch job has been RUNNABLE for long; check the queue's compute"
                " environments can fit it",
                jobId=job_id,
                seconds=round(time.monotonic() - since),
                statusReason=(desc or {}).get("statusReason"),
                resources=requirements,
                queuePosition=self._queue_position(desc),
            )
        )

    def _queue_position(self, desc: Optional[Dict[str, Any]]) -> Optional[int]:
        """The job's place at the front of its queue, when GetJobQueueSnapshot says."""
        if not desc or not desc.get("jobQueue") or not desc.get("jobArn"):
            return None
        return self.services.api.queue_position(str(desc["jobQueue"]), str(desc["jobArn"]))

    def _on_status(
        self,
        logger: logging.Logger,
        status: str,
        desc: Dict[str, Any],
        observed: List[str],
        on_running: Callable[[], None],
    ) -> None:
        observed.append(status)
        stream = (desc.get("container") or {}).get("logStreamName")
        if self.attempts:
            self.attempts[-1]["status"] = status
            if stream:
                self.attempts[-1]["logStreamName"] = stream
        details: Dict[str, Any] = {"jobId": desc.get("jobId"), "status": status}
        if stream:
            details["logStreamName"] = stream
        if status in ("RUNNING", "SUCCEEDED", "FAILED"):
            logger.notice(_("AWS Batch job change", **details))  # type: ignore[attr-defined]
        else:
            logger.info(_("AWS Batch job change", **details))
        if status == "RUNNING":
            on_running()

    # --- stopping: no orphans ---

    def watch_until_ended(
        self, logger: logging.Logger, cleanup: ExitStack, job_id: str
    ) -> JobWatch:
        """Watch ``job_id``; on leaving ``cleanup``, terminate it unless it ended, then unwatch."""
        poller = self.services.poller
        watch = poller.watch(job_id)
        cleanup.callback(poller.unwatch, job_id)
        # runs before unwatch (LIFO): terminate the job unless it is known to have ended
        cleanup.callback(self.ensure_terminal, logger, watch)
        return watch

    def terminate(self, logger: logging.Logger, job_id: str) -> None:
        """Ask Batch to terminate ``job_id``: TerminateJob's own bounded retries, never the
        SubmitJob pacer (a throttled shutdown must not wait behind submissions, nor slow them)."""
        services = self.services
        try:
            services.api.terminate_job_retrying(job_id, outcomes.TERMINATE_REASON, logger=logger)
            # NOTICE, shown without --verbose: the README promises the log says each job we stop
            logger.notice(_("AWS Batch job terminate requested", jobId=job_id))  # type: ignore[attr-defined]
        except AwsCallError as exn:
            logger.error(_("AWS Batch TerminateJob failed", jobId=job_id, error=str(exn)))
        services.poller.expedite(job_id)
        self.unconfirmed_job = job_id

    def ensure_terminal(self, logger: logging.Logger, watch: JobWatch) -> None:
        """Terminate the job unless Batch already reported it terminal, then wait (bounded by
        ``[aws] terminate_wait``) until it does."""
        if watch.terminal:
            self.unconfirmed_job = None
            return
        if self.unconfirmed_job != watch.job_id:
            self.terminate(logger, watch.job_id)
        if self.wait_terminal(watch, self.settings.terminate_wait):
            self.unconfirmed_job = None
            logger.notice(  # type: ignore[attr-defined]
                _("AWS Batch job ended", jobId=watch.job_id, status=watch.status)
            )
        else:
            logger.error(
                _(
                    "AWS Batch job not confirmed terminal",
                    jobId=watch.job_id,
                    status=watch.status,
                    hint=self.run_hint(),
                )
            )

    def wait_terminal(self, watch: JobWatch, seconds: float) -> bool:
        """Whether the job was seen terminal within ``seconds``."""
        poller = self.services.poller
        deadline = time.monotonic() + seconds
        seen = -1
        while not watch.terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if watch.error is not None:
                # the poller gave up on this job; ask Batch directly
                with suppress(MiniwdlAwsError):
                    poller.refresh(watch.job_id)
                if not watch.terminal:
                    time.sleep(min(left, poller.period))
                continue
            seen = watch.wait(seen, min(left, WAKE_SECONDS))
        return True
