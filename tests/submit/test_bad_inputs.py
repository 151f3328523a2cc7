"""Every bad input of the submitter (the cases of ``tests/support/bad_inputs.py`` with a
``message``) is refused before anything is submitted: one line on stderr, exit 2, no traceback,
and the local AWS saw no SubmitJob, no RegisterJobDefinition and no S3 write."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from miniwdl_aws.submit.cli import EXIT_USAGE, main
from tests.support import bad_inputs
from tests.support.submitter import WORKFLOW_IMAGE

from .helpers import FAST, client

CASES = {c.name: c for c in bad_inputs.by_tool("submit") if c.message}


@pytest.fixture(scope="module")
def stack(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One stack for the whole table (nothing here changes it: no case submits anything)."""
    emulator.reset()
    st = emulator.bootstrap(efs_dir=str(tmp_path_factory.mktemp("efs")))
    with pytest.MonkeyPatch.context() as mp:
        # the local AWS's workflow queue has no WorkflowImage tag (and ignores images)
        image = {"MINIWDL__AWS__WORKFLOW_IMAGE": WORKFLOW_IMAGE}
        for key, value in {**emulator.env(), **st.miniwdl_env(), **FAST, **image}.items():
            mp.setenv(key, value)
        bad_inputs.create_bad_queues(client("batch"), st.task_compute_environment)
        yield st
    emulator.assert_no_active_jobs(timeout=3.0)


def test_the_table_has_enough_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_before_submitting(
    case: str,
    stack: Any,
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    bad = CASES[case]
    args = bad_inputs.prepare(bad, str(tmp_path), stack.efs_dir, stack.bucket)
    for key, value in bad.env:
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    emulator.reset_stats()

    code = main(args)

    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == EXIT_USAGE, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert bad.message in lines[0], lines[0]
    calls = emulator.stats()["calls"]
    for op in ("batch.SubmitJob", "batch.RegisterJobDefinition", "s3.PutObject"):
        assert calls.get(op, 0) == 0, (op, calls)
