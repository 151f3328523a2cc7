"""What the executor needs to start and judge one attempt: AWS's reason texts, mount checks
for identity paths, the job's clean environment, output line splitting, AWS's retry rules, the
length of the overrides Batch hands to ECS, and whether any instance a queue's compute
environments can launch fits the job. Pure functions of a job and plain values."""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._images import Image
from ._jobs import LocalJob

SPOT_REASON = "Host EC2 (instance i-0123456789abcdef0) terminated."
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
PULL_REASON = (
    "CannotPullContainerError: Error response from daemon: pull access denied for {image}, "
    "repository does not exist or may require 'docker login'"
)
EXITED_REASON = "Essential container in task exited"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
# The job's statusReason when ECS's OOM killer stopped it: the task stopped because its essential
# container exited; the OOM text is the container's reason (ECS's stoppedReason vs. reason).
OOM_STATUS_REASON = EXITED_REASON
OVERRIDES_LIMIT = 8192
OVERRIDES_REASON = f"Container Overrides length must be at most {OVERRIDES_LIMIT}"
# JobDetail.statusReason (Batch API reference) while a job no compute environment can run waits
RESOURCE_REASON = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - All compute environments have no connected "
    "instances that meet the job requirements."
)
MAX_VCPU_REASON = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - All compute environments have a maxVcpu "
    "setting that is smaller than the job requirements."
)
INVALID_CE_REASON = "ACTION_REQUIRED - CE(s) associated with the job queue are invalid."
MAX_LINE = 16 * 1024

# (vCPUs, memory GiB, GPUs) of instance types and families (a family: its largest size, or the
# sizes that are largest in one dimension). AWS's EC2 instance type pages; a type missing here
# is assumed to fit any job (the local AWS does not know it, so it does not refuse it).
_SIZES: Dict[str, List[Tuple[float, float, int]]] = {
    "c4": [(36, 60, 0)],
    "m4": [(64, 256, 0)],
    "r4": [(64, 488, 0)],
    "c5": [(96, 192, 0)],
    "m5": [(96, 384, 0)],
    "r5": [(96, 768, 0)],
    "c6i": [(128, 256, 0)],
    "m6i": [(128, 512, 0)],
    "r6i": [(128, 1024, 0)],
    "c7i": [(192, 384, 0)],
    "c6g": [(64, 128, 0)],
    "m6g": [(64, 256, 0)],
    "r6g": [(64, 512, 0)],
    "c7g": [(64, 128, 0)],
    "g4dn": [(96, 384, 8)],
    "g5": [(192, 768, 8)],
    "g6": [(192, 768, 8)],
    "p3": [(64, 488, 8)],
    "p4d": [(96, 1152, 8)],
    "m5.large": [(2, 8, 0)],
    "m5.xlarge": [(4, 16, 0)],
    "m5.2xlarge": [(8, 32, 0)],
    "c5.large": [(2, 4, 0)],
    "c5.xlarge": [(4, 8, 0)],
    "r5.large": [(2, 16, 0)],
    "g4dn.xlarge": [(4, 16, 1)],
    "g5.xlarge": [(4, 16, 1)],
}
# What ``optimal`` and the default bundles launch (ComputeResource.instanceTypes): since
# 2025-11-01 ``optimal`` is ``default_x86_64``.
_BUNDLES = {
    "optimal": ["m6i", "c6i", "r6i", "c7i"],
    "default_x86_64": ["m6i", "c6i", "r6i", "c7i"],
    "default_arm64": ["m6g", "c6g", "r6g", "c7g"],
}
# Fargate's largest task size, memory exact (the vCPU/memory pairs are checked at registration).
_FARGATE = (16.0, 120.0 * 1024, 0)


def _usable_mib(gib: float) -> float:
    """Memory the ECS agent offers jobs on an instance with ``gib`` GiB installed: less than
    installed (an m4.large's 8 GiB registers as 7,985 MiB) and 32 MiB reserved by the AMI."""
    return gib * 1024 * 7985 / 8192 - 32


def split_long(lines: List[bytes]) -> List[bytes]:
    """Cut lines longer than 16 KiB into pieces, as docker's awslogs driver does."""
    out: List[bytes] = []
    for line in lines:
        out.extend(line[i : i + MAX_LINE] for i in range(0, max(len(line), 1), MAX_LINE))
    return out


def mount_problem(job: LocalJob) -> Optional[str]:
    """Why this job's mounts cannot work with identity paths (an AWS-like reason), or None."""
    props = job.container_properties()
    volumes = {v.get("name"): v for v in props.get("volumes") or []}
    for mp in props.get("mountPoints") or []:
        path = mp.get("containerPath") or ""
        vol = volumes.get(mp.get("sourceVolume"), {})
        source = (vol.get("host") or {}).get("sourcePath")
        if source and not os.path.exists(source):
            return (
                "CannotStartContainerError: Error response from daemon: invalid mount config "
                f'for type "bind": bind source path does not exist: {source}'
            )
        if not path or not os.path.isdir(path):
            kind = "EFS" if "efsVolumeConfiguration" in vol else "volume"
            return (
                f"ResourceInitializationError: failed to mount {kind} volume "
                f"{mp.get('sourceVolume')!r}: mount point {path} does not exist on the host "
                "(the emulator uses identical host and container paths)"
            )
    return None


