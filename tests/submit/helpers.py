"""Helpers for the submitter's end-to-end tests on the local AWS (fixtures ``emulator``/``aws``
come from tests/conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import boto3

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
) -> subprocess.CompletedProcess:
    """Run the submitter as a real process (``python -m miniwdl_aws``)."""
    cmd = [sys.executable, "-m", "miniwdl_aws", *args, "--poll-seconds", "0.2"]
    return subprocess.run(
        cmd,
        env=env or stack_env(stack),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(ROOT),
    )


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


def stream_messages(stream: str) -> List[str]:
    """Every message of a CloudWatch stream, read independently of the follower."""
    logs = client("logs")
    msgs: List[str] = []
    token = None
    while True:
        kw: Dict[str, Any] = {
            "logGroupName": "/aws/batch/job",
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            kw["nextToken"] = token
        resp = logs.get_log_events(**kw)
        msgs += [e["message"] for e in resp["events"]]
        if resp["nextForwardToken"] == token:
            return msgs
        token = resp["nextForwardToken"]


def run_id_of(res: subprocess.CompletedProcess) -> str:
    """The run id the submitter announced on stderr."""
    m = re.search(r"\[miniwdl-aws-submit\] submitted \S+ to \S+; run id (\S+)", res.stderr)
    assert m, res.stderr[-2000:]
    return m.group(1)


def describe(job_id: str) -> Dict[str, Any]:
    """DescribeJobs of one job."""
    return client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
