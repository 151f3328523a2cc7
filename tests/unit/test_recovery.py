"""SubmitJob without twins: a lost response is settled by looking the job up by name over a
window, and the job is submitted again only when certainly absent (fake clock; Stubber)."""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional

import boto3
import pytest
from botocore.stub import Stubber

from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.batch.recovery import SubmitOutcomeUnknown, submit_without_twins
from miniwdl_aws.batch.submitter import AdaptiveSubmitter
from miniwdl_aws.errors import Ambiguous, AwsCallError, Throttled
from tests.support.clients import FakeClients
from tests.support.fake_time import FakeTime

NAME = "mw261129T000000-abcdef-call-1"
QUEUE = "q"
REQUEST = {"jobName": NAME, "jobQueue": QUEUE, "jobDefinition": "d"}
LIST_PARAMS = {"jobQueue": QUEUE, "filters": [{"name": "JOB_NAME", "values": [NAME]}]}


class FakeApi:
    """SubmitJob and lookups scripted per call; records when each happened."""

    def __init__(self, t: FakeTime, submits: List[Any], lookups: Any) -> None:
        self.t = t
        self.submits = list(submits)  # job id to return, or an exception to raise
        self.lookups = lookups  # list of results/exceptions, or a function of the time
        self.submit_times: List[float] = []
        self.lookup_times: List[float] = []

    def submit_job(self, request: Dict[str, Any]) -> str:
        assert request is REQUEST
        self.submit_times.append(self.t.now)
        outcome = self.submits.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    def find_job(self, job_queue: str, job_name: str, created_after_ms: int) -> Optional[str]:
        assert (job_queue, job_name, created_after_ms) == (QUEUE, NAME, 1000)
        self.lookup_times.append(self.t.now)
        outcome = self.lookups(self.t.now) if callable(self.lookups) else self.lookups.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]


def lost() -> Ambiguous:
    return Ambiguous("SubmitJob", "ConnectionClosedError", "connection reset after sending")


def run(api: Any, t: FakeTime, **kw: Any) -> str:
    return submit_without_twins(api, REQUEST, 1000, 30.0, sleep=t.sleep, clock=t.clock, **kw)


@pytest.fixture
def batch() -> Any:
    return boto3.client(
        "batch",
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _summary(job_id: str, name: str = NAME, created: int = 5000) -> Dict[str, Any]:
    return {"jobId": job_id, "jobName": name, "createdAt": created}


def test_found_on_first_lookup(batch: Any) -> None:
    t = FakeTime()
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    with Stubber(batch) as stub:
        # a 5xx: the request may have been processed
        stub.add_client_error("submit_job", "InternalFailure", http_status_code=500)
        stub.add_response("list_jobs", {"jobSummaryList": [_summary("j1")]}, LIST_PARAMS)
        assert run(api, t) == "j1"
        stub.assert_no_pending_responses()
    assert api.call_counts() == {"batch.SubmitJob": 1, "batch.ListJobs": 1}
    assert t.sleeps == []


def test_found_only_on_a_later_lookup() -> None:
    t = FakeTime()
    # ListJobs lags: the job shows up 5 s after the lost response
    api = FakeApi(t, [lost()], lambda now: "j1" if now >= 5.0 else None)
    assert run(api, t) == "j1"
    assert len(api.submit_times) == 1
    assert api.lookup_times == [0.0, 0.5, 1.5, 3.5, 7.5]  # growing pauses


def test_found_on_page_two(batch: Any) -> None:
    t = FakeTime()
    api = BatchApi(FakeClients(batch=batch))  # type: ignore[arg-type]
    # the JOB_NAME filter matches case-insensitively: other jobs can fill the first page
    others = [_summary(f"x{i}", NAME.upper()) for i in range(100)]
    with Stubber(batch) as stub:
        stub.add_client_error("submit_job", "ServiceUnavailable", http_status_code=503)
        stub.add_response("list_jobs", {"jobSummaryList": others, "nextToken": "p2"}, LIST_PARAMS)
        stub.add_response(
            "list_jobs",
            {"jobSummaryList": [_summary("j1"), _summary("old", created=999)]},
            dict(LIST_PARAMS, nextToken="p2"),
        )
        assert run(api, t) == "j1"
        stub.assert_no_pending_responses()
    assert api.call_counts()["batch.SubmitJob"] == 1
    assert t.sleeps == []


def test_absent_for_the_whole_window_resubmits_exactly_once() -> None:
    t = FakeTime()
    api = FakeApi(t, [lost(), "j2"], lambda now: None)
    assert run(api, t) == "j2"
    assert api.submit_times == [0.0, 30.0]
    # lookups until the window is over, the last one at its end, none after the resubmit
    assert api.lookup_times == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 23.5, 30.0]
    assert max(t.sleeps) <= 8.0


