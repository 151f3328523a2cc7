"""The end-of-run summary: the pure builder on synthetic DescribeJobs data, the plugin protocol,
and real ``miniwdl run``s on the local AWS that must leave ``aws_batch_summary.json`` behind."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import boto3
import pytest
from WDL.runtime.config import Loader

from miniwdl_aws import naming
from miniwdl_aws.ops.summary import (
    SCHEMA,
    SUMMARY_FILE,
    build_summary,
    format_table,
    workflow_summary_plugin,
)
from tests.support.miniwdl import run_on_stack

WDL_DIR = os.path.join(os.path.dirname(__file__), "wdl")

RUN = "mw261125T153012-a1b2c3"
T0 = 1_764_000_000_000  # epoch ms


def _job(
    job_id: str,
    call: str,
    status: str,
    created: int,
    started: Optional[int],
    stopped: Optional[int],
    attempts: List[Dict[str, Any]],
    miniwdl_attempt: int = 1,
    vcpus: str = "2",
    memory: str = "4096",
    role: str = "task",
    queue: str = "miniwdl-task",
    **extra: Any,
) -> Dict[str, Any]:
    job: Dict[str, Any] = {
        "jobId": job_id,
        "jobName": f"{RUN}-{call}",
        "jobQueue": f"arn:aws:batch:us-east-1:123456789012:job-queue/{queue}",
        "status": status,
        "createdAt": created,
        "attempts": attempts,
        "container": {
            "resourceRequirements": [
                {"type": "VCPU", "value": vcpus},
                {"type": "MEMORY", "value": memory},
            ]
        },
        "tags": {
            naming.TAG_RUN_ID: RUN,
            naming.TAG_CALL: call,
            naming.TAG_ATTEMPT: str(miniwdl_attempt),
            naming.TAG_ROLE: role,
        },
    }
    if started:
        job["startedAt"] = started
    if stopped:
        job["stoppedAt"] = stopped
    job.update(extra)
    return job


def _attempt(started: int, stopped: int, reason: str = "", exit_code: Optional[int] = 0) -> Dict:
    container: Dict[str, Any] = {"logStreamName": f"s/{started}"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    return {
        "startedAt": started,
        "stoppedAt": stopped,
        "statusReason": reason,
        "container": container,
    }


SPOT = "Host EC2 (instance i-0123456789abcdef0) terminated."


def test_build_summary_per_task_and_totals() -> None:
    # task A: first job reclaimed by Spot after 100 s of running (queued 20 s), miniwdl retried
    # it as a second job on the fallback queue, which queued 5 s and ran 300 s
    a1 = _job(
        "a1", "call-a", "FAILED", T0, T0 + 20_000, T0 + 120_000,
        [_attempt(T0 + 20_000, T0 + 120_000, SPOT, exit_code=None)],
        statusReason=SPOT,
    )  # fmt: skip
    a2 = _job(
        "a2", "call-a", "SUCCEEDED", T0 + 130_000, T0 + 135_000, T0 + 435_000,
        [_attempt(T0 + 135_000, T0 + 435_000)], miniwdl_attempt=2, queue="miniwdl-task-fallback",
    )  # fmt: skip
    # task B: one job whose Batch retry strategy ran it twice (exit 1, then 0), 1 vCPU, 1 GiB
    b = _job(
        "b1", "call-b", "SUCCEEDED", T0 + 1_000, T0 + 11_000, T0 + 81_000,
        [_attempt(T0 + 11_000, T0 + 41_000, "Essential container in task exited", 1),
         _attempt(T0 + 51_000, T0 + 81_000)],
        vcpus="1", memory="1024",
    )  # fmt: skip
    # the workflow job (listed apart), still running
    wf = _job("w1", "workflow", "RUNNING", T0 - 5_000, T0 - 4_000, None, [], role="workflow")
    now = (T0 + 500_000) / 1000.0
    summary = build_summary(RUN, [a2, b, wf, a1], now=now, api_calls={"ListJobs": 2})

    assert summary["schema"] == SCHEMA and summary["run_id"] == RUN
    assert summary["api_calls"] == {"ListJobs": 2}
    assert [t["task"] for t in summary["tasks"]] == ["call-a", "call-b"]  # first submitted first
    a, bt = summary["tasks"]
    assert [j["job_id"] for j in a["jobs"]] == ["a1", "a2"]
    assert a["status"] == "SUCCEEDED" and a["attempts"] == 2
    assert a["queues"] == ["miniwdl-task", "miniwdl-task-fallback"]
    assert a["spot_interruptions"] == 1
    assert a["jobs"][0]["attempts"][0]["status_reason"] == SPOT
    assert a["jobs"][1]["miniwdl_attempt"] == 2
    assert a["running_seconds"] == 100 + 300
    assert a["queued_seconds"] == 20 + 5
    assert a["vcpu_hours"] == pytest.approx(2 * 400 / 3600)
    assert a["gib_hours"] == pytest.approx(4 * 400 / 3600)

    assert bt["attempts"] == 2 and bt["spot_interruptions"] == 0
    assert bt["running_seconds"] == 30 + 30
    assert bt["queued_seconds"] == 10 + 10  # before the first attempt and between the two
    assert bt["vcpu_hours"] == pytest.approx(1 * 60 / 3600)
    assert bt["jobs"][0]["attempts"][0]["exit_code"] == 1

    assert [j["job_id"] for j in summary["workflow_jobs"]] == ["w1"]
    w = summary["workflow_jobs"][0]
    assert w["running_seconds"] == (500_000 + 4_000) / 1000  # still running at `now`
    assert len(w["attempts"]) == 1 and w["attempts"][0]["stopped_at"] is None

    t = summary["totals"]
    assert (t["tasks"], t["jobs"], t["attempts"]) == (2, 3, 4)
    assert t["statuses"] == {"SUCCEEDED": 2, "FAILED": 1}
    assert t["spot_interruptions"] == 1
    assert t["vcpu_hours"] == pytest.approx(a["vcpu_hours"] + bt["vcpu_hours"])
    assert t["gib_hours"] == pytest.approx(a["gib_hours"] + bt["gib_hours"])
    json.dumps(summary)  # JSON-ready

    table = format_table(summary).splitlines()
    assert table[0].split()[:4] == ["TASK", "STATUS", "JOBS", "TRIES"]
    assert table[1].split()[:4] == ["call-a", "SUCCEEDED", "2", "2"]
    assert table[-1].startswith("TOTAL (2 tasks)")


def test_legacy_resources_queued_and_unstarted_jobs() -> None:
    legacy = _job("l1", "call-l", "SUCCEEDED", T0, T0 + 1_000, T0 + 3_601_000,
                  [_attempt(T0 + 1_000, T0 + 3_601_000)])  # fmt: skip
    legacy["container"] = {"vcpus": 4, "memory": 2048}
    waiting = _job("q1", "call-q", "RUNNABLE", T0, None, None, [])
    summary = build_summary(RUN, [legacy, waiting], now=(T0 + 60_000) / 1000.0)
    by_task = {t["task"]: t for t in summary["tasks"]}
    assert by_task["call-l"]["vcpu_hours"] == pytest.approx(4.0)
    assert by_task["call-l"]["gib_hours"] == pytest.approx(2.0)
    assert by_task["call-q"]["queued_seconds"] == 60 and by_task["call-q"]["running_seconds"] == 0
    assert by_task["call-q"]["attempts"] == 1  # counted though it has not started
    assert summary["totals"]["statuses"] == {"RUNNABLE": 1, "SUCCEEDED": 1}


def _drive(plugin_gen: Any, rounds: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = [next(plugin_gen)]
    for value in rounds:
        out.append(plugin_gen.send(value))
    plugin_gen.close()
    return out


def test_plugin_passes_values_and_ignores_other_backends(tmp_path: Any) -> None:
    logger = logging.getLogger("test-summary")
    cfg = Loader(logger, overrides={"scheduler": {"container_backend": "docker_swarm"}})
    gen = workflow_summary_plugin(cfg, logger, ["wf"], str(tmp_path), None, inputs={"x": 1})
    assert _drive(gen, [{"outputs": {"y": 2}}]) == [{"inputs": {"x": 1}}, {"outputs": {"y": 2}}]
    assert not os.path.exists(tmp_path / SUMMARY_FILE)


# --- real runs on the local AWS ---


def _run_jobs(run_id: str, queue: str) -> Dict[str, Dict[str, Any]]:
    batch = boto3.client("batch")
    listing = batch.list_jobs(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [f"{run_id}-*"]}]
    )["jobSummaryList"]
    ids = [j["jobId"] for j in listing]
    return {j["jobId"]: j for j in batch.describe_jobs(jobs=ids)["jobs"]} if ids else {}


def _run(
    emulator: Any,
    stack: Any,
    wdl: str,
    inputs: List[str],
    run_name: str,
    extra_env: Optional[Dict[str, str]] = None,
) -> Tuple[int, str, str]:
    """``miniwdl run`` of ``wdl/<wdl>`` to completion: (exit code, run dir, stderr)."""
    res = run_on_stack(emulator, stack, os.path.join(WDL_DIR, wdl), inputs, run_name, extra_env)
    return res.returncode, res.run_dir, res.stderr


def _load(run_dir: str) -> Dict[str, Any]:
    with open(os.path.join(run_dir, SUMMARY_FILE)) as f:
        return dict(json.load(f))


def test_workflow_run_writes_summary(emulator: Any, stack: Any) -> None:
    rc, run_dir, err = _run(emulator, stack, "fan.wdl", ["n=3"], "fan_ok")
    assert rc == 0, err[-3000:]
    summary = _load(run_dir)
    jobs = _run_jobs(summary["run_id"], stack.task_queue)
    assert len(jobs) == 3
    assert sorted(t["task"] for t in summary["tasks"]) == sorted(
        j["tags"][naming.TAG_CALL] for j in jobs.values()
    )
    for task in summary["tasks"]:
        (entry,) = task["jobs"]
        desc = jobs[entry["job_id"]]
        assert entry["status"] == desc["status"] == "SUCCEEDED"
        assert entry["queue"] == stack.task_queue
        assert entry["exit_code"] == 0
        assert entry["vcpus"] == 2
        # GiB-hours follow the MEMORY the job really asked Batch for
        memory = next(
            float(r["value"])
            for r in desc["container"]["resourceRequirements"]
            if r["type"] == "MEMORY"
        )
        assert entry["memory_mib"] == memory
        assert entry["gib_hours"] == pytest.approx(memory / 1024 * entry["running_seconds"] / 3600)
    totals = summary["totals"]
    assert totals["statuses"] == {"SUCCEEDED": 3} and totals["spot_interruptions"] == 0
    # API economy: one ListJobs (one task queue configured) and one DescribeJobs
    assert summary["api_calls"] == {"ListJobs": 1, "DescribeJobs": 1}
    # and the table in the log
    assert "AWS Batch run summary" in err
    assert "TOTAL (3 tasks)" in err


def test_failed_run_and_single_task_run_write_summaries(emulator: Any, stack: Any) -> None:
    rc, run_dir, err = _run(emulator, stack, "fan.wdl", ["n=2", "fail_at=1"], "fan_fail")
    assert rc != 0
    summary = _load(run_dir)
    failed = [t for t in summary["tasks"] if t["status"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["jobs"][0]["exit_code"] == 3
    assert "TOTAL (2 tasks)" in err

    rc, run_dir, err = _run(emulator, stack, "one.wdl", ["who=Alyssa"], "one_task")
    assert rc == 0, err[-3000:]
    summary = _load(run_dir)
    assert [t["status"] for t in summary["tasks"]] == ["SUCCEEDED"]
    assert summary["totals"]["jobs"] == 1


def test_spot_interruption_and_fallback_in_summary(emulator: Any, stack: Any) -> None:
    """The first job of task 0 loses its Spot host; miniwdl retries it (runtime.preemptible = 1)
    on the fallback queue. The summary shows both jobs, the interruption and both queues."""
    emulator.set_faults(
        {"spot": {"job_name": "-work-0$", "fraction": 1.0, "attempts": [1], "after": 0.2}}
    )
    rc, run_dir, err = _run(
        emulator,
        stack,
        "fan.wdl",
        ["n=2", "sleep_s=1", "preemptible=1"],
        "fan_spot",
        extra_env={"MINIWDL__AWS__TASK_QUEUE_FALLBACK": stack.task_queue_fallback},
    )
    assert rc == 0, err[-3000:]
    summary = _load(run_dir)
    tasks = {t["task"]: t for t in summary["tasks"]}
    hit, calm = tasks["call-work-0"], tasks["call-work-1"]
    assert [j["status"] for j in hit["jobs"]] == ["FAILED", "SUCCEEDED"]
    assert [j["miniwdl_attempt"] for j in hit["jobs"]] == [1, 2]
    assert hit["queues"] == sorted([stack.task_queue, stack.task_queue_fallback])
    assert hit["jobs"][1]["queue"] == stack.task_queue_fallback
    assert hit["spot_interruptions"] == 1 and hit["attempts"] == 2
    assert hit["jobs"][0]["attempts"][0]["status_reason"].startswith("Host EC2 (instance ")
    assert calm["spot_interruptions"] == 0 and len(calm["jobs"]) == 1
    assert summary["totals"]["spot_interruptions"] == 1
    assert summary["totals"]["statuses"] == {"SUCCEEDED": 2, "FAILED": 1}
    # both task queues listed once each
    assert summary["api_calls"] == {"ListJobs": 2, "DescribeJobs": 1}


def test_finished_job_without_attempts_list() -> None:
    job = _job("n1", "call-n", "SUCCEEDED", T0, T0 + 2_000, T0 + 12_000, [], vcpus="4")
    job["container"]["exitCode"] = 0
    (task,) = build_summary(RUN, [job], now=(T0 + 60_000) / 1000.0)["tasks"]
    assert task["running_seconds"] == 10 and task["queued_seconds"] == 2
    assert task["vcpu_hours"] == pytest.approx(4 * 10 / 3600)
    assert task["jobs"][0]["attempts"][0]["exit_code"] == 0


def _error_text(run_dir: str) -> str:
    with open(os.path.join(run_dir, "error.json")) as f:
        return json.dumps(json.load(f))


def test_oom_and_unpullable_image_in_backend_and_summary(emulator: Any, stack: Any) -> None:
    """AWS's OOM kill and a pull failure, end to end: the backend fails the task with a message
    that says what happened and what to do, and the summary shows the same rule of
    ``miniwdl_aws.reasons`` for the job and its attempt, with no Spot interruption."""
    emulator.set_faults(
        {"oom": {"job_name": "-work-0$", "fraction": 1.0, "attempts": [1], "after": 0.2}}
    )
    rc, run_dir, err = _run(emulator, stack, "fan.wdl", ["n=1", "sleep_s=5"], "fan_oom")
    assert rc != 0
    error = _error_text(run_dir)
    summary = _load(run_dir)
    (task,) = summary["tasks"]
    (job,) = task["jobs"]
    memory = next(
        r["value"]
        for r in _run_jobs(summary["run_id"], stack.task_queue)[job["job_id"]]["container"][
            "resourceRequirements"
        ]
        if r["type"] == "MEMORY"
    )
    assert f"AWS Batch job ran out of memory ({memory} MiB requested)" in error
    assert (job["outcome"], job["rule"]) == ("oom", "oom")
    assert [(a["outcome"], a["rule"]) for a in job["attempts"]] == [("oom", "oom")]
    assert summary["totals"]["spot_interruptions"] == 0

    emulator.set_faults({"cannot_pull": {"job_name": "-work-0$"}})
    rc, run_dir, err = _run(emulator, stack, "fan.wdl", ["n=1", "preemptible=2"], "fan_pull")
    assert rc != 0
    error = _error_text(run_dir)
    assert "AWS Batch job could not start: CannotPullContainerError" in error
    assert "ecr:BatchGetImage" in error
    summary = _load(run_dir)
    (task,) = summary["tasks"]
    assert len(task["jobs"]) == 1  # an unusable image is not retried, whatever preemptible says
    (job,) = task["jobs"]
    assert (job["outcome"], job["rule"]) == ("error", "pull_failed")
    assert task["spot_interruptions"] == 0


# --- usage against the request, right-sizing, cost (issue 16, item 2) ---


def _series(job_id: str, attempt: int, points: List[Tuple[float, float, int]]) -> Any:
    from miniwdl_aws.usage import UsageSeries

    return UsageSeries(job_id, attempt, "proc", 5.0, None, list(points))


def test_usage_rightsizing_and_cost_in_summary() -> None:
    gib = 1024**3
    # big: asked 8 vCPUs and 16 GiB, used one CPU and 2 GiB at most
    big = _job(
        "j-big", "call-big", "SUCCEEDED", T0, T0 + 10_000, T0 + 3_610_000,
        [_attempt(T0 + 10_000, T0 + 3_610_000)], vcpus="8", memory="16384",
    )  # fmt: skip
    # tight: 2 GiB asked, 1.9 GiB peak; a Batch retry ran it twice, each attempt sampled
    tight = _job(
        "j-tight", "call-tight", "SUCCEEDED", T0, T0 + 1_000, T0 + 201_000,
        [_attempt(T0 + 1_000, T0 + 101_000, "Essential container in task exited", 1),
         _attempt(T0 + 101_000, T0 + 201_000)],
        vcpus="1", memory="2048",
    )  # fmt: skip
    series = {
        "j-big": [_series("j-big", 1, [(0, 0, gib), (1800, 900, 2 * gib), (3600, 3600, gib)])],
        "j-tight": [
            _series("j-tight", 1, [(0, 0, gib), (100, 50, gib)]),
            _series("j-tight", 2, [(0, 0, gib), (100, 100, int(1.9 * gib))]),
        ],
    }
    summary = build_summary(
        RUN, [big, tight], now=(T0 + 4_000_000) / 1000, usage_series=series, prices=(0.04, 0.005)
    )
    b, t = summary["tasks"]
    (job,) = b["jobs"]
    (att,) = job["attempts"]
    assert (att["vcpus"], att["memory_mib"]) == (8, 16384)
    assert att["usage"]["peak_memory_mib"] == 2048 and att["usage"]["cpu_seconds"] == 3600
    assert (b["peak_cpu"], b["mean_cpu"]) == (1.5, 1.0)
    assert b["note"] == "memory 16.0 GiB, peak 2.0 GiB; cpu 8, peak 1.5 (mean 1.0)"
    assert b["used_vcpu_hours"] == pytest.approx(1.0)
    assert b["cost_estimate"] == pytest.approx(8 * 0.04 + 16 * 0.005, abs=1e-4)
    # each Batch attempt gets its own series
    a1, a2 = t["jobs"][0]["attempts"]
    assert (a1["usage"]["peak_memory_mib"], a2["usage"]["peak_memory_mib"]) == (1024, 1945.6)
    assert t["note"] == "memory 2.0 GiB near its limit, peak 1.9 GiB"
    tot = summary["totals"]
    assert tot["used_vcpu_hours"] == pytest.approx((3600 + 150) / 3600)
    assert tot["vcpu_hours"] == pytest.approx(8 + 200 / 3600)
    assert tot["sampled_jobs"] == 2 and tot["rightsizing_notes"] == 2
    assert tot["cost_estimate"] == pytest.approx(b["cost_estimate"] + t["cost_estimate"], abs=1e-3)
    table = format_table(summary)
    assert "right-sizing: call-big: memory 16.0 GiB, peak 2.0 GiB" in table
    assert "cost estimate" in table and "2.0 GiB/16.0 GiB" in table
    # no prices, no estimate
    assert "cost_estimate" not in build_summary(RUN, [big], usage_series=series)["totals"]


def test_a_succeeded_job_whose_task_failed_after_it_is_not_succeeded() -> None:
    job = _job(
        "j1", "call-a", "SUCCEEDED", T0, T0 + 1_000, T0 + 2_000, [_attempt(T0 + 1_000, T0 + 2_000)],
        container={"command": ["/bin/bash", "/efs/run/call-a/batch_task.sh"]},
    )  # fmt: skip
    errors = {"/efs/run/call-a": "OutputError: missing output file"}
    (task,) = build_summary(RUN, [job], task_errors=errors)["tasks"]
    assert task["jobs"][0]["status"] == "SUCCEEDED"  # what Batch says of the job
    assert task["status"] == "FAILED" and task["status_reason"].startswith("OutputError")


def test_run_summary_has_usage_and_fails_a_task_whose_outputs_failed(
    emulator: Any, stack: Any, tmp_path: Any
) -> None:
    """A real run: every task's attempts carry sampled usage; a task whose command succeeded
    but whose output file is missing is FAILED in the summary (issue 15, item 5)."""
    wdl = tmp_path / "outs.wdl"
    wdl.write_text(
        "version 1.0\n"
        "workflow outs {\n  call ok\n  call lost\n}\n"
        "task ok {\n  command <<<\n    sleep 1\n    echo 1\n  >>>\n"
        "  output { Int out = read_int(stdout()) }\n"
        '  runtime { docker: "ubuntu:22.04" }\n}\n'
        "task lost {\n  command <<<\n    sleep 1\n  >>>\n"
        '  output { File f = "never_written.txt" }\n'
        '  runtime { docker: "ubuntu:22.04" }\n}\n'
    )
    env = {"MINIWDL__AWS__USAGE_SAMPLING_PERIOD": "0.2"}
    res = run_on_stack(emulator, stack, str(wdl), [], "outs", env)
    assert res.returncode != 0
    summary = _load(res.run_dir)
    by_task = {t["task"]: t for t in summary["tasks"]}
    lost = next(t for k, t in by_task.items() if "lost" in k)
    ok = next(t for k, t in by_task.items() if "ok" in k)
    assert lost["jobs"][-1]["status"] == "SUCCEEDED"
    assert lost["status"] == "FAILED" and "never_written" in lost["status_reason"]
    assert ok["status"] == "SUCCEEDED"
    for task in (ok, lost):
        usage = task["jobs"][-1]["attempts"][-1]["usage"]
        assert usage is not None and usage["samples"] >= 3 and usage["source"] == "proc"
        assert usage["peak_memory_mib"] > 0
    assert summary["totals"]["sampled_jobs"] == 2
    assert "failed: " in res.stderr and "never_written" in res.stderr


def test_expand_arrays_describes_all_children_together_and_names_their_calls(tmp_path) -> None:
    """Every parent's children in one DescribeJobs (up to 100 ids), not one call per parent;
    child i is tagged with the call of line i of its parent's list file."""
    from botocore.stub import Stubber

    from miniwdl_aws.aws.batch import BatchApi
    from miniwdl_aws.batch.arrays import child_line, dispatcher_command
    from miniwdl_aws.ops.summary import expand_arrays
    from tests.support.clients import FakeClients

    def list_file(name: str, calls: List[str]) -> List[str]:
        path = tmp_path / name
        reqs = [{"containerOverrides": {"command": ["bash", "x.sh"], "environment": [
            {"name": naming.ENV_TASK_RUN_ID, "value": c}]}} for c in calls]  # fmt: skip
        path.write_text("".join(child_line(r) + "\n" for r in reqs))
        return dispatcher_command(str(path))

    parents = [
        {"jobId": "A", "status": "SUCCEEDED", "arrayProperties": {"size": 2},
         "container": {"command": list_file("a.list", ["call-x-0", "call-x-1"])}},
        {"jobId": "plain", "status": "SUCCEEDED"},
        {"jobId": "B", "status": "SUCCEEDED", "arrayProperties": {"size": 3},
         "container": {"command": list_file("b.list", ["call-y-0", "call$y1", "call-y-2"])}},
    ]  # fmt: skip
    ids = ["A:0", "A:1", "B:0", "B:1", "B:2"]
    client = boto3.client(
        "batch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stub = Stubber(client)
    described = [
        {"jobId": i, "jobName": "n", "jobQueue": "q", "status": "SUCCEEDED", "startedAt": 1,
         "jobDefinition": "jd", "arrayProperties": {"index": int(i[-1])}}
        for i in ids
    ]  # fmt: skip
    stub.add_response("describe_jobs", {"jobs": described}, {"jobs": ids})

    with stub:
        out = expand_arrays(BatchApi(FakeClients(batch=client)), parents)  # type: ignore[arg-type]
    stub.assert_no_pending_responses()
    assert [j["jobId"] for j in out] == ["A:0", "A:1", "plain", "B:0", "B:1", "B:2"]
    calls = [(j.get("tags") or {}).get(naming.TAG_CALL) for j in out]
    assert calls == ["call-x-0", "call-x-1", None, "call-y-0", "call$y1", "call-y-2"]
