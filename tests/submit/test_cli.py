"""The submitter's workflow-job environment and wrapper command (no AWS needed)."""

from __future__ import annotations

import io
import json
from typing import Any

from miniwdl_aws import naming
from miniwdl_aws.submit import args as cli_args
from miniwdl_aws.submit.cli import Submitter


def _args(argv: list) -> Any:
    a = cli_args.parse(argv, lambda name: "", "/efs", {})
    a.task_queue, a.task_queue_fallback = "tq", "tqf"
    a.fsap = "fsap-0123456789abcdef"
    return a


ENVIRON = {"MINIWDL__SCHEDULER__CALL_CONCURRENCY": "8", "AWS_SECRET_ACCESS_KEY": "x" * 20}


def test_job_env_passes_miniwdl_settings_unless_no_env() -> None:
    sub = Submitter(io.StringIO(), io.StringIO(), ENVIRON)
    env = sub._job_env(_args(["wf.wdl"]), "fs-0123456789abcdef", "mwX-1", {"team": "g"})
    assert env["MINIWDL__SCHEDULER__CALL_CONCURRENCY"] == "8"
    assert env[naming.ENV_RUN_ID] == "mwX-1"
    assert env["MINIWDL__FILE_IO__ROOT"] == "/efs"
    assert env["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] == "aws_batch_job"
    assert (env["MINIWDL__AWS__FSAP"], env["MINIWDL__AWS__FS"]) == (
        "fsap-0123456789abcdef",
        "fs-0123456789abcdef",
    )
    assert json.loads(env["MINIWDL__AWS__JOB_TAGS"]) == {"team": "g"}
    assert not any(k.startswith("AWS_") for k in env)
    env = sub._job_env(_args(["wf.wdl", "--no-env", "--no-efs"]), None, "mwX-1", {})
    assert "MINIWDL__SCHEDULER__CALL_CONCURRENCY" not in env
    assert env["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] == "aws_batch_job_no_efs"
    assert "MINIWDL__AWS__FSAP" not in env and "MINIWDL__AWS__JOB_TAGS" not in env


def test_wrapper_command_carries_upload_settings_and_passthrough() -> None:
    sub = Submitter(io.StringIO(), io.StringIO(), {})
    a = _args(["wf.wdl", "x=1", "--verbose", "--s3upload", "s3://b/f/", "--delete-after", "always"])
    assert sub._wrapper_command(a, None) == [
        "miniwdl-aws-workflow",
        "--dir",
        "/efs/miniwdl_run",
        "--s3upload",
        "s3://b/f/",
        "--delete-after",
        "always",
        "--",
        "x=1",
        "--verbose",
    ]
    assert sub._wrapper_command(a, "/efs/wf.wdl")[1:3] == ["--wdl", "/efs/wf.wdl"]
