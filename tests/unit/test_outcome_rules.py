"""The one table of AWS's reasons for an ended job (``miniwdl_aws.reasons``): each row classifies
as intended, patterns are anchored (an image named ``*-hotspot`` or ``spotify/*`` that fails to
pull is no Spot reclaim), and the backend (``batch.outcomes.classify``) and the run summary
(``ops.summary.build_summary``) agree on every sample. docs/AWS-RULES.md lists every row."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import pytest

from miniwdl_aws import reasons
from miniwdl_aws.batch import outcomes
from miniwdl_aws.ops.summary import build_summary

RUN = "mw261125T153012-a1b2c3"
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "AWS-RULES.md")

HOST_LOST = "Host EC2 (instance i-0abc) terminated."
OOM = "OutOfMemoryError: Container killed due to memory usage"
HOTSPOT_PULL = (
    "CannotPullContainerError: Error response from daemon: pull access denied for"
    " example/jdk-hotspot, repository does not exist or may require 'docker login'"
)
SPOTIFY_PULL = (
    "CannotPullContainerError: Error response from daemon: manifest for spotify/scio:0.14"
    " not found: manifest unknown: manifest unknown"
)
THROTTLED_PULL = (
    "CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy:"
    " httpReadSeeker: failed open: unexpected status code"
    " https://registry-1.docker.io/v2/library/ubuntu/manifests/22.04: 429 Too Many Requests -"
    " Server message: toomanyrequests: You have reached your pull rate limit."
)
OVERRIDES = "Container Overrides length must be at most 8192"


def desc(
    status: str = "FAILED",
    status_reason: Optional[str] = None,
    reason: Optional[str] = None,
    exit_code: Optional[int] = None,
    memory: Optional[str] = "2048",
    attempts: bool = True,
) -> Dict[str, Any]:
    """A DescribeJobs entry of an ended job; its one Batch attempt mirrors the job's reasons."""
    container: Dict[str, Any] = {}
    if reason is not None:
        container["reason"] = reason
    if exit_code is not None:
        container["exitCode"] = exit_code
    job: Dict[str, Any] = {
        "jobId": "j-1",
        "jobName": f"{RUN}-call-x",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
        "status": status,
        "createdAt": 1_000,
        "container": dict(container),
        "tags": {},
    }
    if memory:
        job["container"]["resourceRequirements"] = [
            {"type": "VCPU", "value": "1"},
            {"type": "MEMORY", "value": memory},
        ]
    if status_reason is not None:
        job["statusReason"] = status_reason
    if attempts:
        job.update(startedAt=2_000, stoppedAt=3_000)
        attempt: Dict[str, Any] = {"startedAt": 2_000, "stoppedAt": 3_000, "container": container}
        if status_reason is not None:
            attempt["statusReason"] = status_reason
        job["attempts"] = [attempt]
    return job


