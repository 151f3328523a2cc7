"""``miniwdl-aws runs`` and ``cleanup`` on the local AWS, with jobs named and tagged per the
naming contract (as the backend and submitter do), plus Stubber tests of the API economy."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List

import boto3
import pytest
from botocore.stub import Stubber

from miniwdl_aws import naming
from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.ops.cli import main
from miniwdl_aws.ops.runs import cleanup_run, find_run_jobs, list_runs, status_counts
from tests.support.clients import FakeClients

TERMINAL = ("SUCCEEDED", "FAILED")


def _jd(stack: Any, script: str) -> str:
    return boto3.client("batch").register_job_definition(
        jobDefinitionName="ops-test",
        type="container",
        containerProperties={
            "image": "ubuntu:22.04",
            "command": ["bash", "-c", script],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "1024"},
            ],
        },
    )["jobDefinitionArn"]


def _submit(stack: Any, run_id: str, call: str, script: str, role: str = "task") -> str:
    tags = {
        naming.TAG_RUN_ID: run_id,
        naming.TAG_WORKFLOW: "hello",
        naming.TAG_CALL: call,
        naming.TAG_ATTEMPT: "1",
        naming.TAG_ROLE: role,
    }
    return boto3.client("batch").submit_job(
        jobName=naming.sanitize_job_name(call, prefix=run_id),
        jobQueue=stack.task_queue,
        jobDefinition=_jd(stack, script),
        tags=tags,
    )["jobId"]


def _wait(job_ids: List[str], statuses: tuple = TERMINAL, timeout: float = 60.0) -> None:
    batch = boto3.client("batch")
    deadline = time.monotonic() + timeout  # hang guard only
    while True:
        jobs = batch.describe_jobs(jobs=job_ids)["jobs"]
        if all(j["status"] in statuses for j in jobs):
            return
        assert time.monotonic() < deadline, [(j["jobId"], j["status"]) for j in jobs]
        time.sleep(0.05)


def _status(job_ids: List[str]) -> Dict[str, str]:
    jobs = boto3.client("batch").describe_jobs(jobs=job_ids)["jobs"]
    return {j["jobId"]: j["status"] for j in jobs}


@pytest.fixture
def two_runs(stack: Any) -> Dict[str, Any]:
    """Run A: a live workflow job, a task that succeeded and one that exited 3; run B: one live
    task; plus a job that is not miniwdl-aws's."""
    run_a, run_b = naming.new_run_id(), naming.new_run_id()
    a_wf = _submit(stack, run_a, "workflow", "sleep 60", role="workflow")
    a_ok = _submit(stack, run_a, "call-hello", "echo hi")
    a_fail = _submit(stack, run_a, "call-fail", "exit 3")
    b_live = _submit(stack, run_b, "call-slow", "sleep 60")
    other = boto3.client("batch").submit_job(
        jobName="someone-elses-job", jobQueue=stack.task_queue, jobDefinition=_jd(stack, "true")
    )["jobId"]
    _wait([a_ok, a_fail, other])
    _wait([a_wf, b_live], statuses=("RUNNING",))
    return {
        "run_a": run_a,
        "run_b": run_b,
        "a": [a_wf, a_ok, a_fail],
        "a_wf": a_wf,
        "a_fail": a_fail,
        "b": [b_live],
        "other": other,
    }


