"""Strict validation: what AWS Batch rejects but moto accepts.

Each check returns an error message (sent back as a Batch ``ClientException``, HTTP 400) or None.
DescribeJobs' 100-id limit lives in ``_patches`` because it needs moto's parsed list.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from moto.batch.models import batch_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.efs.models import efs_backends

JOB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
MAX_SUBMIT_BYTES = 30 * 1024
# RegisterJobDefinition: "up to 128 letters ... uppercase and lowercase letters, numbers,
# hyphens (-), and underscores (_)"; the request at most 24 KiB (Batch service quotas)
JOB_DEFINITION_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_REGISTER_BYTES = 24 * 1024
# Batch's tag restrictions
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
# "Environment variables cannot start with AWS_BATCH": reserved for what Batch sets
RESERVED_ENV_PREFIX = "AWS_BATCH"
FARGATE_CE_TYPES = ("FARGATE", "FARGATE_SPOT")

# Fargate: vCPU -> allowed memory (MiB)
FARGATE_SIZES: Dict[float, List[int]] = {
    0.25: [512, 1024, 2048],
    0.5: list(range(1024, 4096 + 1, 1024)),
    1.0: list(range(2048, 8192 + 1, 1024)),
    2.0: list(range(4096, 16384 + 1, 1024)),
    4.0: list(range(8192, 30720 + 1, 1024)),
    8.0: list(range(16384, 61440 + 1, 4096)),
    16.0: list(range(32768, 122880 + 1, 8192)),
}


def _requirements(*sources: Optional[List[Dict[str, Any]]]) -> Dict[str, str]:
    merged: Dict[str, str] = {}
    for src in sources:
        for item in src or []:
            merged[str(item.get("type"))] = str(item.get("value"))
    return merged


def _check_fargate(
    props: Dict[str, Any], requirements: Dict[str, str], execution_role: Any
) -> Optional[str]:
    if "GPU" in requirements:
        return "Fargate resources do not support GPU resource requirements"
    if not execution_role:
        return "Fargate job definitions require containerProperties.executionRoleArn"
    try:
        vcpu = float(requirements.get("VCPU", props.get("vcpus", 0)))
        memory = int(float(requirements.get("MEMORY", props.get("memory", 0))))
    except ValueError:
        return "Fargate VCPU and MEMORY must be numbers"
    if memory not in FARGATE_SIZES.get(vcpu, []):
        return (
            f"Fargate resource requirements VCPU={requirements.get('VCPU')} "
            f"MEMORY={requirements.get('MEMORY')} are not a supported combination"
        )
    return None


def check_tags(tags: Any) -> Optional[str]:
    """Batch's tag restrictions: at most 50, keys 1-128 and values at most 256 characters,
    no ``aws:`` prefix (any case) on a key or a value."""
    if not tags:
        return None
    if not isinstance(tags, dict):
        return "tags must be a map of keys to values"
    if len(tags) > MAX_TAGS:
        return f"tags: at most {MAX_TAGS} tags per resource, got {len(tags)}"
    for key, value in tags.items():
        key, value = str(key), str(value)
        if not 1 <= len(key) <= MAX_TAG_KEY:
            return f"tag key {key[:40]!r}... must be 1-{MAX_TAG_KEY} characters"
        if len(value) > MAX_TAG_VALUE:
            return f"tag value of {key!r} must be at most {MAX_TAG_VALUE} characters"
        if key.lower().startswith("aws:") or value.lower().startswith("aws:"):
            return f"tag {key!r}: the aws: prefix is reserved for AWS use"
    return None


def _check_environment(environment: Any) -> Optional[str]:
    for item in environment or []:
        name = str((item or {}).get("name", ""))
        if name.startswith(RESERVED_ENV_PREFIX):
            return (
                f"environment variable {name}: names starting with {RESERVED_ENV_PREFIX} are"
                " reserved for variables that AWS Batch sets"
            )
    return None


def _check_fargate_only(props: Dict[str, Any]) -> Optional[str]:
    """What a Fargate job definition must not have: privileged, devices, host volumes, and EFS
    below platform version 1.4.0."""
    if props.get("privileged"):
        return "privileged is not supported for jobs that run on Fargate resources"
    if (props.get("linuxParameters") or {}).get("devices"):
        return "linuxParameters.devices is not supported for jobs that run on Fargate resources"
    volumes = props.get("volumes") or []
    if any(v.get("host") is not None for v in volumes):
        return "host volumes are not supported for jobs that run on Fargate resources"
    version = str((props.get("fargatePlatformConfiguration") or {}).get("platformVersion", ""))
    if any(v.get("efsVolumeConfiguration") for v in volumes) and version not in (
        "",
        "LATEST",
        "1.4.0",
    ):
        return (
            f"EFS volumes need Fargate platform version 1.4.0 or later (platformVersion {version})"
        )
    return None


def _check_platform(jd: Any, queue: Any) -> Optional[str]:
    """A job definition's platform must be its queue's: EC2 and Fargate cannot be mixed."""
    types = set()
    for ce in getattr(queue, "environments", None) or []:
        resources = getattr(ce, "compute_resources", None) or {}
        if resources.get("type"):
            types.add("FARGATE" if resources["type"] in FARGATE_CE_TYPES else "EC2")
    if len(types) != 1:
        return None
    queue_platform = types.pop()
    jd_platform = "FARGATE" if "FARGATE" in (jd.platform_capabilities or []) else "EC2"
    if jd_platform != queue_platform:
        return (
            f"Job definition {jd.name} requires platform capability {jd_platform}, but job queue"
            f" {queue.name} has {queue_platform} compute environments only"
        )
    return None


def _check_timeout(timeout: Optional[Dict[str, Any]], min_timeout: float) -> Optional[str]:
    if timeout and timeout.get("attemptDurationSeconds") is not None:
        if float(timeout["attemptDurationSeconds"]) < min_timeout:
            return f"timeout.attemptDurationSeconds must be at least {min_timeout:g} seconds"
    return None


def _check_retry(strategy: Optional[Dict[str, Any]]) -> Optional[str]:
    if strategy and strategy.get("attempts") is not None:
        if not 1 <= int(strategy["attempts"]) <= 10:
            return "retryStrategy.attempts must be between 1 and 10"
    rules = (strategy or {}).get("evaluateOnExit") or []
    if len(rules) > 5:
        return "retryStrategy.evaluateOnExit takes at most 5 entries"
    for rule in rules:
        if str(rule.get("action", "")).upper() not in ("RETRY", "EXIT"):
            return "evaluateOnExit.action must be RETRY or EXIT"
    return None


def _check_volumes(props: Dict[str, Any], region: str) -> Optional[str]:
    volumes = {v.get("name"): v for v in props.get("volumes") or []}
    for mp in props.get("mountPoints") or []:
        if mp.get("sourceVolume") not in volumes:
            return f"mountPoints sourceVolume {mp.get('sourceVolume')!r} is not defined in volumes"
    efs = efs_backends[DEFAULT_ACCOUNT_ID][region]
    for vol in volumes.values():
        cfg = vol.get("efsVolumeConfiguration")
        if not cfg:
            continue
        fs_id = cfg.get("fileSystemId")
        if fs_id not in efs.file_systems_by_id:
            return f"EFS file system {fs_id} does not exist"
        ap_id = (cfg.get("authorizationConfig") or {}).get("accessPointId")
        if ap_id:
            if cfg.get("transitEncryption") != "ENABLED":
                return "transitEncryption must be ENABLED when an EFS access point is used"
            if cfg.get("rootDirectory") not in (None, "", "/"):
                return (
                    "rootDirectory must be omitted or set to / when an EFS access point is used"
                    " (the access point's path is the root)"
                )
            ap = efs.access_points.get(ap_id)
            if ap is None:
                return f"EFS access point {ap_id} does not exist"
            if ap.file_system_id != fs_id:
                return f"EFS access point {ap_id} does not belong to file system {fs_id}"
    return None


def validate_register(
    body: Dict[str, Any], region: str, min_timeout: float, raw_size: int = 0
) -> Optional[str]:
    """RegisterJobDefinition."""
    if raw_size > MAX_REGISTER_BYTES:
        return (
            f"RegisterJobDefinition request is {raw_size} bytes; the maximum job definition"
            f" size is {MAX_REGISTER_BYTES}"
        )
    name = str(body.get("jobDefinitionName", ""))
    if not JOB_DEFINITION_NAME_RE.match(name):
        return (
            "jobDefinitionName must be 1-128 characters: letters, numbers, hyphens and underscores"
        )
    props = body.get("containerProperties") or {}
    problem = (
        check_tags(body.get("tags"))
        or _check_timeout(body.get("timeout"), min_timeout)
        or _check_retry(body.get("retryStrategy"))
        or _check_environment(props.get("environment"))
    )
    if problem is None and props:
        problem = _check_volumes(props, region)
    if problem is None and "FARGATE" in (body.get("platformCapabilities") or []):
        problem = _check_fargate_only(props) or _check_fargate(
            props, _requirements(props.get("resourceRequirements")), props.get("executionRoleArn")
        )
    return problem


def validate_submit(
    body: Dict[str, Any], raw_size: int, region: str, min_timeout: float
) -> Optional[str]:
    """SubmitJob."""
    if raw_size > MAX_SUBMIT_BYTES:
        return f"SubmitJob request payload is {raw_size} bytes; the maximum is {MAX_SUBMIT_BYTES}"
    name = str(body.get("jobName", ""))
    if not JOB_NAME_RE.match(name):
        return (
            "jobName must be 1-128 characters: letters, numbers, hyphens and underscores, "
            "starting with a letter or number"
        )
    overrides = body.get("containerOverrides")
    problem = (
        check_tags(body.get("tags"))
        or _check_timeout(body.get("timeout"), min_timeout)
        or _check_retry(body.get("retryStrategy"))
        or _check_environment((overrides or {}).get("environment"))
    )
    if problem:
        return problem
    backend = batch_backends[DEFAULT_ACCOUNT_ID][region]
    queue = backend.get_job_queue(str(body.get("jobQueue", "")))
    if queue is not None and queue.state == "DISABLED":
        return f"Job queue {queue.name} is DISABLED and cannot accept new jobs"
    # SubmitJob shareIdentifier: required on a queue with a fair-share scheduling policy,
    # refused on one without
    if queue is not None and bool(queue.schedule_policy) != bool(body.get("shareIdentifier")):
        if queue.schedule_policy:
            return f"Job queue {queue.name} has a fair share policy; shareIdentifier is required"
        return f"Job queue {queue.name} has no fair share policy; shareIdentifier is not allowed"
    jd = backend.get_job_definition(str(body.get("jobDefinition", "")))
    if jd is not None and queue is not None:
        problem = _check_platform(jd, queue)
        if problem:
            return problem
    if jd is None or not overrides or "FARGATE" not in (jd.platform_capabilities or []):
        return None
    props = jd.container_properties or {}
    reqs = _requirements(props.get("resourceRequirements"), overrides.get("resourceRequirements"))
    return _check_fargate(props, reqs, props.get("executionRoleArn"))


def validate_efs(operation: str, body: Dict[str, Any], region: str) -> Optional[Tuple[str, str]]:
    """EFS CreateFileSystem/CreateMountTarget: ``(error code, message)`` AWS answers with HTTP
    400, or None. Elastic throughput needs the General Purpose performance mode; Max I/O is not
    available on One Zone; a One Zone file system's mount target must be in its own zone."""
    if operation == "CreateFileSystem":
        performance = body.get("PerformanceMode", "generalPurpose")
        if body.get("ThroughputMode") == "elastic" and performance != "generalPurpose":
            return (
                "BadRequest",
                "Elastic throughput mode is available only with the generalPurpose performance"
                f" mode, not {performance}",
            )
        if performance == "maxIO" and body.get("AvailabilityZoneName"):
            return "BadRequest", "One Zone file systems do not support the maxIO performance mode"
        return None
    if operation == "CreateMountTarget":
        fs = efs_backends[DEFAULT_ACCOUNT_ID][region].file_systems_by_id.get(
            str(body.get("FileSystemId", ""))
        )
        zone = getattr(fs, "availability_zone_name", None)
        if fs is None or not zone:
            return None
        try:
            subnet = ec2_backends[DEFAULT_ACCOUNT_ID][region].get_subnet(str(body["SubnetId"]))
        except Exception:  # moto reports the unknown subnet itself
            return None
        if subnet.availability_zone != zone:
            return (
                "AvailabilityZonesMismatch",
                f"The One Zone file system {fs.file_system_id} is in {zone}; a mount target in"
                f" subnet {subnet.id} ({subnet.availability_zone}) is not allowed",
            )
    return None
