"""In-process runs through miniwdl's API, resetting the backend between configurations."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator

import pytest
import WDL
import WDL.runtime
from conftest import FAST_ENV, jobs_of_run

from miniwdl_aws import backend

SOURCE = """
version 1.0
task hello {
    input {
        String who
    }
    command <<<
        echo "Hello, ~{who}!"
    >>>
    output {
        String msg = read_string(stdout())
    }
}
"""


def _reset_process_state() -> None:
    """Forget the backend's process-wide services and miniwdl's cache of initialized backends
    (miniwdl has no public call for the latter: this reaches into its module state, which only
    a test running two configurations in one process needs)."""
    backend.forget_services()
    for cls in (backend.BatchJob, backend.BatchJobNoEFS):
        with contextlib.suppress(AttributeError):
            delattr(cls, "_global_init")
    WDL.runtime.task_container._backends.clear()


@pytest.fixture
def in_process_env(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for k in list(os.environ):
        if k.startswith("MINIWDL"):
            monkeypatch.delenv(k)
    for k, v in {**aws.miniwdl_env(), **FAST_ENV}.items():
        monkeypatch.setenv(k, v)
    _reset_process_state()
    yield aws
    _reset_process_state()


def _run(efs_dir: str, name: str, who: str) -> str:
    doc = WDL.parse_document(SOURCE)
    doc.typecheck()
    cfg = WDL.runtime.config.Loader(logging.getLogger("test.in_process"), [])
    inputs = WDL.values_from_json({"who": who}, doc.tasks[0].available_inputs)
    _, outputs = WDL.runtime.run(cfg, doc.tasks[0], inputs, run_dir=os.path.join(efs_dir, name))
    return str(outputs["msg"].value)


def test_two_configurations_in_one_process(
    in_process_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = in_process_env
    monkeypatch.setenv("MINIWDL__AWS__JOB_TIMEOUT", "100")
    assert _run(aws.efs_dir, "a", "Alyssa") == "Hello, Alyssa!"
    _reset_process_state()
    monkeypatch.setenv("MINIWDL__AWS__JOB_TIMEOUT", "200")
    assert _run(aws.efs_dir, "b", "Ben") == "Hello, Ben!"
    timeouts = sorted(
        j["timeout"]["attemptDurationSeconds"] for j in jobs_of_run(aws.task_queue, "mw")
    )
    assert timeouts == [100, 200]
