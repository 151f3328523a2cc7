"""Recorded runs and the summary recomputed from them (bench/mwbench/{provenance,rawfile,summary}
and ``bench/run.py``'s recording): the git commit and dirty state, the raw files with per-job
records, and ``bench/run.py --summarize`` on a small synthetic run whose figures are known."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))

import run as bench_run  # noqa: E402
from mwbench import rawfile, report, summary  # noqa: E402
from mwbench.bench import JOB_FIELDS, Measurement, fill  # noqa: E402
from mwbench.provenance import GitState, git_state  # noqa: E402
from mwbench.sides import OURS, THEIRS  # noqa: E402

T0 = 1_790_000_000_000  # epoch ms


def _rows(
    n: int,
    *,
    spacing_ms: int = 20,
    run_ms: int = 10,
    notice_ms: Optional[List[int]] = None,
    setup_ms: int = 100,
) -> List[List[Any]]:
    """``n`` succeeded jobs as raw rows (JOB_FIELDS order): created every ``spacing_ms``, 500 ms
    queued, ``run_ms`` running; noticed ``notice_ms[i % len]`` after stopping."""
    notice_ms = notice_ms or [300]
    rows = []
    for i in range(n):
        created = T0 + i * spacing_ms
        started = created + 500
        stopped = started + run_ms
        rows.append(
            [
                f"00000000-0000-4000-8000-{i:012d}",
                f"noop-{i}",
                "SUCCEEDED",
                created,
                started,
                stopped,
                1,
                created - setup_ms,
                stopped + notice_ms[i % len(notice_ms)],
            ]
        )
    return rows


def _calls(submits: int, describes: int, list_jobs: int = 1) -> Dict[str, int]:
    """SubmitJob and DescribeJobs counts, plus 4 + ``list_jobs`` one-time calls of a run."""
    return {
        "SubmitJob": submits,
        "DescribeJobs": describes,
        "RegisterJobDefinition": 1,
        "DescribeJobQueues": 1,
        "DescribeComputeEnvironments": 1,
        "DescribeJobDefinitions": 1,
        "ListJobs": list_jobs,
    }


def _raw_measurement(
    profile: str,
    workload: str,
    tasks: int,
    wall_s: float,
    cpu_s: float,
    calls: Dict[str, int],
    rows: List[List[Any]],
    concurrency: int = 80,
    tps_cap: float = 0.0,
) -> Dict[str, Any]:
    """What a recorded raw file holds for one of our runs, with every derived figure stored
    WRONG: the summary must recompute them from the per-job records and call counts."""
    return {
        "side": OURS,
        "profile": profile,
        "workload": workload,
        "tasks": tasks,
        "concurrency": concurrency,
        "dwell": 0.2,
        "settings": {},
        "exit_code": 0,
        "timed_out": False,
        "wall_s": wall_s,
        "runner_cpu_s": cpu_s,
        "peak_rss_mib": 100.0 if tasks < 1000 else 110.0,
        "calls": calls,
        "tps_cap": tps_cap,
        "started_at": T0 / 1000.0,
        "attempts": 1,
        "succeeded": 0,
        "tasks_per_s": 999.0,
        "non_describe_per_attempt": 9.0,
        "describe_per_task": 9.0,
        "notice_p50_s": 99.0,
        "peak_active_jobs": 999,
        "throttled": {},
        "jobs": {"fields": list(JOB_FIELDS), "rows": rows},
    }


def _ours_file(path: Path) -> Path:
    """A synthetic recorded run of ours (new format), small but with every headline workload."""
    notice = [200, 300, 400, 500, 600]  # p50 0.40 s
    ms = [
        _raw_measurement("default", "scatter100", 100, 5.0, 2.0, _calls(100, 4), _rows(100)),
        _raw_measurement(
            "default", "scatter200", 200, 8.0, 4.0, _calls(200, 8), _rows(200, notice_ms=notice)
        ),
        _raw_measurement("tuned", "scatter200", 200, 5.0, 5.0, _calls(200, 12), _rows(200)),
        # 1006 calls besides DescribeJobs for 1000 jobs: 1.006, shown as 1.01
        _raw_measurement(
            "default", "scatter1000", 1000, 25.0, 15.0, _calls(1000, 35, 2), _rows(1000)
        ),
        _raw_measurement(
            "tuned", "scatter1000", 1000, 20.0, 16.0, _calls(1000, 48, 2), _rows(1000)
        ),
        # 200 jobs of 10 s, all alive at once: 30 DescribeJobs = 0.15 per task
        _raw_measurement(
            "default",
            "sleep200x10s",
            200,
            16.0,
            6.0,
            _calls(200, 30),
            _rows(200, spacing_ms=1, run_ms=10_000, notice_ms=[1000]),
            concurrency=200,
        ),
        # 500 tasks under a 50 TPS cap (floor 10 s) in 12.5 s, 20 SubmitJob calls refused
        _raw_measurement(
            "default",
            "submit500",
            500,
            12.5,
            10.0,
            _calls(520, 20),
            _rows(500),
            concurrency=200,
            tps_cap=50.0,
        ),
    ]
    doc = {
        "format": rawfile.FORMAT,
        "complete": True,
        "git": {"commit": "abc1234", "dirty": False, "dirty_files": 0, "dirty_paths": []},
        "machine": {"cores": "2", "cpu": "test cpu"},
        "measurements": ms,
    }
    path.write_text(json.dumps(doc))
    return path


def _theirs_measurement(profile: str, workload: str, tasks: int, tasks_per_s: float) -> Measurement:
    return Measurement(
        THEIRS,
        profile,
        workload,
        tasks,
        80,
        0.2,
        {},
        attempts=tasks,
        succeeded=tasks,
        wall_s=tasks / tasks_per_s,
        tasks_per_s=tasks_per_s,
        cpu_per_task_s=0.2,
        peak_rss_mib=900.0,
        non_describe_per_attempt=3.0,
        describe_per_task=1.0,
        notice_p50_s=0.4,
        started_at=T0 / 1000.0 - 3600,
    )


def _theirs_file(path: Path) -> Path:
    """0.12.2 in the format written before provenance (a bare list, aggregates only), as
    bench/results/2026-11-25-theirs.json is."""
    ms = [
        _theirs_measurement("default", "scatter200", 200, 1.0),
        _theirs_measurement("tuned", "scatter200", 200, 4.0),
        _theirs_measurement("default", "scatter1000", 1000, 0.8),
        _theirs_measurement("tuned", "scatter1000", 1000, 4.0),
    ]
    path.write_text(json.dumps([m.to_dict() for m in ms]))
    return path


def _table(text: str) -> Dict[str, List[str]]:
    """``{target: [measured, verdict]}`` of the targets table in ``text``."""
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("target (issue 8 §3)", "---"):
            out[cells[0]] = cells[1:]
    return out


def test_summarize_recomputes_headline_from_raw_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = _ours_file(tmp_path / "2026-01-01-abc1234-ours.json")
    theirs = _theirs_file(tmp_path / "old-theirs.json")
    assert bench_run.main(["--summarize", str(ours), str(theirs)]) == 0
    out = capsys.readouterr().out
    rows = _table(out)

    # tasks / wall from the raw wall time (the stored tasks_per_s 999 is ignored), vs 0.12.2
    assert rows["200-task scatter ≥ 15x 0.12.2 default tasks/s"] == [
        "25.0 vs 1.00 tasks/s = 25x",
        "met",
    ]
    assert rows["200-task scatter ≥ 3x 0.12.2 tuned tasks/s"] == [
        "40.0 vs 4.00 tasks/s = 10.0x",
        "met",
    ]
    assert rows["1,000-task scatter ≥ 15x 0.12.2 default tasks/s"] == [
        "40.0 vs 0.80 tasks/s = 50x",
        "met",
    ]
    assert rows["1,000-task scatter ≥ 3x 0.12.2 tuned tasks/s"] == [
        "50.0 vs 4.00 tasks/s = 12.5x",
        "met",
    ]
    # (SubmitJob + 5 one-time calls) / jobs: 105/100 on scatter100 is the worst uncapped run;
    # under the cap the 20 refused SubmitJob calls count: 525/500
    measured, verdict = rows[
        "Batch calls per task attempt besides DescribeJobs ≤ 1.05 (0.12.2: 3.0)"
    ]
    assert measured.startswith(
        "1.01–1.05 on every uncapped run of ≥ 100 tasks (1.050 on scatter100"
    )
    assert "100 SubmitJob + 5 other calls for 100 attempts" in measured
    assert "1.05 under the 50 TPS cap" in measured and verdict == "met"
    # no-op runs: 4/100 .. 12/200; the 10-s sleepers: 30/200 per task and per 1000 job-s of
    # running (200 x 10 s = 2000 job-s -> 15), all 200 alive at once (from the timestamps)
    measured, verdict = rows["DescribeJobs ≤ 0.1 per task at ≥ 100 concurrent tasks"]
    assert measured.startswith("0.035–0.060 on runs of ≥ 100 no-op tasks")
    assert "sleep200x10s (200 active jobs of ~10 s): 0.150 per task, 15 per 1,000" in measured
    assert verdict == "NOT met for long jobs"
    assert rows["runner CPU per task ≤ 0.05 s, peak RSS ≤ 250 MiB (200 tasks)"] == [
        "0.020–0.025 s, 100 MiB (0.12.2: 0.20 s, 900 MiB)",
        "met",
    ]
    # notice latency from noticedAt - stoppedAt: 0.2..0.6 s on scatter200/default -> p50 0.40,
    # 0.30 elsewhere; the sleepers (200 active) are reported apart
    measured, verdict = rows["job-finished → noticed p50 ≤ 1.5 s with ≤ 100 active jobs"]
    assert measured.startswith("p50 0.30–0.40 s, p95 ≤ 0.60 s")
    assert "(sleep200x10s, 200 active jobs: p50 1.00 s, p95 1.00 s)" in measured
    assert verdict == "met"
    assert rows["500 tasks under 50 TPS: 0 failures"] == [
        "defaults: 500/500 succeeded, 0 failed, runner exit 0",
        "met",
    ]
    measured, verdict = rows["… the cap never exceeded (no SubmitJob call refused)"]
    assert (
        measured.startswith("defaults: 20 of 520 SubmitJob calls refused") and verdict == "NOT met"
    )
    measured, verdict = rows["… wall time vs the 10 s cap floor and the runner's CPU floor"]
    assert measured.startswith("defaults: 12 s = 1.25x; runner CPU 10 s = 0.020 s/task")
    assert verdict == "reported"

    # the README table, and where every figure came from
    assert "| 200-task scatter, default / fastest settings | 25.0 / 40.0 tasks/s |" in out
    assert "1.00 / 4.00 tasks/s | 25× / 10.0× |" in out
    assert "- `2026-01-01-abc1234-ours.json`: ours/default, ours/tuned;" in out
    assert "commit abc1234; 2 cores, test cpu; per-job records." in out
    assert "Not every file records its machine." in out
    assert "- `old-theirs.json`: 0.12.2/default, 0.12.2/tuned;" in out
    assert "commit not recorded" in out


def test_summary_leaves_unmeasured_targets_unjudged(tmp_path: Path) -> None:
    text = summary.markdown([_theirs_file(tmp_path / "t.json")])
    rows = _table(text)
    assert rows["200-task scatter ≥ 15x 0.12.2 default tasks/s"] == ["-", "not measured"]
    assert rows["10,000 tasks under 50 TPS: 0 failures"] == ["-", "not measured"]


def test_recorded_2026_11_25_files_reproduce_the_committed_summary() -> None:
    """The raw files in bench/results (format before per-job records) still summarize, to the
    figures of the RESULTS.md summary they produced."""
    ours = BENCH / "results" / "2026-11-25-final-ours.json"
    theirs = BENCH / "results" / "2026-11-25-theirs.json"
    if not (ours.exists() and theirs.exists()):
        pytest.skip("the 2026-11-25 raw files are no longer in bench/results")
    rows = _table(summary.markdown([ours, theirs]))
    assert rows["200-task scatter ≥ 15x 0.12.2 default tasks/s"][0] == "27.7 vs 0.89 tasks/s = 31x"
    assert rows["200-task scatter ≥ 3x 0.12.2 tuned tasks/s"][0] == "30.1 vs 3.65 tasks/s = 8.2x"
    assert rows["1,000-task scatter ≥ 15x 0.12.2 default tasks/s"][0].endswith("= 40x")
    assert rows["1,000-task scatter ≥ 3x 0.12.2 tuned tasks/s"][0].endswith("= 11.4x")
    capped = rows["… the cap never exceeded (no SubmitJob call refused)"][0]
    assert "327 of 10,327" in capped and "847 of 10,847" in capped
    assert (
        "292 s = 1.46x" in rows["… wall time vs the 200 s cap floor and the runner's CPU floor"][0]
    )


# --- raw files ---


def test_raw_file_roundtrip_plain_gzip_and_legacy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = Measurement(OURS, "default", "scatter3", 3, 80, 0.2, {})
    jobs = [dict(zip(JOB_FIELDS, r)) for r in _rows(3)]
    fill(m, 1.5, 0, False, 0.3, 80.0, {"calls": {"batch.SubmitJob": 3}}, jobs)
    run = rawfile.RawRun([m], git=GitState("abc1234", 2, ["a.py", "b.py"]))

    plain = rawfile.dump_sized(run, tmp_path / "x.json")
    assert plain.name == "x.json"
    back = rawfile.load(plain)
    assert back.git == run.git and back.git is not None and back.git.dirty
    assert back.measurements[0].jobs == m.jobs
    assert back.measurements[0].notice_p50_s == pytest.approx(0.3, abs=1e-3)
    assert json.loads(plain.read_text())["measurements"][0]["jobs"]["fields"] == list(JOB_FIELDS)

    monkeypatch.setattr(rawfile, "GZIP_ABOVE", 100)  # a big run's file is gzipped instead
    gz = rawfile.dump_sized(run, tmp_path / "x.json")
    assert gz.name == "x.json.gz" and not plain.exists()
    assert json.loads(gzip.decompress(gz.read_bytes()))["git"]["commit"] == "abc1234"
    assert rawfile.load(gz).measurements[0].jobs == m.jobs

    legacy = tmp_path / "legacy.json"  # a bare list, as written before
    legacy.write_text(json.dumps([{k: v for k, v in m.to_dict().items() if k != "jobs"}]))
    old = rawfile.load(legacy)
    assert old.git is None and old.measurements[0].jobs == []
    assert old.measurements[0].tasks_per_s == m.tasks_per_s


def test_auto_path_never_overwrites(tmp_path: Path) -> None:
    first = rawfile.auto_path(tmp_path, "2026-01-02", "abc1234", "ours")
    assert first.name == "2026-01-02-abc1234-ours.json"
    (tmp_path / "2026-01-02-abc1234-ours.json.gz").write_bytes(b"")
    assert rawfile.auto_path(tmp_path, "2026-01-02", "abc1234", "ours").name == (
        "2026-01-02-abc1234-ours-2.json"
    )


def test_git_state_commit_and_dirty_files(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    assert not git_state(tmp_path).known  # not a work tree

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("commit", "-q", "-m", "a")
    clean = git_state(tmp_path)
    assert clean.commit == git("rev-parse", "--short", "HEAD") and not clean.dirty
    assert clean.label() == f"commit {clean.commit}"

    (tmp_path / "a.txt").write_text("changed")
    (tmp_path / "new.txt").write_text("new")
    dirty = git_state(tmp_path)
    assert dirty.dirty_files == 2 and sorted(dirty.dirty_paths) == ["a.txt", "new.txt"]
    assert dirty.label() == (
        f"commit {clean.commit} + 2 uncommitted files, DIRTY (not reproducible)"
    )


def test_section_heading_names_commit_dirty_state_and_raw_links() -> None:
    m = Measurement(OURS, "default", "scatter3", 3, 80, 0.2, {})
    fill(m, 1.0, 0, False, 0.3, 80.0, {"calls": {}}, [dict(zip(JOB_FIELDS, r)) for r in _rows(3)])
    dirty = GitState("abc1234", 12, [f"f{i}.py" for i in range(12)])
    text = report.markdown_section(
        [m], {}, ["a note"], dirty, [("r-ours.json", "results/r-ours.json")]
    )
    first = text.splitlines()[0]
    assert first.startswith("## Run ") and first.endswith(
        ", commit abc1234 + 12 uncommitted files, DIRTY (not reproducible)"
    )
    assert "`f9.py` and 2 more had uncommitted changes" in text
    assert "[r-ours.json](results/r-ours.json)" in text and "- a note" in text
    clean = report.markdown_section([m], {}, [], GitState("abc1234"), [])
    assert clean.splitlines()[0].endswith(", commit abc1234") and "DIRTY" not in clean


# --- bench/run.py recording, with the measuring stubbed out (no emulator) ---


def test_recorded_run_writes_raw_file_and_links_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_measure(side: Any, prof: Any, w: Any, opts: Any) -> Measurement:
        m = Measurement(side.name, prof.name, w.name, w.tasks, w.concurrency, opts.dwell, {})
        jobs = [dict(zip(JOB_FIELDS, r)) for r in _rows(w.tasks)]
        calls = {f"batch.{op}": n for op, n in _calls(w.tasks, 8).items()}
        fill(m, w.tasks / 25.0, 0, False, 0.02 * w.tasks, 95.0, {"calls": calls}, jobs)
        m.started_at = T0 / 1000.0
        return m

    monkeypatch.setattr(bench_run, "measure", fake_measure)
    monkeypatch.setattr(bench_run, "git_state", lambda repo: GitState("abc1234"))
    theirs = _theirs_file(tmp_path / "old-theirs.json")
    results = tmp_path / "RESULTS.md"
    args = ["--ours-only", "--sizes", "200", "--profiles", "default", "--no-realistic"]
    args += ["--no-sleepers", "--no-floor", "--no-submission", "--results", str(results)]
    assert bench_run.main([*args, "--theirs-from", str(theirs)]) == 0

    (raw,) = (tmp_path / "results").iterdir()  # results/ next to the results file
    assert raw.name.endswith("-abc1234-ours.json") and len(raw.name) == len("2026-01-01") + 18
    doc = json.loads(raw.read_text())
    assert doc["git"] == {"commit": "abc1234", "dirty": False, "dirty_files": 0, "dirty_paths": []}
    assert doc["complete"] and [m["side"] for m in doc["measurements"]] == [OURS]
    assert len(doc["measurements"][0]["jobs"]["rows"]) == 200

    section = results.read_text().split("## Run ", 1)[1]
    assert section.splitlines()[0].endswith(", commit abc1234")
    assert f"[{raw.name}](results/{raw.name})" in section
    assert "[old-theirs.json (0.12.2, reused)](old-theirs.json)" in section
    assert "old-theirs.json (harness commit not recorded; machine not recorded)" in section

    # a second run the same day does not overwrite the first one's raw file
    assert bench_run.main(args) == 0
    second = raw.name.replace("-ours.json", "-ours-2.json")
    assert {p.name for p in (tmp_path / "results").iterdir()} == {raw.name, second}

    capsys.readouterr()
    assert bench_run.main(["--summarize", str(raw), str(theirs)]) == 0
    rows = _table(capsys.readouterr().out)
    assert rows["200-task scatter ≥ 15x 0.12.2 default tasks/s"] == [
        "25.0 vs 1.00 tasks/s = 25x",
        "met",
    ]


def test_reused_file_on_another_machine_is_flagged() -> None:
    here = {"cores": "2", "cpu": "CPU A"}
    old = rawfile.RawRun([], git=GitState("abc1234"), machine={"cores": "2", "cpu": "CPU B"})
    assert bench_run._reused_provenance(old, here) == (
        "commit abc1234; measured on ANOTHER machine (2 cores, CPU B): ratios mix machines"
    )
    old.machine = dict(here)
    assert bench_run._reused_provenance(old, here).endswith("same machine type (2 cores, CPU A)")


# --- typing of the harness ---


def test_bench_harness_is_typed() -> None:
    """mypy over the benchmark harness (tests/test_lint.py's mypy covers the package only)."""
    exe = Path(sys.executable).parent / "mypy"
    if not exe.exists():
        pytest.skip("mypy not installed (it comes with the [test] extra)")
    files = ["bench/run.py", "bench/throttle_sim.py", "bench/mwbench"]
    proc = subprocess.run(
        [str(exe), "--disallow-untyped-defs", "--check-untyped-defs", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
