"""Classify a finished Batch job the way miniwdl's own backends classify containers (pure).

The rules are the one table in :mod:`miniwdl_aws.reasons`, shared with the run summary; this
module turns a verdict into an :class:`Outcome` with the message miniwdl shows.

=============================================  ==============================================
what Batch reports                             :class:`Outcome` kind
=============================================  ==============================================
SUCCEEDED                                      ``exit`` with ``container.exitCode`` (0)
FAILED, "Host EC2 (instance ...) terminated."  ``interrupted`` (spot reclaim or host loss)
FAILED, a transient start failure (a           ``interrupted``
rate-limited pull, DockerTimeoutError, ...)
FAILED, attempt duration exceeded timeout      ``error`` (the task ran out of time)
FAILED, our own termination reason             ``error``
FAILED, OutOfMemoryError                       ``oom`` (message names the memory requested)
FAILED, the image, command or spec is          ``error`` with a hint (retrying cannot help)
unusable (pull denied, overrides too long)
FAILED, with an exit code                      ``exit`` with that code (miniwdl: CommandFailed)
FAILED, anything else without an exit code     ``interrupted`` (infrastructure trouble)
=============================================  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from .. import reasons
from ..aws.batch import requested_resources
from ..reasons import TERMINATE_REASON

__all__ = [
    "Outcome",
    "UNSCHEDULABLE_REASON",
    "UnschedulableClock",
    "classify",
    "failure_details",
    "is_unschedulable",
    "scaling_signature",
    "TERMINATE_REASON",
]

# The statusReason of a RUNNABLE job that no compute environment of its queue can place
# (https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html); Batch may
# also show it briefly while an environment scales up, so it is acted on only when it persists.
UNSCHEDULABLE_REASON = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
_SCALING_STATUSES = ("CREATING", "UPDATING")


@dataclass(frozen=True)
class Outcome:
    """How a terminal job ended: ``kind`` is ``exit``, ``interrupted``, ``oom`` or ``error``;
    ``rule`` names the row of :data:`miniwdl_aws.reasons.RULES` (or ``exit``/``unknown``) that
    decided, and ``host_lost`` says whether it was a Spot reclaim or other loss of the host."""

    kind: str
    exit_code: Optional[int] = None
    message: str = ""
    rule: str = ""
    host_lost: bool = False


def _reasons(job: Mapping[str, Any]) -> str:
    container = job.get("container") or {}
    return " | ".join(r for r in (job.get("statusReason"), container.get("reason")) if r)


def _memory_mib(job: Mapping[str, Any]) -> Optional[str]:
    """The memory the job asked Batch for, in MiB, if its description says."""
    _vcpus, memory = requested_resources(job.get("container") or {})
    if not memory:
        return None
    # Batch's MEMORY is whole MiB; "%g" would print the largest instances' 1,048,576 as 1.04858e+06
    return str(int(memory)) if memory == int(memory) else str(memory)


_PREFIX = {
    reasons.HOST_LOST: "AWS Batch job interrupted",
    "timeout": "AWS Batch job timed out",
    "terminated": "AWS Batch job terminated",
    "unknown": "AWS Batch job failed without exit code",
}


def classify(job: Mapping[str, Any]) -> Outcome:
    """The :class:`Outcome` of a SUCCEEDED or FAILED job description."""
    verdict = reasons.classify_job(job)
    assert verdict is not None, job.get("status")
    said = _reasons(job)
    if verdict.kind == reasons.EXIT:
        return Outcome(reasons.EXIT, verdict.exit_code, said, verdict.rule)
    if verdict.kind == reasons.OOM:
        memory = _memory_mib(job)
        asked = f" ({memory} MiB requested)" if memory else ""
        message = f"AWS Batch job ran out of memory{asked}: {said}; {verdict.hint}"
        return Outcome(reasons.OOM, None, message, verdict.rule)
    prefix = _PREFIX.get(
        verdict.rule,
        "AWS Batch job could not start"
        if verdict.kind == reasons.ERROR
        else "AWS Batch job interrupted while starting",
    )
    message = f"{prefix}: {said}" + (f"; {verdict.hint}" if verdict.hint else "")
    return Outcome(verdict.kind, None, message, verdict.rule, verdict.host_lost)


def failure_details(job: Mapping[str, Any]) -> Dict[str, Any]:
    """The facts about a job worth keeping in ``failure_info`` / error.json."""
    container = job.get("container") or {}
    info: Dict[str, Any] = {"jobId": job.get("jobId"), "status": job.get("status")}
    for key in ("jobName", "jobQueue", "statusReason"):
        if job.get(key):
            info[key] = job[key]
    for key, as_key in (("reason", "containerReason"), ("exitCode", "exitCode")):
        if container.get(key) is not None:
            info[as_key] = container[key]
    if container.get("logStreamName"):
        info["logStreamName"] = container["logStreamName"]
    batch_attempts = []
    for a in job.get("attempts") or []:
        c = a.get("container") or {}
        batch_attempts.append(
            {
                k: v
                for k, v in (
                    ("statusReason", a.get("statusReason")),
                    ("exitCode", c.get("exitCode")),
                    ("reason", c.get("reason")),
                    ("logStreamName", c.get("logStreamName")),
                )
                if v is not None
            }
        )
    if batch_attempts:
        info["batchAttempts"] = batch_attempts
    return info


def is_unschedulable(job: Mapping[str, Any]) -> bool:
    """Whether a job description is RUNNABLE with Batch's "can never be placed" reason."""
    reason = str(job.get("statusReason") or "")
    return job.get("status") == "RUNNABLE" and reason.startswith(UNSCHEDULABLE_REASON)


def scaling_signature(envs: Sequence[Mapping[str, Any]]) -> Optional[Tuple[Any, ...]]:
    """What changes while a queue's compute environments scale: None when one of them is being
    created or updated (scaling now), else their desired vCPUs (a change between two looks
    means they scaled)."""
    if any(ce.get("status") in _SCALING_STATUSES for ce in envs):
        return None
    return tuple(
        sorted(
            (
                str(ce.get("computeEnvironmentName")),
                (ce.get("computeResources") or {}).get("desiredvCpus"),
            )
            for ce in envs
        )
    )


class UnschedulableClock:
    """How long a job has been unschedulable with no compute environment scaling, from the
    job descriptions and scaling signatures seen at given times (pure: the caller passes the
    clock). Anything else — another status or reason, a scaling environment, a changed
    signature — starts it over.

    :param grace: seconds of persistent evidence before :meth:`observe` says to give up (0:
        never)
    """

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.since: Optional[float] = None
        self._signature: Optional[Tuple[Any, ...]] = None

    def observe(
        self, job: Mapping[str, Any], now: float, signature: Optional[Tuple[Any, ...]] = ()
    ) -> bool:
        """Record one look at the job (and its queue's :func:`scaling_signature`, None while
        scaling); True when the job has been unschedulable, with nothing scaling, for
        ``grace`` seconds."""
        if not is_unschedulable(job) or signature is None or signature != self._signature:
            self.since = now if is_unschedulable(job) and signature is not None else None
            self._signature = signature
            return False
        if self.since is None:
            self.since = now
        return self.grace > 0 and now - self.since >= self.grace
