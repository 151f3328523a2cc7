"""Pure builders of the workflow job: its environment, command, job definition and SubmitJob
request.

Nothing here calls AWS; :mod:`.cli` sends what these functions return. The job definition is
built with the task backend's own builders (:mod:`miniwdl_aws.batch.specs`: the same EFS and host
volumes, the same content hash and naming), so the two kinds of definitions cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from miniwdl_aws import naming
from miniwdl_aws.batch import specs
from miniwdl_aws.submit import shipping
from miniwdl_aws.submit.request import Infrastructure, SubmitRequest

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


@dataclass(frozen=True)
class WorkflowJobSpec:
    """Everything the workflow job needs, as plain values.

    :param forwarded: names of the laptop's ``MINIWDL__*`` variables passed through in ``env``
    """

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
    command: Sequence[str]
    env: Mapping[str, str]
    tags: Mapping[str, str]
    timeout: Optional[int] = None
    forwarded: Tuple[str, ...] = ()


def workflow_spec(
    req: SubmitRequest,
    infra: Infrastructure,
    wdl_arg: Optional[str],
    run_id: str,
    memory_mib: int,
    environ: Mapping[str, str],
) -> WorkflowJobSpec:
    """The workflow job of run ``run_id``, before its WDL/inputs are shipped
    (:func:`with_shipment`)."""
    forwarded = passthrough_env(environ) if req.pass_env else {}
    return WorkflowJobSpec(
        run_id=run_id,
        job_name=job_name(req.name, None if req.self_test else req.passthrough.uri, run_id),
        queue=req.workflow_queue,
        image=infra.image,
        cpu=req.cpu,
        memory_mib=memory_mib,
        mount=req.mount,
        efs=req.efs,
        fs_id=infra.fs_id or None,
        fsap=infra.fsap or None,
        role=infra.workflow_role or None,
        public_ip=req.public_ip,
        command=wrapper_command(req, wdl_arg),
        env={**forwarded, **job_env(req, infra, run_id)},
        tags=req.tags,
        timeout=req.timeout,
        forwarded=tuple(sorted(forwarded)),
    )


def job_env(req: SubmitRequest, infra: Infrastructure, run_id: str) -> Dict[str, str]:
    """The settings the submitter itself passes to the workflow job (over any forwarded ones)."""
    env = {
        naming.ENV_RUN_ID: run_id,
        "MINIWDL__FILE_IO__ROOT": req.mount,
        "MINIWDL__AWS__TASK_QUEUE": infra.task_queue,
        "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "aws_batch_job"
        if req.efs
        else "aws_batch_job_no_efs",
    }
    if infra.task_queue_fallback:
        env["MINIWDL__AWS__TASK_QUEUE_FALLBACK"] = infra.task_queue_fallback
    if req.efs:
        env["MINIWDL__AWS__FSAP"] = infra.fsap
        env["MINIWDL__AWS__FS"] = infra.fs_id
    if req.kms_key:  # the upload needs it too, even when it came from the laptop's cfg file
        env["MINIWDL__AWS__S3_UPLOAD_KMS_KEY"] = req.kms_key
    if req.tags:
        env["MINIWDL__AWS__JOB_TAGS"] = json.dumps(req.tags, separators=(",", ":"))
    return env


def wrapper_command(req: SubmitRequest, wdl_arg: Optional[str]) -> List[str]:
    """The wrapper's command line (without the shipped sources' arguments)."""
    cmd = [WRAPPER]
    if wdl_arg:
        cmd += ["--wdl", wdl_arg]
    cmd += ["--dir", req.dir]
    if req.s3upload:
        cmd += ["--s3upload", req.s3upload]
    if req.delete_after:
        cmd += ["--delete-after", req.delete_after]
    cmd.append("--")
    cmd += req.passthrough.rest
    return cmd


def fits_inline(spec: WorkflowJobSpec, extra_env: Mapping[str, str]) -> bool:
    """Whether the job, with ``extra_env`` (inline payloads) and the wrapper's source arguments,
    stays within Batch's container overrides and request size limits."""
    trial = dataclasses.replace(
        spec,
        env={**spec.env, **extra_env},
        command=[*spec.command, "--wdl-zip", "env:X" * 4, "--inputs", "env:X" * 4],
    )
    req = submit_request(trial, "x" * 200)
    return (
        shipping.json_size(req["containerOverrides"]) <= shipping.OVERRIDES_BUDGET
        and shipping.json_size(req) <= shipping.REQUEST_LIMIT
    )


def with_shipment(spec: WorkflowJobSpec, shipment: shipping.Shipment) -> WorkflowJobSpec:
    """``spec`` carrying the shipped WDL/inputs: their env vars, and the wrapper's arguments
    naming them."""
    command = [*spec.command[:1], *shipment.wrapper_args, *spec.command[1:]]
    return dataclasses.replace(spec, env={**spec.env, **shipment.env}, command=command)


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


def platform(spec: WorkflowJobSpec) -> str:
    """The workflow job's platform: Fargate with EFS, else EC2 hosts that mount the
    filesystem themselves."""
    return "FARGATE" if spec.efs else "EC2"


def container_properties(spec: WorkflowJobSpec) -> Dict[str, Any]:
    """containerProperties of the workflow job definition (no env, no command: those go in the
    SubmitJob overrides, so one definition serves many runs)."""
    props: Dict[str, Any] = {
        "image": spec.image,
        "resourceRequirements": [
            {"type": "VCPU", "value": str(spec.cpu)},
            {"type": "MEMORY", "value": str(spec.memory_mib)},
        ],
        "mountPoints": [{"containerPath": spec.mount, "sourceVolume": specs.VOLUME_NAME}],
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
                "volumes": [specs.efs_volume(spec.fs_id or "", spec.fsap)],
            }
        )
    else:
        if spec.role:
            props["jobRoleArn"] = spec.role
        props["volumes"] = [specs.host_volume(spec.mount)]
    return props


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
