"""Checks of the AWS resources named in config, run once before any job is submitted.

Each takes plain values and the :class:`~miniwdl_aws.aws.batch.BatchApi`, and raises
:class:`~miniwdl_aws.errors.InfrastructureError` (or ``ConfigError``) with a one-line message
naming the ``[aws]`` key at fault.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._util import _
from ..aws.batch import BatchApi
from ..errors import AwsCallError, ConfigError, InfrastructureError, Throttled
from ..queues import queue_problems, task_environment_problems
from . import specs

__all__ = [
    "BUNDLES",
    "FAMILY_MAX",
    "UNKNOWN_LIMIT",
    "QueueFacts",
    "check_job_queues",
    "check_task_environments",
    "efs_volume_for_access_point",
    "limits_of",
    "task_queue_facts",
]

UNKNOWN_LIMIT = 1 << 50  # "no known limit" for vCPUs or memory bytes
_GIB = 1 << 30
_FARGATE_LIMITS = {"cpu": 16, "mem_bytes": 120 * _GIB}  # largest Fargate task size

# The instance families AWS Batch may launch for its instanceTypes bundles (ComputeResource
# instanceTypes, https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html):
# "optimal" picks from c4, m4, r4, c5, m5, r5 and, from November 2025, behaves as default_x86_64.
BUNDLES: Dict[str, Tuple[str, ...]] = {
    "optimal": ("c4", "m4", "r4", "c5", "m5", "r5", "m6i", "c6i", "r6i", "c7i"),
    "default_x86_64": ("m6i", "c6i", "r6i", "c7i"),
    "default_arm64": ("m6g", "c6g", "r6g", "c7g"),
}
# The largest size of each of those families (vCPUs, GiB), from EC2's instance type pages
# (https://aws.amazon.com/ec2/instance-types/): used when DescribeInstanceTypes is not allowed.
FAMILY_MAX: Dict[str, Tuple[int, int]] = {
    "c4": (36, 60),
    "m4": (64, 256),
    "r4": (64, 488),
    "c5": (96, 192),
    "m5": (96, 384),
    "r5": (96, 768),
    "m6i": (128, 512),
    "c6i": (128, 256),
    "r6i": (128, 1024),
    "c7i": (192, 384),
    "m6g": (64, 256),
    "c6g": (64, 128),
    "r6g": (64, 512),
    "c7g": (64, 128),
}


@dataclass(frozen=True)
class QueueFacts:
    """What the backend needs to know of a task queue: the most one job can get from its
    compute environments (``{"cpu", "mem_bytes"}``) and whether it schedules by fair share."""

    name: str
    limits: Dict[str, int]
    fair_share: bool = False
    environments: Tuple[str, ...] = ()  # its compute environments (names or ARNs)


def check_job_queues(
    api: BatchApi, queues: Mapping[str, str], logger: logging.Logger
) -> Dict[str, Dict[str, Any]]:
    """Check that each job queue in ``{config key: queue name}`` (empty names skipped) exists and
    can take jobs (:func:`miniwdl_aws.queues.queue_problems`, the rule the submitter and
    ``doctor`` apply too), in one DescribeJobQueues call; returns their descriptions by config
    key."""
    wanted = {key: name for key, name in queues.items() if name}
    found = api.describe_job_queues(sorted(set(wanted.values())))
    ans: Dict[str, Dict[str, Any]] = {}
    for key, name in wanted.items():
        queue = found.get(name)
        if queue is None:
            raise InfrastructureError(f"{_where(key)}: AWS Batch job queue {name!r} not found")
        problems = queue_problems(queue)
        if problems:
            raise InfrastructureError(
                f"{_where(key)}: AWS Batch job queue {name!r} cannot take jobs:"
                f" {', '.join(problems)}"
            )
        ans[key] = queue
    return ans


def _where(key: str) -> str:
    return key if key.startswith("runtime.") else f"[aws] {key}"


def _family_limits(
    api: BatchApi, families: Sequence[str], logger: logging.Logger
) -> Dict[str, Dict[str, int]]:
    """The largest vCPUs/memory of each family: EC2's answer, else :data:`FAMILY_MAX`."""
    found: Dict[str, Dict[str, int]] = {}
    try:
        found = api.family_limits(sorted(set(families)))
    except Throttled:
        raise
    except AwsCallError as exn:
        logger.info(_("DescribeInstanceTypes failed; using the documented table", error=str(exn)))
    for family in families:
        if family not in found and family in FAMILY_MAX:
            cpu, gib = FAMILY_MAX[family]
            found[family] = {"cpu": cpu, "mem_bytes": gib * _GIB}
    return found


