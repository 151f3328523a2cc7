"""The task job's requests, built from plain values: resources, container properties (the job
definition's content), queue, timeout and the SubmitJob request. Nothing here calls AWS or
reads miniwdl's state; :mod:`.container` gathers the values and :mod:`.attempt` sends.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from .. import naming, usage
from ..batch import infrastructure, specs
from ..config import AwsSettings

__all__ = [
    "AttemptIdentity",
    "container_properties",
    "memory_after_oom",
    "memory_retry_cap",
    "queue_for_attempt",
    "resources",
    "scheduling",
    "submit_request",
    "timeout",
]


@dataclass(frozen=True)
class AttemptIdentity:
    """Which attempt of which task a job runs, and its files on the shared filesystem."""

    run_id: str  # the run's id (job-name prefix and tag)
    call_run_id: str  # miniwdl's run id of the task, e.g. call-greet-0
    try_counter: int  # 1-based
    host_dir: str  # the task's directory (same path inside the job)
    work_dir: str  # this attempt's work directory
    stdout_file: str
    stderr_file: str
    command_shell: str


def resources(
    runtime_values: Mapping[str, Any], settings: AwsSettings, memory_mib: Optional[int] = None
) -> specs.Resources:
    """vCPU, memory (MiB, less ``[aws] memory_delta``) and GPUs the task asks for; ``memory_mib``
    replaces the memory (an attempt after an out-of-memory kill asks for more)."""
    gpu = 0
    if runtime_values.get("gpu", False):
        gpu = int(runtime_values.get("acceleratorCount", settings.gpu_value))
    return specs.Resources(
        vcpu=int(runtime_values.get("cpu", 1)),
        memory_mib=memory_mib
        or specs.memory_mib(
            int(runtime_values.get("memory_reservation", 0)), settings.memory_delta
        ),
        gpu=gpu,
    )


def memory_retry_cap(settings: AwsSettings, limit_bytes: int) -> int:
    """The most MEMORY (MiB) a retry after an out-of-memory kill may ask for: what the task
    queue's largest instance can place (``limit_bytes``, less ``[aws] memory_delta`` as every
    request is) and ``[aws] memory_retry_max``; 0 when neither limits it."""
    caps = [settings.memory_retry_max] if settings.memory_retry_max > 0 else []
    if limit_bytes < infrastructure.UNKNOWN_LIMIT:
        caps.append(limit_bytes // 1048576 + settings.memory_delta)
    return min(caps) if caps else 0


def memory_after_oom(current_mib: int, multiplier: float, cap_mib: int) -> Optional[int]:
    """MEMORY (MiB) for the attempt after one killed for running out of memory with
    ``current_mib``: ``current_mib × multiplier``, at most ``cap_mib`` (0: no cap); None when it
    cannot grow (multiplier 1, or already at the cap)."""
    if multiplier <= 1:
        return None
    target = math.ceil(current_mib * multiplier)
    if cap_mib > 0:
        target = min(target, cap_mib)
    return target if target > current_mib else None


def container_properties(
    runtime_values: Mapping[str, Any],
    settings: AwsSettings,
    volumes: List[Dict[str, Any]],
    mount: str,
    user: Optional[str],
) -> Dict[str, Any]:
    """The job definition's containerProperties; raises ConfigError for forbidden extras."""
    extra = dict(settings.container_properties)
    extra.update(runtime_values.get("aws_container_properties", {}))
    if runtime_values.get("aws_job_role"):
        # the task's IAM role is a job-definition property (SubmitJob cannot override it), so
        # tasks with different roles get different (content-hashed) definitions
        extra["jobRoleArn"] = runtime_values["aws_job_role"]
    return specs.DefinitionContent(
        image=str(runtime_values.get("docker", "ubuntu:22.04")),
        volumes=volumes,
        mount_points=[{"containerPath": mount, "sourceVolume": specs.VOLUME_NAME}],
        gpu=resources(runtime_values, settings).gpu,
        privileged=bool(runtime_values.get("privileged", False)),
        user=user,
        extra_properties=extra,
    ).container_properties()


def queue_for_attempt(
    runtime_values: Mapping[str, Any], settings: AwsSettings, interruptions: int
) -> str:
    """The task's queue, or ``[aws] task_queue_fallback`` once its ``preemptible`` budget of
    interruptions (Spot reclaims, host losses) is spent. A task that names its own queue
    (``runtime.aws_queue``) or asks for a GPU stays on its queue: the fallback is the CPU twin
    of ``[aws] task_queue``, where such a task may never be placed."""
    own = runtime_values.get("aws_queue")
    primary = str(own or settings.task_queue)
    fallback = settings.task_queue_fallback
    if own or runtime_values.get("gpu", False):
        return primary
    budget = int(runtime_values.get("preemptible", 0))
    if fallback and interruptions and interruptions >= budget:
        return fallback
    return primary


