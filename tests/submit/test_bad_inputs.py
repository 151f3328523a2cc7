"""Every bad input is refused before anything is submitted: one line on stderr, exit 2, no
traceback, and the local AWS saw no SubmitJob, no RegisterJobDefinition and no S3 write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

from miniwdl_aws.submit.cli import EXIT_USAGE, main

from .helpers import EXAMPLES, FAST, client

HELLO = str(EXAMPLES / "hello_scatter.wdl")

# name → (extra argv, env changes, expected text in the message); "{tmp}" = a scratch dir,
# "{efs}" = the stack's EFS stand-in. WDL/inputs default to the demo's when argv has none.
CASES: Dict[str, Any] = {
    "bad fsap format": (["--fsap", "fsap-XYZ"], {}, "not an EFS access point id"),
    "fsap not found": (["--fsap", "fsap-0123456789abcdef"], {}, "not found"),
    "unknown workflow queue": (["--workflow-queue", "nosuch-q"], {}, "not found"),
    "disabled workflow queue": (["--workflow-queue", "disabled-q"], {}, "DISABLED"),
    "unknown task queue": (["--task-queue", "nosuch-q"], {}, "not found"),
    "unknown fallback queue": (["--task-queue-fallback", "nosuch-q"], {}, "not found"),
    "no workflow queue": ([], {"MINIWDL__AWS__WORKFLOW_QUEUE": None}, "--workflow-queue"),
    "malformed s3upload": (["--s3upload", "s3:/bucket/x"], {}, "malformed S3 URI"),
    "s3upload not s3": (["--s3upload", "https://bucket/x"], {}, "malformed S3 URI"),
    "missing bucket": (["--s3upload", "s3://no-such-bucket-zz/x/"], {}, "does not exist"),
    "delete-after without s3upload": (["--delete-after", "success"], {}, "requires --s3upload"),
    "delete-after bad value": (
        ["--delete-after", "sometimes", "--s3upload", "s3://{bucket}/x/"],
        {},
        "must be one of",
    ),
    "dir outside the mount": (["--dir", "{tmp}/elsewhere"], {}, "must be under the mount"),
    "dir escaping with ..": (["--dir", "{efs}/../x"], {}, "must be under the mount"),
    "missing WDL": (["{tmp}/missing.wdl"], {}, "not found"),
    "WDL is a directory": (["{tmp}"], {}, "not found"),
    "WDL syntax error": (["{tmp}/syntax.wdl"], {}, "invalid WDL"),
    "WDL type error": (["{tmp}/types.wdl"], {}, "invalid WDL"),
    "WDL import missing": (["{tmp}/imports.wdl"], {}, "invalid WDL"),
    "WDL not UTF-8": (["{tmp}/latin1.wdl"], {}, "not UTF-8"),
    "required input missing": (["{tmp}/needs_input.wdl"], {}, "missing required inputs"),
    "unknown input": ([HELLO, "nosuch=1"], {}, "No such input"),
    "input of the wrong type": (["{tmp}/needs_input.wdl", "n=abc"], {}, "inputs:"),
    "inputs not JSON": ([HELLO, "-i", "{tmp}/bad.json"], {}, "not valid JSON"),
    "inputs missing": ([HELLO, "-i", "{tmp}/none.json"], {}, "cannot read inputs"),
    "oversized inline payload": (["{tmp}/big.wdl"], {}, "too large"),
    "bad Fargate size": (["--cpu", "1", "--memory-GiB", "30"], {}, "Fargate cannot run"),
    "timeout too short": (["--timeout", "30"], {}, "at least 60"),
    "bad tag": (["--tag", "novalue"], {}, "KEY=VALUE"),
    "bad role ARN": (["--workflow-role", "admin"], {}, "not an IAM role ARN"),
    "bad miniwdl run args": ([HELLO, "--no-such-flag"], {}, "miniwdl run arguments"),
    "miniwdl -d instead of --dir": ([HELLO, "-d", "x"], {}, "--dir"),
    "bad config value": ([], {"MINIWDL__AWS__S3_UPLOAD_FOLDER": "bucket/x"}, "s3_upload_folder"),
}


def _scratch(tmp: Path) -> None:
    (tmp / "syntax.wdl").write_text("version 1.0\nworkflow w {\n")
    (tmp / "types.wdl").write_text("version 1.0\nworkflow w {\n  Int x = y + 1\n}\n")
    (tmp / "imports.wdl").write_text('version 1.0\nimport "nope.wdl"\nworkflow w {}\n')
    (tmp / "bad.json").write_text("{not json")
    (tmp / "latin1.wdl").write_bytes("version 1.0\n# caf\xe9\nworkflow w {}\n".encode("latin-1"))
    (tmp / "needs_input.wdl").write_text(
        "version 1.0\nworkflow needs { input { Int n } output { Int m = n } }\n"
    )
    filler = "\n".join("# " + os.urandom(48).hex() for _ in range(200))
    (tmp / "big.wdl").write_text(f"version 1.0\n{filler}\nworkflow big {{}}\n")


@pytest.fixture(scope="module")
def stack(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One stack for the whole table (nothing here changes it: no case submits anything)."""
    emulator.reset()
    st = emulator.bootstrap(efs_dir=str(tmp_path_factory.mktemp("efs")))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**emulator.env(), **st.miniwdl_env(), **FAST}.items():
            mp.setenv(key, value)
        client("batch").create_job_queue(
            jobQueueName="disabled-q",
            state="DISABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": st.task_compute_environment}
            ],
        )
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
    argv, env, expected = CASES[case]
    _scratch(tmp_path)
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    fill: Callable[[str], str] = lambda a: a.format(  # noqa: E731
        tmp=tmp_path, efs=stack.efs_dir, bucket=stack.bucket
    )
    args: List[str] = [fill(a) for a in argv]
    if not any(a.endswith(".wdl") or a == str(tmp_path) for a in args):
        args = [HELLO, "-i", str(EXAMPLES / "hello_scatter.inputs.json")] + args
    emulator.reset_stats()

    code = main(args)

    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == EXIT_USAGE, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], lines[0]
    calls = emulator.stats()["calls"]
    for op in ("batch.SubmitJob", "batch.RegisterJobDefinition", "s3.PutObject"):
        assert calls.get(op, 0) == 0, (op, calls)
