"""CI variants of every scorecard row: same goals as ``bench/reliability.py``, smaller sizes.

Each test runs one scenario against the session's local AWS (reset and bootstrapped per test by
the ``aws`` fixture) and asserts its row passed. A scenario whose product part is missing is
skipped with the reason, so it is visible, and never counted as passed.
"""

from __future__ import annotations

import signal
from typing import Any, List

import pytest

from . import scenarios
from .harness import LocalAws
from .scorecard import Row, Status

SIZES = scenarios.CI


@pytest.fixture
def local(emulator: Any, aws: Any, tmp_path: Any) -> LocalAws:
    """The per-test local AWS as the scenarios see it."""
    return LocalAws.in_process(emulator, aws, str(tmp_path))


def _check(rows: List[Row]) -> None:
    assert rows, "scenario produced no row"
    for row in rows:
        print(f"{row.name}: {row.figure} (goal {row.goal}, {row.status.value}) -- {row.detail}")
        if row.status is Status.NOT_RUN:
            pytest.skip(f"{row.name}: {row.detail}")
    failed = [f"{r.name}: {r.figure} (goal {r.goal}) -- {r.detail}" for r in rows if not r.passed]
    assert not failed, "\n".join(failed)


def test_throttling_fails_no_task(local: LocalAws) -> None:
    _check(scenarios.throttling(local, SIZES.throttle_tasks))


def test_spot_within_budget_and_fallback(local: LocalAws) -> None:
    _check(scenarios.spot(local, SIZES.spot_tasks))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_leaves_every_job_terminal(local: LocalAws, sig: int) -> None:
    # the 10 s goal is judged on the scorecard; here only that every job ends (no timing)
    _check(scenarios.signal_stop(local, sig, SIZES.signal_tasks, limit=None))


def test_sigterm_with_queued_jobs_leaves_every_job_terminal(local: LocalAws) -> None:
    _check(scenarios.signal_stop(local, signal.SIGTERM, SIZES.signal_tasks, limit=None, capacity=2))


def test_terminating_the_workflow_job_stops_its_tasks(local: LocalAws) -> None:
    _check(scenarios.workflow_terminate(local, SIZES.signal_tasks, limit=None))


def test_ctrl_c_on_follow_keeps_the_run_and_says_how_to_stop_it(local: LocalAws) -> None:
    _check(scenarios.follow_interrupt(local))


def test_sigkill_then_cleanup_leaves_no_job(local: LocalAws) -> None:
    _check(scenarios.sigkill_cleanup(local, SIZES.kill_tasks))


def test_killed_workflow_job_then_cleanup_leaves_no_job(local: LocalAws) -> None:
    _check(scenarios.workflow_kill_cleanup(local, SIZES.kill_tasks))


def test_transient_errors_change_nothing(local: LocalAws) -> None:
    # milder than the scorecard's 20% + 10%, where a call can (rarely) exhaust botocore's five
    # attempts: CI must not be flaky; the scorecard shows the harsher figure
    _check(scenarios.transient(local, SIZES.transient_tasks, server_error=0.1, resets=0.05))


def test_follow_loses_and_duplicates_no_line(local: LocalAws) -> None:
    _check(scenarios.follow(local, SIZES.follow_tasks))


def test_s3_failure_loses_no_byte(local: LocalAws) -> None:
    _check(scenarios.s3_failure(local))


def test_bad_inputs(local: LocalAws) -> None:
    _check(scenarios.bad_input_table(local))


def test_no_credentials_anywhere(local: LocalAws) -> None:
    _check(scenarios.secrets(local))


def test_endpoint_restart(tmp_path: Any) -> None:
    _check(scenarios.endpoint_restart(str(tmp_path), terminate_wait=5))


def test_short_batch_outage_changes_no_miniwdl_run(local: LocalAws) -> None:
    _check(scenarios.run_outage(local))


def test_short_outage_changes_nothing(local: LocalAws) -> None:
    _check(scenarios.outage(local))


def test_lost_responses_start_no_extra_job(local: LocalAws) -> None:
    _check(scenarios.lost_responses(local, SIZES.transient_tasks))


def test_delete_after_never_touches_an_existing_directory(local: LocalAws) -> None:
    _check(scenarios.existing_dir(local))


def test_runs_sharing_an_s3_folder_keep_their_own_results(local: LocalAws) -> None:
    _check(scenarios.shared_folder(local, SIZES.follow_tasks))


def test_kms_bucket_upload_verifies_and_deletes(local: LocalAws) -> None:
    _check(scenarios.kms_upload(local, SIZES.follow_tasks))


@pytest.mark.parametrize("fraction", [0.3, 0.5], ids=["30%", "50%"])
def test_lost_submit_answer_starts_no_twin(local: LocalAws, fraction: float) -> None:
    # the emulator's ListJobs does not lag: each lost response is found at the first lookup
    _check(scenarios.lost_submit(local, fraction))


def test_submit_request_lost_before_aws_is_submitted_again(local: LocalAws) -> None:
    # the job is absent, so the whole lookup window passes before resubmitting: keep it short
    _check(scenarios.lost_submit(local, 0.3, window=1.0, after=False))


def test_submit_outcome_unknown_names_the_run(local: LocalAws) -> None:
    _check(scenarios.lost_submit(local, 1.0, 2, window=1.0, lookups_fail=True))