# one or more samples per row of the table, in AWS's own wording: (row, description, kind)
ROW_SAMPLES: List[Tuple[str, Dict[str, Any], str]] = [
    ("host_lost", desc(status_reason=HOST_LOST), "interrupted"),
    ("host_lost", desc(status_reason=HOST_LOST, exit_code=137), "interrupted"),
    (
        "timeout",
        desc(status_reason="Job attempt duration exceeded timeout", exit_code=137),
        "error",
    ),
    ("terminated", desc(status_reason=reasons.TERMINATE_REASON), "error"),
    ("terminated", desc(status_reason="terminated by miniwdl-aws cleanup"), "error"),
    ("oom", desc(status_reason=OOM, reason=OOM, exit_code=137), "oom"),
    ("oom", desc(status_reason="Essential container in task exited", reason=OOM), "oom"),
    ("overrides_too_long", desc(status_reason=OVERRIDES), "error"),
    ("pull_throttled", desc(status_reason=THROTTLED_PULL, reason=THROTTLED_PULL), "interrupted"),
    (
        "pull_throttled",
        desc(
            status_reason="Task failed to start",
            reason="CannotPullContainerError: Error response from daemon: toomanyrequests: You"
            " have reached your pull rate limit.",
        ),
        "interrupted",
    ),
    (
        "pull_throttled",
        desc(
            status_reason="Task failed to start",
            reason="CannotPullContainerError: pull image manifest has been retried 5 time(s):"
            " ThrottleException: Rate exceeded",
        ),
        "interrupted",
    ),
    ("pull_failed", desc(status_reason=HOTSPOT_PULL, reason=HOTSPOT_PULL), "error"),
    ("pull_failed", desc(status_reason=SPOTIFY_PULL, reason=SPOTIFY_PULL), "error"),
    ("pull_failed", desc(status_reason="Task failed to start", reason=HOTSPOT_PULL), "error"),
    (
        "cannot_start",
        desc(
            status_reason="CannotStartContainerError: Error response from daemon: failed to"
            ' create shim task: exec: "bash": executable file not found in $PATH: unknown'
        ),
        "error",
    ),
    (
        "cannot_inspect",
        desc(
            status_reason="Task failed to start",
            reason="CannotInspectContainerError: Could not transition to inspecting; timed out"
            " after waiting 30s",
        ),
        "interrupted",
    ),
    (
        "cannot_create",
        desc(
            status_reason="CannotCreateContainerError: Error response from daemon: devmapper:"
            " Thin Pool has 4350 free data blocks which is less than minimum required 4454"
        ),
        "interrupted",
    ),
    (
        "docker_timeout",
        desc(
            status_reason="DockerTimeoutError: Could not transition to started; timed out after"
            " waiting 3m0s"
        ),
        "interrupted",
    ),
    (
        "resource_init",
        desc(
            status_reason="ResourceInitializationError: unable to pull secrets or registry auth:"
            " execution resource retrieval failed: RequestError: send request failed"
        ),
        "interrupted",
    ),
    ("failed_to_start", desc(status_reason="Task failed to start"), "interrupted"),
]

# outside the table: the exit code decides, or nothing does
OTHER_SAMPLES: List[Tuple[str, Dict[str, Any], str]] = [
    ("exit", desc(status_reason="Essential container in task exited", exit_code=3), "exit"),
    ("exit", desc(status_reason="Essential container in task exited", exit_code=137), "exit"),
    ("exit", desc("SUCCEEDED", "Essential container in task exited", exit_code=0), "exit"),
    (
        "unknown",
        desc(status_reason="Timeout waiting for network interface provisioning"),
        "interrupted",
    ),
    # the word "spot" (or the host-loss sentence) elsewhere is not Batch's host-loss reason
    ("unknown", desc(status_reason="spot capacity went away"), "interrupted"),
    (
        "exit",
        desc(
            status_reason="Essential container in task exited",
            reason=f"the task printed: {HOST_LOST}",
            exit_code=1,
        ),
        "exit",
    ),
]

ALL_SAMPLES = ROW_SAMPLES + OTHER_SAMPLES


def _id(sample: Tuple[str, Dict[str, Any], str]) -> str:
    rule, job, _ = sample
    text = job.get("statusReason") or ""
    return f"{rule}:{text[:40]}|{(job['container'].get('reason') or '')[:30]}"


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=_id)
def test_each_row_classifies_as_intended(sample: Tuple[str, Dict[str, Any], str]) -> None:
    rule, job, kind = sample
    out = outcomes.classify(job)
    assert (out.kind, out.rule) == (kind, rule), out.message
    assert out.host_lost == (rule == "host_lost")
    if kind == "exit":
        assert out.exit_code == job["container"].get("exitCode", 0)
    else:
        assert out.exit_code is None


def test_every_row_has_a_sample_a_doc_and_a_line_in_aws_rules_md() -> None:
    assert {r for r, _, _ in ROW_SAMPLES} == {rule.name for rule in reasons.RULES}
    with open(DOCS) as f:
        table = f.read()
    for rule in reasons.RULES:
        assert rule.kind in ("interrupted", "error", "oom", "exit")
        urls = [u.strip() for u in rule.doc.split(" ; ")]
        assert urls and all(u.startswith("https://") for u in urls), rule.name
        assert f"`{rule.name}`" in table, rule.name
        assert all(u in table for u in urls), rule.name
        if rule.kind == "error" and rule.name != "terminated":
            assert rule.hint, f"{rule.name}: an error says what to do"


