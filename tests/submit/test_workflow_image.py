"""The workflow image: ``--image``, then ``[aws] workflow_image``, then the workflow queue's
``WorkflowImage`` tag; with none of them the submitter refuses before submitting anything (there
is no published default image)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit import args as cli_args
from miniwdl_aws.submit import validate
from miniwdl_aws.submit.cli import EXIT_USAGE, main

from .helpers import EXAMPLES, client, describe, stack_env, submit

HELLO = str(EXAMPLES / "hello_scatter.wdl")
HELLO_INPUTS = str(EXAMPLES / "hello_scatter.inputs.json")
TAGGED_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/miniwdl-aws:from-the-queue-tag"
FSAP = "fsap-0123456789abcdef0"
ROLE = "arn:aws:iam::123456789012:role/wf"


def test_no_image_anywhere_is_refused_before_submitting(
    aws: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for key, value in aws.miniwdl_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MINIWDL__AWS__WORKFLOW_IMAGE", raising=False)
    emulator.reset_stats()

    code = main([HELLO, "-i", HELLO_INPUTS])

    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == EXIT_USAGE and len(lines) == 1 and "Traceback" not in err, err
    assert "no workflow image" in lines[0]
    for hint in ("--image", "[aws] workflow_image", "WorkflowImage", "Dockerfile", "ECR"):
        assert hint in lines[0], hint
    calls = emulator.stats()["calls"]
    for op in ("batch.SubmitJob", "batch.RegisterJobDefinition", "s3.PutObject"):
        assert calls.get(op, 0) == 0, (op, calls)
    assert client("batch").list_jobs(jobQueue=aws.workflow_queue)["jobSummaryList"] == []


def test_the_workflow_queue_tag_names_the_image(aws: Any) -> None:
    batch = client("batch")
    wq = batch.describe_job_queues(jobQueues=[aws.workflow_queue])["jobQueues"][0]
    batch.create_job_queue(
        jobQueueName="tagged-workflow-q",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=wq["computeEnvironmentOrder"],
        tags={**wq["tags"], "WorkflowImage": TAGGED_IMAGE},
    )
    env = stack_env(aws)
    env.pop("MINIWDL__AWS__WORKFLOW_IMAGE", None)
    args = [HELLO, "-i", HELLO_INPUTS, "--wait", "--workflow-queue", "tagged-workflow-q"]

    res = submit(aws, args, env, image=None)

    assert res.returncode == 0, res.stderr[-3000:]
    job = describe(res.stdout.strip())
    definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])
    assert definition["jobDefinitions"][0]["containerProperties"]["image"] == TAGGED_IMAGE


# --- precedence, without AWS ---


class _FakeBatch:
    def __init__(self, tags: Dict[str, str]) -> None:
        self.tags = tags

    def describe_job_queues(self, names: List[str]) -> Dict[str, Dict[str, Any]]:
        ce = [{"order": 1, "computeEnvironment": "ce"}]
        queue = {"state": "ENABLED", "status": "VALID", "computeEnvironmentOrder": ce}
        return {n: {**queue, "tags": self.tags} for n in names}

    def describe_compute_environments(self, names: List[str]) -> List[Dict[str, Any]]:
        resources = {"type": "SPOT", "maxvCpus": 16}
        ce = {"state": "ENABLED", "status": "VALID", "computeResources": resources}
        return [{**ce, "computeEnvironmentName": n, "computeEnvironmentArn": n} for n in names]


class _FakeEfs:
    def describe_access_point(self, fsap: str) -> Dict[str, str]:
        return {"FileSystemId": "fs-0123456789abcdef0"}


def _image(argv: List[str], option: str, tag: Optional[str]) -> str:
    opts = {"workflow_queue": "wq", "workflow_image": option}
    req = cli_args.parse(["wf.wdl", *argv], lambda name: opts.get(name, ""), {})
    tags = {"DefaultTaskQueue": "tq", "DefaultFsap": FSAP, "WorkflowEngineRoleArn": ROLE}
    if tag is not None:
        tags["WorkflowImage"] = tag
    batch: Any = _FakeBatch(tags)
    efs: Any = _FakeEfs()
    return validate.resolve_infrastructure(batch, efs, None, req).image  # type: ignore[arg-type]


def test_image_precedence_flag_then_option_then_tag() -> None:
    assert _image(["--image", "flag:1"], "option:1", "tag:1") == "flag:1"
    assert _image([], "option:1", "tag:1") == "option:1"
    assert _image([], "", "tag:1") == "tag:1"
    with pytest.raises(ConfigError, match="no workflow image"):
        _image([], "", None)
    with pytest.raises(ConfigError, match="no workflow image"):
        _image([], "", " ")  # a blank tag is no image
