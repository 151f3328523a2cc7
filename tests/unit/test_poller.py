"""Status poller: ≤100 ids per DescribeJobs, top-up of calls, adaptive intervals, fan-out."""

from __future__ import annotations

import random
from typing import Dict, List

import pytest

from miniwdl_aws.aws.batch import DESCRIBE_JOBS_MAX
from miniwdl_aws.batch.poller import PollError, StatusPoller


class FakeBatch:
    """DescribeJobs over a dict of job statuses, recording every call's ids."""

    def __init__(self) -> None:
        self.status: Dict[str, str] = {}
        self.calls: List[List[str]] = []
        self.fail = 0

    def describe(self, ids: List[str]) -> List[dict]:
        assert len(ids) <= DESCRIBE_JOBS_MAX
        self.calls.append(list(ids))
        if self.fail:
            self.fail -= 1
            raise RuntimeError("boom")
        return [{"jobId": i, "status": self.status[i]} for i in ids if i in self.status]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(batch: FakeBatch, clock: Clock, **kw: object) -> StatusPoller:
    args: dict = {
        "period": 1.0,
        "period_max": 5.0,
        "clock": clock,
        "rng": random.Random(0),
        "autostart": False,
    }
    args.update(kw)
    return StatusPoller(batch.describe, **args)


def test_batches_at_most_100_ids_and_describes_each_once() -> None:
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock)
    ids = [f"j{i}" for i in range(250)]
    for i in ids:
        batch.status[i] = "RUNNABLE"
        poller.watch(i)
    assert poller.poll_once() == 0  # nothing due before one period has passed
    clock.now = 1.0
    assert poller.poll_once() == 3
    assert [len(c) for c in batch.calls] == [100, 100, 50]
    assert sorted(sum(batch.calls, [])) == sorted(ids)


def test_last_call_is_topped_up_with_not_yet_due_jobs() -> None:
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock)
    for i in range(120):
        batch.status[f"old{i}"] = "RUNNING"
        poller.watch(f"old{i}")
    clock.now = 1.0
    poller.poll_once()
    batch.calls.clear()
    for i in range(30):
        batch.status[f"new{i}"] = "SUBMITTED"
        poller.watch(f"new{i}")
    clock.now = 2.0
    # the old ones are not due (as if they had been described a moment ago)
    for w in list(poller._watches.values()):
        if w.job_id.startswith("old"):
            w.next_due = 10.0
    assert poller.poll_once() == 1
    assert len(batch.calls[0]) == 100
    assert {f"new{i}" for i in range(30)} <= set(batch.calls[0])


def test_status_change_wakes_waiter_once_per_change() -> None:
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock)
    batch.status["a"] = "RUNNABLE"
    w = poller.watch("a")
    clock.now = 1.0
    poller.poll_once()
    assert (w.version, w.status) == (1, "RUNNABLE")
    assert w.wait(1, timeout=0.01) == 1  # no change: times out
    clock.now = 2.0
    poller.poll_once()
    assert w.version == 1  # same status again: no wake
    batch.status["a"] = "RUNNING"
    clock.now = 3.0
    poller.poll_once()
    assert w.wait(1, timeout=1.0) == 2 and w.status == "RUNNING"


def test_long_unchanged_jobs_are_polled_less_and_terminal_jobs_not_at_all() -> None:
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock, backoff=0.2)
    batch.status["slow"] = "RUNNING"
    w = poller.watch("slow")
    seen_at = []
    while clock.now < 60:
        clock.now += 1.0
        if poller.poll_once():
            seen_at.append(clock.now)
    gaps = [b - a for a, b in zip(seen_at, seen_at[1:])]
    assert gaps[0] == pytest.approx(1.0)
    assert max(gaps) == pytest.approx(5.0)  # capped at period_max
    assert len(seen_at) < 25  # vs 60 rounds
    batch.status["slow"] = "SUCCEEDED"
    clock.now += 6
    poller.poll_once()
    assert w.terminal
    n = len(batch.calls)
    clock.now += 10
    assert poller.poll_once() == 0 and len(batch.calls) == n


def test_persistent_errors_are_delivered_to_waiters() -> None:
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock, error_limit=3, error_seconds=0.0)
    batch.status["a"] = "RUNNING"
    w = poller.watch("a")
    batch.fail = 100
    for _ in range(20):
        clock.now += 5.0
        poller.poll_once()
        if w.error:
            break
    assert isinstance(w.error, PollError) and "3 times" in str(w.error)