def test_runs_lists_recent_runs(
    stack: Any, two_runs: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--json"]) == 0
    runs = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(runs) == {two_runs["run_a"], two_runs["run_b"]}  # not someone-elses-job
    a, b = runs[two_runs["run_a"]], runs[two_runs["run_b"]]
    assert (a["jobs"], a["active"]) == (3, 1)
    assert a["statuses"] == {"RUNNING": 1, "SUCCEEDED": 1, "FAILED": 1}
    assert a["workflow"] == "hello"
    assert a["workflow_job_id"] == two_runs["a_wf"]
    assert (b["jobs"], b["active"]) == (1, 1)

    assert main(["runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["RUN", "ID", "WORKFLOW"]
    # newest first
    assert [line.split()[0] for line in table[1:]] == [two_runs["run_b"], two_runs["run_a"]]
    boto3.client("batch").terminate_job(jobId=two_runs["a_wf"], reason="test over")
    boto3.client("batch").terminate_job(jobId=two_runs["b"][0], reason="test over")


def test_runs_shows_one_run(
    stack: Any, two_runs: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run_a = two_runs["run_a"]
    assert main(["runs", run_a]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert set(two_runs["a"]) <= set(lines)
    assert two_runs["b"][0] not in out and two_runs["other"] not in out
    assert "FAILED" in lines[two_runs["a_fail"]] and "exit 3" in lines[two_runs["a_fail"]]
    assert "workflow" in lines[two_runs["a_wf"]] and "RUNNING" in lines[two_runs["a_wf"]]

    assert main(["runs", run_a, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["run_id"] == run_a
    assert [t["task"] for t in summary["tasks"]] == ["call-hello", "call-fail"]
    assert [j["job_id"] for j in summary["workflow_jobs"]] == [two_runs["a_wf"]]
    assert summary["tasks"][1]["jobs"][0]["exit_code"] == 3
    # one ListJobs per queue of the account, one DescribeJobs for the 3 jobs
    queues = boto3.client("batch").describe_job_queues()["jobQueues"]
    assert summary["api_calls"] == {
        "DescribeJobQueues": 1,
        "ListJobs": len(queues),
        "DescribeJobs": 1,
    }
    for job in (two_runs["a_wf"], two_runs["b"][0]):
        boto3.client("batch").terminate_job(jobId=job, reason="test over")


def test_cleanup_terminates_only_that_run(
    stack: Any, emulator: Any, two_runs: Dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run_a, run_b = two_runs["run_a"], two_runs["run_b"]
    assert main(["cleanup", run_a, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would terminate {two_runs['a_wf']}" in out
    assert _status([two_runs["a_wf"]])[two_runs["a_wf"]] == "RUNNING"

    assert main(["cleanup", run_a, "--wait", "30"]) == 0
    out = capsys.readouterr().out
    assert f"run {run_a}: 1 job(s) terminated, 0 active" in out
    assert set(_status(two_runs["a"]).values()) <= set(TERMINAL)
    assert _status(two_runs["b"]) == {two_runs["b"][0]: "RUNNING"}

    assert main(["cleanup", run_b, "--wait", "30"]) == 0
    assert emulator.active_jobs() == []


def test_cleanup_bad_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cleanup", "x*"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a run id" in err


# --- API economy, with a stubbed client ---


def _stubbed() -> tuple:
    batch = boto3.client("batch", region_name="us-east-1")
    return batch, Stubber(batch)


def _api(batch: Any) -> BatchApi:
    return BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]


def test_describe_chunks_of_100() -> None:
    batch, stub = _stubbed()
    ids = [f"job-{i:03d}" for i in range(250)]
    for chunk in (ids[:100], ids[100:200], ids[200:]):
        stub.add_response(
            "describe_jobs",
            {"jobs": [_desc(j) for j in reversed(chunk)]},
            {"jobs": chunk},
        )
    with stub:
        client = _api(batch)
        jobs = client.describe_jobs_in_order(ids)
    stub.assert_no_pending_responses()
    assert [j["jobId"] for j in jobs] == ids  # input order, whatever order Batch answers in
    assert client.call_counts() == {"batch.DescribeJobs": 3}


def _desc(job_id: str, name: str = "x", status: str = "RUNNING", **extra: Any) -> Dict[str, Any]:
    return {
        "jobName": name,
        "jobId": job_id,
        "jobQueue": "q",
        "status": status,
        "startedAt": 1,
        "jobDefinition": "jd",
        **extra,
    }


def test_find_run_jobs_filters_by_prefix_and_tag() -> None:
    batch, stub = _stubbed()
    run_id = "mw261125T153012-a1b2c3"
    flt = [{"name": "JOB_NAME", "values": [f"{run_id}-*"]}]
    stub.add_response(
        "list_jobs",
        {"jobSummaryList": [{"jobId": "j1", "jobName": f"{run_id}-a"}], "nextToken": "t"},
        {"jobQueue": "q1", "filters": flt},
    )
    stub.add_response(
        "list_jobs",
        {"jobSummaryList": [{"jobId": "j2", "jobName": f"{run_id}-b"}]},
        {"jobQueue": "q1", "filters": flt, "nextToken": "t"},
    )
    stub.add_response("list_jobs", {"jobSummaryList": []}, {"jobQueue": "q2", "filters": flt})
    stub.add_response(
        "describe_jobs",
        {
            "jobs": [
                _desc("j1", f"{run_id}-a", tags={naming.TAG_RUN_ID: run_id}),
                # same prefix, but tagged for another run: not ours
                _desc("j2", f"{run_id}-b", tags={naming.TAG_RUN_ID: run_id + "x"}),
            ]
        },
        {"jobs": ["j1", "j2"]},
    )
    with stub:
        client = _api(batch)
        jobs = find_run_jobs(client, run_id, ["q1", "q2"])
    stub.assert_no_pending_responses()
    assert [j["jobId"] for j in jobs] == ["j1"]
    assert client.call_counts() == {"batch.ListJobs": 3, "batch.DescribeJobs": 1}


def test_cleanup_terminates_workflow_job_first_and_waits() -> None:
    batch, stub = _stubbed()
    run_id = "mw261125T153012-a1b2c3"
    flt = [{"name": "JOB_NAME", "values": [f"{run_id}-*"]}]
    task = _desc("t1", f"{run_id}-call", tags={naming.TAG_ROLE: "task"})
    wf = _desc("w1", f"{run_id}-wf", tags={naming.TAG_ROLE: "workflow"})
    ids = ["t1", "w1"]
    listing = {"jobSummaryList": [{"jobId": i, "jobName": "n"} for i in ids]}
    stub.add_response("list_jobs", listing, {"jobQueue": "q", "filters": flt})
    stub.add_response("describe_jobs", {"jobs": [task, wf]}, {"jobs": ids})
    stub.add_response("terminate_job", {}, {"jobId": "w1", "reason": "bye"})
    stub.add_response("terminate_job", {}, {"jobId": "t1", "reason": "bye"})
    # second pass: the task job is still stopping, the workflow job has stopped
    stub.add_response("list_jobs", listing, {"jobQueue": "q", "filters": flt})
    stub.add_response("describe_jobs", {"jobs": [task, {**wf, "status": "FAILED"}]}, {"jobs": ids})
    stub.add_response("list_jobs", listing, {"jobQueue": "q", "filters": flt})
    stub.add_response(
        "describe_jobs",
        {"jobs": [{**task, "status": "FAILED"}, {**wf, "status": "FAILED"}]},
        {"jobs": ids},
    )
    sleeps: List[float] = []
    with stub:
        result = cleanup_run(
            _api(batch),
            run_id,
            ["q"],
            reason="bye",
            wait=10.0,
            period=1.0,
            sleep=sleeps.append,
            clock=lambda: float(len(sleeps)),
        )
    stub.assert_no_pending_responses()
    assert result.terminated == ["w1", "t1"]  # no second TerminateJob for t1
    assert result.still_active == [] and result.passes == 3
    assert sleeps == [1.0, 1.0]


def test_cleanup_gives_up_after_wait() -> None:
    batch, stub = _stubbed()
    run_id = "mw261125T153012-a1b2c3"
    flt = [{"name": "JOB_NAME", "values": [f"{run_id}-*"]}]
    stuck = _desc("t1", f"{run_id}-call")
    for _ in range(3):
        stub.add_response(
            "list_jobs",
            {"jobSummaryList": [{"jobId": "t1", "jobName": "n"}]},
            {"jobQueue": "q", "filters": flt},
        )
        stub.add_response("describe_jobs", {"jobs": [stuck]}, {"jobs": ["t1"]})
        if _ == 0:
            stub.add_response("terminate_job", {}, {"jobId": "t1", "reason": "bye"})
    sleeps: List[float] = []
    with stub:
        result = cleanup_run(
            _api(batch),
            run_id,
            ["q"],
            reason="bye",
            wait=3.0,
            period=2.0,
            sleep=sleeps.append,
            clock=lambda: 2.0 * len(sleeps),
        )
    assert result.still_active == ["t1"]
    assert sleeps == [2.0, 1.0]  # the last sleep is cut to the deadline


def test_list_runs_groups_by_name_and_tags() -> None:
    """Generated run ids are read from job names (one DescribeJobs per run, for its tags); other
    names need their MiniwdlRunId tag; untagged foreign jobs are left out."""
    batch, stub = _stubbed()
    now = 1_800_000_000.0
    after = str(int((now - 3600) * 1000))
    gen = "mw261125T153012-a1b2c3"
    created = int(now * 1000) - 60_000

    def summary(job_id: str, name: str, status: str, age_ms: int = 0) -> Dict[str, Any]:
        return {"jobId": job_id, "jobName": name, "status": status, "createdAt": created - age_ms}

    stub.add_response(
        "list_jobs",
        {
            "jobSummaryList": [
                summary("g2", f"{gen}-call-b", "RUNNING"),
                summary("g1", f"{gen}-workflow", "RUNNING", age_ms=1000),
                summary("g3", f"{gen}-call-c", "FAILED"),
                summary("c1", "custom-run-call-a", "SUCCEEDED"),
                summary("f1", "nightly-etl", "SUCCEEDED"),
                summary("old", f"{gen}-call-z", "SUCCEEDED", age_ms=7_200_000),  # too old
            ]
        },
        {"jobQueue": "q", "filters": [{"name": "AFTER_CREATED_AT", "values": [after]}]},
    )
    stub.add_response(
        "describe_jobs",
        {
            "jobs": [
                _desc(
                    "g1",
                    f"{gen}-workflow",
                    tags={naming.TAG_WORKFLOW: "wf", naming.TAG_ROLE: "workflow"},
                ),
                _desc(
                    "c1", "custom-run-call-a", "SUCCEEDED", tags={naming.TAG_RUN_ID: "custom-run"}
                ),
                _desc("f1", "nightly-etl", "SUCCEEDED"),
            ]
        },
        {"jobs": ["g1", "c1", "f1"]},
    )
    with stub:
        client = _api(batch)
        runs = list_runs(client, ["q"], since=3600.0, now=now)
    stub.assert_no_pending_responses()
    assert [r.run_id for r in runs] == ["custom-run", gen]  # newest first
    custom, generated = runs
    assert generated.statuses == {"RUNNING": 2, "FAILED": 1} and generated.active == 2
    assert (generated.workflow, generated.workflow_job_id) == ("wf", "g1")
    assert custom.statuses == {"SUCCEEDED": 1} and custom.active == 0
    assert client.call_counts() == {"batch.ListJobs": 1, "batch.DescribeJobs": 1}


def test_list_runs_counts_an_array_parent_as_its_children() -> None:
    """An array job ([aws] array_jobs) holds one task per child: the run's counts are its
    children's, from the parent's status summary (children not yet created: the parent's
    status), not one job for the parent."""
    batch, stub = _stubbed()
    now = 1_800_000_000.0
    after = str(int((now - 3600) * 1000))
    gen = "mw261125T153012-a1b2c3"
    created = int(now * 1000) - 60_000
    stub.add_response(
        "list_jobs",
        {
            "jobSummaryList": [
                {
                    "jobId": "w",
                    "jobName": f"{gen}-workflow",
                    "status": "RUNNING",
                    "createdAt": created - 1000,
                },
                {
                    "jobId": "p",
                    "jobName": f"{gen}-array1-of-5",
                    "status": "PENDING",
                    "createdAt": created,
                    "arrayProperties": {"size": 5},
                },
            ]
        },  # fmt: skip
        {"jobQueue": "q", "filters": [{"name": "AFTER_CREATED_AT", "values": [after]}]},
    )
    summary = {"SUCCEEDED": 2, "RUNNING": 1, "FAILED": 1, "RUNNABLE": 0}
    stub.add_response(
        "describe_jobs",
        {
            "jobs": [
                _desc("w", f"{gen}-workflow", tags={naming.TAG_ROLE: "workflow"}),
                _desc(
                    "p",
                    f"{gen}-array1-of-5",
                    "PENDING",
                    arrayProperties={"size": 5, "statusSummary": summary},
                ),
            ]
        },  # fmt: skip
        {"jobs": ["w", "p"]},
    )
    with stub:
        (run,) = list_runs(_api(batch), ["q"], since=3600.0, now=now)
    stub.assert_no_pending_responses()
    # workflow job RUNNING + children 2 SUCCEEDED, 1 RUNNING, 1 FAILED, 1 not yet created
    assert run.statuses == {"RUNNING": 2, "SUCCEEDED": 2, "FAILED": 1, "PENDING": 1}
    assert run.jobs == 6 and run.active == 3
    assert status_counts([_desc("p", "x", "PENDING", arrayProperties={
        "size": 5, "statusSummary": summary})]) == {"PENDING": 1, "RUNNING": 1,
                                                      "SUCCEEDED": 2, "FAILED": 1}  # fmt: skip
