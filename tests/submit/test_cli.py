"""The submitter's workflow-job environment and wrapper command (no AWS needed)."""

from __future__ import annotations

import json
from typing import Any

from miniwdl_aws import naming
from miniwdl_aws.submit import args as cli_args
from miniwdl_aws.submit import job
from miniwdl_aws.submit.request import Infrastructure

INFRA = Infrastructure(
    task_queue="tq",
    task_queue_fallback="tqf",
    fsap="fsap-0123456789abcdef",
    fs_id="fs-0123456789abcdef",
    workflow_role="arn:aws:iam::123456789012:role/wf",
    image="img:1",
)
ENVIRON = {"MINIWDL__SCHEDULER__CALL_CONCURRENCY": "8", "AWS_SECRET_ACCESS_KEY": "x" * 20}


def _req(argv: list, options: Any = None) -> Any:
    opts = options or {}
    return cli_args.parse(argv, lambda name: opts.get(name, ""), {"MINIWDL__FILE_IO__ROOT": "/efs"})


def test_job_env_passes_miniwdl_settings_unless_no_env() -> None:
    spec = job.workflow_spec(
        _req(["wf.wdl"], {"job_tags": {"team": "g"}}), INFRA, None, "mwX-1", 4096, ENVIRON
    )
    env = spec.env
    assert env["MINIWDL__SCHEDULER__CALL_CONCURRENCY"] == "8"
    assert spec.forwarded == ("MINIWDL__SCHEDULER__CALL_CONCURRENCY",)
    assert env[naming.ENV_RUN_ID] == "mwX-1"
    assert env["MINIWDL__FILE_IO__ROOT"] == "/efs"
    assert env["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] == "aws_batch_job"
    assert (env["MINIWDL__AWS__FSAP"], env["MINIWDL__AWS__FS"]) == (
        "fsap-0123456789abcdef",
        "fs-0123456789abcdef",
    )
    assert (env["MINIWDL__AWS__TASK_QUEUE"], env["MINIWDL__AWS__TASK_QUEUE_FALLBACK"]) == (
        "tq",
        "tqf",
    )
    assert json.loads(env["MINIWDL__AWS__JOB_TAGS"]) == {"team": "g"}
    assert not any(k.startswith("AWS_") for k in env)
    spec = job.workflow_spec(
        _req(["wf.wdl", "--no-env", "--no-efs"]), INFRA, None, "mwX-1", 4096, ENVIRON
    )
    assert "MINIWDL__SCHEDULER__CALL_CONCURRENCY" not in spec.env and spec.forwarded == ()
    assert spec.env["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] == "aws_batch_job_no_efs"
    assert "MINIWDL__AWS__FSAP" not in spec.env and "MINIWDL__AWS__JOB_TAGS" not in spec.env


def test_wrapper_command_carries_upload_settings_and_passthrough() -> None:
    a = _req(["wf.wdl", "x=1", "--verbose", "--s3upload", "s3://b/f/", "--delete-after", "always"])
    assert job.wrapper_command(a, None) == [
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
    assert job.wrapper_command(a, "/efs/wf.wdl")[1:3] == ["--wdl", "/efs/wf.wdl"]
