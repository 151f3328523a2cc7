"""Checks that must pass before the submitter submits anything.

:func:`check_local` needs no AWS (formats, paths, tags, Fargate sizes); then
:func:`resolve_infrastructure` makes the read-only AWS lookups (the queues and their tags, the
task queues' compute environments, the access point, the buckets) and returns what the workflow
job runs on. Each failure is a one-line ConfigError or InfrastructureError.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from miniwdl_aws import naming
from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.efs import EfsApi
from miniwdl_aws.aws.s3 import S3Api
from miniwdl_aws.config import OPTIONS, SECTION, env_var_name, load_settings
from miniwdl_aws.errors import AwsCallError, ConfigError, InfrastructureError, Throttled
from miniwdl_aws.queues import queue_problems, task_environment_problems
from miniwdl_aws.submit import rundir
from miniwdl_aws.submit.args import DELETE_AFTER_CHOICES
from miniwdl_aws.submit.request import Infrastructure, SubmitRequest
from miniwdl_aws.submit.upload import parse_s3_uri

_FSAP = re.compile(r"^fsap-[0-9a-f]{8,40}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")

NO_IMAGE = (
    "no workflow image: pass --image, set [aws] workflow_image (MINIWDL__AWS__WORKFLOW_IMAGE), or"
    " tag the workflow queue with WorkflowImage; build it from this repository's Dockerfile and"
    " push it to ECR (see README 'Workflow image')"
)

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


def check_local(req: SubmitRequest) -> int:
    """Checks needing no AWS; returns the workflow job's memory in MiB."""
    _check_upload_settings(req)
    _check_ids(req)
    _check_run_dir(req)
    if req.name is not None and not req.name.strip():
        raise ConfigError("--name must not be empty")
    check_tags(req)
    _check_cfg_arg(req)
    problem = naming.job_definition_prefix_problem(req.job_definition_prefix)
    if problem:
        option = env_var_name("job_definition_prefix")
        raise ConfigError(f"[aws] job_definition_prefix ({option}): {problem}")
    return _check_size(req.cpu, req.memory_gib, fargate=req.efs)


def check_passthrough_settings(forwarded: Mapping[str, str]) -> None:
    """The ``MINIWDL__*`` variables passed through to the workflow job, read as its miniwdl will
    read them, so that a value it would refuse at its start is refused here instead.

    ``MINIWDL__AWS__*``: every ``[aws]`` option through our registry
    (:func:`miniwdl_aws.config.load_settings`, the backend's own reader), over a miniwdl
    ``Loader`` that sees only the forwarded values (not this machine's cfg files or its other
    variables, which the job never sees). Other sections: miniwdl's own typed getter
    (``get_int``, ``get_bool``, ``get_dict``...) for the type of miniwdl's default of that key.
    Raises ConfigError naming the variable."""
    from WDL.runtime.config import Loader

    quiet = logging.getLogger("miniwdl-aws-submit.passthrough")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    aws: Dict[str, str] = {o.name: o.default_text() for o in OPTIONS}
    others: Dict[str, Dict[str, str]] = {}
    for var, value in forwarded.items():
        parts = var.split("__")
        if len(parts) != 3 or parts[0] != "MINIWDL" or not parts[1] or not parts[2]:
            continue
        section, key = parts[1].lower(), parts[2].lower()
        if section == SECTION:
            if key in aws:
                aws[key] = value
        else:
            others.setdefault(section, {})[key] = value
    # overrides win over the environment and cfg files: the Loader sees the job's values only
    cfg = Loader(quiet, filenames=[], overrides={SECTION: aws, **others})
    try:
        load_settings(cfg)
    except ConfigError as exn:
        raise ConfigError(f"passed through to the workflow job: {exn}") from None
    defaults = _miniwdl_defaults()
    for section, keys in others.items():
        for key, value in keys.items():
            default = defaults.get(section, key, fallback=None)
            getter = _typed_getter(cfg, default)
            if getter is None:
                continue
            try:
                getter(section, key)
            except ValueError as exn:
                var = f"MINIWDL__{section.upper()}__{key.upper()}"
                raise ConfigError(
                    f"passed through to the workflow job: {var}={value!r}: {exn} (miniwdl's"
                    f" default: {' '.join(str(default).split())})"
                ) from None


def _miniwdl_defaults() -> configparser.ConfigParser:
    """miniwdl's own ``default.cfg`` (the file its ``Loader`` reads its defaults from)."""
    import WDL.runtime.config

    parser = configparser.ConfigParser()
    folder = os.path.dirname(WDL.runtime.config.__file__)
    parser.read(os.path.join(folder, "config_templates", "default.cfg"))
    return parser


