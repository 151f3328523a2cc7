"""Retry with more memory against the local AWS's enforced memory limits: a job whose processes
use more than its MEMORY request is killed as ECS's OOM killer does (container reason
``OutOfMemoryError: Container killed due to memory usage``, exit 137), and the next attempt asks
for twice the memory (issue "Retry with more memory ...", Done when). ``test_memory_retry.py``
pins the same backend behaviour with the ``oom`` fault."""

from __future__ import annotations

from typing import Any

from conftest import memory_by_attempt, run_miniwdl

FIRST = 1024 - 33  # runtime.memory "1 GiB" less [aws] memory_delta


def test_task_over_its_memory_succeeds_on_second_attempt_with_twice_the_memory(
    emulator: Any, aws: Any
) -> None:
    res = run_miniwdl(emulator, aws, "allocate.wdl", [], "enforced_ok")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["allocate.said"] == ["allocated 1200 MiB", "attempt 2"]
    assert memory_by_attempt(aws.task_queue) == [FIRST, 2 * FIRST]
    (line,) = [ln for ln in res.stderr.splitlines() if "retrying with more memory" in ln]
    assert " NOTICE " in line and f"nextMemoryMiB: {2 * FIRST}" in line


def test_capped_retry_still_out_of_memory_says_so_in_error_json(emulator: Any, aws: Any) -> None:
    res = run_miniwdl(
        emulator,
        aws,
        "allocate.wdl",
        [],
        "enforced_capped",
        extra_env={"MINIWDL__AWS__MEMORY_RETRY_MAX": "1000"},
    )
    assert res.returncode != 0
    assert memory_by_attempt(aws.task_queue) == [FIRST, 1000]
    cause = res.error["cause"]
    assert "ran out of memory (1000 MiB requested)" in cause["message"]
    assert [(a["memoryMiB"], a.get("nextMemoryMiB")) for a in cause["attempts"]] == [
        (FIRST, 1000),
        (1000, None),
    ]
