"""Adaptive submitter: token-bucket pacing, halving on throttling, slow regrowth (fake clock)."""

from __future__ import annotations

import random
import threading

import pytest

from miniwdl_aws.batch.submitter import AdaptiveSubmitter, SubmitAborted
from miniwdl_aws.errors import AwsCallError, Throttled
from tests.support.fake_time import FakeTime


def make(t: FakeTime, **kw: object) -> AdaptiveSubmitter:
    args: dict = {
        "max_rate": 10.0,
        "burst": 1,
        "clock": t.clock,
        "sleep": t.sleep,
        "rng": random.Random(1),
        "decrease_interval": 0.0,
    }
    args.update(kw)
    return AdaptiveSubmitter(**args)


def never() -> bool:
    return False


def test_paces_calls_at_max_rate() -> None:
    t = FakeTime(1000.0)
    sub = make(t)
    times = []
    for _ in range(21):
        sub.call(lambda: times.append(t.now), never)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) == pytest.approx(0.1)
    assert times[-1] - times[0] == pytest.approx(2.0)


def test_burst_goes_out_back_to_back_then_paces() -> None:
    t = FakeTime(1000.0)
    sub = make(t, burst=5)
    times = []
    for _ in range(7):
        sub.call(lambda: times.append(t.now), never)
    assert times[:5] == [times[0]] * 5
    assert times[6] > times[5] > times[4]


def test_throttling_slows_down_retries_and_never_fails() -> None:
    t = FakeTime(1000.0)
    sub = make(t)
    answers = iter([Throttled("SubmitJob", "TooManyRequestsException", "x")] * 3 + ["job-1"])

    def fn() -> str:
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    assert sub.call(fn, never) == "job-1"
    stats = sub.stats()
    assert stats["throttles"] == 3 and stats["calls"] == 1
    # three refusals in a row, each alone in its window: halved three times (plus the small
    # linear recovery during the pauses)
    assert 10.0 / 8 <= stats["rate"] < 4.0
    # the retries were spaced out by the lowered rate, not hammered
    assert t.slept > 0.1 + 0.2 + 0.4 - 0.35


def test_rate_climbs_back_linearly_to_max() -> None:
    t = FakeTime(1000.0)
    sub = make(t, max_rate=20.0, recovery_seconds=10.0)
    sub._on_throttle()
    sub._on_throttle()
    assert sub.rate == pytest.approx(5.0)
    t.now += 2.0
    sub._on_success()
    assert sub.rate == pytest.approx(5.0 + 2.0 * (20.0 - 0.2) / 10.0)
    t.now += 60.0
    sub._on_success()
    assert sub.rate == pytest.approx(20.0)


def test_rate_floor() -> None:
    t = FakeTime(1000.0)
    sub = make(t, min_rate=0.5)
    for _ in range(20):
        sub._on_throttle()
    assert sub.rate == pytest.approx(0.5)


def test_terminating_aborts_while_waiting() -> None:
    t = FakeTime(1000.0)
    sub = make(t, max_rate=0.1)  # 10 s between calls
    sub.call(lambda: None, never)
    flag = {"stop": False}

    def sleep(s: float) -> None:
        t.sleep(s)
        flag["stop"] = True  # a signal arrives during the wait

    sub._sleep = sleep
    with pytest.raises(SubmitAborted):
        sub.call(lambda: pytest.fail("must not submit"), lambda: flag["stop"])
    assert t.slept <= 0.5 + 1e-9  # checked terminating() within one slice


def test_other_errors_propagate_at_once() -> None:
    t = FakeTime(1000.0)
    sub = make(t)
    calls = []

    def fn() -> None:
        calls.append(1)
        raise AwsCallError("SubmitJob", "ClientException", "bad queue")

    with pytest.raises(AwsCallError):
        sub.call(fn, never)
    assert len(calls) == 1


