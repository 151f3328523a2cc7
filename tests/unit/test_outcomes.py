"""Classification of terminal Batch jobs and the failure details kept in error.json."""

from __future__ import annotations

from typing import Any

import pytest

from miniwdl_aws.batch import outcomes


def job(status: str, status_reason: str | None = None, **container: Any) -> dict:
    d: dict = {"jobId": "j-1", "jobName": "n", "status": status, "container": container}
    if status_reason:
        d["statusReason"] = status_reason
    return d


@pytest.mark.parametrize(
    "desc,kind,code",
    [
        (job("SUCCEEDED", exitCode=0), "exit", 0),
        (job("SUCCEEDED"), "exit", 0),
        (job("FAILED", "Essential container in task exited", exitCode=3), "exit", 3),
        (job("FAILED", "Host EC2 (instance i-0abc) terminated."), "interrupted", None),
        (
            job("FAILED", "Host EC2 (instance i-0abc) terminated.", exitCode=137),
            "interrupted",
            None,
        ),
        (job("FAILED", "Job attempt duration exceeded timeout", exitCode=137), "error", None),
        (job("FAILED", outcomes.TERMINATE_REASON), "error", None),
        (
            job("FAILED", "Task failed to start", reason="CannotPullContainerError: nope"),
            "error",
            None,
        ),
        (job("FAILED", "Timeout waiting for network interface provisioning"), "interrupted", None),
        (
            job(
                "FAILED",
                "Essential container in task exited",
                reason="OutOfMemoryError: Container killed",
                exitCode=137,
            ),
            "exit",
            137,
        ),
    ],
)
def test_classify(desc: dict, kind: str, code: int | None) -> None:
    out = outcomes.classify(desc)
    assert (out.kind, out.exit_code) == (kind, code)


def test_failure_details_keep_ids_reasons_stream_and_attempts() -> None:
    desc = job(
        "FAILED",
        "Essential container in task exited",
        exitCode=3,
        reason="r",
        logStreamName="def/default/abc",
    )
    desc["attempts"] = [{"statusReason": "x", "container": {"exitCode": 3, "logStreamName": "s"}}]
    info = outcomes.failure_details(desc)
    assert info["jobId"] == "j-1" and info["exitCode"] == 3
    assert info["statusReason"] == "Essential container in task exited"
    assert info["containerReason"] == "r" and info["logStreamName"] == "def/default/abc"
    assert info["batchAttempts"] == [{"statusReason": "x", "exitCode": 3, "logStreamName": "s"}]


# --- jobs that can never run: act on evidence that persists ---

_STUCK = {
    "status": "RUNNABLE",
    "statusReason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement"
    " (vCPU/memory/GPU) is higher than that can be met by any of the compute environments",
}
_WAITING = {"status": "RUNNABLE", "statusReason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"}


def test_unschedulable_only_when_runnable_with_batch_reason() -> None:
    assert outcomes.is_unschedulable(_STUCK)
    assert not outcomes.is_unschedulable(_WAITING)
    assert not outcomes.is_unschedulable({"status": "RUNNABLE"})
    assert not outcomes.is_unschedulable(dict(_STUCK, status="RUNNING"))


def test_gives_up_after_the_grace_of_persistent_evidence() -> None:
    clock = outcomes.UnschedulableClock(600)
    sig = (("ce", 0),)
    assert not clock.observe(_STUCK, 0, sig)
    assert not clock.observe(_STUCK, 599, sig)
    assert clock.observe(_STUCK, 600, sig)


def test_anything_else_starts_the_grace_over() -> None:
    sig = (("ce", 0),)
    clock = outcomes.UnschedulableClock(600)
    clock.observe(_STUCK, 0, sig)
    assert not clock.observe(_WAITING, 300, sig)  # another reason: scale-up in progress
    assert not clock.observe(_STUCK, 400, sig)
    assert not clock.observe(_STUCK, 999, sig)  # 599 s since it came back
    assert clock.observe(_STUCK, 1000, sig)
    clock = outcomes.UnschedulableClock(600)
    clock.observe(_STUCK, 0, sig)
    assert not clock.observe(_STUCK, 500, None)  # an environment is scaling (or unknown)
    assert not clock.observe(_STUCK, 700, sig)
    assert not clock.observe(_STUCK, 1200, (("ce", 4),))  # desired vCPUs changed: it scaled
    assert not clock.observe(_STUCK, 1799, (("ce", 4),))
    assert clock.observe(_STUCK, 1800, (("ce", 4),))


def test_zero_grace_never_gives_up() -> None:
    clock = outcomes.UnschedulableClock(0)
    assert not any(clock.observe(_STUCK, t, ()) for t in (0, 1e6, 1e9))


def test_scaling_signature() -> None:
    def ce(name: str, status: str = "VALID", desired: int = 0) -> dict:
        return {
            "computeEnvironmentName": name,
            "status": status,
            "computeResources": {"desiredvCpus": desired},
        }

    assert outcomes.scaling_signature([ce("a"), ce("b", desired=2)]) == (("a", 0), ("b", 2))
    assert outcomes.scaling_signature([ce("a"), ce("b", "UPDATING")]) is None
    assert outcomes.scaling_signature([ce("a", "CREATING")]) is None