def _environment_limits(
    api: BatchApi, ce: Mapping[str, Any], logger: logging.Logger
) -> Optional[Dict[str, int]]:
    """The most one job can get from a compute environment; None when unknowable."""
    res = ce.get("computeResources") or {}
    if ce.get("type") != "MANAGED" or not res:
        return None
    if str(res.get("type", "")).startswith("FARGATE"):
        return dict(_FARGATE_LIMITS)
    limits = {"cpu": int(res.get("maxvCpus", 0)), "mem_bytes": UNKNOWN_LIMIT}
    types = list(res.get("instanceTypes") or [])
    concrete = [t for t in types if "." in t]
    families: List[str] = []
    for t in types:
        if "." not in t:
            families.extend(BUNDLES.get(t, (t,)))
    found = list(api.instance_type_limits(concrete).values()) if concrete else []
    per_family = _family_limits(api, families, logger) if families else {}
    if any(f not in per_family for f in families):
        return limits  # a family nobody knows: its memory is unknown, not limiting
    found.extend(per_family.values())
    if found:
        # a job must fit on the largest instance type the environment may launch
        limits["cpu"] = min(limits["cpu"], max(f["cpu"] for f in found))
        limits["mem_bytes"] = max(f["mem_bytes"] for f in found)
    return limits


def check_task_environments(envs: Sequence[Mapping[str, Any]], key: str, queue_name: str) -> None:
    """Raise InfrastructureError when the compute environments ``envs`` of a task queue can
    never run a task job (:func:`miniwdl_aws.queues.task_environment_problems`, the rule the
    submitter and ``doctor`` apply too): all Fargate (task job definitions are EC2), or none
    ENABLED and VALID (its jobs would wait RUNNABLE forever)."""
    problems = task_environment_problems(envs)
    if problems:
        raise InfrastructureError(
            f"{_where(key)}: AWS Batch job queue {queue_name!r} can never run a task job:"
            f" {'; '.join(problems)}"
        )


def _limits_over(
    api: BatchApi, envs: Sequence[Mapping[str, Any]], logger: logging.Logger
) -> Dict[str, int]:
    limits = {"cpu": 0, "mem_bytes": 0}
    for ce in envs:
        ce_limits = _environment_limits(api, ce, logger)
        if ce_limits is None:
            return {"cpu": UNKNOWN_LIMIT, "mem_bytes": UNKNOWN_LIMIT}
        limits = {k: max(limits[k], ce_limits[k]) for k in limits}
    if not limits["cpu"]:
        return {"cpu": UNKNOWN_LIMIT, "mem_bytes": UNKNOWN_LIMIT}
    logger.info(_("task queue resource limits", **limits))
    return limits


def limits_of(
    api: BatchApi, envs: Sequence[Mapping[str, Any]], logger: logging.Logger
) -> Dict[str, int]:
    """Per-job ``{"cpu", "mem_bytes"}`` limits over the compute environments ``envs``
    (DescribeComputeEnvironments entries): for each dimension, the most any of them offers
    (:data:`UNKNOWN_LIMIT` when it can't be known)."""
    try:
        return _limits_over(api, envs, logger)
    except Throttled:
        raise  # an outage outlasting botocore's retries, not a permission to do without
    except AwsCallError as exn:
        # e.g. no permission for DescribeInstanceTypes: limits are a convenience, not a must
        logger.warning(_("could not derive task resource limits", error=str(exn)))
        return {"cpu": UNKNOWN_LIMIT, "mem_bytes": UNKNOWN_LIMIT}


def task_queue_facts(
    api: BatchApi, queue: Mapping[str, Any], key: str, logger: logging.Logger
) -> QueueFacts:
    """Check a task queue's compute environments (:func:`check_task_environments`) and gather
    its :class:`QueueFacts`; ``queue`` is its DescribeJobQueues entry, ``key`` names the setting
    (``task_queue``, ``runtime.aws.queue``) in errors."""
    name = str(queue.get("jobQueueName"))
    fair_share = bool(queue.get("schedulingPolicyArn"))
    names = [c["computeEnvironment"] for c in queue.get("computeEnvironmentOrder") or []]
    unknown = {"cpu": UNKNOWN_LIMIT, "mem_bytes": UNKNOWN_LIMIT}
    try:
        envs = api.describe_compute_environments(names)
    except Throttled:
        raise
    except AwsCallError as exn:
        logger.warning(_("could not check the task queue's compute environments", error=str(exn)))
        return QueueFacts(name, unknown, fair_share, tuple(names))
    check_task_environments(envs, key, name)
    limits = limits_of(api, envs, logger)
    return QueueFacts(name, limits, fair_share, tuple(names))


def efs_volume_for_access_point(
    api: BatchApi, fsap: str, fs: str, logger: logging.Logger
) -> Dict[str, Any]:
    """The EFS volume for ``[aws] fsap`` (checked to exist; its file system looked up) or, with
    no access point, for ``[aws] fs``."""
    fs_id = fs
    if fsap:
        ap = api.describe_access_point(fsap)
        if ap is None:
            raise InfrastructureError(f"[aws] fsap: EFS access point {fsap!r} not found")
        if fs_id and ap.get("FileSystemId") != fs_id:
            raise ConfigError(
                f"[aws] fs {fs_id!r} does not match the file system of [aws] fsap {fsap!r}"
                f" ({ap.get('FileSystemId')})"
            )
        fs_id = str(ap.get("FileSystemId"))
    elif fs_id:
        logger.warning(
            "an EFS access point simplifies permissions between jobs; set [aws] fsap"
            " (MINIWDL__AWS__FSAP) to fsap-xxxx"
        )
    else:
        raise ConfigError(
            "missing EFS configuration: set [aws] fsap (MINIWDL__AWS__FSAP) or [aws] fs"
        )
    return specs.efs_volume(fs_id, fsap or None)
