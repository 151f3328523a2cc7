"""miniwdl container backends that run each WDL task as an AWS Batch job on a shared filesystem.

- ``aws_batch_job`` (:class:`BatchJob`): task jobs mount an EFS access point at ``[file_io] root``,
  the same path the miniwdl runner uses, so no file is copied.
- ``aws_batch_job_no_efs`` (:class:`BatchJobNoEFS`): the compute environment already mounts a
  shared filesystem (e.g. FSx for Lustre) at ``[file_io] root``; jobs use it as a host volume.

Per process there is one set of shared services (:class:`_Services`): boto3 clients, the
job-definition cache, the adaptive submitter and the status poller. Each task thread only
submits its job and then sleeps on its :class:`~miniwdl_aws.batch.poller.JobWatch`.

Task ``runtime`` keys understood beyond miniwdl's own (hints are not passed to backends by
miniwdl 1.16):

- ``acceleratorType`` (``nvidia*`` requests a GPU), ``acceleratorCount`` (GPUs);
- ``maxTime`` or ``aws_timeout``: per-attempt timeout, seconds or ``"90m"``/``"2h"``/``"1d"``,
  at least 60 s, instead of ``[aws] job_timeout``;
- ``aws_queue``: job queue for this task instead of ``[aws] task_queue``;
- ``aws_container_properties``: JSON object (or a WDL map/object) of extra containerProperties,
  merged over ``[aws] container_properties``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import shutil
import threading
import time
from contextlib import ExitStack, suppress
from typing import Any, Callable, Dict, List, Optional

import WDL
import WDL.runtime.config
import WDL.runtime.task_container
from WDL._util import TerminationSignalFlag, symlink_force, write_atomic
from WDL.runtime.error import Interrupted, Terminated

from . import naming
from ._util import AwsClients, _
from .batch import infrastructure, outcomes, specs
from .batch.api import TERMINAL_STATES, BatchApi, Throttled
from .batch.job_definitions import JobDefinitionCache
from .batch.poller import JobWatch, StatusPoller
from .batch.recovery import submit_without_twins
from .batch.submitter import AdaptiveSubmitter, SubmitAborted
from .config import AwsSettings, load_settings
from .errors import AwsCallError, ConfigError, MiniwdlAwsError
from .ops.studio import studio_settings

__all__ = ["BatchJob", "BatchJobNoEFS", "reset_process_state"]

_QUEUED = {"SUBMITTED", "PENDING", "RUNNABLE"}
_WAKE_SECONDS = 0.5  # how often a waiting task thread checks terminating() and tails stderr


class _Services:
    """Process-wide AWS plumbing shared by every task of the process."""

    def __init__(self, settings: AwsSettings, logger: logging.Logger) -> None:
        self.settings = settings
        self.clients = AwsClients(
            region=settings.region or None,
            max_attempts=settings.boto3_max_attempts,
            retry_mode=settings.boto3_retry_mode,
            max_pool_connections=64,
        )
        # SubmitJob is not idempotent: no blind botocore retries for it (see BatchApi)
        self.submit_clients = AwsClients(
            region=settings.region or None, max_attempts=1, max_pool_connections=64
        )
        self.api = BatchApi(self.clients, self.submit_clients)
        self.definitions = JobDefinitionCache(
            self.api, settings.job_definition_prefix, settings.user_tags
        )
        self.submitter = AdaptiveSubmitter(
            max_rate=1.0 / settings.submit_period, burst=settings.submit_burst
        )
        self.poller = StatusPoller(
            self.api.describe_jobs,
            period=settings.describe_period,
            period_max=settings.describe_period_max,
            error_seconds=settings.describe_error_wait,
            logger=logger.getChild("poller"),
        )
        self.run_id = naming.process_run_id()


_services: Optional[_Services] = None
_services_lock = threading.Lock()


def _shared_services(settings: AwsSettings, logger: logging.Logger) -> _Services:
    global _services
    with _services_lock:
        if _services is None:
            _services = _Services(settings, logger)
        return _services


def reset_process_state() -> None:
    """Forget the process-wide services and miniwdl's backend cache (in-process tests)."""
    global _services
    with _services_lock:
        if _services is not None:
            _services.poller.stop()
        _services = None
    for cls in (BatchJob, BatchJobNoEFS):
        with suppress(AttributeError):
            delattr(cls, "_global_init")
    WDL.runtime.task_container._backends.clear()


