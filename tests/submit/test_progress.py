"""Progress while waiting (:mod:`miniwdl_aws.submit.progress`): the counts of the run's task
jobs, their polling cost, and how they are shown on a terminal and elsewhere."""

from __future__ import annotations

import io
from typing import Any, Dict, List

from miniwdl_aws.errors import AwsCallError
from miniwdl_aws.submit.progress import TaskProgress, count, render

RUN = "mw261129T000000-abcdef"


class Jobs:
    """ListJobs answers of two queues, counted per call (a stand-in for the AWS layer)."""

    def __init__(self) -> None:
        self.by_queue: Dict[str, List[Dict[str, Any]]] = {"tq": [], "fb": []}
        self.calls: List[str] = []
        self.fail = False

    def list_jobs(self, queue: str, filters: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        assert filters == [{"name": "JOB_NAME", "values": [f"{RUN}-*"]}]
        self.calls.append(queue)
        if self.fail:
            raise AwsCallError("ListJobs", "ThrottlingException", "slow down")
        return self.by_queue[queue]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _progress(jobs: Jobs, out: io.StringIO, clock: Clock, tty: bool) -> TaskProgress:
    return TaskProgress(
        jobs,  # type: ignore[arg-type]
        RUN,
        ["tq", "fb", "tq", ""],  # duplicates and unset queues are asked once / not at all
        "wf-job",
        out,
        tty=tty,
        prefix="[p] ",
        period=10.0,
        clock=clock,
    )


def test_counts() -> None:
    statuses = ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED", "FAILED"]
    assert render(count(statuses)) == "task jobs: 2 queued, 2 running, 1 done, 2 failed"


def test_plain_lines_when_counts_change_at_one_list_jobs_per_queue_per_period() -> None:
    jobs, out, clock = Jobs(), io.StringIO(), Clock()
    progress = _progress(jobs, out, clock, tty=False)
    jobs.by_queue["tq"] = [
        {"jobId": "wf-job", "status": "RUNNING"},  # the workflow job itself: not counted
        {"jobId": "a", "status": "RUNNABLE"},
    ]
    progress.tick()
    assert jobs.calls == ["tq", "fb"]
    clock.now = 9.9
    progress.tick()  # within the period: no call
    assert jobs.calls == ["tq", "fb"]
    clock.now = 10.0
    progress.tick()  # same counts: asked, not printed again
    jobs.by_queue["tq"] = [{"jobId": "a", "status": "SUCCEEDED"}]
    jobs.by_queue["fb"] = [{"jobId": "b", "status": "RUNNING"}]
    clock.now = 20.0
    progress.tick()
    assert len(jobs.calls) == 6 and progress.refreshes == 3
    assert out.getvalue().splitlines() == [
        "[p] task jobs: 1 queued, 0 running, 0 done, 0 failed",
        "[p] task jobs: 0 queued, 1 running, 1 done, 0 failed",
    ]
    jobs.fail = True  # progress is a courtesy: an AWS error shows nothing and raises nothing
    clock.now = 30.0
    progress.tick()
    jobs.fail = False
    progress.finish()  # forced, whatever the period
    assert len(jobs.calls) == 6 + 1 + 2  # the failed refresh stopped at its first queue
    assert out.getvalue().count("\n") == 2  # unchanged counts: no new line


def test_one_line_in_place_on_a_terminal() -> None:
    jobs, out, clock = Jobs(), io.StringIO(), Clock()
    progress = _progress(jobs, out, clock, tty=True)
    jobs.by_queue["tq"] = [{"jobId": "a", "status": "RUNNING"}]
    progress.tick()
    assert out.getvalue() == "\r\x1b[Ktask jobs: 0 queued, 1 running, 0 done, 0 failed"
    progress.clear()  # before another line is printed
    out.write("a log line\n")
    progress.clear()  # nothing on screen: nothing to erase
    jobs.by_queue["tq"] = [{"jobId": "a", "status": "SUCCEEDED"}]
    progress.finish()
    assert out.getvalue() == (
        "\r\x1b[Ktask jobs: 0 queued, 1 running, 0 done, 0 failed\r\x1b[Ka log line\n"
        "\r\x1b[Ktask jobs: 0 queued, 0 running, 1 done, 0 failed\n"
    )
