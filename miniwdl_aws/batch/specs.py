"""Pure builders of AWS Batch request payloads (no I/O, no clients).

A task's job is split in two parts:

- the **job definition** holds what cannot vary per job or would make definitions per task if it
  did: image, volumes, mount points, user, privileged, GPU count and extra container properties.
  Its name carries a hash of that content, so identical definitions are registered once and
  reused across tasks, processes and runs;
- the **SubmitJob** request carries everything per task and per attempt in ``containerOverrides``:
  command, environment, vCPU and memory.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import naming, usage
from ..errors import ConfigError

__all__ = [
    "MIN_MEMORY_MIB",
    "MIN_TIMEOUT_S",
    "VOLUME_NAME",
    "TAG_DEFINITION_HASH",
    "DefinitionContent",
    "Resources",
    "Scheduling",
    "share_identifier",
    "efs_volume",
    "host_volume",
    "memory_mib",
    "task_script",
    "consumable_list",
    "definition_hash",
    "register_request",
    "submit_request",
    "effective_timeout",
    "parse_duration",
    "tag_value",
    "workflow_name",
]

MIN_MEMORY_MIB = 991  # as miniwdl-aws 0.12.2: small tasks still get a usable container
MIN_TIMEOUT_S = 60  # Batch rejects attemptDurationSeconds < 60
VOLUME_NAME = "file_io_root"
TAG_DEFINITION_HASH = naming.TAG_DEFINITION_HASH
_TAG_VALUE_BAD = re.compile(r"[^\w .:/=+\-@]")  # Batch tag values: letters, digits, _ .:/=+-@
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.I)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Batch needs VCPU and MEMORY in every EC2 job definition; the real values come per job in
# containerOverrides.resourceRequirements, so the definition carries the smallest legal ones.
_DEF_VCPU = "1"
_DEF_MEMORY = str(MIN_MEMORY_MIB)


@dataclass(frozen=True)
class Resources:
    """Per-job resource request (sent as containerOverrides.resourceRequirements)."""

    vcpu: int = 1
    memory_mib: int = 2048
    gpu: int = 0

    def requirements(self) -> List[Dict[str, str]]:
        """Batch ``resourceRequirements`` entries."""
        ans = [
            {"type": "VCPU", "value": str(self.vcpu)},
            {"type": "MEMORY", "value": str(self.memory_mib)},
        ]
        if self.gpu > 0:
            ans.append({"type": "GPU", "value": str(self.gpu)})
        return ans


@dataclass(frozen=True)
class Scheduling:
    """How Batch schedules one job beyond its resources: the fair-share identifier and priority
    (only for a queue with a scheduling policy, where AWS requires the identifier and refuses
    it elsewhere) and consumable resources (``{name or ARN: quantity}``)."""

    share_identifier: Optional[str] = None
    priority: Optional[int] = None
    consumables: Mapping[str, int] = field(default_factory=dict)

    def submit_fields(self) -> Dict[str, Any]:
        """The SubmitJob fields: ``shareIdentifier``, ``schedulingPriorityOverride``,
        ``consumableResourcePropertiesOverride``, each only when set."""
        fields: Dict[str, Any] = {}
        if self.share_identifier:
            fields["shareIdentifier"] = self.share_identifier
            if self.priority is not None:
                fields["schedulingPriorityOverride"] = int(self.priority)
        if self.consumables:
            fields["consumableResourcePropertiesOverride"] = consumable_list(self.consumables)
        return fields


@dataclass(frozen=True)
class DefinitionContent:
    """Everything that goes into a task job definition; equal contents share one definition."""

    image: str
    volumes: Sequence[Mapping[str, Any]]
    mount_points: Sequence[Mapping[str, Any]]
    gpu: int = 0
    privileged: bool = False
    user: Optional[str] = None
    extra_properties: Mapping[str, Any] = field(default_factory=dict)

    def container_properties(self) -> Dict[str, Any]:
        """The ``containerProperties`` to register."""
        requirements = [
            {"type": "VCPU", "value": _DEF_VCPU},
            {"type": "MEMORY", "value": _DEF_MEMORY},
        ]
        if self.gpu > 0:
            # GPU in the definition too: it decides which hosts (AMI, driver) can take the job
            requirements.append({"type": "GPU", "value": str(self.gpu)})
        props: Dict[str, Any] = {
            "image": self.image,
            "resourceRequirements": requirements,
            "volumes": [dict(v) for v in self.volumes],
            "mountPoints": [dict(m) for m in self.mount_points],
            "privileged": bool(self.privileged),
        }
        if self.user:
            props["user"] = self.user
        for key, value in self.extra_properties.items():
            if key in props:
                raise ConfigError(f"container properties may not override '{key}'")
            props[key] = value
        return props


def efs_volume(fs_id: str, fsap_id: Optional[str]) -> Dict[str, Any]:
    """An EFS volume, through an access point when given (which needs transit encryption)."""
    efs: Dict[str, Any] = {"fileSystemId": fs_id, "transitEncryption": "ENABLED"}
    if fsap_id:
        efs["authorizationConfig"] = {"accessPointId": fsap_id, "iam": "DISABLED"}
    return {"name": VOLUME_NAME, "efsVolumeConfiguration": efs}


def host_volume(path: str) -> Dict[str, Any]:
    """A host path volume (a shared filesystem the compute environment already mounts)."""
    return {"name": VOLUME_NAME, "host": {"sourcePath": path}}


def memory_mib(memory_bytes: int, delta_mib: int) -> int:
    """Batch MEMORY (MiB) for a runtime.memory in bytes, adjusted by ``[aws] memory_delta`` and
    never below :data:`MIN_MEMORY_MIB`."""
    return max(math.ceil(memory_bytes / 1048576) + delta_mib, MIN_MEMORY_MIB)


def effective_timeout(task_seconds: Optional[float], default_seconds: int) -> int:
    """Per-attempt timeout: the task's own when given, else the configured default; never below
    Batch's minimum of 60 s."""
    seconds = default_seconds if task_seconds is None else math.ceil(task_seconds)
    return max(MIN_TIMEOUT_S, int(seconds))