class BatchJobBase(WDL.runtime.task_container.TaskContainer):
    """AWS Batch task backend; subclasses say how the shared filesystem reaches the job."""

    _services: Optional[_Services] = None
    _settings: AwsSettings
    _fs_mount: str
    _limits: Dict[str, int]
    _volumes: List[Dict[str, Any]]

    # --- once per process ---

    @classmethod
    def global_init(cls, cfg: WDL.runtime.config.Loader, logger: logging.Logger) -> None:
        """Read and check config and infrastructure, so that bad input fails before any job is
        submitted; then build the shared clients, submitter and poller."""
        try:
            cls._global_init_checked(cfg, logger)
        except MiniwdlAwsError as exn:
            logger.error(_("AWS Batch backend initialization failed", error=str(exn)))
            raise WDL.Error.RuntimeError(str(exn)) from None

    @classmethod
    def _global_init_checked(cls, cfg: WDL.runtime.config.Loader, logger: logging.Logger) -> None:
        settings = load_settings(cfg)
        if naming.ENV_RUN_ID in os.environ:
            # read by naming.process_run_id, not through the Loader; keep miniwdl from warning
            # that this MINIWDL_* variable went unused
            used_env = getattr(cfg, "_used_env", None)
            if isinstance(used_env, set):
                used_env.add(naming.ENV_RUN_ID)
        fs_mount = cfg.get("file_io", "root")
        if not fs_mount.startswith("/") or fs_mount.rstrip("/") == "":
            raise ConfigError(
                "set [file_io] root (MINIWDL__FILE_IO__ROOT) to the shared filesystem's mount"
                f" point, got {fs_mount!r}"
            )
        cls._fs_mount = fs_mount.rstrip("/")
        services = _shared_services(settings, logger)
        if not services.clients.region:
            raise ConfigError(
                "unknown AWS region: set [aws] region (MINIWDL__AWS__REGION) or AWS_DEFAULT_REGION"
            )
        settings = cls._complete_settings(services, settings, logger)
        if not settings.task_queue:
            raise ConfigError(
                "missing AWS Batch job queue: set [aws] task_queue (MINIWDL__AWS__TASK_QUEUE)"
            )
        cls._settings = settings
        cls._services = services
        # checks are idempotent reads: retry them a few times if throttled
        cls._limits = services.submitter.call(
            lambda: cls._check_queues(services, settings, logger), lambda: False, logger, 6
        )
        cls._volumes = [
            services.submitter.call(
                lambda: cls._filesystem_volume(services, settings, logger), lambda: False, logger, 6
            )
        ]
        logger.info(
            _(
                "initialized AWS Batch backend",
                backend=cls.__name__,
                region=services.clients.region,
                task_queue=settings.task_queue,
                task_queue_fallback=settings.task_queue_fallback or None,
                file_io_root=cls._fs_mount,
                resource_limits=cls._limits,
                run_id=services.run_id,
            )
        )

    @classmethod
    def _complete_settings(
        cls, services: _Services, settings: AwsSettings, logger: logging.Logger
    ) -> AwsSettings:
        """Settings found in the environment rather than config (SageMaker Studio)."""
        return settings

    @classmethod
    def _filesystem_volume(
        cls, services: _Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, Any]:
        raise NotImplementedError()

    @classmethod
    def _check_queues(
        cls, services: _Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, int]:
        """Check the task queue(s) exist and are ENABLED; derive per-task resource limits from
        the task queue's compute environments."""
        queues = infrastructure.check_job_queues(
            services.api,
            {
                "task_queue": settings.task_queue,
                "task_queue_fallback": settings.task_queue_fallback,
            },
            logger,
        )
        order = queues["task_queue"].get("computeEnvironmentOrder", [])
        ce_names = [c["computeEnvironment"] for c in order]
        return infrastructure.compute_limits(services.api, ce_names, logger)

    @classmethod
    def detect_resource_limits(
        cls, cfg: WDL.runtime.config.Loader, logger: logging.Logger
    ) -> Dict[str, int]:
        """Largest vCPU/memory one task can get from the task queue's compute environments."""
        return dict(cls._limits)

    # --- per task ---

    def __init__(self, cfg: WDL.runtime.config.Loader, run_id: str, host_dir: str) -> None:
        super().__init__(cfg, run_id, host_dir)
        # the shared filesystem is mounted at the same path in the job, so paths are identities
        self.container_dir = self.host_dir
        self._interruptions = 0
        self._attempts: List[Dict[str, Any]] = []
        self._unconfirmed_job: Optional[str] = None
        self._inputs_copied = False

    def process_runtime(
        self, logger: logging.Logger, runtime_eval: Dict[str, WDL.Value.Base]
    ) -> None:
        """miniwdl's runtime keys, plus accelerators, timeout, queue and container properties."""
        super().process_runtime(logger, runtime_eval)
        rv = self.runtime_values
        if "acceleratorType" in runtime_eval:
            accel = str(runtime_eval["acceleratorType"].coerce(WDL.Type.String()).value)
            if accel.lower().startswith("nvidia"):
                rv["gpu"] = True
            else:
                logger.warning(_("ignored unrecognized runtime.acceleratorType", value=accel))
            rv["acceleratorType"] = accel
        if "acceleratorCount" in runtime_eval:
            count = runtime_eval["acceleratorCount"]
            if not isinstance(count, WDL.Value.Int) or count.value < 0:
                raise WDL.Error.RuntimeError("invalid setting of runtime.acceleratorCount")
            rv["acceleratorCount"] = count.value
        for key in ("maxTime", "aws_timeout"):
            if key in runtime_eval:
                raw = runtime_eval[key].json
                try:
                    rv[key] = specs.parse_duration(raw)
                except ValueError:
                    raise WDL.Error.RuntimeError(
                        f'invalid setting of runtime.{key} (seconds, or e.g. "90m"): {raw}'
                    ) from None
        if "aws_queue" in runtime_eval:
            rv["aws_queue"] = str(runtime_eval["aws_queue"].coerce(WDL.Type.String()).value)
        if "aws_container_properties" in runtime_eval:
            raw = runtime_eval["aws_container_properties"]
            props = json.loads(raw.value) if isinstance(raw, WDL.Value.String) else raw.json
            if not isinstance(props, dict):
                raise WDL.Error.RuntimeError(
                    "invalid setting of runtime.aws_container_properties (a JSON object)"
                )
            rv["aws_container_properties"] = props

    def copy_input_files(self, logger: logging.Logger) -> None:
        """Copy inputs to their (identity) in-container paths; on a retry, only those missing
        (miniwdl's ``delete_work`` may have removed the first work dir)."""
        for host_path, container_path in self.input_path_map.items():
            dest = container_path.rstrip("/")
            if self._inputs_copied and os.path.lexists(dest):
                continue
            logger.info(_("copy host input file", input=host_path, copy=dest))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if host_path.endswith("/"):
                shutil.copytree(host_path.rstrip("/"), dest, symlinks=False)
            else:
                shutil.copy(host_path, dest)
        self._inputs_copied = True

    def host_path(self, container_path: str, inputs_only: bool = False) -> Optional[str]:
        """As miniwdl's, plus absolute paths in this attempt's work dir (``workN`` on retries,
        which the task sees as-is since container paths are host paths)."""
        work = self.host_work_dir()
        if self.try_counter > 1 and (container_path + "/").startswith(work + "/"):
            rel = os.path.relpath(container_path.rstrip("/"), work)
            container_path = os.path.join(self.container_dir, "work", rel) + (
                "/" if container_path.endswith("/") else ""
            )
        return super().host_path(container_path, inputs_only=inputs_only)

    def reset(self, logger: logging.Logger) -> None:
        """Before a retry: wait ``[aws] retry_wait``, then move to the next per-try work dir."""
        wait = self._settings.retry_wait
        if wait > 0:
            logger.info(_("waiting to retry per [aws] retry_wait", seconds=wait))
            deadline = time.monotonic() + wait
            # a signal during the wait ends it: miniwdl then raises Terminated before retrying
            with TerminationSignalFlag(logger) as terminating:
                while not terminating() and time.monotonic() < deadline:
                    time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        super().reset(logger)

    # --- the attempt ---

    def _run(self, logger: logging.Logger, terminating: Callable[[], bool], command: str) -> int:
        services = self._services
        assert services is not None
        try:
            with ExitStack() as cleanup:
                self._confirm_previous_terminal(logger)
                self._check_fits()
                self._prepare_attempt(command)
                props = self._container_properties(logger)
                try:
                    definition = services.definitions.get(logger, props)  # cached: no call
                except Throttled:
                    # rare (once per distinct definition): retry it through the paced submitter
                    try:
                        definition = services.submitter.call(
                            lambda: services.definitions.get(logger, props), terminating, logger
                        )
                    except SubmitAborted:
                        raise Terminated(quiet=True) from None
                queue = self._select_queue(logger)
                request = self._submit_request(definition, queue)
                logger.debug(
                    _(
                        "SubmitJob",
                        **{k: v for k, v in request.items() if k != "containerOverrides"},
                    )
                )
                try:
                    job_id = services.submitter.call(
                        self._submit_once(logger, request), terminating, logger
                    )
                except SubmitAborted:
                    raise Terminated(quiet=True) from None
                self._attempts.append(
                    {"attempt": self.try_counter, "jobId": job_id, "jobQueue": queue}
                )
                logger.notice(  # type: ignore[attr-defined]
                    _(
                        "AWS Batch job submitted",
                        jobId=job_id,
                        jobName=request["jobName"],
                        jobQueue=queue,
                    )
                )
                watch = services.poller.watch(job_id)
                cleanup.callback(services.poller.unwatch, job_id)
                # runs before unwatch (LIFO): terminate the job unless it is known to have ended
                cleanup.callback(self._ensure_terminal, logger, watch)
                poll_stderr = cleanup.enter_context(self.poll_stderr_context(logger))
                return self._await(logger, cleanup, terminating, watch, poll_stderr)
        except (Terminated, Interrupted, WDL.Error.RuntimeError):
            raise
        except MiniwdlAwsError as exn:
            # Batch may still hold jobs of this run that we can no longer follow: say how to
            # find and stop them once the endpoint answers again.
            message = f"{exn}; {self._run_hint()}"
            logger.error(_("AWS Batch error", error=message))
            raise WDL.Error.RuntimeError(message, more_info=self._failure_info()) from None

    def _run_hint(self) -> str:
        run_id = self._services.run_id if self._services is not None else naming.process_run_id()
        return (
            f"see this run's jobs with `miniwdl-aws runs {run_id}` and terminate any left with"
            f" `miniwdl-aws cleanup {run_id}`"
        )

    def _submit_once(self, logger: logging.Logger, request: Dict[str, Any]) -> Callable[[], str]:
        """SubmitJob for the paced submitter to call, and call again when Batch refused it
        unprocessed (throttling). A lost response is settled inside, by looking the job up by
        name before any resubmission, so no try starts a twin."""
        services = self._services
        assert services is not None
        since_ms = int(time.time() * 1000) - 5000  # slack for clock skew
        window = self._settings.submit_recovery_seconds

        def attempt() -> str:
            # not cut short by terminating(): finding the job is what lets us terminate it
            return submit_without_twins(services.api, request, since_ms, window, log=logger)

        return attempt

    def _await(
        self,
        logger: logging.Logger,
        cleanup: ExitStack,
        terminating: Callable[[], bool],
        watch: JobWatch,
        poll_stderr: Callable[[], None],
    ) -> int:
        seen = 0
        observed: List[str] = []
        runnable_since: Optional[float] = None
        warned_runnable = False
        while True:
            if terminating():
                self._terminate(logger, watch.job_id)
                raise Terminated(quiet=not set(observed) - _QUEUED)
            watch.wait(seen, _WAKE_SECONDS)
            version, status, desc, error = watch.snapshot()
            if error is not None:
                raise error
            if version != seen and status is not None and desc is not None:
                seen = version
                self._on_status(logger, cleanup, status, desc, observed)
                runnable_since = time.monotonic() if status == "RUNNABLE" else None
            if "RUNNING" in observed:
                poll_stderr()
            if (
                runnable_since is not None
                and not warned_runnable
                and self._settings.runnable_warning > 0
                and time.monotonic() - runnable_since > self._settings.runnable_warning
            ):
                warned_runnable = True
                logger.warning(
                    _(
                        "AWS Batch job has been RUNNABLE for long; check the queue's compute"
                        " environments can fit it",
                        jobId=watch.job_id,
                        seconds=round(time.monotonic() - runnable_since),
                        statusReason=(desc or {}).get("statusReason"),
                        resources=self._resources().requirements(),
                    )
                )
            if status in TERMINAL_STATES:
                assert desc is not None
                return self._finish(logger, desc)

    def _on_status(
        self,
        logger: logging.Logger,
        cleanup: ExitStack,
        status: str,
        desc: Dict[str, Any],
        observed: List[str],
    ) -> None:
        observed.append(status)
        stream = (desc.get("container") or {}).get("logStreamName")
        if self._attempts:
            self._attempts[-1]["status"] = status
            if stream:
                self._attempts[-1]["logStreamName"] = stream
        details: Dict[str, Any] = {"jobId": desc.get("jobId"), "status": status}
        if stream:
            details["logStreamName"] = stream
        if status in ("RUNNING", "SUCCEEDED", "FAILED"):
            logger.notice(_("AWS Batch job change", **details))  # type: ignore[attr-defined]
        else:
            logger.info(_("AWS Batch job change", **details))
        if status == "RUNNING":
            cleanup.enter_context(self.task_running_context())

    def _finish(self, logger: logging.Logger, desc: Dict[str, Any]) -> int:
        """Map a terminal job to an exit code, or raise Interrupted / RuntimeError."""
        self._unconfirmed_job = None
        details = outcomes.failure_details(desc)
        self._attempts[-1].update(
            {k: details[k] for k in ("status", "statusReason", "exitCode") if k in details}
        )
        with suppress(OSError):
            write_atomic(
                json.dumps(desc, indent=2, sort_keys=True, default=str),
                os.path.join(self.host_dir, f"awsBatchJob{self._try_suffix()}.json"),
            )
        outcome = outcomes.classify(desc)
        if desc.get("status") == "FAILED":
            self.failure_info = self._failure_info(details)
        if outcome.kind == "exit":
            assert outcome.exit_code is not None
            return outcome.exit_code
        if outcome.kind == "interrupted":
            self._interruptions += 1
            budget = int(self.runtime_values.get("preemptible", 0))
            logger.warning(
                _(
                    "AWS Batch job interrupted",
                    jobId=desc.get("jobId"),
                    statusReason=details.get("statusReason"),
                    interruptions=self._interruptions,
                    preemptible_remaining=max(0, budget - self._interruptions),
                    next_queue=self._queue_for_next_attempt(),
                )
            )
            raise Interrupted(outcome.message, more_info=self.failure_info)
        logger.error(_(outcome.message, jobId=desc.get("jobId")))
        raise WDL.Error.RuntimeError(outcome.message, more_info=self.failure_info)

    def _failure_info(self, details: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        info: Dict[str, Any] = dict(details or {})
        info["attempts"] = [dict(a) for a in self._attempts]
        return info

    # --- cleanup: no orphans ---

    def _terminate(self, logger: logging.Logger, job_id: str) -> None:
        services = self._services
        assert services is not None
        try:
            # paced with the submissions, and retried a few times if throttled
            services.submitter.call(
                lambda: services.api.terminate_job(job_id, outcomes.TERMINATE_REASON),
                lambda: False,
                logger,
                max_tries=5,
            )
            logger.info(_("AWS Batch job terminate requested", jobId=job_id))
        except AwsCallError as exn:
            logger.error(_("AWS Batch TerminateJob failed", jobId=job_id, error=str(exn)))
        services.poller.expedite(job_id)
        self._unconfirmed_job = job_id

    def _ensure_terminal(self, logger: logging.Logger, watch: JobWatch) -> None:
        """Terminate the job unless Batch already reported it terminal, then wait (bounded by
        ``[aws] terminate_wait``) until it does."""
        if watch.terminal:
            self._unconfirmed_job = None
            return
        if self._unconfirmed_job != watch.job_id:
            self._terminate(logger, watch.job_id)
        if self._wait_terminal(watch, self._settings.terminate_wait):
            self._unconfirmed_job = None
            logger.info(_("AWS Batch job ended", jobId=watch.job_id, status=watch.status))
        else:
            logger.error(
                _(
                    "AWS Batch job not confirmed terminal",
                    jobId=watch.job_id,
                    status=watch.status,
                    hint=self._run_hint(),
                )
            )

    def _wait_terminal(self, watch: JobWatch, seconds: float) -> bool:
        services = self._services
        assert services is not None
        deadline = time.monotonic() + seconds
        seen = -1
        while not watch.terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if watch.error is not None:
                # the poller gave up on this job; ask Batch directly
                with suppress(MiniwdlAwsError):
                    for d in services.api.describe_jobs([watch.job_id]):
                        watch._update(d, time.monotonic())
                if not watch.terminal:
                    time.sleep(min(left, services.poller.period))
                continue
            seen = watch.wait(seen, min(left, _WAKE_SECONDS))
        return True

    def _confirm_previous_terminal(self, logger: logging.Logger) -> None:
        """Never two attempts at once: a retry waits for the previous attempt's job to end."""
        job_id = self._unconfirmed_job
        if not job_id:
            return
        services = self._services
        assert services is not None
        watch = services.poller.watch(job_id)
        try:
            services.poller.expedite(job_id)
            if not self._wait_terminal(watch, self._settings.terminate_wait):
                raise WDL.Error.RuntimeError(
                    f"previous attempt's AWS Batch job {job_id} has not ended; not retrying",
                    more_info=self._failure_info(),
                )
        finally:
            services.poller.unwatch(job_id)
        self._unconfirmed_job = None
        logger.info(_("previous attempt's AWS Batch job ended", jobId=job_id))

    # --- building the job ---

    def _try_suffix(self) -> str:
        return str(self.try_counter) if self.try_counter > 1 else ""

    def _check_fits(self) -> None:
        cpu = int(self.runtime_values.get("cpu", 1))
        mem = int(self.runtime_values.get("memory_reservation", 0))
        if cpu > self._limits["cpu"] or mem > self._limits["mem_bytes"]:
            raise WDL.Error.RuntimeError(
                f"task needs {cpu} vCPU and {mem} bytes of memory, but the compute environments of"
                f" [aws] task_queue {self._settings.task_queue!r} provide at most"
                f" {self._limits['cpu']} vCPU and {self._limits['mem_bytes']} bytes per job"
            )

    def _prepare_attempt(self, command: str) -> None:
        """Write the command (env exported at its top), fresh stdout/stderr files, and the input
        symlinks (re-created each attempt, since miniwdl may delete the first work dir)."""
        env = dict(self.runtime_values.get("env", {}))
        tmp_default = os.path.join(self.container_dir, "work", "_miniwdl_tmpdir")
        if env.get("TMPDIR") == tmp_default:
            env["TMPDIR"] = os.path.join(self.host_work_dir(), "_miniwdl_tmpdir")
        with open(os.path.join(self.host_dir, "command"), "w") as outfile:
            for k, v in env.items():
                outfile.write(f"export {k}={shlex.quote(str(v))}\n")
            outfile.write(command)
        for fn in (self.host_stdout_txt(), self.host_stderr_txt()):
            with open(fn, "w"):
                pass
        if self._inputs_copied:
            return
        prefix = os.path.join(self.container_dir, "work", "_miniwdl_inputs") + "/"
        for host_path, container_path in self.input_path_map.items():
            assert container_path.startswith(prefix)
            link = container_path.rstrip("/")
            os.makedirs(os.path.dirname(link), exist_ok=True)
            symlink_force(host_path.rstrip("/"), link)

    def _resources(self) -> specs.Resources:
        rv = self.runtime_values
        gpu = 0
        if rv.get("gpu", False):
            gpu = int(rv.get("acceleratorCount", self._settings.gpu_value))
        return specs.Resources(
            vcpu=int(rv.get("cpu", 1)),
            memory_mib=specs.memory_mib(
                int(rv.get("memory_reservation", 0)), self._settings.memory_delta
            ),
            gpu=gpu,
        )

    def _container_properties(self, logger: logging.Logger) -> Dict[str, Any]:
        extra = dict(self._settings.container_properties)
        extra.update(self.runtime_values.get("aws_container_properties", {}))
        user = None
        if self.cfg["task_runtime"].get_bool("as_user"):
            studio_uid = getattr(self, "_studio_uid", None)
            user = f"{studio_uid}:{studio_uid}" if studio_uid else f"{os.geteuid()}:{os.getegid()}"
        if self.runtime_values.get("privileged", False):
            logger.warning("runtime.privileged enabled (security & portability warning)")
        try:
            return specs.DefinitionContent(
                image=str(self.runtime_values.get("docker", "ubuntu:22.04")),
                volumes=self._volumes,
                mount_points=[{"containerPath": self._fs_mount, "sourceVolume": specs.VOLUME_NAME}],
                gpu=self._resources().gpu,
                privileged=bool(self.runtime_values.get("privileged", False)),
                user=user,
                extra_properties=extra,
            ).container_properties()
        except ConfigError as exn:
            raise WDL.Error.RuntimeError(str(exn)) from None

    def _queue_for_next_attempt(self) -> str:
        primary = str(self.runtime_values.get("aws_queue") or self._settings.task_queue)
        fallback = self._settings.task_queue_fallback
        budget = int(self.runtime_values.get("preemptible", 0))
        if fallback and self._interruptions and self._interruptions >= budget:
            return fallback
        return primary

    def _select_queue(self, logger: logging.Logger) -> str:
        queue = self._queue_for_next_attempt()
        if queue == self._settings.task_queue_fallback and self._interruptions:
            logger.notice(  # type: ignore[attr-defined]
                _(
                    "runtime.preemptible budget spent; using [aws] task_queue_fallback",
                    interruptions=self._interruptions,
                    jobQueue=queue,
                )
            )
        return queue

    def _timeout(self) -> int:
        rv = self.runtime_values
        task_seconds = rv.get("aws_timeout", rv.get("maxTime"))
        return specs.effective_timeout(task_seconds, self._settings.job_timeout)

    def _submit_request(self, definition: str, queue: str) -> Dict[str, Any]:
        services = self._services
        assert services is not None
        job_name = specs.task_job_name(services.run_id, self.run_id, self.try_counter)
        tags = dict(self._settings.user_tags)
        tags.update(
            {
                naming.TAG_RUN_ID: services.run_id,
                naming.TAG_WORKFLOW: specs.tag_value(specs.workflow_name(self.host_dir)),
                naming.TAG_CALL: specs.tag_value(self.run_id),
                naming.TAG_ATTEMPT: str(self.try_counter),
                naming.TAG_ROLE: "task",
            }
        )
        parent = os.environ.get("AWS_BATCH_JOB_ID")
        if parent:
            tags[naming.TAG_PARENT_JOB_ID] = specs.tag_value(parent)
        command = specs.task_script(
            work_dir=self.host_work_dir(),
            command_file=os.path.join(self.host_dir, "command"),
            stdout_file=self.host_stdout_txt(),
            stderr_file=self.host_stderr_txt(),
            command_shell=self.cfg.get("task_runtime", "command_shell"),
            container_sync=self._settings.container_sync,
        )
        env = {
            naming.ENV_RUN_ID: services.run_id,
            naming.ENV_TASK_RUN_ID: self.run_id,
            naming.ENV_TASK_ATTEMPT: str(self.try_counter),
        }
        return specs.submit_request(
            job_name=job_name,
            job_queue=queue,
            job_definition=definition,
            command=command,
            resources=self._resources(),
            timeout_seconds=self._timeout(),
            environment=env,
            tags=tags,
        )


class BatchJob(BatchJobBase):
    """Task jobs mount the EFS access point ``[aws] fsap`` at ``[file_io] root``. Inside
    SageMaker Studio, the home EFS's access point and task queue are detected when not set (as
    miniwdl-aws 0.12.2 did), and ``--as-me`` runs task commands as the Studio user's uid."""

    _studio_uid: Optional[str] = None

    @classmethod
    def _complete_settings(
        cls, services: _Services, settings: AwsSettings, logger: logging.Logger
    ) -> AwsSettings:
        studio = studio_settings(
            services.clients,
            logger,
            fs_id=settings.fs,
            fsap=settings.fsap,
            task_queue=settings.task_queue,
            file_io_root=cls._fs_mount,
        )
        if studio is None:
            return settings
        cls._studio_uid = studio.uid
        return dataclasses.replace(
            settings, fs=studio.fs_id, fsap=studio.fsap, task_queue=studio.task_queue
        )

    @classmethod
    def _filesystem_volume(
        cls, services: _Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, Any]:
        return infrastructure.efs_volume_for_access_point(
            services.api, settings.fsap, settings.fs, logger
        )


class BatchJobNoEFS(BatchJobBase):
    """The compute environment mounts the shared filesystem at ``[file_io] root`` itself (e.g.
    FSx for Lustre from a launch template); jobs bind it as a host volume."""

    @classmethod
    def _filesystem_volume(
        cls, services: _Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, Any]:
        return specs.host_volume(cls._fs_mount)
