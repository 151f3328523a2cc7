"""The boto3 floor script (bench/mwbench/floor.py) against the test emulator: every job runs,
is noticed, and is logged in the task.log format the harness measures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FLOOR = Path(__file__).resolve().parents[2] / "bench" / "mwbench" / "floor.py"
sys.path.insert(0, str(FLOOR.parent.parent))

from mwbench import metrics  # noqa: E402


@pytest.mark.timeout(120)
def test_floor_runs_every_job(aws: object, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(aws.miniwdl_env())  # type: ignore[attr-defined]
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(FLOOR), "--n", "5", "--concurrency", "2", "--run-dir", str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    noticed, started = metrics.task_log_times(run_dir)
    assert len(noticed) == len(started) == 5
    assert all(noticed[j] >= started[j] for j in noticed)
