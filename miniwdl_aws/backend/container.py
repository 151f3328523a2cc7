"""The miniwdl glue: :class:`BatchJob`/:class:`BatchJobNoEFS`, the ``TaskContainer`` subclasses
miniwdl loads through the ``miniwdl.plugin.container_backend`` entry point.

Once per process, :meth:`BatchJobBase.global_init` reads and checks the configuration and the
infrastructure, so that bad input fails before any job is submitted. Per task, miniwdl calls
``process_runtime``, ``copy_input_files`` and, per attempt, ``_run``: this module prepares the
attempt's files on the shared filesystem, builds the request (:mod:`.request`) and hands the
job to the :class:`~.attempt.JobLifecycle`, then maps the ended job to an exit code or error.
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
from typing import Any, Callable, Dict, List, Optional, Tuple

import WDL
import WDL.runtime.config
import WDL.runtime.task_container
from WDL._util import TerminationSignalFlag, symlink_force, write_atomic
from WDL.runtime.error import Interrupted, Terminated

from .._util import _
from ..aws.batch import BatchApi
from ..batch import infrastructure, outcomes, specs
from ..config import AwsSettings, load_settings
from ..errors import ConfigError, InfrastructureError, MiniwdlAwsError
from ..studio import studio_settings
from . import request
from .attempt import JobLifecycle
from .runtime_keys import parse_runtime_keys
from .services import Services, shared_services

__all__ = ["BatchJobBase", "BatchJob", "BatchJobNoEFS"]


class BatchJobBase(WDL.runtime.task_container.TaskContainer):
    """AWS Batch task backend; subclasses say how the shared filesystem reaches the job."""

    _services: Optional[Services] = None
    _settings: AwsSettings
    _fs_mount: str
    _limits: Dict[str, int]
    _volumes: List[Dict[str, Any]]
    # the task queues checked so far (the configured ones at startup, a task's own on first use)
    _queue_facts: Dict[str, infrastructure.QueueFacts] = {}
    _queue_lock = threading.Lock()

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
        settings = load_settings(cfg)  # also [aws] run_id, read by naming.process_run_id
        fs_mount = cfg.get("file_io", "root")
        if not fs_mount.startswith("/") or fs_mount.rstrip("/") == "":
            raise ConfigError(
                "set [file_io] root (MINIWDL__FILE_IO__ROOT) to the shared filesystem's mount"
                f" point, got {fs_mount!r}"
            )
        cls._fs_mount = fs_mount.rstrip("/")
        services = shared_services(settings, logger)
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
        cls._check_infrastructure(services, settings, logger)
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
    def _check_infrastructure(
        cls, services: Services, settings: AwsSettings, logger: logging.Logger
    ) -> None:
        # idempotent reads: botocore retries them; they never go through the SubmitJob pacer
        cls._limits = cls._check_queues(services, settings, logger)
        cls._volumes = [cls._filesystem_volume(services, settings, logger)]

    @classmethod
    def _complete_settings(
        cls, services: Services, settings: AwsSettings, logger: logging.Logger
    ) -> AwsSettings:
        """Settings found in the environment rather than config (SageMaker Studio)."""
        return settings

    @classmethod
    def _filesystem_volume(
        cls, services: Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, Any]:
        raise NotImplementedError()

    @classmethod
    def _check_queues(
        cls, services: Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, int]:
        """Check the task queue(s) exist, are ENABLED, and have an ENABLED and VALID EC2
        compute environment; derive per-task resource limits from the task queue's."""
        queues = infrastructure.check_job_queues(
            services.api,
            {
                "task_queue": settings.task_queue,
                "task_queue_fallback": settings.task_queue_fallback,
            },
            logger,
        )
        facts = {
            key: infrastructure.task_queue_facts(services.api, queue, key, logger)
            for key, queue in queues.items()
        }
        with cls._queue_lock:
            cls._queue_facts = {
                name: facts[key]
                for key, name in (
                    ("task_queue", settings.task_queue),
                    ("task_queue_fallback", settings.task_queue_fallback),
                )
                if key in facts
            }
        return dict(facts["task_queue"].limits)

    @classmethod
    def _facts_of(cls, queue: str, logger: logging.Logger) -> infrastructure.QueueFacts:
        """The :class:`~miniwdl_aws.batch.infrastructure.QueueFacts` of ``queue``, checked on
        first use (a task's own ``runtime.aws.queue``); InfrastructureError if it cannot run
        task jobs."""
        with cls._queue_lock:
            known = cls._queue_facts.get(queue)
            if known is not None:
                return known
            assert cls._services is not None
            api = cls._services.api
            key = "runtime.aws.queue"
            (desc,) = infrastructure.check_job_queues(api, {key: queue}, logger).values()
            facts = infrastructure.task_queue_facts(api, desc, key, logger)
            cls._queue_facts[queue] = facts
            return facts

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
        self._memory_mib: Optional[int] = None  # set after an out-of-memory kill
        self._jobs: Optional[JobLifecycle] = None
        self._inputs_copied = False

    @property
    def _lifecycle(self) -> JobLifecycle:
        if self._jobs is None:
            assert self._services is not None
            self._jobs = JobLifecycle(self._services, self._settings)
        return self._jobs

    def process_runtime(
        self, logger: logging.Logger, runtime_eval: Dict[str, WDL.Value.Base]
    ) -> None:
        """miniwdl's runtime keys, plus accelerators, timeout, queue and container properties."""
        super().process_runtime(logger, runtime_eval)
        self.runtime_values.update(parse_runtime_keys(runtime_eval, logger, self.run_id))
        if "disks" in runtime_eval:
            self._note_disks(logger, runtime_eval["disks"])

    _disks_warned = False

    @classmethod
    def _note_disks(cls, logger: logging.Logger, disks: WDL.Value.Base) -> None:
        """WDL's ``disks`` (runtime or 1.2 ``requirements``) is read and reported, not honoured:
        an EC2 Batch job has no per-job disk (its scratch space is the host's volume and the
        shared filesystem), so say so once per run, not once per task."""
        with cls._queue_lock:
            if cls._disks_warned:
                return
            cls._disks_warned = True
        logger.warning(
            _(
                "runtime disks is not applied on AWS Batch (EC2 jobs have no per-job disk; tasks"
                " write to the shared filesystem); size the compute environment's volumes instead",
                disks=str(disks.json),
            )
        )

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
        jobs = self._lifecycle
        try:
            with ExitStack() as cleanup:
                jobs.confirm_previous_terminal(logger)
                queue = self._select_queue(logger)
                try:
                    facts = self._facts_of(queue, logger)
                except (ConfigError, InfrastructureError) as exn:
                    raise WDL.Error.RuntimeError(f"{exn} (task {self.run_id})") from None
                self._check_fits(facts)
                self._prepare_attempt(command)
                definition = jobs.definition(
                    logger,
                    self._container_properties(logger),
                    terminating,
                    self.runtime_values.get("aws_consumables"),
                )
                req = self._submit_request(definition, facts)
                logger.debug(
                    _("SubmitJob", **{k: v for k, v in req.items() if k != "containerOverrides"})
                )
                job_id = jobs.submit(logger, req, self.try_counter, terminating)
                watch = jobs.watch_until_ended(logger, cleanup, job_id)
                poll_stderr = cleanup.enter_context(self.poll_stderr_context(logger))
                desc = jobs.follow(
                    logger,
                    terminating,
                    watch,
                    poll_stderr,
                    lambda: cleanup.enter_context(self.task_running_context()),
                    lambda: self._resources().requirements(),
                    lambda: self._scaling_signature(facts),
                )
                return self._finish(logger, desc)
        except (Terminated, Interrupted, WDL.Error.RuntimeError):
            raise
        except MiniwdlAwsError as exn:
            # Batch may still hold jobs of this run that we can no longer follow: say how to
            # find and stop them once the endpoint answers again.
            message = f"{exn}; {jobs.run_hint()}"
            logger.error(_("AWS Batch error", error=message))
            raise WDL.Error.RuntimeError(message, more_info=jobs.failure_info()) from None

    def _finish(self, logger: logging.Logger, desc: Dict[str, Any]) -> int:
        """Map a terminal job to an exit code, or raise Interrupted / RuntimeError."""
        jobs = self._lifecycle
        details = outcomes.failure_details(desc)
        jobs.attempts[-1].update(
            {k: details[k] for k in ("status", "statusReason", "exitCode") if k in details}
        )
        with suppress(OSError):
            write_atomic(
                json.dumps(desc, indent=2, sort_keys=True, default=str),
                os.path.join(self.host_dir, f"awsBatchJob{self._try_suffix()}.json"),
            )
        outcome = outcomes.classify(desc)
        if outcome.kind == "oom":
            self._plan_memory_retry(logger, jobs.attempts[-1])
        if desc.get("status") == "FAILED":
            self.failure_info = jobs.failure_info(details)
        if outcome.kind == "exit":
            assert outcome.exit_code is not None
            return outcome.exit_code
        if outcome.kind == "interrupted":
            # Counted whatever the cause, host loss or transient start failure: miniwdl charges
            # every Interrupted to runtime.preemptible, and keeping the same count here moves
            # the task to the fallback queue exactly when miniwdl's interruption retries run out
            # (docs/AWS-RULES.md, "preemptible").
            self._interruptions += 1
            budget = int(self.runtime_values.get("preemptible", 0))
            logger.warning(
                _(
                    "AWS Batch job interrupted",
                    jobId=desc.get("jobId"),
                    cause=outcome.rule,
                    statusReason=details.get("statusReason"),
                    interruptions=self._interruptions,
                    preemptible_remaining=max(0, budget - self._interruptions),
                    next_queue=self._queue_for_next_attempt(),
                )
            )
            raise Interrupted(outcome.message, more_info=self.failure_info)
        logger.error(_(outcome.message, jobId=desc.get("jobId")))
        raise WDL.Error.RuntimeError(outcome.message, more_info=self.failure_info)

    _scaling_seen: Dict[str, Tuple[float, Optional[Tuple[Any, ...]]]] = {}
    _SCALING_TTL = 30.0  # seconds between looks at a queue's compute environments

    @classmethod
    def _scaling_signature(cls, facts: infrastructure.QueueFacts) -> Optional[Tuple[Any, ...]]:
        """The queue's :func:`~miniwdl_aws.batch.outcomes.scaling_signature`, looked up at most
        every 30 s per queue (shared by its tasks); None (no evidence) when it can't be read."""
        now = time.monotonic()
        with cls._queue_lock:
            seen = cls._scaling_seen.get(facts.name)
            if seen is not None and now - seen[0] < cls._SCALING_TTL:
                return seen[1]
        assert cls._services is not None
        try:
            envs = cls._services.api.describe_compute_environments(facts.environments)
            signature = outcomes.scaling_signature(envs)
        except MiniwdlAwsError:
            signature = None
        with cls._queue_lock:
            cls._scaling_seen[facts.name] = (now, signature)
        return signature

    def _plan_memory_retry(self, logger: logging.Logger, record: Dict[str, Any]) -> None:
        """After an out-of-memory kill, ask the next attempt for ``memory ×
        memory_retry_multiplier`` (capped), and say so in the log and the attempt's record."""
        rv, settings = self.runtime_values, self._settings
        current = self._resources().memory_mib
        multiplier = float(rv.get("aws_memory_retry_multiplier", settings.memory_retry_multiplier))
        queue = self._queue_for_next_attempt()
        known = self._queue_facts.get(queue)
        cap = request.memory_retry_cap(
            settings, (known.limits if known else self._limits)["mem_bytes"]
        )
        record.update({"outcome": "oom", "memoryMiB": current})
        # miniwdl's own count: interruptions within runtime.preemptible don't use up maxRetries
        spent = self.try_counter - 1 - min(self._interruptions, int(rv.get("preemptible", 0)))
        if spent >= int(rv.get("maxRetries", 0)):
            return  # no further attempt
        after = request.memory_after_oom(current, multiplier, cap)
        if after is None:
            logger.notice(  # type: ignore[attr-defined]
                _(
                    "AWS Batch job ran out of memory; retrying with the same memory",
                    memoryMiB=current,
                    memory_retry_multiplier=multiplier,
                    capMiB=cap or None,
                )
            )
            return
        self._memory_mib = after
        record["nextMemoryMiB"] = after
        logger.notice(  # type: ignore[attr-defined]
            _(
                "AWS Batch job ran out of memory; retrying with more memory",
                memoryMiB=current,
                nextMemoryMiB=after,
                memory_retry_multiplier=multiplier,
                capMiB=cap or None,
            )
        )

    # --- this attempt's files and request ---

    def _try_suffix(self) -> str:
        return str(self.try_counter) if self.try_counter > 1 else ""

    def _check_fits(self, facts: infrastructure.QueueFacts) -> None:
        """A task that can never fit its queue's instance types fails before submitting."""
        limits = facts.limits
        cpu = int(self.runtime_values.get("cpu", 1))
        mem = int(self.runtime_values.get("memory_reservation", 0))
        if cpu > limits["cpu"] or mem > limits["mem_bytes"]:
            raise WDL.Error.RuntimeError(
                f"task needs {cpu} vCPU and {mem} bytes of memory, but the compute environments of"
                f" job queue {facts.name!r} provide at most"
                f" {limits['cpu']} vCPU and {limits['mem_bytes']} bytes per job"
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
        return request.resources(self.runtime_values, self._settings, self._memory_mib)

    def _user(self) -> Optional[str]:
        if not self.cfg["task_runtime"].get_bool("as_user"):
            return None
        studio_uid = getattr(self, "_studio_uid", None)
        return f"{studio_uid}:{studio_uid}" if studio_uid else f"{os.geteuid()}:{os.getegid()}"

    def _container_properties(self, logger: logging.Logger) -> Dict[str, Any]:
        if self.runtime_values.get("privileged", False):
            logger.warning("runtime.privileged enabled (security & portability warning)")
        try:
            props = request.container_properties(
                self.runtime_values, self._settings, self._volumes, self._fs_mount, self._user()
            )
        except ConfigError as exn:
            raise WDL.Error.RuntimeError(f"{exn} (task {self.run_id})") from None
        known = set(BatchApi.container_property_names())
        unknown = sorted(set(props) - known)
        if unknown:
            raise WDL.Error.RuntimeError(
                f"unknown containerProperties key {unknown[0]!r} in runtime.aws.container_"
                f"properties or [aws] container_properties (task {self.run_id}); known keys: "
                + ", ".join(sorted(known))
            )
        return props

    def _queue_for_next_attempt(self) -> str:
        return request.queue_for_attempt(self.runtime_values, self._settings, self._interruptions)

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

    def _submit_request(self, definition: str, facts: infrastructure.QueueFacts) -> Dict[str, Any]:
        services = self._services
        assert services is not None
        who = request.AttemptIdentity(
            run_id=services.run_id,
            call_run_id=self.run_id,
            try_counter=self.try_counter,
            host_dir=self.host_dir,
            work_dir=self.host_work_dir(),
            stdout_file=self.host_stdout_txt(),
            stderr_file=self.host_stderr_txt(),
            command_shell=self.cfg.get("task_runtime", "command_shell"),
        )
        write_atomic(request.task_script(who, self._settings), request.script_path(who))
        parent = os.environ.get("AWS_BATCH_JOB_ID")
        return request.submit_request(
            who,
            self.runtime_values,
            self._settings,
            definition,
            facts.name,
            parent,
            self._memory_mib,
            facts.fair_share,
        )


class BatchJob(BatchJobBase):
    """Task jobs mount the EFS access point ``[aws] fsap`` at ``[file_io] root``. Inside
    SageMaker Studio, the home EFS's access point and task queue are detected when not set (as
    miniwdl-aws 0.12.2 did), and ``--as-me`` runs task commands as the Studio user's uid."""

    _studio_uid: Optional[str] = None

    @classmethod
    def _complete_settings(
        cls, services: Services, settings: AwsSettings, logger: logging.Logger
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
        cls, services: Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, Any]:
        return infrastructure.efs_volume_for_access_point(
            services.api, settings.fsap, settings.fs, logger
        )


class BatchJobNoEFS(BatchJobBase):
    """The compute environment mounts the shared filesystem at ``[file_io] root`` itself (e.g.
    FSx for Lustre from a launch template); jobs bind it as a host volume."""

    @classmethod
    def _filesystem_volume(
        cls, services: Services, settings: AwsSettings, logger: logging.Logger
    ) -> Dict[str, Any]:
        return specs.host_volume(cls._fs_mount)
