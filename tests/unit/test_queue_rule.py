"""One rule decides whether a job queue can take jobs (:func:`miniwdl_aws.queues.queue_problems`),
and one whether a task queue's compute environments can run task jobs
(:func:`miniwdl_aws.queues.task_environment_problems`); the backend, the submitter and ``doctor``
all apply both: the same queues pass and fail in all three."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import pytest

from miniwdl_aws.aws.clients import AwsClients
from miniwdl_aws.batch.infrastructure import check_job_queues, task_queue_facts
from miniwdl_aws.errors import AwsCallError, InfrastructureError, Throttled
from miniwdl_aws.ops.checks import PROBLEM, Targets
from miniwdl_aws.ops.doctor import Doctor
from miniwdl_aws.queues import queue_problems, task_environment_problems
from miniwdl_aws.submit import validate

CE = [{"order": 1, "computeEnvironment": "arn:aws:batch:us-east-1:1:compute-environment/ce"}]


def _queue(**kw: Any) -> Dict[str, Any]:
    q = {
        "jobQueueName": "q",
        "jobQueueArn": "arn:aws:batch:us-east-1:1:job-queue/q",
        "state": "ENABLED",
        "status": "VALID",
        "computeEnvironmentOrder": CE,
    }
    q.update(kw)
    return q


CASES = [
    (_queue(), []),
    (_queue(status="UPDATING"), []),  # takes jobs once Batch is done
    (_queue(status="CREATING"), []),
    (_queue(state="DISABLED"), ["state DISABLED"]),
    (_queue(status="INVALID", statusReason="CE gone"), ["status INVALID (CE gone)"]),
    (_queue(status="DELETING"), ["status DELETING"]),
    (_queue(computeEnvironmentOrder=[]), ["no compute environment"]),
    (None, ["not found"]),
]


class _FakeBatch:
    def __init__(self, queue: Optional[Dict[str, Any]]) -> None:
        self.queue = queue

    def describe_job_queues(self, names: List[str]) -> Dict[str, Dict[str, Any]]:
        return {n: self.queue for n in names} if self.queue else {}


@pytest.mark.parametrize("queue, problems", CASES)
def test_the_rule(queue: Optional[Dict[str, Any]], problems: List[str]) -> None:
    assert queue_problems(queue) == problems


@pytest.mark.parametrize("queue, problems", CASES)
def test_backend_submitter_and_doctor_agree(
    queue: Optional[Dict[str, Any]], problems: List[str]
) -> None:
    api: Any = _FakeBatch(queue)
    verdicts = []
    try:
        check_job_queues(api, {"task_queue": "q"}, logging.getLogger("t"))
        verdicts.append(True)
    except InfrastructureError as exn:
        verdicts.append(False)
        assert all(p in str(exn) for p in problems), exn
    try:
        validate._usable_queue(api, "q", "--task-queue")
        verdicts.append(True)
    except InfrastructureError as exn:
        verdicts.append(False)
        assert all(p in str(exn) for p in problems), exn
    doctor = Doctor(AwsClients(region="us-east-1"), Targets(task_queue="q"))
    doctor.batch = api
    doctor.check_queues()
    verdicts.append(not [c for c in doctor.checks if c.status == PROBLEM])
    assert verdicts == [not problems] * 3


# --- a task queue's compute environments ---

FARGATE_ONLY = "runs on Fargate only (task jobs need EC2 or Spot)"


def _ce(name: str, kind: str = "SPOT", state: str = "ENABLED", status: str = "VALID") -> Dict:
    return {
        "computeEnvironmentName": name,
        "computeEnvironmentArn": f"arn:aws:batch:us-east-1:1:compute-environment/{name}",
        "type": "MANAGED",
        "state": state,
        "status": status,
        "computeResources": {"type": kind, "maxvCpus": 16, "instanceTypes": ["m5.large"]},
    }


def _none(states: str) -> str:
    return f"no ENABLED and VALID compute environment ({states})"


CE_CASES = [
    ([_ce("a")], []),
    ([_ce("a", "EC2")], []),
    ([_ce("a", status="UPDATING")], []),  # runs jobs once Batch is done, as for queues
    ([_ce("a", state="DISABLED"), _ce("b", "EC2")], []),  # one usable is enough
    ([_ce("f", "FARGATE")], [FARGATE_ONLY]),
    ([_ce("f", "FARGATE_SPOT"), _ce("g", "FARGATE")], [FARGATE_ONLY]),
    ([_ce("f", "FARGATE", "DISABLED")], [FARGATE_ONLY, _none("f DISABLED/VALID")]),
    ([_ce("a", state="DISABLED")], [_none("a DISABLED/VALID")]),
    (
        [_ce("a", "EC2", status="INVALID"), _ce("b", state="DISABLED")],
        [_none("a ENABLED/INVALID, b DISABLED/VALID")],
    ),
    ([_ce("a", status="DELETING")], [_none("a ENABLED/DELETING")]),
    ([], [_none("none found")]),  # the queue's environments were not found
]


@pytest.mark.parametrize("envs, problems", CE_CASES)
def test_the_task_environment_rule(envs: List[Dict[str, Any]], problems: List[str]) -> None:
    assert task_environment_problems(envs) == problems


class _FakeCeBatch:
    """Queues named as asked, each over the compute environments ``envs`` (by ARN; a missing
    one when ``envs`` is empty); counts DescribeComputeEnvironments calls."""

    def __init__(self, envs: List[Dict[str, Any]]) -> None:
        self.envs = envs
        self.ce_calls: List[List[str]] = []

    def describe_job_queues(self, names: List[str]) -> Dict[str, Dict[str, Any]]:
        arns = [ce["computeEnvironmentArn"] for ce in self.envs] or [CE[0]["computeEnvironment"]]
        order = [{"order": i + 1, "computeEnvironment": arn} for i, arn in enumerate(arns)]
        return {
            n: _queue(jobQueueName=n, jobQueueArn=f"arn:q/{n}", computeEnvironmentOrder=order)
            for n in names
        }

    def describe_compute_environments(self, names: List[str]) -> List[Dict[str, Any]]:
        self.ce_calls.append(list(names))
        return [ce for ce in self.envs if ce["computeEnvironmentArn"] in names]

    def instance_type_limits(self, types: List[str]) -> Dict[str, Dict[str, int]]:
        return {t: {"cpu": 2, "mem_bytes": 8 << 30} for t in types}


class _Req:
    task_queue = "q"
    task_queue_fallback = "fb"


@pytest.mark.parametrize("envs, problems", CE_CASES)
def test_backend_submitter_and_doctor_agree_on_task_environments(
    envs: List[Dict[str, Any]], problems: List[str]
) -> None:
    api: Any = _FakeCeBatch(envs)
    verdicts = []
    try:
        task_queue_facts(
            api, api.describe_job_queues(["q"])["q"], "task_queue", logging.getLogger("t")
        )
        verdicts.append(True)
    except InfrastructureError as exn:
        verdicts.append(False)
        assert all(p in str(exn) for p in problems), exn
    api.ce_calls.clear()
    req: Any = _Req()
    try:
        validate._task_queues(api, req, {})
        verdicts.append(True)
    except InfrastructureError as exn:
        verdicts.append(False)
        (line,) = str(exn).splitlines()
        assert (
            line == f"--task-queue: job queue 'q' can never run a task job: {'; '.join(problems)}"
        )
    assert len(api.ce_calls) == 1  # the task queue's and the fallback's environments together
    doctor = Doctor(AwsClients(region="us-east-1"), Targets(task_queue="q"))
    doctor.batch = api
    doctor.check_queues()
    doctor.check_compute_environments()
    queue_problems_found = [
        c for c in doctor.checks if c.status == PROBLEM and c.name == "task queue q"
    ]
    verdicts.append(not queue_problems_found)
    if problems:
        assert queue_problems_found[0].detail == "; ".join(problems)
        assert "EC2 or SPOT" in queue_problems_found[0].fix
    assert verdicts == [not problems] * 3


def test_submitter_without_describe_compute_environments_leaves_the_check_to_the_backend() -> None:
    """As the backend does: no permission to describe the compute environments skips the check
    (the workflow job's backend checks again), while a Batch outage is an error."""

    class _Denied(_FakeCeBatch):
        def __init__(self, exn: Exception) -> None:
            super().__init__([_ce("f", "FARGATE")])
            self.exn = exn

        def describe_compute_environments(self, names: List[str]) -> List[Dict[str, Any]]:
            raise self.exn

    req: Any = _Req()
    denied: Any = _Denied(AwsCallError("DescribeComputeEnvironments", "AccessDenied", "no"))
    assert validate._task_queues(denied, req, {}) == ("q", "fb")
    throttled: Any = _Denied(Throttled("DescribeComputeEnvironments", "ServerException", "down"))
    with pytest.raises(Throttled):
        validate._task_queues(throttled, req, {})