def job_env(
    job: LocalJob, emulator_env: Dict[str, str], images: Optional[Mapping[str, Image]] = None
) -> Dict[str, str]:
    """The clean environment of a job attempt (never the emulator's own AWS_*/MINIWDL_*): the
    host's basics, then what the job's image provides when it is in the image table, then the
    job's own environment (which wins, as over an image's ENV in Docker)."""
    env = {
        "PATH": os.path.dirname(sys.executable)
        + os.pathsep
        + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TMPDIR": tempfile.gettempdir(),
    }
    image = (images or {}).get(str(job.container_properties().get("image", "")))
    if image is not None:
        env.update(image.job_env())
    for item in job.environment_list():
        env[item["name"]] = item["value"]
    env["AWS_BATCH_JOB_ID"] = job.job_id
    env["AWS_BATCH_JOB_ATTEMPT"] = str(job.attempt_no)
    env["AWS_BATCH_JQ_NAME"] = job.job_queue.name
    if job.ce is not None:
        env["AWS_BATCH_CE_NAME"] = job.ce.name
    if job.array_properties.get("index") is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_properties["index"])
    env.update(emulator_env)
    return env


def should_retry(
    strategy: Optional[Dict[str, Any]],
    exit_code: Optional[int],
    status_reason: str,
    container_reason: Optional[str],
) -> bool:
    """AWS semantics: the first ``evaluateOnExit`` entry whose given conditions all match
    decides; with no match (or no entries) the job is retried."""
    for rule in (strategy or {}).get("evaluateOnExit") or []:
        checks = [
            ("onExitCode", "" if exit_code is None else str(exit_code)),
            ("onReason", container_reason or ""),
            ("onStatusReason", status_reason or ""),
        ]
        if all(fnmatch.fnmatchcase(value, rule[key]) for key, value in checks if key in rule):
            return str(rule.get("action", "")).upper() == "RETRY"
    return True


def overrides_length(job: LocalJob) -> int:
    """Characters of JSON in the overrides Batch hands to ECS's RunTask for this attempt: the
    submission's command, environment and resource requirements, plus the ``AWS_BATCH_*``
    variables Batch adds to the environment itself."""
    ov = job.container_overrides or {}
    env = [dict(item) for item in ov.get("environment") or []]
    added = {
        "AWS_BATCH_JOB_ID": job.job_id,
        "AWS_BATCH_JOB_ATTEMPT": str(max(job.attempt_no, 1)),
        "AWS_BATCH_JQ_NAME": job.job_queue.name,
        "AWS_BATCH_CE_NAME": job.ce.name if job.ce is not None else "",
    }
    if job.array_properties.get("index") is not None:
        added["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_properties["index"])
    env.extend({"name": k, "value": v} for k, v in added.items())
    container: Dict[str, Any] = {"name": "default", "environment": env}
    for key in ("command", "resourceRequirements", "vcpus", "memory", "instanceType"):
        if ov.get(key) is not None:
            container[key] = ov[key]
    return len(json.dumps({"containerOverrides": [container]}, separators=(",", ":")))


def _ce_sizes(ce: Any) -> Optional[List[Tuple[float, float, int]]]:
    """(vCPUs, MiB usable by jobs, GPUs) of the instances a compute environment can launch, or
    None when unknown (unmanaged, or an instance type missing from the table)."""
    resources = getattr(ce, "compute_resources", None) or {}
    kind = str(resources.get("type", "EC2")).upper()
    if not resources:
        return None
    if kind.startswith("FARGATE"):
        return [_FARGATE]
    sizes: List[Tuple[float, float, int]] = []
    for name in resources.get("instanceTypes") or ["optimal"]:
        for family in _BUNDLES.get(name, [name]):
            known = _SIZES.get(family)
            if known is None:
                return None
            sizes.extend((cpu, _usable_mib(gib), gpu) for cpu, gib, gpu in known)
    return sizes


def placement_problem(job: LocalJob, environments: List[Any]) -> Optional[str]:
    """Why no compute environment of the job's queue can ever run it (AWS's RUNNABLE
    statusReason), or None. Only ENABLED, VALID environments count."""
    usable = [
        ce
        for ce in environments
        if getattr(ce, "state", "ENABLED") != "DISABLED"
        and getattr(ce, "status", "VALID") != "INVALID"
    ]
    if not usable:
        invalid = [ce for ce in environments if getattr(ce, "status", "VALID") == "INVALID"]
        return INVALID_CE_REASON if environments and len(invalid) == len(environments) else None
    vcpus, memory, gpus = job.vcpus, job.memory_mib(), job.gpus()
    too_many_vcpus = True
    for ce in usable:
        resources = getattr(ce, "compute_resources", None) or {}
        if resources and vcpus > float(resources.get("maxvCpus", 1e9)):
            continue
        too_many_vcpus = False
        sizes = _ce_sizes(ce)
        if sizes is None:
            return None
        for cpu, mib, gpu in sizes:
            if vcpus <= cpu and (memory is None or memory <= mib) and gpus <= gpu:
                return None
    return MAX_VCPU_REASON if too_many_vcpus else RESOURCE_REASON