@pytest.mark.parametrize("reason", [HOTSPOT_PULL, SPOTIFY_PULL])
def test_image_named_like_spot_failing_to_pull_is_an_error(reason: str) -> None:
    out = outcomes.classify(desc(status_reason=reason, reason=reason))
    assert out.kind == "error" and not out.host_lost
    assert "image name" in out.message and "ecr:BatchGetImage" in out.message


def test_host_loss_is_matched_from_the_start_of_the_status_reason_only() -> None:
    assert outcomes.classify(desc(status_reason=HOST_LOST)).host_lost
    quoted = desc(status_reason=f"Job failed: {HOST_LOST}")
    assert not outcomes.classify(quoted).host_lost
    in_container = desc(status_reason="Task failed to start", reason=HOST_LOST)
    assert not outcomes.classify(in_container).host_lost


def test_oom_says_so_and_names_the_memory_requested() -> None:
    out = outcomes.classify(desc(status_reason=OOM, reason=OOM, exit_code=137, memory="3072"))
    assert out.kind == "oom"
    assert "ran out of memory (3072 MiB requested)" in out.message
    largest = outcomes.classify(
        desc(status_reason=OOM, reason=OOM, exit_code=137, memory="1048576")
    )
    assert "ran out of memory (1048576 MiB requested)" in largest.message
    assert "runtime.memory" in out.message
    unknown = outcomes.classify(desc(status_reason=OOM, reason=OOM, exit_code=137, memory=None))
    assert "ran out of memory:" in unknown.message
    # exit code 137 without ECS's OOM sentence is the task's own exit status
    killed = outcomes.classify(
        desc(status_reason="Essential container in task exited", exit_code=137)
    )
    assert (killed.kind, killed.exit_code) == ("exit", 137)


def test_overrides_too_long_says_the_command_is_too_long() -> None:
    out = outcomes.classify(desc(status_reason=OVERRIDES))
    assert out.kind == "error" and "too long for AWS Batch's container overrides" in out.message


def test_rate_limited_pull_is_retried_but_no_spot_reclaim() -> None:
    out = outcomes.classify(desc(status_reason=THROTTLED_PULL, reason=THROTTLED_PULL))
    assert out.kind == "interrupted" and not out.host_lost
    assert out.message.startswith("AWS Batch job interrupted while starting: CannotPull")


def _summary_entry(job: Dict[str, Any]) -> Dict[str, Any]:
    summary = build_summary(RUN, [job], now=10.0)
    (task,) = summary["tasks"]
    (entry,) = task["jobs"]
    assert summary["totals"]["spot_interruptions"] == entry["spot_interruptions"]
    return dict(entry)


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=_id)
def test_backend_and_summary_agree(sample: Tuple[str, Dict[str, Any], str]) -> None:
    _, job, _ = sample
    out = outcomes.classify(job)
    entry = _summary_entry(job)
    assert (entry["outcome"], entry["rule"]) == (out.kind, out.rule)
    (attempt,) = entry["attempts"]
    assert (attempt["outcome"], attempt["rule"]) == (out.kind, out.rule)
    assert entry["spot_interruptions"] == (1 if out.host_lost else 0)


@pytest.mark.parametrize("sample", ROW_SAMPLES, ids=_id)
def test_backend_and_summary_agree_without_an_attempts_list(
    sample: Tuple[str, Dict[str, Any], str],
) -> None:
    _, job, _ = sample
    bare = {k: v for k, v in job.items() if k not in ("attempts", "startedAt", "stoppedAt")}
    out = outcomes.classify(bare)
    entry = _summary_entry(bare)
    assert (entry["outcome"], entry["rule"]) == (out.kind, out.rule)
    assert entry["spot_interruptions"] == (1 if out.host_lost else 0)


def test_a_running_attempt_has_no_outcome_yet() -> None:
    job = desc("RUNNING", attempts=False)
    job["startedAt"] = 2_000
    entry = _summary_entry(job)
    assert entry["outcome"] is None and entry["rule"] is None
    assert [a["outcome"] for a in entry["attempts"]] == [None]