def test_an_outage_shorter_than_error_seconds_is_waited_out() -> None:
    """Many failed rounds are not enough: the failures must also last ``error_seconds`` (a
    minute-long Batch API outage must not fail runs whose jobs keep running)."""
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock, error_limit=3, error_seconds=300.0)
    batch.status["a"] = "RUNNING"
    w = poller.watch("a")
    batch.fail = 1000
    start = clock.now
    while clock.now - start < 290:
        clock.now += 5.0
        poller.poll_once()
    assert w.error is None and poller._errors >= 3
    batch.fail = 0
    clock.now += 5.0
    poller.poll_once()
    assert w.error is None and w.status == "RUNNING"
    # a long outage does end in an error
    batch.fail = 1000
    start = clock.now
    while w.error is None and clock.now - start < 1000:
        clock.now += 5.0
        poller.poll_once()
    assert isinstance(w.error, PollError) and 300 <= clock.now - start < 320


def test_transient_errors_recover() -> None:
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock, error_limit=3)
    batch.status["a"] = "RUNNING"
    w = poller.watch("a")
    batch.fail = 2
    for _ in range(6):
        clock.now += 5.0
        poller.poll_once()
    assert w.error is None and w.status == "RUNNING"


def test_unknown_job_becomes_an_error() -> None:
    batch, clock = FakeBatch(), Clock()
    poller = make(batch, clock, missing_limit=3)
    w = poller.watch("ghost")
    for _ in range(5):
        clock.now += 1.0
        poller.poll_once()
    assert isinstance(w.error, PollError) and "ghost" in str(w.error)


def test_thread_fans_out_to_waiters() -> None:
    batch = FakeBatch()
    poller = StatusPoller(batch.describe, period=0.02, period_max=0.05)
    try:
        batch.status["a"] = "RUNNING"
        batch.status["b"] = "RUNNABLE"
        wa, wb = poller.watch("a"), poller.watch("b")
        assert wa.wait(0, timeout=10) == 1 and wa.status == "RUNNING"
        batch.status["a"] = "SUCCEEDED"
        assert wa.wait(1, timeout=10) == 2 and wa.terminal
        assert wb.wait(0, timeout=10) == 1 and wb.status == "RUNNABLE"
        # one poller thread described both jobs together
        assert any({"a", "b"} <= set(c) for c in batch.calls)
    finally:
        poller.stop()


class FakeArrays(FakeBatch):
    """Array parents over FakeBatch: DescribeJobs of a parent gives its children's status
    summary; ListJobs by array and status lists them (``lag`` children left out, as an
    eventually consistent listing may)."""

    def __init__(self) -> None:
        super().__init__()
        self.parents: Dict[str, int] = {}
        self.listings: List[tuple] = []
        self.lag = 0

    def describe(self, ids: List[str]) -> List[dict]:
        self.calls.append(list(ids))
        out = []
        for i in ids:
            if i in self.parents:
                kids = [self.status[f"{i}:{k}"] for k in range(self.parents[i])]
                summary = {s: kids.count(s) for s in set(kids)}
                ended = all(s in ("SUCCEEDED", "FAILED") for s in kids)
                status = ("FAILED" if "FAILED" in kids else "SUCCEEDED") if ended else "PENDING"
                out.append({"jobId": i, "status": status,
                            "arrayProperties": {"statusSummary": summary}})  # fmt: skip
            elif i in self.status:
                out.append({"jobId": i, "status": self.status[i], "container": {"exitCode": 0}})
        return out

    def list_array(self, parent: str, status: str) -> List[dict]:
        self.listings.append((parent, status))
        kids = [f"{parent}:{k}" for k in range(self.parents[parent])]
        found = [{"jobId": k, "status": status} for k in kids if self.status[k] == status]
        return found[: max(0, len(found) - self.lag)]


def _array(batch: FakeArrays, poller: StatusPoller, parent: str, n: int, status: str) -> list:
    batch.parents[parent] = n
    watches = []
    for k in range(n):
        batch.status[f"{parent}:{k}"] = status
        watches.append(poller.watch(f"{parent}:{k}"))
    return watches


