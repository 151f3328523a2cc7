"""Checks of the AWS resources named in config, run once before any job is submitted.

Each takes plain values and the :class:`~miniwdl_aws.aws.batch.BatchApi`, and raises
:class:`~miniwdl_aws.errors.InfrastructureError` (or ``ConfigError``) with a one-line message
naming the ``[aws]`` key at fault.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional

from .._util import _
from ..aws.batch import BatchApi
from ..errors import AwsCallError, ConfigError, InfrastructureError, Throttled
from ..queues import queue_problems
from . import specs

__all__ = ["UNKNOWN_LIMIT", "check_job_queues", "compute_limits", "efs_volume_for_access_point"]

UNKNOWN_LIMIT = 1 << 50  # "no known limit" for vCPUs or memory bytes
_FARGATE_LIMITS = {"cpu": 16, "mem_bytes": 120 * (1 << 30)}  # largest Fargate task size
# The most one job gets from the instance-type bundles Batch picks itself (ComputeResource
# instanceTypes): "optimal" is "default_x86_64" since 2025-11-01 (m6i, c6i, r6i, c7i: 192 vCPUs
# on c7i.48xlarge, 1,024 GiB on r6i.32xlarge); "default_arm64" is m6g, c6g, r6g, c7g (64 vCPUs,
# 512 GiB on r6g.16xlarge). A bigger job stays RUNNABLE for ever (MISCONFIGURATION).
_BUNDLE_LIMITS = {
    "optimal": {"cpu": 192, "mem_bytes": 1024 * (1 << 30)},
    "default_x86_64": {"cpu": 192, "mem_bytes": 1024 * (1 << 30)},
    "default_arm64": {"cpu": 64, "mem_bytes": 512 * (1 << 30)},
}


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
            raise InfrastructureError(f"[aws] {key}: AWS Batch job queue {name!r} not found")
        problems = queue_problems(queue)
        if problems:
            raise InfrastructureError(
                f"[aws] {key}: AWS Batch job queue {name!r} cannot take jobs: {', '.join(problems)}"
            )
        ans[key] = queue
    return ans


def _environment_limits(api: BatchApi, ce: Mapping[str, Any]) -> Optional[Dict[str, int]]:
    """The most one job can get from a compute environment; None when unknowable."""
    res = ce.get("computeResources") or {}
    if ce.get("type") != "MANAGED" or not res:
        return None
    if str(res.get("type", "")).startswith("FARGATE"):
        return dict(_FARGATE_LIMITS)
    limits = {"cpu": int(res.get("maxvCpus", 0)), "mem_bytes": UNKNOWN_LIMIT}
    types = list(res.get("instanceTypes") or [])
    if types and all(t in _BUNDLE_LIMITS for t in types):
        limits["cpu"] = min(limits["cpu"], max(_BUNDLE_LIMITS[t]["cpu"] for t in types))
        limits["mem_bytes"] = max(_BUNDLE_LIMITS[t]["mem_bytes"] for t in types)
    elif types and all("." in t for t in types):
        # concrete instance types ("optimal" and families are not): a job must fit on the
        # largest of them
        found = api.instance_type_limits(types)
        if found:
            limits["cpu"] = min(limits["cpu"], max(f["cpu"] for f in found.values()))
            limits["mem_bytes"] = max(f["mem_bytes"] for f in found.values())
    return limits


def compute_limits(api: BatchApi, ce_names: List[str], logger: logging.Logger) -> Dict[str, int]:
    """Per-job ``{"cpu", "mem_bytes"}`` limits over the given compute environments: for each
    dimension, the most any of them offers (:data:`UNKNOWN_LIMIT` when it can't be known)."""
    limits = {"cpu": 0, "mem_bytes": 0}
    try:
        envs = api.describe_compute_environments(ce_names)
        per_env = [_environment_limits(api, ce) for ce in envs]
    except Throttled:
        raise  # an outage outlasting botocore's retries, not a permission to do without
    except AwsCallError as exn:
        # e.g. no permission for DescribeInstanceTypes: limits are a convenience, not a must
        logger.warning(_("could not derive task resource limits", error=str(exn)))
        return {"cpu": UNKNOWN_LIMIT, "mem_bytes": UNKNOWN_LIMIT}
    for ce_limits in per_env:
        if ce_limits is None:
            return {"cpu": UNKNOWN_LIMIT, "mem_bytes": UNKNOWN_LIMIT}
        limits = {k: max(limits[k], ce_limits[k]) for k in limits}
    if not limits["cpu"]:
        return {"cpu": UNKNOWN_LIMIT, "mem_bytes": UNKNOWN_LIMIT}
    logger.info(_("task queue resource limits", **limits))
    return limits


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
