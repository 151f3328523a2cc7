"""Small helpers shared by the emulator tests."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, Dict, Iterable, List, Optional

import boto3

TERMINAL = ("SUCCEEDED", "FAILED")


def batch() -> Any:
    """A Batch client bound (through os.environ) to the emulator."""
    return boto3.client("batch")


def job_definition(
    stack: Any,
    command: List[str],
    name: str = "jd",
    vcpus: str = "1",
    memory: str = "1024",
    efs: bool = True,
    **extra: Any,
) -> str:
    """Register an EC2 job definition mounting the stack's EFS dir; returns its ARN."""
    props: Dict[str, Any] = {
        "image": "ubuntu:22.04",
        "command": command,
        "resourceRequirements": [
            {"type": "VCPU", "value": vcpus},
            {"type": "MEMORY", "value": memory},
        ],
    }
    if efs:
        props["volumes"] = [
            {
                "name": "efs",
                "efsVolumeConfiguration": {
                    "fileSystemId": stack.fs_id,
                    "transitEncryption": "ENABLED",
                    "authorizationConfig": {"accessPointId": stack.fsap},
                },
            }
        ]
        props["mountPoints"] = [{"sourceVolume": "efs", "containerPath": stack.efs_dir}]
    props.update(extra.pop("container", {}))
    return batch().register_job_definition(
        jobDefinitionName=name, type="container", containerProperties=props, **extra
    )["jobDefinitionArn"]


def submit(
    stack: Any, jd: str, name: str = "job", queue: Optional[str] = None, **kwargs: Any
) -> str:
    """Submit to the task queue (or ``queue``); returns the job id."""
    return batch().submit_job(
        jobName=name, jobQueue=queue or stack.task_queue, jobDefinition=jd, **kwargs
    )["jobId"]


def describe(job_id: str) -> Dict[str, Any]:
    """DescribeJobs for one job."""
    return batch().describe_jobs(jobs=[job_id])["jobs"][0]


def wait_status(
    job_id: str, statuses: Iterable[str] = TERMINAL, timeout: float = 30.0
) -> Dict[str, Any]:
    """Poll until the job reaches one of ``statuses``; the timeout is only a hang guard."""
    wanted = set(statuses)
    deadline = time.monotonic() + timeout
    while True:
        desc = describe(job_id)
        if desc["status"] in wanted:
            return desc
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck in {desc['status']}: {desc}")
        time.sleep(0.02)


def watch_statuses(job_id: str, timeout: float = 30.0) -> List[str]:
    """Distinct statuses seen by polling until terminal."""
    seen: List[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = describe(job_id)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in TERMINAL:
            return seen
        time.sleep(0.002)
    raise AssertionError(f"job {job_id} did not finish: {seen}")


def process_gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait until ``pid`` no longer runs (gone, or a zombie awaiting its reaper)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def http(endpoint: str, path: str, payload: Any = None) -> Any:
    """GET (or POST ``payload`` as JSON) an emulator side-channel path; returns parsed JSON."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        endpoint + path, data=data, method="GET" if data is None else "POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())
