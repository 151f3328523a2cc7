"""Every ``[aws]`` configuration option of miniwdl-aws, in one registry.

Each option has a name, a default, a type and a one-paragraph meaning (:data:`OPTIONS`). Options
are read through miniwdl's :class:`WDL.runtime.config.Loader`, so the usual sources apply:
``--cfg``/``MINIWDL_CFG`` files, ``MINIWDL__AWS__<KEY>`` environment variables and overrides.
Every miniwdl-aws 0.12.2 key keeps its name and meaning.

Read config only at the edges (the backend's ``global_init``, a CLI's ``main``) with
:func:`load_settings` or :func:`read_option`, and pass the plain values down. A malformed value
raises :class:`~miniwdl_aws.errors.ConfigError` with a one-line message naming the key.

Pitfalls handled here: ``Loader.has_section("aws")`` is False when only environment variables are
set, so we never ask it; and defaults are passed at the point of use (``plugin_defaults`` is
deprecated).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Callable, Dict, Optional, Tuple

from WDL.runtime.config import Loader

from . import naming
from .errors import ConfigError

__all__ = [
    "SECTION",
    "Option",
    "OPTIONS",
    "OPTIONS_BY_NAME",
    "AwsSettings",
    "read_option",
    "load_settings",
    "env_var_name",
]

SECTION = "aws"

_FSAP_RE = re.compile(r"^fsap-[0-9a-f]{8,40}$")
_FS_RE = re.compile(r"^fs-[0-9a-f]{8,40}$")
_DELETE_AFTER = ("", "success", "failure", "always")
_RETRY_MODES = ("standard", "adaptive", "legacy")


@dataclasses.dataclass(frozen=True)
class Option:
    """One ``[aws]`` option.

    :param name: key in the ``[aws]`` section (env var ``MINIWDL__AWS__<NAME>``)
    :param default: typed default value, used when the option is not set anywhere
    :param kind: ``str``, ``int``, ``float``, ``bool`` or ``dict`` (a JSON object)
    :param doc: what it means, for ``miniwdl-aws.cfg`` and the README
    :param check: returns an error description for a bad (already typed) value, else None
    :param since: ``0.12.2`` for keys inherited from miniwdl-aws 0.12.2, else ``1.0``
    """

    name: str
    default: Any
    kind: str
    doc: str
    check: Optional[Callable[[Any], Optional[str]]] = None
    since: str = "1.0"

    @property
    def env_var(self) -> str:
        """The environment variable that sets this option."""
        return env_var_name(self.name)

    def default_text(self) -> str:
        """The default as it would be written in a cfg file."""
        if self.kind == "dict":
            return json.dumps(self.default)
        if self.kind == "bool":
            return "true" if self.default else "false"
        return str(self.default)


def env_var_name(name: str) -> str:
    """``MINIWDL__AWS__<NAME>`` for an ``[aws]`` option."""
    return f"MINIWDL__{SECTION.upper()}__{name.upper()}"


# --- value checks (return an error description, or None when fine) ---


def _nonneg(v: float) -> Optional[str]:
    return "must be >= 0" if v < 0 else None


def _positive(v: float) -> Optional[str]:
    return "must be > 0" if v <= 0 else None


def _at_least(lo: int) -> Callable[[int], Optional[str]]:
    def check(v: int) -> Optional[str]:
        return f"must be >= {lo}" if v < lo else None

    return check


def _array_min_size(v: int) -> Optional[str]:
    # AWS: an array job's size is "between 2 and 10,000"
    return None if 2 <= v <= 10_000 else "should be between 2 and 10000"


def _fsap(v: str) -> Optional[str]:
    return None if not v or _FSAP_RE.match(v) else "must be an EFS access point id, fsap-<hex>"


def _fs(v: str) -> Optional[str]:
    return None if not v or _FS_RE.match(v) else "must be an EFS file system id, fs-<hex>"


def _boto3_retries(v: Dict[str, Any]) -> Optional[str]:
    unknown = set(v) - {"max_attempts", "total_max_attempts", "mode"}
    if unknown:
        return f"unknown keys {sorted(unknown)}"
    for key in ("max_attempts", "total_max_attempts"):
        if key in v and (not isinstance(v[key], int) or isinstance(v[key], bool) or v[key] < 0):
            return f"{key} must be a non-negative integer"
    if v.get("mode", "standard") not in _RETRY_MODES:
        return f"mode must be one of {list(_RETRY_MODES)}"
    return None


def _tags(v: Dict[str, Any]) -> Optional[str]:
    for key, value in v.items():
        if not key or not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return "must be a JSON object of non-empty string keys to string values"
    # AWS's tag rules, the same function the submitter applies to --tag
    return naming.tag_problem({str(k): str(val) for k, val in v.items()})


def _s3_folder(v: str) -> Optional[str]:
    return None if not v or v.startswith("s3://") else "must be an s3://bucket/folder/ URI"


def _run_id(v: str) -> Optional[str]:
    if not v or naming.is_valid_run_id(v):
        return None
    return "a run id is 1-40 letters, digits, - or _, starting with a letter or digit"


def _delete_after(v: str) -> Optional[str]:
    return None if v in _DELETE_AFTER else f"must be one of {list(_DELETE_AFTER)}"


def _at_least_one(v: float) -> Optional[str]:
    return "must be >= 1 (1 turns it off)" if v < 1 else None


# SubmitJob: "limited to 255 alphanumeric characters, and can be followed by an asterisk"
_SHARE_RE = re.compile(r"^[A-Za-z0-9]{1,255}\*?$")


def _share_identifier(v: str) -> Optional[str]:
    if not v or _SHARE_RE.match(v):
        return None
    return "must be up to 255 letters or digits (optionally ending in *)"


def _container_properties(v: Dict[str, Any]) -> Optional[str]:
    # these are what miniwdl-aws sets itself; overriding them would break the task contract
    reserved = {
        "image",
        "command",
        "environment",
        "resourceRequirements",
        "mountPoints",
        "volumes",
        "privileged",
    }
    clash = reserved.intersection(v)
    return f"may not override {sorted(clash)}" if clash else None


OPTIONS: Tuple[Option, ...] = (
    # --- task backend: where jobs go ---
    Option(
        "task_queue",
        "",
        "str",
        "AWS Batch job queue (name or ARN) for task jobs. Required by the task backend.",
        since="0.12.2",
    ),
    Option(
        "task_queue_fallback",
        "",
        "str",
        "Job queue (typically on-demand) for attempts of a task after its runtime.preemptible"
        " budget of spot interruptions is spent. Empty: keep using task_queue.",
        since="0.12.2",
    ),
    Option(
        "fsap",
        "",
        "str",
        "EFS access point id (fsap-<hex>) mounted at [file_io] root in every task job."
        " Required by the aws_batch_job backend (unless fs is set).",
        check=_fsap,
        since="0.12.2",
    ),
    Option(
        "fs",
        "",
        "str",
        "EFS file system id (fs-<hex>). Empty: looked up from fsap.",
        check=_fs,
        since="0.12.2",
    ),
    Option(
        "region",
        "",
        "str",
        "AWS region. Empty: AWS_REGION, AWS_DEFAULT_REGION, then the boto3 profile.",
        since="0.12.2",
    ),
    # --- task jobs: resources, limits, properties ---
    Option(
        "run_id",
        "",
        "str",
        "The run id that names and tags this run's jobs (set by miniwdl-aws-submit for its"
        " workflow job). Empty: a new one per miniwdl process.",
        check=_run_id,
    ),
    Option(
        "job_timeout",
        86400,
        "int",
        "Default per-attempt timeout of task jobs, in seconds (Batch minimum 60). A task's"
        " runtime/hints maxTime or aws_timeout overrides it.",
        check=_at_least(60),
        since="0.12.2",
    ),
    Option(
        "memory_delta",
        -33,
        "int",
        "MiB added to each task's runtime.memory for the Batch MEMORY request (negative leaves"
        " room for the ECS agent on hosts sized in round GiB). The request is at least 991 MiB.",
        since="0.12.2",
    ),
    Option(
        "gpu_value",
        1,
        "int",
        "GPUs requested for a task with runtime.gpu = true and no acceleratorCount.",
        check=_at_least(0),
        since="0.12.2",
    ),
    Option(
        "container_properties",
        {},
        "dict",
        "JSON object of extra Batch containerProperties for every task job definition (e.g."
        ' {"linuxParameters": {"sharedMemorySize": 4096}}). Cannot override image, command,'
        " environment, resourceRequirements, mountPoints, volumes or privileged.",
        check=_container_properties,
        since="0.12.2",
    ),
    Option(
        "job_tags",
        {},
        "dict",
        "JSON object of extra tags for every job miniwdl-aws submits. AWS's tag rules apply:"
        " keys up to 128 and values up to 256 letters, digits, spaces and _ . : / = + - @, no"
        " aws: prefix, and at most 43 user tags (AWS allows 50 per resource; miniwdl-aws adds 7).",
        check=_tags,
        since="0.12.2",
    ),
    Option(
        "container_sync",
        False,
        "bool",
        "Run sync on the task's output files before the job exits (for filesystems with"
        " weak close-to-open consistency).",
        since="0.12.2",
    ),
    # --- API economy and resilience ---
    Option(
        "submit_period",
        0.025,
        "float",
        "Minimum seconds between SubmitJob calls at full speed (so at most 1/submit_period"
        " submissions per second, shared by all tasks of the process). On throttling the"
        " submitter slows down by itself and speeds up again gradually.",
        check=_positive,
        since="0.12.2",
    ),
    Option(
        "submit_burst",
        1,
        "int",
        "SubmitJob calls that may go out back to back before submit_period applies. Keep"
        " 1/submit_period + submit_burst - 1 below the account's SubmitJob limit (AWS: 50 per"
        " second) with a margin: requests leave a busy runner unevenly, and AWS counts them as"
        " they arrive.",
        check=_at_least(1),
    ),
    Option(
        "describe_period",
        1.0,
        "float",
        "Seconds between DescribeJobs rounds of the process-wide status poller (each call covers"
        " up to 100 jobs). Jobs that recently changed state are checked every round.",
        check=_positive,
        since="0.12.2",
    ),
    Option(
        "describe_period_max",
        5.0,
        "float",
        "Longest interval, in seconds, between status checks of a job that has stayed in one"
        " state for a long time (the poller backs off to a fifth of that time, up to this).",
        check=_positive,
    ),
    Option(
        "boto3_retries",
        {"max_attempts": 5, "mode": "standard"},
        "dict",
        'botocore retry settings as a JSON object: {"max_attempts": N, "mode":'
        ' "standard"|"adaptive"}.',
        check=_boto3_retries,
        since="0.12.2",
    ),
    Option(
        "retry_wait",
        20.0,
        "float",
        "Seconds to wait before retrying a failed or interrupted task attempt.",
        check=_nonneg,
        since="0.12.2",
    ),
    Option(
        "runnable_warning",
        600.0,
        "float",
        "Warn (with Batch's statusReason) when a task job stays RUNNABLE this many seconds,"
        " e.g. because no compute environment can fit it. 0 disables the warning.",
        check=_nonneg,
    ),
    Option(
        "terminate_wait",
        60.0,
        "float",
        "After terminating a job (abort, signal, error), seconds to wait for Batch to report it"
        " terminal before giving up on it.",
        check=_nonneg,
    ),
    Option(
        "describe_error_wait",
        300.0,
        "float",
        "Seconds that DescribeJobs may keep failing (an AWS API outage, lost connectivity)"
        " before the tasks waiting on it fail (their jobs are then terminated), or before"
        " miniwdl-aws-submit --wait stops waiting (its workflow job keeps running). Jobs keep"
        " running on Batch during an outage, so a short one should not end the run.",
        check=_nonneg,
    ),
    Option(
        "submit_recovery_seconds",
        30.0,
        "float",
        "When a SubmitJob's response is lost (connection reset, timeout, 5xx), seconds to keep"
        " looking the job up by name before concluding it was not created and submitting it"
        " again (ListJobs lags behind SubmitJob). A job is never submitted twice: if the lookups"
        " fail, the task (or the submitter) fails, saying so.",
        check=_nonneg,
    ),
    Option(
        "job_definition_prefix",
        "miniwdl-task",
        "str",
        "Name prefix of the job definitions miniwdl-aws registers; each distinct definition is"
        " named <prefix>-<content hash> and reused across runs. Letters, digits, - and _, at most"
        " 107 characters.",
        check=naming.job_definition_prefix_problem,
    ),
    # --- workflow submitter (miniwdl-aws-submit) ---
    Option(
        "workflow_queue",
        "",
        "str",
        "Job queue for the workflow (miniwdl runner) job of miniwdl-aws-submit.",
    ),
    Option(
        "workflow_role",
        "",
        "str",
        "IAM role ARN for the workflow job (Fargate task/execution role).",
    ),
    Option(
        "workflow_image",
        "",
        "str",
        "Docker image of the workflow job (miniwdl + miniwdl-aws), built from this repository's"
        " Dockerfile and pushed to a registry the workflow queue can pull from (e.g. ECR). Empty:"
        " the workflow queue's WorkflowImage tag; with neither (nor --image) miniwdl-aws-submit"
        " refuses to submit.",
    ),
    Option(
        "s3_upload_folder",
        "",
        "str",
        "s3://bucket/folder/ under which each run uploads its logs and outputs when it ends,"
        " into its own <folder>/<run id>/. Empty: no upload.",
        check=_s3_folder,
    ),
    Option(
        "s3_upload_delete_after",
        "",
        "str",
        "After uploading, delete the run directory on EFS: success, failure, always, or empty"
        " (never).",
        check=_delete_after,
    ),
    Option(
        "s3_upload_kms_key",
        "",
        "str",
        "Server-side encryption header for uploads and staging, for buckets whose policy demands"
        " one: aws:kms (the bucket's or account's default KMS key), aws:kms:dsse, or a KMS key"
        " id/ARN/alias (aws:kms with that key). Empty: no header, the bucket's default applies.",
    ),
    Option(
        "task_stdout_to_log",
        False,
        "bool",
        "Also send the standard output of task commands to their jobs' CloudWatch log (standard"
        " error always goes there). Off by default, as in miniwdl-aws 0.12.2: WDL tasks often"
        " write bulk data to stdout(), which CloudWatch would ingest at a cost. The task's"
        " stdout.txt keeps all of it either way.",
    ),
    Option(
        "memory_retry_multiplier",
        2.0,
        "float",
        "After a task attempt killed for running out of memory, the next attempt (within the"
        " task's maxRetries) requests this many times the memory, up to the most the task queue"
        " can place and memory_retry_max. 1 turns it off; a task's runtime aws.memory_retry_"
        "multiplier overrides it. Only an out-of-memory kill triggers it, never a non-zero exit.",
        check=_at_least_one,
    ),
    Option(
        "memory_retry_max",
        0,
        "int",
        "The most memory (MiB) a retry after an out-of-memory kill may request. 0: only the"
        " task queue's instance types limit it.",
        check=_nonneg,
    ),
    Option(
        "share_identifier",
        "",
        "str",
        "Fair-share identifier (shareIdentifier) of task jobs on a job queue with a scheduling"
        " policy, where AWS Batch requires one; a task's runtime aws.share overrides it. Empty:"
        " the workflow's name. Jobs on queues without a scheduling policy never get one.",
        check=_share_identifier,
    ),
    Option(
        "unschedulable_grace",
        600.0,
        "float",
        "Seconds a task job may stay RUNNABLE with AWS Batch's MISCONFIGURATION:JOB_RESOURCE_"
        "REQUIREMENT reason (no compute environment of its queue can ever place it) while none"
        " of the queue's compute environments is scaling up, before it is terminated and the"
        " task fails with Batch's reason. 0 never terminates (the RUNNABLE warning remains).",
        check=_nonneg,
    ),
    Option(
        "usage_sampling_period",
        5.0,
        "float",
        "Seconds between two samples of a task's CPU and memory use, taken inside its job (from"
        " the container's cgroup, else its process tree) into usage.tsv in the task's directory;"
        " the run summary and report.html show them against the request. 0: no sampling.",
        check=_nonneg,
    ),
    Option(
        "price_per_vcpu_hour",
        0.0,
        "float",
        "Your price of one vCPU-hour, for the cost estimate of the run summary and report (an"
        " estimate from requested resources and running time, not a bill). 0: no estimate.",
        check=_nonneg,
    ),
    Option(
        "price_per_gib_hour",
        0.0,
        "float",
        "Your price of one GiB of memory for one hour, for the same estimate. 0: memory not"
        " priced.",
        check=_nonneg,
    ),
    Option(
        "array_jobs",
        False,
        "bool",
        "Submit the first attempts of identically shaped tasks (same job definition, queue,"
        " resources, timeout and tags) that become ready together as one AWS Batch array job,"
        " each task running as its own child: past the account's 50 SubmitJob calls per second"
        " for wide scatters. Retries are plain jobs. Off by default until proven on AWS.",
    ),
    Option(
        "array_job_window",
        0.5,
        "float",
        "With array_jobs, the longest a group of same-shaped attempts waits for more, in"
        " seconds; it is submitted sooner once none has joined for 0.15 s (its attempts go as"
        " plain jobs if fewer than array_job_min_size).",
        check=_nonneg,
    ),
    Option(
        "array_job_min_size",
        10,
        "int",
        "With array_jobs, the fewest attempts submitted as an array job (AWS: 2 to 10,000"
        " children); smaller groups are submitted as plain jobs.",
        check=_array_min_size,
    ),
)

OPTIONS_BY_NAME: Dict[str, Option] = {o.name: o for o in OPTIONS}


def _parse(option: Option, text: str) -> Any:
    """Typed value of ``text`` for ``option``; ValueError with a short reason when malformed."""
    if option.kind == "str":
        return text
    if option.kind == "int":
        return int(text)
    if option.kind == "float":
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        return value
    if option.kind == "bool":
        low = text.strip().lower()
        if low in ("t", "y", "1", "true", "yes", "on"):
            return True
        if low in ("f", "n", "0", "false", "no", "off", ""):
            return False
        raise ValueError("not a boolean")
    if option.kind == "dict":
        if not text.strip():
            return {}
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        return value
    raise AssertionError(option.kind)


_KIND_TEXT = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "dict": "a JSON object",
}


def read_option(cfg: Loader, name: str) -> Any:
    """The typed value of ``[aws] <name>`` (its default when unset).

    :raises ConfigError: the value is malformed; the message names the key and its env var
    """
    option = OPTIONS_BY_NAME[name]
    # a str default at the point of use, so the Loader never raises ConfigMissing
    text = cfg.get(SECTION, name, option.default_text())
    where = f"[{SECTION}] {name} ({option.env_var})"
    try:
        value = _parse(option, text)
    except (ValueError, json.JSONDecodeError):
        raise ConfigError(f"{where} should be {_KIND_TEXT[option.kind]}, got {text!r}") from None
    problem = option.check(value) if option.check else None
    if problem:
        raise ConfigError(f"{where} {problem}, got {text!r}")
    return value


@dataclasses.dataclass(frozen=True)
class AwsSettings:
    """All ``[aws]`` settings, typed; field names are the option names (see :data:`OPTIONS`)."""

    task_queue: str
    task_queue_fallback: str
    fsap: str
    fs: str
    region: str
    run_id: str
    job_timeout: int
    memory_delta: int
    gpu_value: int
    container_properties: Dict[str, Any]
    job_tags: Dict[str, Any]
    container_sync: bool
    submit_period: float
    submit_burst: int
    describe_period: float
    describe_period_max: float
    boto3_retries: Dict[str, Any]
    retry_wait: float
    runnable_warning: float
    terminate_wait: float
    describe_error_wait: float
    submit_recovery_seconds: float
    job_definition_prefix: str
    workflow_queue: str
    workflow_role: str
    workflow_image: str
    s3_upload_folder: str
    s3_upload_delete_after: str
    s3_upload_kms_key: str
    task_stdout_to_log: bool
    memory_retry_multiplier: float
    memory_retry_max: int
    share_identifier: str
    unschedulable_grace: float
    usage_sampling_period: float
    price_per_vcpu_hour: float
    price_per_gib_hour: float
    array_jobs: bool
    array_job_window: float
    array_job_min_size: int

    @property
    def boto3_max_attempts(self) -> int:
        """botocore's total attempts from ``boto3_retries`` (0.12.2 used ``max_attempts``)."""
        retries = self.boto3_retries
        return int(retries.get("total_max_attempts", retries.get("max_attempts", 5)))

    @property
    def boto3_retry_mode(self) -> str:
        """botocore retry mode from ``boto3_retries``."""
        return str(self.boto3_retries.get("mode", "standard"))

    @property
    def user_tags(self) -> Dict[str, str]:
        """``job_tags`` with every value as a string (Batch tag values are strings)."""
        return {str(k): str(v) for k, v in self.job_tags.items()}


def load_settings(cfg: Loader) -> AwsSettings:
    """Read and check every ``[aws]`` option.

    Reading all of them also marks their env vars as used, so miniwdl's "unused environment"
    warning only flags real typos.

    :raises ConfigError: the first malformed option (one line, naming the key)
    """
    values = {o.name: read_option(cfg, o.name) for o in OPTIONS}
    if values["describe_period_max"] < values["describe_period"]:
        raise ConfigError(
            f"[{SECTION}] describe_period_max ({values['describe_period_max']}) must be >="
            f" describe_period ({values['describe_period']})"
        )
    return AwsSettings(**values)