def _typed_getter(cfg: Any, default: Optional[str]) -> Optional[Callable[[str, str], Any]]:
    """miniwdl's typed getter for a key whose default is ``default`` (None: a string, or a key
    miniwdl does not know, e.g. a plugin's: nothing to check)."""
    text = (default or "").strip()
    if not text:
        return None
    if text[0] == "{":
        return cfg.get_dict  # type: ignore[no-any-return]
    if text[0] == "[":
        return cfg.get_list  # type: ignore[no-any-return]
    if text.lower() in ("true", "false"):
        return cfg.get_bool  # type: ignore[no-any-return]
    for kind, getter in ((int, cfg.get_int), (float, cfg.get_float)):
        try:
            kind(text)
        except ValueError:
            continue
        return getter  # type: ignore[no-any-return]
    return None


def check_tags(req: SubmitRequest) -> None:
    """AWS's tag rules (:func:`miniwdl_aws.naming.tag_problem`) on each source of user tags, then
    on all of them together (the count, with the tags miniwdl-aws adds)."""
    sources: Tuple[Tuple[str, Mapping[str, str]], ...] = (
        (f"[aws] job_tags ({env_var_name('job_tags')})", req.config_tags),
        ("--tag", req.flag_tags),
        ("[aws] job_tags and --tag", req.tags),
    )
    for source, tags in sources:
        problem = naming.tag_problem(tags)
        if problem:
            raise ConfigError(f"{source}: {problem}")


def _check_cfg_arg(req: SubmitRequest) -> None:
    """``miniwdl run --cfg FILE`` is read inside the workflow job, where miniwdl silently skips
    a file it cannot find: the run would go on without the user's settings. Only a file on the
    shared filesystem is visible there."""
    rest = list(req.passthrough.rest)
    for i, tok in enumerate(rest):
        if tok == "--":
            break
        if tok == "--cfg" or tok.startswith("--cfg="):
            path = (
                tok[len("--cfg=") :] if "=" in tok else (rest[i + 1] if i + 1 < len(rest) else "")
            )
            real = os.path.normpath(path) if os.path.isabs(path) else ""
            if not real or not (real + "/").startswith(req.mount.rstrip("/") + "/"):
                raise ConfigError(
                    f"--cfg {path}: the workflow job cannot read this machine's files (miniwdl"
                    " would run without them, silently): pass its settings as MINIWDL__SECTION__KEY"
                    f" environment variables (passed through), or put the file under the mount"
                    f" {req.mount}"
                )


def _check_upload_settings(req: SubmitRequest) -> None:
    if req.delete_after and req.delete_after not in DELETE_AFTER_CHOICES:
        raise ConfigError(
            f"--delete-after must be one of {', '.join(DELETE_AFTER_CHOICES)}, got"
            f" {req.delete_after!r}"
        )
    if req.delete_after and not req.s3upload:
        raise ConfigError("--delete-after requires --s3upload (it deletes only after an upload)")
    if req.s3upload:
        parse_s3_uri(req.s3upload, "--s3upload")
    if req.stage:
        parse_s3_uri(req.stage, "--stage")


def _check_ids(req: SubmitRequest) -> None:
    if req.fsap and not _FSAP.match(req.fsap):
        raise ConfigError(f"--fsap: {req.fsap!r} is not an EFS access point id (fsap-<hex>)")
    if req.workflow_role and not _ROLE_ARN.match(req.workflow_role):
        raise ConfigError(f"--workflow-role: {req.workflow_role!r} is not an IAM role ARN")
    if not req.workflow_queue:
        raise ConfigError(
            "--workflow-queue is required (or set MINIWDL__AWS__WORKFLOW_QUEUE / [aws]"
            " workflow_queue)"
        )


def _check_run_dir(req: SubmitRequest) -> None:
    if not os.path.isabs(req.mount) or req.mount == "/":
        raise ConfigError(f"--mount must be an absolute directory other than /, got {req.mount}")
    run_prefix = os.path.normpath(req.dir)
    if not os.path.isabs(req.dir) or not (run_prefix + "/").startswith(req.mount + "/"):
        raise ConfigError(f"--dir {req.dir} must be under the mount {req.mount}")
    if rundir.exact_form(req.dir) and run_prefix == os.path.normpath(req.mount):
        raise ConfigError(f"--dir {req.dir}: the run directory must lie strictly inside the mount")
    if req.delete_after and rundir.exact_form(req.dir):
        # The wrapper refuses this too (it alone sees the mount for sure); when this machine
        # sees the shared filesystem (a SageMaker Studio, the local AWS), refuse before submitting.
        path = rundir.home_path(req.dir, "")[0]
        if os.path.isdir(req.mount) and os.path.lexists(path):
            raise rundir.refuse_existing(req.dir, path)


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