def task_script(
    work_dir: str,
    command_file: str,
    stdout_file: str,
    stderr_file: str,
    command_shell: str = "/bin/bash",
    container_sync: bool = False,
    *,
    stdout_to_log: bool = True,
    usage_file: str = "",
    usage_period: float = 0,
) -> List[str]:
    """The container command of a task job.

    It runs the task command in ``work_dir`` and sends its stdout and stderr each to its file on
    the shared filesystem; stderr also goes to the container's stderr, and so to the job's
    CloudWatch log. stdout goes to the container's stdout (and the log) only with
    ``stdout_to_log``: WDL tasks often write bulk data to ``stdout()``, which CloudWatch would
    ingest at a cost (``[aws] task_stdout_to_log``, off by default as in miniwdl-aws 0.12.2).
    Pipes rather than process substitution, so every ``tee`` has finished writing when the job
    exits; ``pipefail`` so the job's exit code is the command's.

    With ``usage_file`` and a ``usage_period`` > 0, the usage sampler
    (:mod:`miniwdl_aws.usage`) runs beside the command and writes there; it is stopped (and
    waited for, so its last sample is written) when the command ends, and the exit code stays
    the command's.
    """
    q = shlex.quote
    run = f"{command_shell} {q(command_file)}"
    if stdout_to_log:
        # stdout through a tee; then stderr (2>&1) into the pipe and stdout (1>&3) out of it
        streams = f"{{ {run} | tee -a {q(stdout_file)}; }} 2>&1 1>&3"
    else:
        # stdout straight to its file; stderr into the pipe (order matters: 2>&1 first)
        streams = f"{run} 2>&1 1>>{q(stdout_file)}"
    lines = [
        "set -o pipefail",
        f"cd {q(work_dir)} || exit 1",
        "exit_code=0",
    ]
    sampling = bool(usage_file) and usage_period > 0
    if sampling:
        lines.append(usage.sampler_line(usage_file, usage_period))
    lines.append(f"{{ {streams} | tee -a {q(stderr_file)} 1>&2; }} 3>&1 || exit_code=$?")
    if sampling:
        lines.append('kill -TERM "$usage_pid" 2>/dev/null; wait "$usage_pid" 2>/dev/null')
    if container_sync:
        lines.append(f"find . -type f -print0 | xargs -0 -r sync; sync {q(stdout_file)}")
    lines.append("exit $exit_code")
    return ["/bin/bash", "-c", "\n".join(lines)]