def test_lookups_failing_throughout_is_unknown_and_never_resubmits() -> None:
    t = FakeTime()
    failing = Throttled("ListJobs", "ThrottlingException", "Rate exceeded")
    api = FakeApi(t, [lost(), "twin"], lambda now: failing)
    with pytest.raises(SubmitOutcomeUnknown) as info:
        run(api, t)
    assert len(api.submit_times) == 1
    # the deciding lookup at the window's end, retried through a brief brownout, then given up
    assert api.lookup_times[-4:] == [30.0, 30.5, 31.5, 33.5]
    message = str(info.value)
    assert NAME in message and "cannot tell whether" in message and "was created" in message
    assert info.value.job_name == NAME
    assert info.value.code == "ConnectionClosedError"  # SubmitJob's failure, not ListJobs'
    # not retryable by the paced submitter (that could start the twin)
    assert not isinstance(info.value, Throttled)


def test_an_early_failed_lookup_does_not_decide() -> None:
    """A job listed once stays listed: the answered lookup at the window's end decides."""
    t = FakeTime()
    failing = Ambiguous("ListJobs", "InternalFailure", "5xx")
    api = FakeApi(t, [lost(), "j2"], lambda now: failing if now == 3.5 else None)
    assert run(api, t) == "j2"
    assert api.submit_times == [0.0, 30.0]


def test_the_deciding_lookup_is_retried_before_concluding() -> None:
    t = FakeTime()
    failing = Ambiguous("ListJobs", "InternalFailure", "5xx")
    # fails at the end of the window, answers "absent" on its second try
    api = FakeApi(t, [lost(), "j2"], lambda now: failing if now == 30.0 else None)
    assert run(api, t) == "j2"
    assert api.submit_times == [0.0, 30.5]
    # ...or shows the job that was created after all
    t = FakeTime()
    api = FakeApi(t, [lost()], lambda now: failing if now == 30.0 else ("j1" if now > 30 else None))
    assert run(api, t) == "j1"


def test_a_found_job_wins_over_failed_lookups() -> None:
    t = FakeTime()
    failing = Throttled("ListJobs", "ThrottlingException", "Rate exceeded")
    api = FakeApi(t, [lost()], [failing, failing, "j1"])
    assert run(api, t) == "j1"


def test_denied_lookup_is_unknown_at_once() -> None:
    t = FakeTime()
    denied = AwsCallError("ListJobs", "AccessDeniedException", "not authorized")
    api = FakeApi(t, [lost()], [denied])
    with pytest.raises(SubmitOutcomeUnknown, match="AccessDenied"):
        run(api, t)
    assert len(api.lookup_times) == 1 and t.now == 0.0


def test_refused_before_processing_is_not_looked_up() -> None:
    t = FakeTime()
    throttled = Throttled("SubmitJob", "TooManyRequestsException", "slow down")
    api = FakeApi(t, [throttled], [])
    with pytest.raises(Throttled) as info:
        run(api, t)
    assert not isinstance(info.value, Ambiguous)
    assert api.lookup_times == []


def test_other_errors_pass_through() -> None:
    t = FakeTime()
    bad = AwsCallError("SubmitJob", "ClientException", "bad job definition")
    api = FakeApi(t, [bad], [])
    with pytest.raises(AwsCallError, match="bad job definition"):
        run(api, t)
    assert api.lookup_times == []


def test_resubmits_are_bounded() -> None:
    t = FakeTime()
    api = FakeApi(t, [lost(), lost(), lost(), "never"], lambda now: None)
    with pytest.raises(AwsCallError, match="3 responses lost in a row") as info:
        run(api, t, max_resubmits=2)
    assert not isinstance(info.value, (Throttled, SubmitOutcomeUnknown))
    assert api.submit_times == [0.0, 30.0, 60.0]


def test_a_burst_of_lost_answers_proven_absent_does_not_fail_the_task() -> None:
    # five lost answers in a row, each followed by a lookup proving the job absent: with
    # resubmissions bounded at 2 this failed the task (the scorecard's transient-errors row)
    t = FakeTime()
    api = FakeApi(t, [lost()] * 5 + ["j6"], lambda now: None)
    assert run(api, t) == "j6"
    assert len(api.submit_times) == 6


def test_each_resubmit_is_followed_by_the_same_recovery() -> None:
    t = FakeTime()
    # absent after the first loss; the resubmission's answer is lost too, but it was created
    api = FakeApi(t, [lost(), lost()], lambda now: "j2" if now >= 31.0 else None)
    assert run(api, t) == "j2"
    assert api.submit_times == [0.0, 30.0]


def test_zero_window_looks_up_once() -> None:
    t = FakeTime()
    api = FakeApi(t, [lost(), "j2"], lambda now: None)
    assert submit_without_twins(api, REQUEST, 1000, 0.0, sleep=t.sleep, clock=t.clock) == "j2"
    assert api.lookup_times == [0.0]


def test_paced_submitter_retries_throttling_around_it() -> None:
    """How the backend uses it: throttling before processing goes back to the adaptive
    submitter, which paces and calls again; a lost response never does."""
    t = FakeTime()
    throttled = Throttled("SubmitJob", "TooManyRequestsException", "slow down")
    api = FakeApi(t, [throttled, lost()], lambda now: "j1")
    pacing = AdaptiveSubmitter(
        max_rate=10.0, clock=t.clock, sleep=t.sleep, rng=random.Random(1), decrease_interval=0.0
    )
    ans = pacing.call(lambda: run(api, t), lambda: False)
    assert ans == "j1"
    assert len(api.submit_times) == 2 and pacing.throttles == 1
