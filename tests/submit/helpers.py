"""Helpers for the submitter's end-to-end tests on the local AWS (fixtures ``emulator``/``aws``
come from tests/conftest.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import boto3

from tests.support.logs import stream_messages
from tests.support.procs import Finished, run
from tests.support.submitter import WORKFLOW_IMAGE, submit_cmd

__all__ = [
    "EXAMPLES",
    "FAST",
    "ROOT",
    "client",
    "describe",
    "followed_lines",
    "run_id_of",
    "stack_env",
    "stream_messages",
    "submit",
]

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"

# Fast polling everywhere (the workflow job gets these through env passthrough).
FAST = {
    "MINIWDL__AWS__DESCRIBE_PERIOD": "0.1",
    "MINIWDL__AWS__DESCRIBE_PERIOD_MAX": "0.5",
    "MINIWDL__AWS__SUBMIT_PERIOD": "0.01",
    "MINIWDL__AWS__RETRY_WAIT": "0",
}


def stack_env(stack: Any, **extra: str) -> Dict[str, str]:
    """os.environ (emulator endpoint + fake creds, set by the ``aws`` fixture) + the stack's
    MINIWDL settings + fast polling."""
    env = dict(os.environ)
    env.update(stack.miniwdl_env())
    env.update(FAST)
    env.update(extra)
    return env


def submit(
    stack: Any,
    args: List[str],
    env: Optional[Dict[str, str]] = None,
    timeout: float = 180,
    image: Optional[str] = WORKFLOW_IMAGE,
) -> Finished:
    """Run the submitter as a real process to completion; AssertionError if it hangs past
    ``timeout`` (then killed). ``image``: its ``--image`` (None: none, e.g. to test the
    workflow queue's WorkflowImage tag)."""
    res = run(
        submit_cmd(args, poll_seconds=0.2, image=image),
        env or stack_env(stack),
        str(ROOT),
        "submit",
        timeout=timeout,
        keep_output=False,
    )
    if res.returncode is None:
        raise AssertionError(f"the submitter hung:\n{res.stderr[-4000:]}")
    return res


def client(service: str) -> Any:
    """A boto3 client of the local AWS (the ``aws`` fixture put its endpoint in os.environ)."""
    return boto3.client(service, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def followed_lines(stderr: str) -> List[str]:
    """The workflow log lines the submitter streamed: between our "log stream:" note and the
    next note of ours."""
    lines = stderr.splitlines()
    start = next(
        i for i, ln in enumerate(lines) if ln.startswith("[miniwdl-aws-submit] log stream:")
    )
    out = []
    for ln in lines[start + 1 :]:
        if ln.startswith("[miniwdl-aws-submit] "):
            break
        out.append(ln)
    return out


def run_id_of(res: Finished) -> str:
    """The run id the submitter announced on stderr."""
    m = re.search(r"\[miniwdl-aws-submit\] submitted \S+ to \S+; run id (\S+)", res.stderr)
    assert m, res.stderr[-2000:]
    return m.group(1)


def describe(job_id: str) -> Dict[str, Any]:
    """DescribeJobs of one job."""
    return client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
