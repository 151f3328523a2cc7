"""End-to-end: scatters as Batch array jobs ([aws] array_jobs), real ``miniwdl run`` on the
local AWS."""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Dict

from conftest import run_miniwdl

ARRAYS_ENV = {
    "MINIWDL__AWS__ARRAY_JOBS": "true",
    "MINIWDL__AWS__ARRAY_JOB_MIN_SIZE": "2",
    # long enough that the whole scatter is ready within it on a loaded machine; the count of
    # arrays is not asserted exactly for that reason
    "MINIWDL__AWS__ARRAY_JOB_WINDOW": "2",
}


def _batch_calls(emulator: Any) -> Dict[str, int]:
    return {k: v for k, v in emulator.stats()["calls"].items() if k.startswith("batch.")}


def test_scatter_as_array_jobs(emulator: Any, aws: Any) -> None:
    emulator.reset_stats()
    n = 40
    res = run_miniwdl(emulator, aws, "scatter.wdl", [f"n={n}"], extra_env=ARRAYS_ENV)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["scatter_n.squares"] == [i * i for i in range(n)]
    calls = _batch_calls(emulator)
    print(f"arrays scatter{n} calls={calls}")
    # each task ran as its own child <parent>:<index>, found in its own awsBatchJob.json
    children = []
    for path in glob.glob(os.path.join(res.run_dir, "call-square-*", "awsBatchJob.json")):
        with open(path) as infile:
            desc = json.load(infile)
        assert desc["status"] == "SUCCEEDED"
        parent, _, index = desc["jobId"].rpartition(":")
        assert parent and index.isdigit(), desc["jobId"]
        assert desc["arrayProperties"]["index"] == int(index)
        children.append(desc["jobId"])
    assert len(set(children)) == n
    parents = {c.rpartition(":")[0] for c in children}
    assert calls["batch.SubmitJob"] == len(parents) <= n // 4, calls
    total = sum(calls.values())
    assert total / n <= 0.5, calls
