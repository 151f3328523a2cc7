"""``python -m miniwdl_aws.emulator serve``: exports, the issue's "Done when" scenario with plain
boto3, and clean shutdown (no job process survives SIGTERM of the server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from typing import Any, Dict, Iterator, Tuple

import boto3
import pytest

from tests.support.emulator import ServeProcess

from .helpers import process_gone


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any) -> Iterator[Tuple[subprocess.Popen, Dict[str, str]]]:
    """One ``serve --bootstrap`` process for this module (the last test SIGTERMs it)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    serve = ServeProcess(
        str(tmp_path / "efs"),
        str(tmp_path / "serve.log"),  # a file: an unread pipe could block the server
        env,
        args=["--port-file", str(tmp_path / "endpoint")],
    ).start()
    # stdout carries the exports and nothing else
    assert serve.lines and all(line.startswith("export ") for line in serve.lines), serve.lines
    assert serve.proc is not None
    try:
        yield serve.proc, serve.exports
    finally:
        serve.stop()


@pytest.fixture
def served(server: Any, monkeypatch: Any) -> Tuple[subprocess.Popen, Dict[str, str]]:
    proc, exports = server
    assert proc.poll() is None, "the serve process is gone"
    for key, value in exports.items():
        monkeypatch.setenv(key, value)
    return proc, exports


def _wait(batch: Any, job_id: str, statuses: Tuple[str, ...] = ("SUCCEEDED", "FAILED")) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        desc = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if desc["status"] in statuses:
            return desc
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not reach {statuses}")


def test_done_when_scenario(served: Any) -> None:
    """Issue 2's acceptance scenario, using only the printed exports and plain boto3."""
    _, exports = served
    assert set(exports) == {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EC2_METADATA_DISABLED",
        "MINIWDL__AWS__TASK_QUEUE",
        "MINIWDL__AWS__WORKFLOW_QUEUE",
        "MINIWDL__AWS__FSAP",
        "MINIWDL__FILE_IO__ROOT",
        "LOCAL_AWS_DEMO_BUCKET",
    }
    # miniwdl ends every run with an "unused environment" warning naming each MINIWDL_* variable
    # it never read: an export in that namespace must be a setting miniwdl reads
    assert all(k.startswith("MINIWDL__") for k in exports if k.startswith("MINIWDL_"))
    assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert os.path.isdir(exports["MINIWDL__FILE_IO__ROOT"])
    assert exports["MINIWDL__FILE_IO__ROOT"].endswith("/efs")  # the --efs-dir we passed
    port_file = os.path.join(os.path.dirname(exports["MINIWDL__FILE_IO__ROOT"]), "endpoint")
    with open(port_file) as f:
        assert f.read() == exports["AWS_ENDPOINT_URL"] + "\n"
    efs_dir = exports["MINIWDL__FILE_IO__ROOT"]
    batch = boto3.client("batch")
    queue = batch.describe_job_queues(jobQueues=[exports["MINIWDL__AWS__WORKFLOW_QUEUE"]])[
        "jobQueues"
    ][0]
    assert queue["tags"]["DefaultTaskQueue"] == exports["MINIWDL__AWS__TASK_QUEUE"]
    assert queue["tags"]["DefaultFsap"] == exports["MINIWDL__AWS__FSAP"]
    ap = boto3.client("efs").describe_access_points(AccessPointId=exports["MINIWDL__AWS__FSAP"])[
        "AccessPoints"
    ][0]

    def register(name: str, command: list) -> str:
        return batch.register_job_definition(
            jobDefinitionName=name,
            type="container",
            containerProperties={
                "image": "ubuntu:22.04",
                "command": command,
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "1024"},
                ],
                "volumes": [
                    {
                        "name": "efs",
                        "efsVolumeConfiguration": {
                            "fileSystemId": ap["FileSystemId"],
                            "transitEncryption": "ENABLED",
                            "authorizationConfig": {"accessPointId": ap["AccessPointId"]},
                        },
                    }
                ],
                "mountPoints": [{"sourceVolume": "efs", "containerPath": efs_dir}],
            },
        )["jobDefinitionArn"]

    out = os.path.join(efs_dir, "result.txt")
    ok = batch.submit_job(
        jobName="writes-file",
        jobQueue=exports["MINIWDL__AWS__TASK_QUEUE"],
        jobDefinition=register("writer", ["sh", "-c", f"echo 42 > {out}; echo wrote it"]),
    )["jobId"]
    desc = _wait(batch, ok)
    assert desc["status"] == "SUCCEEDED" and desc["container"]["exitCode"] == 0
    with open(out) as f:
        assert f.read() == "42\n"
    events = boto3.client("logs").get_log_events(
        logGroupName="/aws/batch/job",
        logStreamName=desc["container"]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert [e["message"] for e in events] == ["wrote it"]

    bad = batch.submit_job(
        jobName="fails",
        jobQueue=exports["MINIWDL__AWS__TASK_QUEUE"],
        jobDefinition=register("failer", ["sh", "-c", "exit 4"]),
    )["jobId"]
    desc = _wait(batch, bad)
    assert desc["status"] == "FAILED" and desc["container"]["exitCode"] == 4

    with urllib.request.urlopen(exports["AWS_ENDPOINT_URL"] + "/_emulator/stats") as resp:
        calls = json.loads(resp.read())["calls"]
    assert calls["batch.SubmitJob"] == 2
    assert calls["batch.RegisterJobDefinition"] == 2
    assert calls["logs.GetLogEvents"] == 1


def test_sigterm_kills_every_job_process(served: Any) -> None:
    """Runs last in this module: it stops the shared server."""
    proc, exports = served
    efs_dir = exports["MINIWDL__FILE_IO__ROOT"]
    batch = boto3.client("batch")
    pidfile = os.path.join(efs_dir, "pids")
    jd = batch.register_job_definition(
        jobDefinitionName="sleeper",
        type="container",
        containerProperties={
            "image": "x",
            # a job process and a background grandchild, both trying to outlive the server
            "command": ["sh", "-c", f"sleep 600 & echo $$ $! > {pidfile}; trap '' TERM; wait"],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "512"},
            ],
        },
    )["jobDefinitionArn"]
    job_id = batch.submit_job(
        jobName="sleeper", jobQueue=exports["MINIWDL__AWS__TASK_QUEUE"], jobDefinition=jd
    )["jobId"]
    _wait(batch, job_id, ("RUNNING",))
    deadline = time.monotonic() + 10
    while (
        not (os.path.exists(pidfile) and open(pidfile).read().strip())
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    pids = [int(p) for p in open(pidfile).read().split()]
    for pid in pids:
        os.kill(pid, 0)  # alive
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    for pid in pids:
        assert process_gone(pid), f"job process {pid} survived the emulator"