def timeout(runtime_values: Mapping[str, Any], settings: AwsSettings) -> int:
    """Per-attempt timeout in seconds (``runtime.aws_timeout``/``maxTime``, else the default)."""
    task_seconds = runtime_values.get("aws_timeout", runtime_values.get("maxTime"))
    return specs.effective_timeout(task_seconds, settings.job_timeout)


def task_script(who: AttemptIdentity, settings: AwsSettings) -> str:
    """The attempt's container script (bash): runs the task command in the work directory,
    stdout and stderr to their files (and stderr, or with ``[aws] task_stdout_to_log`` both,
    to the job's log). It is written to the task's directory on the shared filesystem and the
    job runs it from there, so the container overrides stay a few hundred characters whatever
    the paths: AWS fails a job whose overrides, with what Batch adds, exceed 8,192 characters,
    and only after accepting it."""
    return specs.task_script(
        work_dir=who.work_dir,
        command_file=os.path.join(who.host_dir, "command"),
        stdout_file=who.stdout_file,
        stderr_file=who.stderr_file,
        command_shell=who.command_shell,
        container_sync=settings.container_sync,
        stdout_to_log=settings.task_stdout_to_log,
        usage_file=os.path.join(who.host_dir, usage.usage_file_name(who.try_counter)),
        usage_period=settings.usage_sampling_period,
    )[-1]


def script_path(who: AttemptIdentity) -> str:
    """Where :func:`task_script` is written for this attempt."""
    suffix = "" if who.try_counter == 1 else str(who.try_counter)
    return os.path.join(who.host_dir, f"batch_task{suffix}.sh")


def submit_request(
    who: AttemptIdentity,
    runtime_values: Mapping[str, Any],
    settings: AwsSettings,
    definition: str,
    queue: str,
    parent_job_id: Optional[str],
    memory_mib: Optional[int] = None,
    fair_share: bool = False,
) -> Dict[str, Any]:
    """The SubmitJob request of one attempt (``memory_mib``: see :func:`resources`;
    ``fair_share``: whether ``queue`` has a scheduling policy, see :func:`scheduling`)."""
    tags = dict(settings.user_tags)
    tags.update(
        {
            naming.TAG_RUN_ID: who.run_id,
            naming.TAG_WORKFLOW: specs.tag_value(specs.workflow_name(who.host_dir)),
            naming.TAG_CALL: specs.tag_value(who.call_run_id),
            naming.TAG_ATTEMPT: str(who.try_counter),
            naming.TAG_ROLE: "task",
        }
    )
    if parent_job_id:
        tags[naming.TAG_PARENT_JOB_ID] = specs.tag_value(parent_job_id)
    command = ["/bin/bash", script_path(who)]  # written by the caller (task_script)
    env = {
        naming.ENV_JOB_RUN_ID: who.run_id,
        naming.ENV_TASK_RUN_ID: who.call_run_id,
        naming.ENV_TASK_ATTEMPT: str(who.try_counter),
    }
    return specs.submit_request(
        job_name=naming.task_job_name(who.run_id, who.call_run_id, who.try_counter),
        job_queue=queue,
        job_definition=definition,
        command=command,
        resources=resources(runtime_values, settings, memory_mib),
        timeout_seconds=timeout(runtime_values, settings),
        environment=env,
        tags=tags,
        scheduling=scheduling(who, runtime_values, settings, fair_share),
    )


def scheduling(
    who: AttemptIdentity, runtime_values: Mapping[str, Any], settings: AwsSettings, fair_share: bool
) -> specs.Scheduling:
    """Fair-share identity and priority, only on a queue with a scheduling policy (AWS requires
    a share identifier there and refuses one elsewhere): ``runtime.aws.share``, else ``[aws]
    share_identifier``, else the workflow's name; and the task's consumable resources."""
    consumables = dict(runtime_values.get("aws_consumables") or {})
    if not fair_share:
        return specs.Scheduling(consumables=consumables)
    share = (
        runtime_values.get("aws_share")
        or settings.share_identifier
        or specs.share_identifier(specs.workflow_name(who.host_dir))
    )
    return specs.Scheduling(str(share), runtime_values.get("aws_priority"), consumables)
