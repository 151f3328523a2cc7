"""Pure builders of the workflow job: its environment, job definition and SubmitJob request.

Nothing here calls AWS; :mod:`.cli` sends what these functions return.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from miniwdl_aws import naming

JOB_DEFINITION_PREFIX = "miniwdl-aws-workflow"
WRAPPER = "miniwdl-aws-workflow"  # console script inside the workflow image

# Our own settings, passed explicitly (never copied from the laptop's environment).
SUBMITTER_KEYS = frozenset(
    {
        "MINIWDL__AWS__FS",
        "MINIWDL__AWS__FSAP",
        "MINIWDL__AWS__TASK_QUEUE",
        "MINIWDL__AWS__TASK_QUEUE_FALLBACK",
        "MINIWDL__AWS__WORKFLOW_QUEUE",
        "MINIWDL__AWS__WORKFLOW_ROLE",
        "MINIWDL__AWS__WORKFLOW_IMAGE",
        "MINIWDL__AWS__S3_UPLOAD_FOLDER",
        "MINIWDL__AWS__S3_UPLOAD_DELETE_AFTER",
        "MINIWDL__AWS__S3_UPLOAD_KMS_KEY",
        "MINIWDL__AWS__JOB_TAGS",
        "MINIWDL__AWS__RUN_ID",
        "MINIWDL__FILE_IO__ROOT",
        "MINIWDL__SCHEDULER__CONTAINER_BACKEND",
    }
)
# Names that look like they hold a secret are never forwarded, whatever their prefix.
_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSW|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH|SESSION|SIGNATURE|COOKIE",
    re.IGNORECASE,
)
# Values that look like AWS access key ids are dropped too (a key pasted into a cfg value).
_SECRET_VALUE = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


@dataclass
class WorkflowJobSpec:
    """Everything the workflow job needs, as plain values."""

    run_id: str
    job_name: str
    queue: str
    image: str
    cpu: str
    memory_mib: int
    mount: str
    efs: bool
    fs_id: Optional[str]
    fsap: Optional[str]
    role: Optional[str]
    public_ip: bool
    command: List[str]
    env: Dict[str, str]
    tags: Dict[str, str]
    timeout: Optional[int] = None


def is_secret(name: str, value: str, secret_values: Sequence[str] = ()) -> bool:
    """Whether an env var must not leave the laptop."""
    if name.startswith("AWS_") or _SECRET_NAME.search(name) or _SECRET_VALUE.search(value):
        return True
    return any(s and len(s) >= 8 and s in value for s in secret_values)


def passthrough_env(environ: Mapping[str, str]) -> Dict[str, str]:
    """``MINIWDL__*`` variables of the laptop to forward (minus ours and anything secret)."""
    # values of the laptop's secret variables, so that a MINIWDL__ var embedding one is dropped
    secrets = [v for k, v in environ.items() if _SECRET_NAME.search(k)]
    return {
        k: v
        for k, v in sorted(environ.items())
        if k.startswith("MINIWDL__") and k not in SUBMITTER_KEYS and not is_secret(k, v, secrets)
    }


def job_name(name: Optional[str], uri: Optional[str], run_id: str) -> str:
    """``<run id>-<name>``: the ``--name``, else the WDL file's stem, valid for Batch."""
    if not name:
        base = (uri or "self_test").rstrip("/").split("/")[-1].split("?")[0]
        name = base.split(".")[0] if not base.startswith(".") else base.lstrip(".")
    return naming.sanitize_job_name(name or "workflow", prefix=run_id)


def container_properties(spec: WorkflowJobSpec) -> Dict[str, Any]:
    """containerProperties of the workflow job definition (no env, no command: those go in the
    SubmitJob overrides, so one definition serves many runs)."""
    props: Dict[str, Any] = {
        "image": spec.image,
        "resourceRequirements": [
            {"type": "VCPU", "value": str(spec.cpu)},
            {"type": "MEMORY", "value": str(spec.memory_mib)},
        ],
    }
    if spec.efs:
        props.update(
            {
                "executionRoleArn": spec.role,
                "jobRoleArn": spec.role,
                "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
                "networkConfiguration": {
                    "assignPublicIp": "ENABLED" if spec.public_ip else "DISABLED"
                },
                "volumes": [
                    {
                        "name": "efs",
                        "efsVolumeConfiguration": {
                            "fileSystemId": spec.fs_id,
                            "transitEncryption": "ENABLED",
                            "authorizationConfig": {"accessPointId": spec.fsap, "iam": "DISABLED"},
                        },
                    }
                ],
                "mountPoints": [{"containerPath": spec.mount, "sourceVolume": "efs"}],
            }
        )
    else:
        if spec.role:
            props["jobRoleArn"] = spec.role
        props.update(
            {
                "volumes": [{"name": "file_io_root", "host": {"sourcePath": spec.mount}}],
                "mountPoints": [{"containerPath": spec.mount, "sourceVolume": "file_io_root"}],
            }
        )
    return props


def job_definition_request(spec: WorkflowJobSpec) -> Dict[str, Any]:
    """RegisterJobDefinition request, named by a hash of its content so that identical
    definitions are registered once and reused by later runs."""
    body: Dict[str, Any] = {
        "type": "container",
        "platformCapabilities": ["FARGATE" if spec.efs else "EC2"],
        "containerProperties": container_properties(spec),
        "propagateTags": True,
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body["jobDefinitionName"] = f"{JOB_DEFINITION_PREFIX}-{digest}"
    return body


def overrides(spec: WorkflowJobSpec) -> Dict[str, Any]:
    """containerOverrides of the SubmitJob request."""
    return {
        "command": list(spec.command),
        "environment": [{"name": k, "value": v} for k, v in spec.env.items()],
    }


def submit_request(spec: WorkflowJobSpec, job_definition: str) -> Dict[str, Any]:
    """SubmitJob request for the workflow job."""
    tags = dict(spec.tags)
    tags.update(
        {
            naming.TAG_RUN_ID: spec.run_id,
            naming.TAG_ROLE: "workflow",
            naming.TAG_WORKFLOW: spec.job_name[len(spec.run_id) + 1 :][:256] or "workflow",
        }
    )
    req: Dict[str, Any] = {
        "jobName": spec.job_name,
        "jobQueue": spec.queue,
        "jobDefinition": job_definition,
        "containerOverrides": overrides(spec),
        "tags": tags,
        "propagateTags": True,
    }
    if spec.timeout:
        req["timeout"] = {"attemptDurationSeconds": int(spec.timeout)}
    return req
