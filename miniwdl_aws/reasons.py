"""Why a Batch job attempt ended: the one table of AWS's reasons (pure, stdlib only).

The backend (:func:`miniwdl_aws.batch.outcomes.classify`: retry, fall back, or fail the task) and
the run summary (:mod:`miniwdl_aws.ops.summary`: per-attempt outcome, Spot count) both classify
through :func:`classify` here, so they cannot disagree. It lives outside ``batch`` because ``ops``
may not import ``batch`` (docs/ARCHITECTURE.md). docs/AWS-RULES.md lists each row with its AWS
documentation and its test.

Batch reports an ended attempt with a job-level ``statusReason`` (Batch's or, when the ECS task
stopped, ECS's ``stoppedReason``) and a container-level ``reason`` (the ECS error of the
container). A row names a pattern for either field, or both; it applies when either matches.
Patterns are anchored at the start of the field, on the wording AWS documents (an ECS error code
such as ``CannotPullContainerError``, or a Batch sentence), never a bare word anywhere in the text:
an image named ``example/jdk-hotspot`` or ``spotify/scio`` that fails to pull is a pull failure,
not a Spot reclaim. Rows are tried in order, the first that applies wins; when none does, the exit
code decides (:func:`classify`).

Kinds:

``interrupted``
    Not the task's fault and worth retrying: miniwdl's ``Interrupted``. Each one counts against
    ``runtime.preemptible`` -- miniwdl charges every ``Interrupted`` to that budget, and the
    backend's switch to ``[aws] task_queue_fallback`` follows the same count (see
    docs/AWS-RULES.md, "preemptible"). Only rows with ``host_lost`` are Spot/host losses, the
    summary's SPOT column.
``error``
    Retrying the same request cannot help; the row's ``hint`` says what to change.
``oom``
    The container was killed for exceeding its memory.
``exit``
    The task's command ended with an exit code: the task's own status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Pattern, Tuple

__all__ = [
    "INTERRUPTED",
    "ERROR",
    "OOM",
    "EXIT",
    "HOST_LOST",
    "TERMINATE_REASON",
    "Rule",
    "RULES",
    "Verdict",
    "classify",
    "classify_attempt",
    "classify_job",
]

INTERRUPTED = "interrupted"
ERROR = "error"
OOM = "oom"
EXIT = "exit"

# the reason the backend gives TerminateJob; Batch returns it as the job's statusReason
TERMINATE_REASON = "terminated by miniwdl"

HOST_LOST = "host_lost"

_BATCH_RETRIES = "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"
_ECS_STOPPED = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html"
)
_ECS_PULL = (
    "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html"
)


@dataclass(frozen=True)
class Rule:
    """One row of the table: which reasons it matches, what they mean, and where AWS says so."""

    name: str
    kind: str
    status_reason: Optional[Pattern[str]]
    container_reason: Optional[Pattern[str]]
    doc: str
    hint: str = ""
    host_lost: bool = False

    def matches(self, status_reason: str, container_reason: str) -> bool:
        """Whether this row applies to an attempt with these two reasons (``re.match``: each
        pattern is anchored at the start of its field)."""
        return bool(
            (self.status_reason is not None and self.status_reason.match(status_reason))
            or (self.container_reason is not None and self.container_reason.match(container_reason))
        )


def _ecs_code(code: str) -> Pattern[str]:
    # ECS prefixes the message with the error code; "\b" keeps e.g. a longer code from matching
    return re.compile(rf"{code}\b")


_PULL_THROTTLED = re.compile(
    # Docker Hub's "toomanyrequests", a registry's HTTP 429, ECR's ThrottleException, anywhere
    # in the pull error's message, which quotes the registry's answer after the code
    r"CannotPullContainerError\b.*(?i:toomanyrequests|429 Too Many Requests|ThrottleException)",
    re.DOTALL,
)
# the whole sentence ECS documents, so that only its own OOM kill counts as one
_OOM = re.compile(r"OutOfMemoryError: Container killed due to memory usage\b")

RULES: Tuple[Rule, ...] = (
    # Batch's words for a Spot reclaim or any other loss of the EC2 host under a running job
    Rule(
        HOST_LOST,
        INTERRUPTED,
        re.compile(r"Host EC2 \(instance [^)\s]+\) terminated\b"),
        None,
        "https://aws.amazon.com/blogs/compute/introducing-retry-strategies-for-aws-batch/ ; "
        + _BATCH_RETRIES,
        host_lost=True,
    ),
    # the job's attemptDurationSeconds ran out: the task's time limit, not infrastructure
    Rule(
        "timeout",
        ERROR,
        re.compile(r"Job attempt duration exceeded timeout\b"),
        None,
        "https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html",
        hint=(
            "the attempt ran longer than its timeout (runtime maxTime or aws_timeout, else"
            " [aws] job_timeout): raise it, or make the task faster"
        ),
    ),
    # our own TerminateJob (miniwdl stopping the run, or `miniwdl-aws cleanup`, whose reason
    # "terminated by miniwdl-aws cleanup" this also matches); Batch echoes the reason we gave
    Rule(
        "terminated",
        ERROR,
        re.compile(re.escape(TERMINATE_REASON) + r"\b"),
        None,
        "https://docs.aws.amazon.com/batch/latest/APIReference/API_TerminateJob.html",
    ),
    # before the exit-code fallback, which would report the kill's 137 as the task's own status
    Rule(
        "oom",
        OOM,
        _OOM,
        _OOM,
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/out-of-memory.html",
        hint="raise the task's runtime.memory if it needs more",
    ),
    # Batch fails the job at start when ECS refuses the overrides Batch builds from SubmitJob's
    Rule(
        "overrides_too_long",
        ERROR,
        re.compile(r"Container Overrides length must be at most \d+"),
        None,
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html",
        hint=(
            "the command and environment are too long for AWS Batch's container overrides"
            " (8192 characters of JSON): shorten the environment or move large values into files"
        ),
    ),
    # a rate-limited pull succeeds later; listed before the other pull failures, which do not
    Rule(
        "pull_throttled",
        INTERRUPTED,
        _PULL_THROTTLED,
        _PULL_THROTTLED,
        "https://docs.aws.amazon.com/AmazonECR/latest/userguide/common-errors.html ; " + _ECS_PULL,
    ),
    Rule(
        "pull_failed",
        ERROR,
        _ecs_code("CannotPullContainerError"),
        _ecs_code("CannotPullContainerError"),
        _ECS_PULL,
        hint=(
            "check the image name and tag, that the registry is reachable from the compute"
            " environment, and for ECR images that the job's execution role (or the instance"
            " role) has ecr:GetAuthorizationToken, ecr:BatchGetImage and"
            " ecr:GetDownloadUrlForLayer"
        ),
    ),
    Rule(
        "cannot_start",
        ERROR,
        _ecs_code("CannotStartContainerError"),
        _ecs_code("CannotStartContainerError"),
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-start-container.html",
        hint=(
            "check the image's entrypoint and platform (CPU architecture) and the job"
            " definition's volumes and mount points"
        ),
    ),
    # the container runtime or agent on the instance did not answer in time: transient
    Rule(
        "cannot_inspect",
        INTERRUPTED,
        _ecs_code("CannotInspectContainerError"),
        _ecs_code("CannotInspectContainerError"),
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cannot-inspect-container.html",
    ),
    Rule(
        "cannot_create",
        INTERRUPTED,
        _ecs_code("CannotCreateContainerError"),
        _ecs_code("CannotCreateContainerError"),
        _ECS_STOPPED,
    ),
    Rule(
        "docker_timeout",
        INTERRUPTED,
        _ecs_code("DockerTimeoutError"),
        _ecs_code("DockerTimeoutError"),
        "https://repost.aws/knowledge-center/ecs-fargate-docker-timeout-error ; " + _ECS_STOPPED,
    ),
    Rule(
        "resource_init",
        INTERRUPTED,
        _ecs_code("ResourceInitializationError"),
        _ecs_code("ResourceInitializationError"),
        _ECS_STOPPED,
    ),
    # Batch's generic start failure; the specific ECS codes above, often in the container
    # reason alongside it, decide first
    Rule(
        "failed_to_start",
        INTERRUPTED,
        re.compile(r"Task failed to start\b"),
        None,
        _BATCH_RETRIES,
    ),
)


@dataclass(frozen=True)
class Verdict:
    """What an ended attempt means: its kind, the table row (or ``exit``/``unknown``) that
    decided, the exit code when the kind is ``exit``, and the row's ``host_lost`` and hint."""

    kind: str
    rule: str
    exit_code: Optional[int] = None
    host_lost: bool = False
    hint: str = ""


