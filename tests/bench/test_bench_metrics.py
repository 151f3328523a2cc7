"""Unit tests of the benchmark harness's pure parts (bench/mwbench): log parsing, statistics,
the reduction of instruments into a Measurement, target verdicts and the RESULTS.md writer."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from mwbench import metrics, report  # noqa: E402
from mwbench.bench import Measurement, fill  # noqa: E402
from mwbench.emulator_proc import clean_env, parse_exports  # noqa: E402
from mwbench.sides import OURS, THEIRS  # noqa: E402
from mwbench.workloads import REALISTIC_SHARDS, REALISTIC_TASKS, REALISTIC_WDL  # noqa: E402


def _stamp(epoch: float) -> str:
    """A miniwdl log timestamp (local time, ms) for ``epoch``."""
    whole = int(epoch)
    return (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(whole))
        + f".{round((epoch - whole) * 1000):03d}"
    )


JOB_A = "65331ef2-905e-4eb4-b393-78086303ce56"
JOB_B = "0a1b2c3d-0000-4111-8222-933344455566"


def test_log_line_time_roundtrip() -> None:
    t = 1_790_000_000.25
    assert metrics.log_line_time(f"{_stamp(t)} wdl.x NOTICE done") == pytest.approx(t, abs=1e-3)
    assert metrics.log_line_time("no timestamp here") is None


def test_noticed_times_terminal_line_then_retry() -> None:
    t0 = 1_790_000_000.0
    log = "\n".join(
        [
            f"{_stamp(t0)} wdl.t NOTICE task setup",
            f'{_stamp(t0 + 1)} wdl.t NOTICE job change :: status: "RUNNING", jobId: "{JOB_A}"',
            f'{_stamp(t0 + 2.5)} wdl.t NOTICE job change :: status: "FAILED", jobId: "{JOB_A}"',
            f"{_stamp(t0 + 2.6)} wdl.t ERROR failed task will be retried",
            f'{_stamp(t0 + 3)} wdl.t NOTICE job submitted :: jobId: "{JOB_B}"',
            f"{_stamp(t0 + 4.125)} wdl.t NOTICE done",
        ]
    )
    got = metrics.noticed_times(log)
    assert got[JOB_A] == pytest.approx(t0 + 2.5, abs=1e-3)
    # no terminal-state line for the retry: miniwdl's "done" is when it was noticed at the latest
    assert got[JOB_B] == pytest.approx(t0 + 4.125, abs=1e-3)


def test_array_child_ids_are_their_own_jobs() -> None:
    t0 = 1_790_000_000.0
    child = f"{JOB_A}:7"
    log = "\n".join(
        [
            f"{_stamp(t0)} wdl.t NOTICE task setup",
            f'{_stamp(t0 + 1)} wdl.t NOTICE array job submitted :: jobId: "{JOB_A}"',
            f'{_stamp(t0 + 1.5)} wdl.t NOTICE job submitted :: jobId: "{child}"',
            f'{_stamp(t0 + 2.5)} wdl.t NOTICE job change :: status: "SUCCEEDED", jobId: "{child}"',
        ]
    )
    assert metrics.noticed_times(log) == {child: pytest.approx(t0 + 2.5, abs=1e-3)}
    assert metrics.attempt_start_times(log)[child] == pytest.approx(t0, abs=1e-3)


def test_noticed_times_from_dir_reads_every_task_log(tmp_path: Path) -> None:
    t0 = 1_790_000_100.0
    for i, job in enumerate((JOB_A, JOB_B)):
        d = tmp_path / "run" / f"call-noop-{i}"
        d.mkdir(parents=True)
        (d / "task.log").write_text(
            f'{_stamp(t0 + i)} w NOTICE x :: status: "SUCCEEDED", jobId: "{job}"\n'
        )
    got = metrics.noticed_times_from_dir(tmp_path / "run")
    assert sorted(got) == sorted([JOB_A, JOB_B])
    assert got[JOB_B] - got[JOB_A] == pytest.approx(1.0, abs=1e-3)


def test_percentile_interpolates() -> None:
    xs = [4.0, 1.0, 3.0, 2.0]
    assert metrics.percentile(xs, 0) == 1.0
    assert metrics.percentile(xs, 100) == 4.0
    assert metrics.percentile(xs, 50) == pytest.approx(2.5)
    assert metrics.percentile([], 50) is None


def test_max_in_window_and_peak_overlap() -> None:
    # 3 events inside one second, the 4th 1 s after the first (window is half-open)
    assert metrics.max_in_window([0, 100, 999, 1000, 2500]) == 3
    assert metrics.max_in_window([]) == 0
    assert metrics.peak_overlap([(0, 10), (5, 15), (10, 20), (30, 40)]) == 2
    assert metrics.peak_overlap([]) == 0


def _jobs(n: int, created: int = 1_000_000, run_ms: int = 500) -> List[Dict[str, Any]]:
    return [
        {
            "jobId": f"j{i}",
            "status": "SUCCEEDED",
            "createdAt": created + 20 * i,
            "startedAt": created + 20 * i + 600,
            "stoppedAt": created + 20 * i + 600 + run_ms,
        }
        for i in range(n)
    ]


def test_fill_reduces_instruments() -> None:
    m = Measurement(OURS, "default", "scatter10", 10, 80, 0.2, {})
    stats = {
        "calls": {
            "batch.SubmitJob": 10,
            "batch.DescribeJobs": 4,
            "batch.RegisterJobDefinition": 1,
            "efs.DescribeAccessPoints": 1,
        }
    }
    fill(m, 5.0, 0, False, 1.5, 120.0, stats, _jobs(10))
    assert m.ok and m.attempts == 10 and m.succeeded == 10
    assert m.tasks_per_s == pytest.approx(2.0)
    assert m.cpu_per_task_s == pytest.approx(0.15)
    assert m.calls == {"SubmitJob": 10, "DescribeJobs": 4, "RegisterJobDefinition": 1}
    assert m.non_describe_per_attempt == pytest.approx(1.1)
    assert m.describe_per_task == pytest.approx(0.4)
    assert m.job_run_s == pytest.approx(5.0)
    assert m.job_watched_s == pytest.approx(11.0)
    assert m.describe_per_1000_run_s == pytest.approx(800.0)
    assert m.max_submits_per_s == 10
    assert Measurement.from_dict(m.to_dict()) == m


def test_fill_flags_failures() -> None:
    m = Measurement(OURS, "default", "scatter3", 3, 80, 0.2, {})
    jobs = _jobs(3)
    jobs[1]["status"] = "FAILED"
    fill(m, 2.0, 2, False, 1.0, 100.0, {"calls": {}}, jobs)
    assert not m.ok and m.failed == 1


def _measured(side: str, profile: str, workload: str, tasks: int, wall: float) -> Measurement:
    m = Measurement(side, profile, workload, tasks, 80, 0.2, {})
    calls = {"batch.SubmitJob": tasks, "batch.DescribeJobs": max(1, tasks // 50)}
    fill(m, wall, 0, False, 0.01 * tasks, 100.0, {"calls": calls}, _jobs(tasks))
    m.notice_p50_s = 0.5
    return m


def test_targets_judge_ratios_and_limits() -> None:
    ms = [
        _measured(THEIRS, "default", "scatter200", 200, 228.0),
        _measured(THEIRS, "tuned", "scatter200", 200, 56.0),
        _measured(OURS, "default", "scatter200", 200, 10.0),
        _measured(OURS, "tuned", "scatter200", 200, 30.0),
    ]
    verdicts = {v.target: v for v in report.targets(ms)}
    assert verdicts["scatter200: ours/default >= 15x the tasks/s of 0.12.2/default"].met is True
    assert verdicts["scatter200: ours/tuned >= 3x the tasks/s of 0.12.2/tuned"].met is False
    assert verdicts["scatter1000: ours/default >= 15x the tasks/s of 0.12.2/default"].met is None
    calls = [v for v in verdicts.values() if v.target.startswith("Batch calls per task attempt")]
    assert calls[0].met is True


def test_report_tables_and_results_file(tmp_path: Path) -> None:
    ms = [
        _measured(THEIRS, "default", "scatter10", 10, 13.0),
        _measured(OURS, "default", "scatter10", 10, 1.0),
    ]
    text = report.text_report(ms, {"dwell_s": "0.2"})
    assert "0.12.2/default" in text and "ours/default" in text
    assert "ours/default / 0.12.2/default: tasks/s 13.00x" in text
    results = tmp_path / "RESULTS.md"
    results.write_text("# Old\n\n## Run earlier\nold row\n")
    report.append_results(results, report.markdown_section(ms, {"dwell_s": "0.2"}, ["a note"]))
    out = results.read_text()
    assert out.startswith("# Old") and "old row" in out  # old rows kept
    assert out.count("## Run ") == 2 and "- a note" in out
    assert "| tasks/s |" in out


def test_parse_exports_and_clean_env() -> None:
    got = parse_exports(["noise", "export A=1", "export B='two words'", "export C=x=y"])
    assert got == {"A": "1", "B": "two words", "C": "x=y"}
    env = clean_env({"AWS_PROFILE": "p", "MINIWDL__AWS__FSAP": "x", "PATH": "/bin", "HOME": "/h"})
    assert env == {"PATH": "/bin", "HOME": "/h"}


def test_realistic_workload_task_count_matches_wdl() -> None:
    import WDL

    doc = WDL.load(str(REALISTIC_WDL))
    assert doc.workflow is not None
    # 4 single calls + 2 calls inside the scatter, which runs once per shard
    singles = [c for c in doc.workflow.body if isinstance(c, WDL.Tree.Call)]
    scatters = [s for s in doc.workflow.body if isinstance(s, WDL.Tree.Scatter)]
    per_shard = sum(1 for c in scatters[0].body if isinstance(c, WDL.Tree.Call))
    assert REALISTIC_TASKS == len(singles) + per_shard * REALISTIC_SHARDS


def test_attempt_start_times_and_submit_delays() -> None:
    t0 = 1_790_000_200.0
    log = "\n".join(
        [
            f"{_stamp(t0)} wdl.t NOTICE task setup :: name: noop",
            f'{_stamp(t0 + 0.5)} wdl.t NOTICE job submitted :: jobId: "{JOB_A}"',
            f'{_stamp(t0 + 1)} wdl.t NOTICE job change :: status: "FAILED", jobId: "{JOB_A}"',
            f"{_stamp(t0 + 2)} wdl.t ERROR failed task will be retried :: prev_retries: 0",
            f'{_stamp(t0 + 2.25)} wdl.t NOTICE job submitted :: jobId: "{JOB_B}"',
        ]
    )
    started = metrics.attempt_start_times(log)
    assert started[JOB_A] == pytest.approx(t0, abs=1e-3)
    assert started[JOB_B] == pytest.approx(t0 + 2, abs=1e-3)
    jobs: List[Dict[str, Any]] = [
        {"jobId": JOB_A, "createdAt": int((t0 + 0.4) * 1000)},
        {"jobId": "other"},
    ]
    (delay,) = metrics.submit_delays(jobs, started)
    assert delay == pytest.approx(0.4, abs=2e-3)


def test_theirs_venv_location_and_readiness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mwbench import theirs_venv

    monkeypatch.setenv("MWBENCH_THEIRS_VENV", str(tmp_path / "v"))
    assert theirs_venv.default_path() == tmp_path / "v"
    monkeypatch.delenv("MWBENCH_THEIRS_VENV")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert theirs_venv.default_path() == tmp_path / "cache" / "miniwdl-aws-bench" / "venv-0.12.2"
    # an empty directory is not a usable 0.12.2 venv (so ensure() would install into it)
    (tmp_path / "v" / "bin").mkdir(parents=True)
    assert not theirs_venv.is_ready(tmp_path / "v")
