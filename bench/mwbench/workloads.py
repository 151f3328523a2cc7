"""The benchmark workloads: which WDL, which inputs, how many tasks, which emulator faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

WDL_DIR = Path(__file__).resolve().parent.parent / "workloads"
SCATTER_WDL = WDL_DIR / "scatter.wdl"
REALISTIC_WDL = WDL_DIR / "realistic.wdl"
REALISTIC_SHARDS = 8
# make_input + split_shards + shards x (count_shard + checksum_shard) + merge_counts + report
REALISTIC_TASKS = 4 + 2 * REALISTIC_SHARDS


@dataclass(frozen=True)
class Workload:
    """One workload.

    :param name: short label (``scatter100``, ``realistic``, ``submit10000``)
    :param wdl: the WDL file
    :param inputs: ``key=value`` arguments for ``miniwdl run``
    :param tasks: task attempts the workload should produce when nothing fails
    :param concurrency: ``[scheduler] task_concurrency`` for the runner
    :param faults: emulator fault spec set before the run (``{}``: none)
    :param sleep_s: seconds each task's command sleeps (scatter workloads)
    """

    name: str
    wdl: Path
    inputs: List[str]
    tasks: int
    concurrency: int
    faults: Dict[str, Any] = field(default_factory=dict)
    sleep_s: int = 0

    @property
    def tps_cap(self) -> float:
        """The SubmitJob TPS cap this workload runs under (0: none)."""
        tps = self.faults.get("tps", {})
        cap = tps.get("batch.SubmitJob", tps.get("batch.*", 0))
        return float(cap or 0)


def scatter(n: int, concurrency: int) -> Workload:
    """``n`` no-op tasks in one scatter."""
    return Workload(f"scatter{n}", SCATTER_WDL, [f"n={n}"], n, concurrency)


def sleepers(n: int, seconds: int, concurrency: int) -> Workload:
    """``n`` tasks that each sleep ``seconds``, so up to ``concurrency`` jobs are active at once
    (how status polling scales with many active jobs)."""
    return Workload(
        f"sleep{n}x{seconds}s",
        SCATTER_WDL,
        [f"n={n}", f"sleep_s={seconds}"],
        n,
        concurrency,
        sleep_s=seconds,
    )


def realistic(concurrency: int) -> Workload:
    """The small realistic pipeline (five task types, files passed between them)."""
    return Workload(
        "realistic",
        REALISTIC_WDL,
        ["lines=2000", f"shards={REALISTIC_SHARDS}"],
        REALISTIC_TASKS,
        concurrency,
    )


def submission(n: int, tps: int, concurrency: int) -> Workload:
    """``n`` no-op tasks with every Batch operation capped at ``tps`` requests/s, as AWS caps
    each account's Batch API calls (SubmitJob included) at 50 TPS."""
    return Workload(
        f"submit{n}",
        SCATTER_WDL,
        [f"n={n}"],
        n,
        concurrency,
        faults={"tps": {"batch.*": tps}},
    )