def classify(
    status: Optional[str],
    status_reason: Optional[str],
    container_reason: Optional[str],
    exit_code: Optional[int],
) -> Verdict:
    """Classify one ended attempt.

    ``status`` is the job's (``SUCCEEDED``/``FAILED``) when classifying a whole job, or None for
    one entry of a job's ``attempts``, which carry no status of their own.
    """
    code = exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None
    if status == "SUCCEEDED":
        return Verdict(EXIT, EXIT, code if code is not None else 0)
    for rule in RULES:
        if rule.matches(status_reason or "", container_reason or ""):
            return Verdict(rule.kind, rule.name, None, rule.host_lost, rule.hint)
    if code is not None and (code != 0 or status is None):
        return Verdict(EXIT, EXIT, code)
    # no exit code and no known reason (e.g. a network interface that was never provisioned):
    # infrastructure trouble, as AWS's own retry examples treat start failures
    return Verdict(INTERRUPTED, "unknown")


def classify_job(job: Mapping[str, Any]) -> Optional[Verdict]:
    """Classify a DescribeJobs entry that has ended (SUCCEEDED/FAILED); None while it is not."""
    status = job.get("status")
    if status not in ("SUCCEEDED", "FAILED"):
        return None
    container = job.get("container") or {}
    return classify(
        status, job.get("statusReason"), container.get("reason"), container.get("exitCode")
    )


def classify_attempt(attempt: Mapping[str, Any]) -> Verdict:
    """Classify one entry of a job's ``attempts`` (Batch's AttemptDetail)."""
    container = attempt.get("container") or {}
    return classify(
        None, attempt.get("statusReason"), container.get("reason"), container.get("exitCode")
    )
