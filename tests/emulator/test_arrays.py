"""Array jobs on the local AWS, as AWS documents them (the fidelity table of
``miniwdl_aws/emulator/README.md`` cites the pages): children ``<parent id>:<index>`` with
``AWS_BATCH_JOB_ARRAY_INDEX``, the parent's status summary, ListJobs of an array's children by
status, TerminateJob and CancelJob on children and parents, a log stream per child."""

from __future__ import annotations

import os
from typing import Any, List

from tests.support.logs import stream_messages

from .helpers import batch, describe, job_definition, submit, wait_status


def _listed(parent: str, status: str) -> List[str]:
    pages = batch().get_paginator("list_jobs").paginate(arrayJobId=parent, jobStatus=status)
    return sorted(j["jobId"] for p in pages for j in p["jobSummaryList"])


def test_children_index_summary_listing_and_streams(aws: Any) -> None:
    jd = job_definition(
        aws,
        [
            "sh",
            "-c",
            'echo "child $AWS_BATCH_JOB_ARRAY_INDEX" >&2; exit $AWS_BATCH_JOB_ARRAY_INDEX',
        ],
    )
    parent = submit(aws, jd, name="arr", arrayProperties={"size": 3})
    children = [wait_status(f"{parent}:{i}") for i in range(3)]
    assert [c["arrayProperties"]["index"] for c in children] == [0, 1, 2]
    assert [c["container"]["exitCode"] for c in children] == [0, 1, 2]
    assert _listed(parent, "SUCCEEDED") == [f"{parent}:0"]
    assert _listed(parent, "FAILED") == [f"{parent}:1", f"{parent}:2"]
    summary = wait_status(parent)["arrayProperties"]
    assert summary["size"] == 3
    assert summary["statusSummary"]["SUCCEEDED"] == 1 and summary["statusSummary"]["FAILED"] == 2
    streams = [c["container"]["logStreamName"] for c in children]
    assert len(set(streams)) == 3
    assert [stream_messages(s) for s in streams] == [["child 0"], ["child 1"], ["child 2"]]


def test_terminating_a_child_fails_only_that_child(aws: Any) -> None:
    flag = os.path.join(aws.efs_dir, "release-siblings")
    jd = job_definition(aws, ["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.05; done"])
    parent = submit(aws, jd, name="arrchild", arrayProperties={"size": 2})
    wait_status(f"{parent}:0", ["RUNNING"])
    batch().terminate_job(jobId=f"{parent}:0", reason="only this one")
    first = wait_status(f"{parent}:0")
    assert first["status"] == "FAILED" and first["statusReason"] == "only this one"
    assert describe(f"{parent}:1")["status"] not in ("SUCCEEDED", "FAILED")
    open(flag, "w").close()
    assert wait_status(f"{parent}:1")["status"] == "SUCCEEDED"
    assert wait_status(parent)["status"] == "FAILED"  # one child failed


def test_terminating_the_parent_terminates_running_children(aws: Any, emulator: Any) -> None:
    jd = job_definition(aws, ["sleep", "60"])
    parent = submit(aws, jd, name="arrterm", arrayProperties={"size": 3})
    for i in range(3):
        wait_status(f"{parent}:{i}", ["RUNNING"])
    batch().terminate_job(jobId=parent, reason="run aborted")
    children = [wait_status(f"{parent}:{i}") for i in range(3)]
    assert [c["status"] for c in children] == ["FAILED"] * 3
    assert wait_status(parent)["status"] == "FAILED"
    emulator.assert_no_active_jobs(timeout=10)


def test_cancelling_a_pending_parent_cancels_its_children(aws: Any, emulator: Any) -> None:
    b = batch()
    b.update_compute_environment(computeEnvironment="miniwdl-task-spot", state="DISABLED")
    try:
        jd = job_definition(aws, ["true"])
        parent = submit(aws, jd, name="arrcancel", arrayProperties={"size": 2})
        for i in range(2):
            wait_status(f"{parent}:{i}", ["RUNNABLE"])
        b.cancel_job(jobId=parent, reason="not needed")
        children = [wait_status(f"{parent}:{i}") for i in range(2)]
        assert [c["status"] for c in children] == ["FAILED"] * 2
        assert wait_status(parent)["status"] == "FAILED"
    finally:
        b.update_compute_environment(computeEnvironment="miniwdl-task-spot", state="ENABLED")


def test_name_filter_lists_the_parent_not_its_children(aws: Any) -> None:
    jd = job_definition(aws, ["true"])
    parent = submit(aws, jd, name="arrfilter-x", arrayProperties={"size": 2})
    wait_status(parent)
    flt = [{"name": "JOB_NAME", "values": ["arrfilter-*"]}]
    listed = batch().list_jobs(jobQueue=aws.task_queue, filters=flt)["jobSummaryList"]
    assert [j["jobId"] for j in listed] == [parent]
    # a parent's summary carries the array's size (ArrayPropertiesSummary), a child's its index
    assert listed[0]["arrayProperties"] == {"size": 2}
    children = batch().list_jobs(arrayJobId=parent, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert sorted(j["arrayProperties"]["index"] for j in children) == [0, 1]