def test_array_children_followed_through_the_parent_summary() -> None:
    batch, clock = FakeArrays(), Clock()
    poller = make(batch, clock, list_array=batch.list_array)
    watches = _array(batch, poller, "P", 250, "RUNNABLE")
    clock.now = 1.0
    poller.poll_once()
    assert batch.calls == [["P"]]  # one parent, not 250 children
    assert {w.status for w in watches} == {"RUNNABLE"}
    clock.now = 3.0
    batch.calls.clear()
    batch.listings.clear()
    poller.poll_once()  # unchanged summary: the parent only
    assert batch.calls == [["P"]] and batch.listings == []
    for k in range(250):
        batch.status[f"P:{k}"] = "SUCCEEDED" if k % 2 else "RUNNING"
    clock.now = 10.0
    poller.poll_once()
    assert {w.status for w in watches[0::2]} == {"RUNNING"}
    ended = watches[1::2]
    assert {w.status for w in ended} == {"SUCCEEDED"}
    assert all(w.description and "container" in w.description for w in ended)  # described
    children_described = [i for call in batch.calls for i in call if i != "P"]
    assert sorted(children_described) == sorted(w.job_id for w in ended)
    assert max(len(call) for call in batch.calls) <= DESCRIBE_JOBS_MAX


def test_children_of_a_small_array_are_described_directly() -> None:
    # 60 children: one DescribeJobs of all of them costs no more than the parent's summary, and
    # needs no listing
    batch, clock = FakeArrays(), Clock()
    poller = make(batch, clock, list_array=batch.list_array)
    watches = _array(batch, poller, "P", 60, "RUNNING")
    for k in range(0, 60, 3):
        batch.status[f"P:{k}"] = "SUCCEEDED"
    clock.now = 1.0
    assert poller.poll_once() == 1
    assert batch.listings == [] and "P" not in batch.calls[0] and len(batch.calls[0]) == 60
    assert sum(w.status == "SUCCEEDED" for w in watches) == 20
    assert all(w.description for w in watches if w.status == "SUCCEEDED")


def test_array_listing_behind_the_summary_is_listed_again() -> None:
    batch, clock = FakeArrays(), Clock()
    poller = make(batch, clock, list_array=batch.list_array, array_direct_max=0, period_max=1.0)
    watches = _array(batch, poller, "P", 3, "RUNNING")
    clock.now = 1.0
    poller.poll_once()
    batch.status["P:0"] = batch.status["P:1"] = "SUCCEEDED"
    batch.lag = 1
    clock.now = 2.0
    poller.poll_once()
    assert sum(w.status == "SUCCEEDED" for w in watches) == 1
    batch.lag = 0
    clock.now = 3.0
    poller.poll_once()  # same summary as last round, but not yet accounted for
    assert [w.status for w in watches] == ["SUCCEEDED", "SUCCEEDED", "RUNNING"]


def test_children_of_an_ended_parent_are_described_even_if_never_listed() -> None:
    batch, clock = FakeArrays(), Clock()
    poller = make(batch, clock, list_array=batch.list_array, array_direct_max=0, period_max=1.0)
    watches = _array(batch, poller, "P", 2, "RUNNING")
    clock.now = 1.0
    poller.poll_once()
    batch.status["P:0"] = "SUCCEEDED"
    batch.status["P:1"] = "FAILED"
    batch.lag = 5  # the listing never shows them
    clock.now = 2.0
    poller.poll_once()
    assert [w.status for w in watches] == ["SUCCEEDED", "FAILED"]


def test_unknown_array_parent_is_an_error_for_its_children() -> None:
    batch, clock = FakeArrays(), Clock()
    poller = make(
        batch,
        clock,
        list_array=batch.list_array,
        array_direct_max=0,
        period_max=1.0,
        missing_limit=2,
    )
    watch = poller.watch("GONE:0")
    for t in (1.0, 2.0):
        clock.now = t
        poller.poll_once()
    assert isinstance(watch.error, PollError)


def test_array_child_newly_running_is_seen_though_the_running_count_did_not_change() -> None:
    batch, clock = FakeArrays(), Clock()
    poller = make(batch, clock, list_array=batch.list_array, array_direct_max=0, period_max=1.0)
    watches = _array(batch, poller, "P", 2, "RUNNABLE")
    batch.status["P:0"] = "RUNNING"
    clock.now = 1.0
    poller.poll_once()
    assert [w.status for w in watches] == ["RUNNING", "RUNNABLE"]
    batch.status["P:0"], batch.status["P:1"] = "SUCCEEDED", "RUNNING"  # RUNNING: still 1
    clock.now = 2.0
    poller.poll_once()
    assert [w.status for w in watches] == ["SUCCEEDED", "RUNNING"]