def consumable_list(consumables: Mapping[str, int]) -> Dict[str, Any]:
    """``{"consumableResourceList": [...]}`` for ``{name or ARN: quantity}``, in name order."""
    return {
        "consumableResourceList": [
            {"consumableResource": name, "quantity": int(quantity)}
            for name, quantity in sorted(consumables.items())
        ]
    }


def definition_hash(
    container_properties: Mapping[str, Any],
    platform: str = "EC2",
    consumables: Optional[Mapping[str, int]] = None,
) -> str:
    """Content hash (hex) of a job definition: canonical JSON of what gets registered."""
    content: Dict[str, Any] = {
        "type": "container",
        "platform": platform,
        "containerProperties": container_properties,
    }
    if consumables:  # absent otherwise, so definitions without any keep their hash
        content["consumableResourceProperties"] = consumable_list(consumables)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def register_request(
    name_prefix: str,
    container_properties: Mapping[str, Any],
    tags: Optional[Mapping[str, str]] = None,
    platform: str = "EC2",
    consumables: Optional[Mapping[str, int]] = None,
) -> Dict[str, Any]:
    """RegisterJobDefinition parameters, for task and workflow job definitions alike; the name is
    :func:`~miniwdl_aws.naming.job_definition_name` of the content hash. ``consumables``: the
    consumable resources its jobs hold (AWS lets SubmitJob override only their quantities)."""
    digest = definition_hash(container_properties, platform, consumables)
    all_tags = dict(tags or {})
    all_tags[TAG_DEFINITION_HASH] = digest
    request: Dict[str, Any] = {
        "jobDefinitionName": naming.job_definition_name(name_prefix, digest),
        "type": "container",
        "containerProperties": dict(container_properties),
        "platformCapabilities": [platform],
        "propagateTags": True,
        "tags": all_tags,
    }
    if consumables:
        request["consumableResourceProperties"] = consumable_list(consumables)
    return request


def submit_request(
    job_name: str,
    job_queue: str,
    job_definition: str,
    command: Sequence[str],
    resources: Resources,
    timeout_seconds: int,
    environment: Optional[Mapping[str, str]] = None,
    tags: Optional[Mapping[str, str]] = None,
    scheduling: Optional[Scheduling] = None,
) -> Dict[str, Any]:
    """SubmitJob parameters with the per-task parts in ``containerOverrides``, and the
    fair-share and consumable-resource fields of ``scheduling`` when it has them."""
    env = [{"name": k, "value": v} for k, v in (environment or {}).items() if v != ""]
    request = {
        "jobName": job_name,
        "jobQueue": job_queue,
        "jobDefinition": job_definition,
        "containerOverrides": {
            "command": list(command),
            "environment": env,
            "resourceRequirements": resources.requirements(),
        },
        "timeout": {"attemptDurationSeconds": int(timeout_seconds)},
        "tags": dict(tags or {}),
        "propagateTags": True,
    }
    request.update((scheduling or Scheduling()).submit_fields())
    return request


def share_identifier(name: str) -> str:
    """A valid SubmitJob ``shareIdentifier`` from any name (AWS: at most 255 alphanumeric
    characters): other characters dropped, ``miniwdl`` when nothing is left."""
    return re.sub(r"[^A-Za-z0-9]", "", name)[:255] or "miniwdl"


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as ``"90"``, ``"90s"``, ``"30m"``, ``"2h"``,
    ``"1d"``; ValueError otherwise. The one duration grammar: task runtime keys and the
    submitter's ``--timeout`` alike."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]


def tag_value(value: Any) -> str:
    """A valid Batch tag value (≤256 characters of the allowed set)."""
    return _TAG_VALUE_BAD.sub("_", str(value))[:256]


def workflow_name(host_dir: str) -> str:
    """Best-effort workflow (or task) name from a miniwdl run directory path: the first parent
    that isn't a call directory, without miniwdl's ``YYYYMMDD_HHMMSS_`` timestamp."""
    d = os.path.abspath(host_dir)
    while os.path.basename(d).startswith(("call-", "download-", "scatter-", "if-")):
        d = os.path.dirname(d)
    return re.sub(r"^\d{8}_\d{6}_", "", os.path.basename(d)) or "workflow"