def resolve_infrastructure(
    batch: BatchApi, efs: EfsApi, s3: S3Api, req: SubmitRequest
) -> Infrastructure:
    """What the workflow job runs on: the request's settings, completed from the workflow queue's
    tags, each checked to exist (read-only lookups: the queues, the task queues' compute
    environments, the access point, the buckets)."""
    tags = _usable_queue(batch, req.workflow_queue, "--workflow-queue").get("tags") or {}
    task_queue, fallback = _task_queues(batch, req, tags)
    fsap, role = _fargate_settings(req, tags)
    image = req.image or str(tags.get(naming.TAG_WORKFLOW_IMAGE) or "").strip()
    if not image:
        raise ConfigError(NO_IMAGE)
    fs_id = fs_of_access_point(efs, fsap) if req.efs else ""
    for uri, flag in ((req.s3upload, "--s3upload"), (req.stage, "--stage")):
        if uri:
            check_bucket(s3, uri, flag)
    return Infrastructure(
        task_queue=task_queue,
        task_queue_fallback=fallback,
        fsap=fsap,
        fs_id=fs_id,
        workflow_role=role,
        image=image,
    )


def _usable_queue(batch: BatchApi, name: str, flag: str) -> Dict[str, Any]:
    """The description of job queue ``name``, which must exist and be able to take jobs."""
    q = batch.describe_job_queues([name]).get(name)
    if q is None:
        raise InfrastructureError(f"{flag}: job queue {name!r} not found")
    problems = queue_problems(q)
    if problems:
        raise InfrastructureError(
            f"{flag}: job queue {name!r} cannot take jobs: {', '.join(problems)}"
        )
    return q


def _task_queues(batch: BatchApi, req: SubmitRequest, tags: Mapping[str, str]) -> Tuple[str, str]:
    """``(task queue, fallback or "")``, from the request or the workflow queue's tags."""
    task_queue = req.task_queue or tags.get(naming.TAG_TASK_QUEUE, "")
    fallback = req.task_queue_fallback or tags.get(naming.TAG_TASK_QUEUE_FALLBACK, "")
    if not task_queue:
        raise ConfigError(
            "no task queue: set --task-queue (MINIWDL__AWS__TASK_QUEUE) or tag the workflow queue"
            f" with {naming.TAG_TASK_QUEUE}"
        )
    queues = {"--task-queue": (task_queue, _usable_queue(batch, task_queue, "--task-queue"))}
    if fallback:
        flag = "--task-queue-fallback"
        queues[flag] = (fallback, _usable_queue(batch, fallback, flag))
    _check_task_environments(batch, queues)
    return task_queue, fallback


def _check_task_environments(
    batch: BatchApi, queues: Mapping[str, Tuple[str, Mapping[str, Any]]]
) -> None:
    """Each task queue in ``{flag: (name, its DescribeJobQueues entry)}`` can run task jobs
    (:func:`miniwdl_aws.queues.task_environment_problems`, the rule the backend would apply in
    the workflow job, only after the run had started), its compute environments described in
    one call."""
    names = {
        flag: [o["computeEnvironment"] for o in q.get("computeEnvironmentOrder") or []]
        for flag, (_, q) in queues.items()
    }
    try:
        found = batch.describe_compute_environments(
            sorted({n for ns in names.values() for n in ns})
        )
    except Throttled:
        raise
    except AwsCallError:
        # e.g. no permission: as for the backend, this check is worth having, not a must (the
        # workflow job's backend checks again); and before submitting, stderr is only for an
        # error line, so pass silently
        return
    # queues name their compute environments by ARN; accept a name too
    by_ref = {
        ref: ce
        for ce in found
        for ref in (ce.get("computeEnvironmentArn"), ce.get("computeEnvironmentName"))
    }
    for flag, (name, _) in queues.items():
        problems = task_environment_problems([by_ref[n] for n in names[flag] if n in by_ref])
        if problems:
            raise InfrastructureError(
                f"{flag}: job queue {name!r} can never run a task job: {'; '.join(problems)}"
            )


def _fargate_settings(req: SubmitRequest, tags: Mapping[str, str]) -> Tuple[str, str]:
    """``(access point, workflow role)``; with EFS (a Fargate workflow job) both are required."""
    role = req.workflow_role or tags.get(naming.TAG_WORKFLOW_ROLE, "")
    if not req.efs:
        return "", role
    fsap = req.fsap or tags.get(naming.TAG_FSAP, "")
    if not fsap:
        raise ConfigError(
            "no EFS access point: set --fsap (MINIWDL__AWS__FSAP) or tag the workflow queue"
            f" with {naming.TAG_FSAP}"
        )
    if not _FSAP.match(fsap):
        raise ConfigError(f"{naming.TAG_FSAP} tag {fsap!r} is not an access point id")
    if not role:
        raise ConfigError(
            "no workflow role: set --workflow-role (MINIWDL__AWS__WORKFLOW_ROLE) or tag the"
            f" workflow queue with {naming.TAG_WORKFLOW_ROLE} (Fargate jobs need one)"
        )
    if not _ROLE_ARN.match(role):
        raise ConfigError(f"workflow role {role!r} is not an IAM role ARN")
    return fsap, role


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


def stage_folder(req: SubmitRequest, run_id: str) -> Optional[str]:
    """``s3://.../`` to stage shipped files under, or None (no S3 location configured)."""
    base = req.stage or req.s3upload
    if not base:
        return None
    return base.rstrip("/") + f"/_miniwdl_aws_submit/{run_id}/"
