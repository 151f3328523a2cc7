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
from tests.support.miniwdl import MINIWDL
from tests.support.procs import PYTHON

from .helpers import process_gone

# harmless for the other tests here: a seed changes no outcome while no fault is drawn
SERVED_FAULTS = {"seed": 12}


@pytest.fixture(scope="module")
def server(tmp_path_factory: Any) -> Iterator[Tuple[subprocess.Popen, Dict[str, str]]]:
    """One ``serve --bootstrap`` process for this module (the last test SIGTERMs it)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    serve = ServeProcess(
        str(tmp_path / "efs"),
        str(tmp_path / "serve.log"),  # a file: an unread pipe could block the server
        env,
        args=["--port-file", str(tmp_path / "endpoint"), "--faults", json.dumps(SERVED_FAULTS)],
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
        "MINIWDL__SCHEDULER__CONTAINER_BACKEND",
        "LOCAL_AWS_DEMO_BUCKET",
    }
    assert exports["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] == "aws_batch_job"
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
    # `serve --faults` set the spec every client meets from the start
    with urllib.request.urlopen(exports["AWS_ENDPOINT_URL"] + "/_emulator/faults") as resp:
        assert json.loads(resp.read()) == SERVED_FAULTS


def test_serve_refuses_a_bad_fault_spec(tmp_path: Any) -> None:
    """A bad ``--faults`` is one line and exit 2, before anything is served."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for spec in ('{"no_such_fault": 1}', "[1]", "{"):
        run = subprocess.run(
            [PYTHON, "-m", "miniwdl_aws.emulator", "serve", "--faults", spec],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2 and run.stdout == "", (spec, run.stdout, run.stderr)
        assert run.stderr.startswith("serve: bad --faults:"), run.stderr


def test_plain_miniwdl_run_after_the_exports_runs_tasks_as_batch_jobs(
    served: Any, tmp_path: Any
) -> None:
    """A shell that sourced ``serve --bootstrap``'s exports and runs ``miniwdl run`` with no
    other setting gets our backend: the task becomes a Batch job here (not local Docker)."""
    _, exports = served
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIWDL", "AWS_"))}
    env.update(exports)
    efs_dir = exports["MINIWDL__FILE_IO__ROOT"]
    wdl = os.path.join(efs_dir, "plain.wdl")
    with open(wdl, "w") as f:
        f.write(
            'version 1.0\ntask t {\n  command <<<\n    echo "$AWS_BATCH_JOB_ID"\n  >>>\n'
            "  output { String job = read_string(stdout()) }\n}\n"
            "workflow w { call t }\n"
        )
    before = _calls(exports).get("batch.SubmitJob", 0)
    run = subprocess.run(
        [MINIWDL, "run", wdl, "--dir", os.path.join(efs_dir, "plain") + "/."],
        env=env,
        cwd=efs_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    job_id = json.loads(run.stdout)["outputs"]["w.t.job"]
    assert job_id  # AWS_BATCH_JOB_ID is set only in a Batch job
    assert _calls(exports).get("batch.SubmitJob", 0) == before + 1
    desc = boto3.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
    assert desc["status"] == "SUCCEEDED"


def _calls(exports: Dict[str, str]) -> Dict[str, int]:
    with urllib.request.urlopen(exports["AWS_ENDPOINT_URL"] + "/_emulator/stats") as resp:
        return dict(json.loads(resp.read())["calls"])


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


def test_realistic_profile_is_served_with_explicit_faults_on_top(tmp_path: Any) -> None:
    """``serve --realistic``: the account-wide Batch budget, latency and listing lag every client
    meets, with ``--faults`` keys winning; and an unknown mix is refused before serving."""
    from miniwdl_aws.emulator._profiles import REALISTIC
    from tests.support.emulator import ServeProcess

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    efs = tmp_path / "efs"
    efs.mkdir()
    args = ["--realistic", "--faults", '{"visibility_lag": 0.2}']
    with ServeProcess(str(efs), str(tmp_path / "serve.log"), env, args=args) as serve:
        with urllib.request.urlopen(serve.endpoint + "/_emulator/faults") as resp:
            served = json.loads(resp.read())
    assert served == {**REALISTIC, "visibility_lag": 0.2}
    assert served["budget"] == {"batch.*": 50}
