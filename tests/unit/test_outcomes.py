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
