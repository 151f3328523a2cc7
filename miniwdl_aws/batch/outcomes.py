"""Classify a finished Batch job the way miniwdl's own backends classify containers (pure).

=============================================  ==============================================
what Batch reports                             :class:`Outcome` kind
=============================================  ==============================================
SUCCEEDED                                      ``exit`` with ``container.exitCode`` (0)
FAILED, "Host EC2 (instance ...) terminated."  ``interrupted`` (spot reclaim or host loss)
FAILED, attempt duration exceeded timeout      ``error`` (the task ran out of time)
FAILED, our own termination reason             ``error``
FAILED, with an exit code                      ``exit`` with that code (miniwdl: CommandFailed)
FAILED, the image or spec is unusable          ``error`` (retrying cannot help)
FAILED, anything else without an exit code     ``interrupted`` (infrastructure trouble)
=============================================  ==============================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

__all__ = ["Outcome", "classify", "failure_details", "TERMINATE_REASON"]

TERMINATE_REASON = "terminated by miniwdl"

_HOST_LOST = re.compile(r"Host EC2 \(instance [^)]*\) terminated|Spot|spot", re.I)
_TIMEOUT = re.compile(r"attempt duration exceeded timeout", re.I)
_UNUSABLE = re.compile(
    r"CannotPullContainer|CannotInspectContainer|CannotCreateContainer|InvalidParameter|"
    r"pull access denied|manifest unknown|repository does not exist|invalid reference",
    re.I,
)


@dataclass(frozen=True)
class Outcome:
    """How a terminal job ended: ``kind`` is ``exit``, ``interrupted`` or ``error``."""

    kind: str
    exit_code: Optional[int] = None
    message: str = ""


def _reasons(job: Mapping[str, Any]) -> str:
    container = job.get("container") or {}
    return " | ".join(r for r in (job.get("statusReason"), container.get("reason")) if r)


def classify(job: Mapping[str, Any]) -> Outcome:
    """The :class:`Outcome` of a SUCCEEDED or FAILED job description."""
    container = job.get("container") or {}
    exit_code = container.get("exitCode")
    if job.get("status") == "SUCCEEDED":
        return Outcome("exit", int(exit_code) if isinstance(exit_code, int) else 0)
    assert job.get("status") == "FAILED", job.get("status")
    reasons = _reasons(job)
    if _HOST_LOST.search(job.get("statusReason") or ""):
        return Outcome("interrupted", None, f"AWS Batch job interrupted: {reasons}")
    if _TIMEOUT.search(job.get("statusReason") or ""):
        return Outcome("error", None, f"AWS Batch job timed out: {reasons}")
    if TERMINATE_REASON in reasons:
        return Outcome("error", None, f"AWS Batch job terminated: {reasons}")
    if isinstance(exit_code, int) and exit_code != 0:
        return Outcome("exit", exit_code, reasons)
    if _UNUSABLE.search(reasons):
        return Outcome("error", None, f"AWS Batch job could not start: {reasons}")
    return Outcome("interrupted", None, f"AWS Batch job failed without exit code: {reasons}")


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