def test_thread_safe_under_contention() -> None:
    sub = AdaptiveSubmitter(max_rate=5000.0, burst=50)
    done = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            sub.call(lambda: None, never)
            with lock:
                done.append(1)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(done) == 300 and sub.stats()["calls"] == 300


def test_refusals_in_one_window_count_together() -> None:
    t = FakeTime(1000.0)
    sub = make(t, max_rate=40.0, decrease_interval=1.0)
    sub._on_throttle()  # first refusal after a quiet time: halve
    assert sub.rate == pytest.approx(20.0)
    for _ in range(3):
        sub._on_success()
    sub._on_throttle()  # same window: counted, no further decrease yet
    assert sub.rate == pytest.approx(20.0)
    t.now += 1.0
    sub._on_throttle()  # next window: 2 refused of 5 outcomes -> x(1 - 0.4/2)
    assert sub.rate == pytest.approx(20.0 * 0.8)


def test_random_30_percent_throttling_keeps_most_of_the_rate() -> None:
    t = FakeTime(1000.0)
    rng = random.Random(3)
    sub = make(t, max_rate=40.0, burst=20, decrease_interval=1.0)

    def fn() -> None:
        if rng.random() < 0.3:
            raise Throttled("SubmitJob", "TooManyRequestsException", "x")

    start = t.now
    for _ in range(400):
        sub.call(fn, never)
    # the rate settles well above the floor (0.2/s): random refusals don't collapse it
    assert 400 / (t.now - start) > 8.0
    assert sub.rate > 10.0


def test_late_threads_cannot_bunch_more_than_the_rate_into_one_second() -> None:
    """Slots were all handed out on time, but the callers woke late (a busy process) and try to
    send at once: the sliding window still lets through only ``rate + burst - 1`` per second."""
    t = FakeTime(1000.0)
    s = make(t, max_rate=40.0, burst=1)
    waits = [s._reserve() for _ in range(80)]  # 2 s of slots, reserved at once
    assert waits[-1] == pytest.approx(79 / 40)
    t.now += 2.0  # everyone wakes only now
    sent_at = []
    for _ in range(80):
        s._admit(lambda: False)
        sent_at.append(t.now)
    for start in sent_at:
        assert sum(start <= x < start + 1.0 for x in sent_at) <= 40
    assert sent_at[39] == sent_at[0] and sent_at[40] >= sent_at[0] + 1.0


def test_other_batch_calls_take_their_share_of_the_window() -> None:
    """AWS counts DescribeJobs, ListJobs and the rest against the same per-account budget as
    SubmitJob: calls the process sent outside the gate leave that much less room in the
    last-second window, and are never held back themselves."""
    t = FakeTime(1000.0)
    s = make(t, max_rate=40.0, burst=1)
    for _ in range(10):  # e.g. ten DescribeJobs of a round over 1,000 jobs
        s.note_other_call()
    sent_at = []
    for _ in range(40):
        s.call(lambda: sent_at.append(t.now), never)
    first_second = [x for x in sent_at if x < 1000.0 + 1.0]
    assert len(first_second) == 30  # 40 - 10
    assert sent_at[30] >= 1000.0 + 1.0


def test_services_show_every_batch_call_but_submit_job_to_the_submitter() -> None:
    from miniwdl_aws.aws.calls import CallCounter
    from miniwdl_aws.backend.services import Services

    seen = []

    class Recorder:
        def note_other_call(self) -> None:
            seen.append(1)

    fake = Services.__new__(Services)
    fake.submitter = Recorder()  # type: ignore[assignment]
    counter = CallCounter(on_call=fake._batch_call)
    for key in ("batch.DescribeJobs", "batch.ListJobs", "batch.SubmitJob", "logs.GetLogEvents",
                "ec2.DescribeInstanceTypes", "batch.TerminateJob"):  # fmt: skip
        counter.add(key)
    assert len(seen) == 3
    assert counter.snapshot()["batch.SubmitJob"] == 1
