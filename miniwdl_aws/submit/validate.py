"""Checks that must pass before the submitter submits anything.

Pure checks (formats, paths, Fargate sizes) come first; then read-only AWS lookups (the queues
and their tags, the access point, the bucket). Each failure is a one-line ConfigError or
InfrastructureError.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, Optional, Tuple

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.efs import EfsApi
from miniwdl_aws.aws.s3 import S3Api
from miniwdl_aws.errors import AwsCallError, ConfigError, InfrastructureError
from miniwdl_aws.submit import rundir
from miniwdl_aws.submit.args import DELETE_AFTER_CHOICES
from miniwdl_aws.submit.upload import parse_s3_uri

_FSAP = re.compile(r"^fsap-[0-9a-f]{8,40}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")

# Fargate vCPU → allowed memory in MiB.
_FARGATE_MEMORY = {
    0.25: [512, 1024, 2048],
    0.5: list(range(1024, 4097, 1024)),
    1.0: list(range(2048, 8193, 1024)),
    2.0: list(range(4096, 16385, 1024)),
    4.0: list(range(8192, 30721, 1024)),
    8.0: list(range(16384, 61441, 4096)),
    16.0: list(range(32768, 122881, 8192)),
}


def check_local(args: Any) -> int:
    """Checks needing no AWS; returns the workflow job's memory in MiB."""
    if args.delete_after and args.delete_after not in DELETE_AFTER_CHOICES:
        raise ConfigError(
            f"--delete-after must be one of {', '.join(DELETE_AFTER_CHOICES)}, got"
            f" {args.delete_after!r}"
        )
    if args.delete_after and not args.s3upload:
        raise ConfigError("--delete-after requires --s3upload (it deletes only after an upload)")
    if args.s3upload:
        parse_s3_uri(args.s3upload, "--s3upload")
    if args.stage:
        parse_s3_uri(args.stage, "--stage")
    if args.fsap and not _FSAP.match(args.fsap):
        raise ConfigError(f"--fsap: {args.fsap!r} is not an EFS access point id (fsap-<hex>)")
    if args.workflow_role and not _ROLE_ARN.match(args.workflow_role):
        raise ConfigError(f"--workflow-role: {args.workflow_role!r} is not an IAM role ARN")
    if not args.workflow_queue:
        raise ConfigError(
            "--workflow-queue is required (or set MINIWDL__AWS__WORKFLOW_QUEUE / [aws]"
            " workflow_queue)"
        )
    if not os.path.isabs(args.mount) or args.mount == "/":
        raise ConfigError(f"--mount must be an absolute directory other than /, got {args.mount}")
    run_prefix = os.path.normpath(args.dir)
    if not os.path.isabs(args.dir) or not (run_prefix + "/").startswith(args.mount + "/"):
        raise ConfigError(f"--dir {args.dir} must be under the mount {args.mount}")
    if rundir.exact_form(args.dir) and run_prefix == os.path.normpath(args.mount):
        raise ConfigError(f"--dir {args.dir}: the run directory must lie strictly inside the mount")
    if args.delete_after and rundir.exact_form(args.dir):
        # The wrapper refuses this too (it alone sees the mount for sure); when this machine
        # sees the shared filesystem (a SageMaker Studio, the local AWS), refuse before submitting.
        path = rundir.home_path(args.dir, "")[0]
        if os.path.isdir(args.mount) and os.path.lexists(path):
            raise rundir.refuse_existing(args.dir, path)
    if args.name is not None and not args.name.strip():
        raise ConfigError("--name must not be empty")
    return _check_size(args.cpu, args.memory_gib, fargate=args.efs)


