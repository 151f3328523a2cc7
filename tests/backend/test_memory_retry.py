"""Retry with more memory after an out-of-memory kill, end to end: the local AWS's ``oom``
fault kills an attempt as ECS's OOM killer would, and the next attempt asks for twice the
memory (``[aws] memory_retry_multiplier``, per task ``runtime.aws.memory_retry_multiplier``)."""

from __future__ import annotations

from typing import Any, Dict

from conftest import memory_by_attempt, run_miniwdl


def _oom(job_name: str) -> Dict[str, Any]:
    return {"oom": {"job_name": job_name, "fraction": 1.0, "attempts": [1], "after": 0.3}}


def test_oom_retried_with_twice_the_memory(emulator: Any, aws: Any) -> None:
    emulator.set_faults(_oom("-eat$"))  # the first attempt only (retries end in -tryN)
    res = run_miniwdl(emulator, aws, "memory.wdl", [], "mem_ok")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.outputs["eat.said"] == "attempt 2"
    first = 2048 - 33  # runtime.memory less [aws] memory_delta
    assert memory_by_attempt(aws.task_queue) == [first, 2 * first]
    (line,) = [ln for ln in res.stderr.splitlines() if "retrying with more memory" in ln]
    assert " NOTICE " in line
    assert f"memoryMiB: {first}" in line and f"nextMemoryMiB: {2 * first}" in line


def test_oom_on_every_attempt_recorded_in_error_json(emulator: Any, aws: Any) -> None:
    emulator.set_faults(_oom("-eat(-try[0-9]+)?$"))
    res = run_miniwdl(emulator, aws, "memory.wdl", ["retries=2", "multiplier=1.5"], "mem_fail")
    assert res.returncode != 0
    first = 2048 - 33
    sizes = [first, 3023, 4535]  # × 1.5, rounded up
    assert memory_by_attempt(aws.task_queue) == sizes
    cause = res.error["cause"]
    assert "ran out of memory (4535 MiB requested)" in cause["message"]
    attempts = cause["attempts"]
    assert [a["memoryMiB"] for a in attempts] == sizes
    assert [a.get("nextMemoryMiB") for a in attempts] == [3023, 4535, None]
    assert {a["outcome"] for a in attempts} == {"oom"}


def test_ordinary_failure_and_multiplier_one_keep_the_memory(emulator: Any, aws: Any) -> None:
    emulator.set_faults(_oom("-eat$"))
    res = run_miniwdl(emulator, aws, "memory.wdl", ["multiplier=1"], "mem_off")
    assert res.returncode == 0, res.stderr[-3000:]
    assert memory_by_attempt(aws.task_queue) == [2015, 2015]
    assert "retrying with the same memory" in res.stderr
    assert "retrying with more memory" not in res.stderr
