"""A task's stdout goes to its stdout.txt, and to the job's CloudWatch log only with ``[aws]
task_stdout_to_log`` (off by default, as in miniwdl-aws 0.12.2); stderr goes to stderr.txt and
the log always. Tasks that write bulk data to ``stdout()`` would otherwise be ingested by
CloudWatch at a cost (issue "Ready for a real AWS account", item 10)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, List

import boto3
import pytest

from miniwdl_aws.batch import specs
from tests.support.logs import stream_messages
from tests.support.miniwdl import run_on_stack

LINES = 10_000
WDL = f"""version 1.0
task chatty {{
    command <<<
        for i in $(seq 1 {LINES}); do echo "bulk data line $i"; done
        echo "progress: started" >&2
        echo "progress: halfway" >&2
        echo "progress: done" >&2
    >>>
    output {{
        File data = stdout()
    }}
}}
"""
STDOUT = [f"bulk data line {i}" for i in range(1, LINES + 1)]
STDERR = ["progress: started", "progress: halfway", "progress: done"]


@pytest.mark.parametrize("to_log", [False, True])
def test_task_script_sends_stdout_to_the_container_only_when_asked(
    tmp_path: Path, to_log: bool
) -> None:
    (tmp_path / "work").mkdir()
    command = tmp_path / "command"
    command.write_text(
        f'for i in $(seq 1 {LINES}); do echo "bulk data line $i"; done\n'
        'echo "progress: started" >&2\nexit 7\n'
    )
    cmd = specs.task_script(
        str(tmp_path / "work"),
        str(command),
        str(tmp_path / "stdout.txt"),
        str(tmp_path / "stderr.txt"),
        stdout_to_log=to_log,
    )
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 7  # the command's exit code, whichever way stdout goes
    assert p.stderr == "progress: started\n"
    assert p.stdout.splitlines() == (STDOUT if to_log else [])
    assert (tmp_path / "stdout.txt").read_text().splitlines() == STDOUT
    assert (tmp_path / "stderr.txt").read_text() == "progress: started\n"


def _task_log(queue: str) -> List[str]:
    """The CloudWatch messages of the one task job in ``queue``."""
    batch = boto3.client("batch")
    jobs = batch.list_jobs(jobQueue=queue, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert len(jobs) == 1, jobs
    desc = batch.describe_jobs(jobs=[jobs[0]["jobId"]])["jobs"][0]
    return stream_messages(desc["container"]["logStreamName"])


@pytest.mark.parametrize("to_log", [None, "true"], ids=["default", "task_stdout_to_log"])
def test_task_stdout_reaches_cloudwatch_only_with_the_option(
    emulator: Any, aws: Any, tmp_path: Path, to_log: Any
) -> None:
    wdl = tmp_path / "chatty.wdl"
    wdl.write_text(WDL)
    env = {"MINIWDL__AWS__TASK_STDOUT_TO_LOG": to_log} if to_log else {}
    res = run_on_stack(emulator, aws, str(wdl), [], "chatty", env)
    assert res.returncode == 0, res.stderr[-3000:]
    with open(os.path.join(res.run_dir, "stdout.txt")) as f:
        assert f.read().splitlines() == STDOUT  # complete either way
    with open(os.path.join(res.run_dir, "stderr.txt")) as f:
        assert f.read().splitlines() == STDERR
    log = _task_log(aws.task_queue)
    assert [m for m in log if m.startswith("progress:")] == STDERR
    in_log = [m for m in log if m.startswith("bulk data line")]
    assert in_log == (STDOUT if to_log else [])