def _check_size(cpu_text: str, memory_gib: float, fargate: bool) -> int:
    try:
        cpu = float(cpu_text)
    except ValueError:
        raise ConfigError(f"--cpu must be a number, got {cpu_text!r}") from None
    memory = int(round(memory_gib * 1024))
    if cpu <= 0 or memory <= 0:
        raise ConfigError("--cpu and --memory-GiB must be positive")
    if fargate and memory not in _FARGATE_MEMORY.get(cpu, []):
        sizes = ", ".join(f"{c:g}" for c in _FARGATE_MEMORY)
        raise ConfigError(
            f"Fargate cannot run {cpu:g} vCPU with {memory_gib:g} GiB (vCPU: {sizes}; e.g. 1 vCPU"
            " takes 2-8 GiB)"
        )
    return memory


def _queue(batch: BatchApi, name: str, flag: str) -> Dict[str, Any]:
    q = batch.describe_job_queues([name]).get(name)
    if q is None:
        raise InfrastructureError(f"{flag}: job queue {name!r} not found")
    if q.get("state") != "ENABLED" or q.get("status") in ("INVALID", "DELETING", "DELETED"):
        raise InfrastructureError(
            f"{flag}: job queue {name!r} is {q.get('state')}/{q.get('status')}, not usable"
        )
    return q


def resolve_queues(batch: BatchApi, args: Any) -> None:
    """Check the queues exist and are enabled; fill task queue, fallback, fsap and role from
    the workflow queue's tags when not set."""
    wq = _queue(batch, args.workflow_queue, "--workflow-queue")
    tags = wq.get("tags") or {}
    if not args.task_queue:
        args.task_queue = tags.get("DefaultTaskQueue")
    if not args.task_queue_fallback:
        args.task_queue_fallback = tags.get("DefaultTaskQueueFallback")
    if args.efs and not args.fsap:
        args.fsap = tags.get("DefaultFsap")
    if not args.workflow_role:
        args.workflow_role = tags.get("WorkflowEngineRoleArn")
    if not args.task_queue:
        raise ConfigError(
            "no task queue: set --task-queue (MINIWDL__AWS__TASK_QUEUE) or tag the workflow queue"
            " with DefaultTaskQueue"
        )
    _queue(batch, args.task_queue, "--task-queue")
    if args.task_queue_fallback:
        _queue(batch, args.task_queue_fallback, "--task-queue-fallback")
    if args.efs:
        if not args.fsap:
            raise ConfigError(
                "no EFS access point: set --fsap (MINIWDL__AWS__FSAP) or tag the workflow queue"
                " with DefaultFsap"
            )
        if not _FSAP.match(args.fsap):
            raise ConfigError(f"DefaultFsap tag {args.fsap!r} is not an access point id")
        if not args.workflow_role:
            raise ConfigError(
                "no workflow role: set --workflow-role (MINIWDL__AWS__WORKFLOW_ROLE) or tag the"
                " workflow queue with WorkflowEngineRoleArn (Fargate jobs need one)"
            )
        if not _ROLE_ARN.match(args.workflow_role):
            raise ConfigError(f"workflow role {args.workflow_role!r} is not an IAM role ARN")


def fs_of_access_point(efs: EfsApi, fsap: str) -> str:
    """The EFS file system id behind ``fsap``."""
    ap = efs.describe_access_point(fsap)
    if ap is None:
        raise InfrastructureError(f"--fsap: EFS access point {fsap} not found")
    return str(ap["FileSystemId"])


def check_bucket(s3: S3Api, uri: str, flag: str) -> Tuple[str, str]:
    """The bucket of ``uri`` must exist (a 403 passes: the workflow role may have access)."""
    bucket, key = parse_s3_uri(uri, flag)
    try:
        s3.head_bucket(bucket)
    except AwsCallError as exn:
        if exn.code in ("404", "NoSuchBucket", "NotFound"):
            raise InfrastructureError(f"{flag}: S3 bucket {bucket} does not exist") from None
        if exn.code not in ("403", "AccessDenied", "Forbidden"):
            raise
    return bucket, key


def stage_folder(args: Any, run_id: str) -> Optional[str]:
    """``s3://.../`` to stage shipped files under, or None (no S3 location configured)."""
    base = args.stage or args.s3upload
    if not base:
        return None
    return base.rstrip("/") + f"/_miniwdl_aws_submit/{run_id}/"
