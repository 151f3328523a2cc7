"""The bench command's smoke run (``python bench/run.py --quick --ours-only``), so it cannot rot:
a real emulator process, a real ``miniwdl run`` of a 3-task scatter through our backend, every
instrument read. It never needs the 0.12.2 venv. Benchmarks proper are not run in CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_quick_ours_only(tmp_path: Path) -> None:
    pytest.importorskip("moto", reason="the emulator needs the 'local' extra")
    results = tmp_path / "RESULTS.md"
    raw = tmp_path / "raw.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--quick",
            "--ours-only",
            "--results",
            str(results),
            "--json",
            str(raw),
            "--raw-dir",
            str(tmp_path / "raw"),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    doc = json.loads(raw.read_text())
    assert doc["format"] == "mwbench-raw/2" and doc["complete"] and doc["git"]["commit"]
    (m,) = doc["measurements"]
    assert (m["side"], m["profile"], m["workload"]) == ("ours", "default", "scatter3")
    # every task became exactly one succeeded Batch job, and the runner noticed each of them
    assert m["attempts"] == m["tasks"] == m["succeeded"] == 3 and m["failed"] == 0
    assert m["calls"]["SubmitJob"] == 3
    assert m["notice_n"] == 3 and m["notice_p50_s"] is not None
    assert m["wall_s"] > 0 and m["runner_cpu_s"] > 0 and m["peak_rss_mib"] > 0
    assert m["calls"].get("DescribeJobs", 0) >= 1
    # the per-job records a recorded run keeps, and the file a recorded run links to
    jobs = [dict(zip(m["jobs"]["fields"], row)) for row in m["jobs"]["rows"]]
    assert len(jobs) == 3 and all(j["status"] == "SUCCEEDED" and j["attempts"] == 1 for j in jobs)
    assert all(j["createdAt"] <= j["startedAt"] <= j["stoppedAt"] <= j["noticedAt"] for j in jobs)
    (auto,) = (tmp_path / "raw").iterdir()
    assert auto.name.endswith(f"-{doc['git']['commit']}-ours.json")
    assert json.loads(auto.read_text())["measurements"] == doc["measurements"]

    assert "ours/default" in proc.stdout and "targets (issue 8)" in proc.stdout
    text = results.read_text()
    assert "## Run " in text and "### scatter3" in text and "| tasks/s |" in text
    assert f", commit {doc['git']['commit']}" in text.split("## Run ", 1)[1].splitlines()[0]
    assert f"]({auto.parent.name}/{auto.name})" in text  # relative to the results file
