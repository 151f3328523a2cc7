"""What a finished run says (:mod:`miniwdl_aws.submit.outcome`): miniwdl's error as one short
paragraph, found in the run directory, S3 or the workflow log, first found wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from miniwdl_aws.submit import outcome

# the shape of miniwdl's error.json for a failed task on the backend (nested, with the Batch
# details the backend adds: 1,200 characters and more)
ATTEMPT = {"attempt": 1, "jobId": "j-1", "status": "FAILED", "exitCode": 3, "logStreamName": "s"}
ERROR = {
    "error": "RunFailed",
    "run": "failing",
    "dir": "/mnt/efs/miniwdl_run/mw1/20261129_failing",
    "cause": {
        "error": "CommandFailed",
        "run": "call-boom",
        "exit_status": 3,
        "statusReason": "Essential container in task exited",
        "attempts": [ATTEMPT] * 8,
        "batchAttempts": [ATTEMPT] * 8,
        "stderr_file": "/nonexistent/stderr.txt",
    },
}


def test_nested_error_becomes_one_short_paragraph(tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.txt"
    stderr.write_text("starting\nsamtools: cannot open input.bam\n\n")
    doc: Dict[str, Any] = json.loads(json.dumps(ERROR))
    doc["cause"]["stderr_file"] = str(stderr)
    assert len(json.dumps(doc)) > 1200
    lines = outcome.error_paragraph(outcome.FoundError(doc, "EFS"))
    text = " ".join(lines)
    assert text == (
        "the run failed: call-boom failed: CommandFailed, exit status 3; last stderr line:"
        " 'samtools: cannot open input.bam' (from error.json, EFS)"
    )
    assert len(lines) == 2 and all(len(ln) <= outcome.WIDTH for ln in lines), lines


def test_batch_reason_and_long_messages_are_kept_short() -> None:
    doc = {
        "error": "RunFailed",
        "cause": {
            "error": "Interrupted",
            "run": "call-x",
            "message": "lost " * 200,
            "statusReason": "Host EC2 (instance i-1) terminated.",
        },
    }
    text = " ".join(outcome.error_paragraph(outcome.FoundError(doc, "S3")))
    assert "call-x failed: Interrupted: lost lost" in text
    assert "Batch: Host EC2 (instance i-1) terminated." in text
    assert len(text) < 400


def _log(doc: Dict[str, Any]) -> List[str]:
    """The workflow log's end as the wrapper writes it: miniwdl's ERROR lines, then its
    --error-json document (indented), then the wrapper's notes."""
    return [
        "2026-11-29 04:28:26.776 miniwdl-run ERROR task command failed with exit status 3 ::"
        ' error: "CommandFailed", exit_status: 3',
        *json.dumps(doc, indent=2).splitlines(),
        "[miniwdl-aws-workflow] miniwdl exit code 3; run directory /mnt/efs/r/20261129_failing",
    ]


def test_error_from_the_log() -> None:
    lines = _log(ERROR)
    assert outcome.error_from_log(lines) == ERROR
    assert outcome.run_dir_from_log(lines) == "/mnt/efs/r/20261129_failing"
    # no JSON block: the wrapper's setup error, else miniwdl's last ERROR line
    setup = ["[miniwdl-aws-workflow] error before the run started: no WDL: pass --wdl"]
    assert outcome.error_from_log(lines[:1] + setup) == {
        "error": "SetupFailed",
        "message": "no WDL: pass --wdl",
    }
    assert outcome.error_from_log(lines[:1]) == {
        "error": "Error",
        "message": "task command failed with exit status 3",
    }
    assert outcome.error_from_log(["just", "lines"]) is None


def test_first_place_that_has_the_error_wins(tmp_path: Path) -> None:
    home = tmp_path / "mw1"
    (home / "20261129_failing").mkdir(parents=True)
    efs_doc = {"error": "RunFailed", "cause": {"error": "CommandFailed", "run": "call-efs"}}
    s3_doc = {"error": "RunFailed", "cause": {"error": "CommandFailed", "run": "call-s3"}}
    log_doc = {"error": "RunFailed", "cause": {"error": "CommandFailed", "run": "call-log"}}
    asked: List[str] = []

    def download(uri: str, dest: str) -> None:
        asked.append(uri)
        Path(dest).write_text(json.dumps(s3_doc))

    def no_download(uri: str, dest: str) -> None:
        raise OSError("404")

    def log() -> List[str]:
        return _log(log_doc)

    folder = "s3://b/runs/mw1/"
    # nothing in the run directory yet: S3, then the log
    assert outcome.find_error(str(home), folder, download, log) == outcome.FoundError(s3_doc, "S3")
    assert asked == ["s3://b/runs/mw1/error.json"]
    found = outcome.find_error(str(home), folder, no_download, log)
    assert found == outcome.FoundError(log_doc, "log")
    assert outcome.find_error(None, None, None, lambda: []) is None
    # the run directory first
    (home / "20261129_failing" / "error.json").write_text(json.dumps(efs_doc))
    found = outcome.find_error(str(home), folder, download, log)
    assert found == outcome.FoundError(efs_doc, "EFS")


def test_where_lines() -> None:
    lines = outcome.where_lines("mw1", "/aws/batch/job", "wf/default/abc", "/mnt/efs/r/x", False)
    assert lines[0] == "workflow log: `miniwdl-aws logs mw1`, or CloudWatch /aws/batch/job"
    assert lines[-1] == "run directory: /mnt/efs/r/x (error.json, workflow.log, call-*/)"
    ok = outcome.where_lines("mw1", "g", None, "/d/", True, deleted=True)
    assert ok == ["run directory: /d/ (deleted after the upload, --delete-after)"]


def test_run_dir_on_disk_is_the_real_directory_not_lasts_symlink(tmp_path: Path) -> None:
    """miniwdl's ``_LAST`` symlink names the newest run directory too: the submitter must print
    the directory itself."""
    real = tmp_path / "20261129_053100_failing"
    real.mkdir()
    (real / "workflow.log").write_text("x\n")
    for name in ("_LAST", "zz_LAST", "A_LAST"):  # whatever order the directory lists them in
        (tmp_path / name).symlink_to(real.name)
    assert outcome.run_dir_on_disk(str(tmp_path)) == str(real)
