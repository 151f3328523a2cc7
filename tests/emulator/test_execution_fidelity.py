"""The local AWS as unkind as AWS when jobs run (issue 12): failures reported late, memory
limits enforced, jobs that fit no instance left RUNNABLE, CancelJob's limits, the account-wide
Batch API budget, the 30 s kill grace, and no job process outliving its job or the emulator."""

from __future__ import annotations

import os
import signal
import time
from types import SimpleNamespace
from typing import Any, List, Optional

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from miniwdl_aws.emulator import Emulator
from miniwdl_aws.emulator._container import (
    INVALID_CE_REASON,
    MAX_VCPU_REASON,
    OVERRIDES_LIMIT,
    RESOURCE_REASON,
    placement_problem,
)
from miniwdl_aws.emulator._faults import FaultInjector
from miniwdl_aws.emulator._state import Settings

from .helpers import batch, describe, job_definition, process_gone, submit, wait_status

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
OOM = "OutOfMemoryError: Container killed due to memory usage"


def _wait_file(path: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            text = open(path).read()
            if text.endswith("\n"):
                return text
        time.sleep(0.02)
    raise AssertionError(f"{path} was not written")


# -- failures AWS reports late ------------------------------------------------------------------


def test_overrides_over_8192_are_accepted_then_the_job_fails(aws: Any) -> None:
    jd = job_definition(aws, ["true"])
    # about 8,100 characters of the submitter's own: under the limit by themselves, over it with
    # the AWS_BATCH_* variables Batch adds
    env = [{"name": "PAYLOAD", "value": "x" * 8050}]
    job_id = submit(aws, jd, name="big", containerOverrides={"environment": env})
    desc = wait_status(job_id)
    assert desc["status"] == "FAILED"
    assert desc["statusReason"] == f"Container Overrides length must be at most {OVERRIDES_LIMIT}"
    assert desc["attempts"] == []  # no container was ever started
    small = submit(aws, jd, name="small", containerOverrides={"environment": env[:0]})
    assert wait_status(small)["status"] == "SUCCEEDED"


# -- memory ------------------------------------------------------------------------------------

_HOG = (
    "import sys, time\n"
    "block = b'x' * (int(sys.argv[1]) << 20)\n"  # written, so resident
    "print('allocated', flush=True)\n"
    "time.sleep(600)\n"
)


def test_job_over_its_memory_is_killed_as_an_oom(aws: Any) -> None:
    # two processes of 90 MiB each: neither alone is over 128 MiB, the job is
    command = 'python -c "$HOG" 90 & python -c "$HOG" 90; wait'
    jd = job_definition(aws, ["sh", "-c", command], memory="128")
    job_id = submit(
        aws,
        jd,
        name="hog",
        containerOverrides={"environment": [{"name": "HOG", "value": _HOG}]},
    )
    desc = wait_status(job_id, timeout=60)
    assert desc["status"] == "FAILED"
    assert desc["statusReason"] == "Essential container in task exited"
    assert desc["container"]["reason"] == OOM
    assert desc["container"]["exitCode"] == 137


def test_job_within_its_memory_runs(aws: Any, emulator: Any) -> None:
    emulator.configure(memory_poll=0.05)  # sampled many times while it holds its memory
    jd = job_definition(aws, ["python", "-c", _HOG.replace("600", "1"), "20"], memory="256")
    assert wait_status(submit(aws, jd, name="modest"))["status"] == "SUCCEEDED"


def test_memory_enforcement_can_be_turned_off(aws: Any, emulator: Any) -> None:
    emulator.configure(enforce_memory=False)
    jd = job_definition(
        aws, ["python", "-c", _HOG.replace("time.sleep(600)", "pass"), "150"], memory="64"
    )
    assert wait_status(submit(aws, jd, name="unchecked"))["status"] == "SUCCEEDED"


# -- jobs that fit no instance -----------------------------------------------------------------


def _ce(types: Optional[List[str]], state: str = "ENABLED", kind: str = "EC2", **kw: Any) -> Any:
    resources = {"type": kind, "maxvCpus": kw.pop("max_vcpus", 256)}
    if types is not None:
        resources["instanceTypes"] = types
    return SimpleNamespace(state=state, compute_resources=resources, **kw)


def _job(vcpus: float = 1, memory: Optional[float] = 2048, gpus: int = 0) -> Any:
    return SimpleNamespace(vcpus=vcpus, memory_mib=lambda: memory, gpus=lambda: gpus)


@pytest.mark.parametrize(
    "types, job, reason",
    [
        (["optimal"], _job(192, 100 * 1024), None),  # c7i.48xlarge
        (["optimal"], _job(128, 900 * 1024), None),  # r6i.32xlarge
        (["optimal"], _job(193), RESOURCE_REASON),
        (["optimal"], _job(192, 500 * 1024), RESOURCE_REASON),  # no such instance in the bundle
        (["optimal"], _job(1, 2048, 1), RESOURCE_REASON),  # optimal has no GPUs
        (["m5.large"], _job(2, 7000), None),
        (["m5.large"], _job(2, 8192), RESOURCE_REASON),  # 8 GiB installed is less for jobs
        (["g4dn"], _job(8, 32768, 8), None),
        (["g4dn"], _job(8, 32768, 9), RESOURCE_REASON),
        (["x99.huge"], _job(200, 10**9, 64), None),  # unknown to the table: not refused
        (None, _job(300), MAX_VCPU_REASON),  # over maxvCpus 256
    ],
)
def test_placement_rule(types: Optional[List[str]], job: Any, reason: Optional[str]) -> None:
    assert placement_problem(job, [_ce(types)]) == reason


def test_placement_rule_counts_only_usable_environments() -> None:
    small, big = _ce(["m5.large"]), _ce(["optimal"])
    assert placement_problem(_job(8, 16384), [small, big]) is None
    big.state = "DISABLED"  # a disabled one is not counted, and alone it is no misconfiguration
    assert placement_problem(_job(8, 16384), [small, big]) == RESOURCE_REASON
    assert placement_problem(_job(8, 16384), [big]) is None
    invalid = _ce(["optimal"], status="INVALID")
    assert placement_problem(_job(), [invalid]) == INVALID_CE_REASON
    fargate = _ce(None, kind="FARGATE")
    assert placement_problem(_job(16, 120 * 1024), [fargate]) is None
    assert placement_problem(_job(16, 121 * 1024), [fargate]) == RESOURCE_REASON


def test_job_fitting_no_instance_stays_runnable_and_blocks_its_queue(
    aws: Any, emulator: Any
) -> None:
    huge = job_definition(aws, ["true"], name="huge", memory=str(2048 * 1024))  # 2 TiB
    small = job_definition(aws, ["true"], name="small")
    stuck = submit(aws, huge, name="huge")
    desc = wait_status(stuck, ["RUNNABLE"])
    deadline = time.monotonic() + 10
    while "statusReason" not in desc and time.monotonic() < deadline:
        time.sleep(0.02)
        desc = describe(stuck)
    assert desc["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - ")
    behind = submit(aws, small, name="behind")
    wait_status(behind, ["RUNNABLE"])
    listed = batch().list_jobs(jobQueue=aws.task_queue, jobStatus="RUNNABLE")["jobSummaryList"]
    assert {j["jobId"]: j.get("statusReason", "") for j in listed}[stuck] == desc["statusReason"]
    assert describe(stuck)["status"] == "RUNNABLE" and describe(behind)["status"] == "RUNNABLE"
    batch().cancel_job(jobId=stuck, reason="too big")
    assert wait_status(stuck)["statusReason"] == "too big"
    assert wait_status(behind)["status"] == "SUCCEEDED"  # the head no longer blocks the queue
    assert "STARTING" not in emulator.job_history(stuck)


def test_queue_with_only_disabled_environments_keeps_jobs_runnable(aws: Any, emulator: Any) -> None:
    b = batch()
    queue = b.describe_job_queues(jobQueues=[aws.task_queue])["jobQueues"][0]
    envs = [e["computeEnvironment"] for e in queue["computeEnvironmentOrder"]]
    for ce in envs:
        b.update_compute_environment(computeEnvironment=ce, state="DISABLED")
    job_id = submit(aws, job_definition(aws, ["true"]), name="parked")
    desc = wait_status(job_id, ["RUNNABLE"])
    time.sleep(0.3)  # many dwells: it would have started by now
    desc = describe(job_id)
    assert desc["status"] == "RUNNABLE" and "statusReason" not in desc
    b.update_compute_environment(computeEnvironment=envs[0], state="ENABLED")
    assert wait_status(job_id)["status"] == "SUCCEEDED"
    assert "STARTING" in emulator.job_history(job_id)


# -- time as AWS spends it ---------------------------------------------------------------------


def test_kill_grace_defaults_to_ecs_stop_timeout() -> None:
    assert Settings().kill_grace == 30.0
    assert Emulator().settings.kill_grace == 30.0  # not started: construction only


def test_cancel_has_no_effect_once_starting(aws: Any, emulator: Any) -> None:
    emulator.configure(dwell=0.5)  # half a second in each of SUBMITTED, RUNNABLE and STARTING
    job_id = submit(aws, job_definition(aws, ["true"]), name="starting")
    wait_status(job_id, ["STARTING"], timeout=30)
    batch().cancel_job(jobId=job_id, reason="too late")
    desc = wait_status(job_id)
    assert desc["status"] == "SUCCEEDED", desc
    history = emulator.job_history(job_id)
    assert history[-3:] == ["STARTING", "RUNNING", "SUCCEEDED"]


def test_budget_is_a_token_bucket_shared_by_matching_operations() -> None:
    now = [100.0]
    faults = FaultInjector(clock=lambda: now[0])
    faults.set({"budget": {"batch.*": 2}})
    fault = faults.request_fault
    assert fault("batch.SubmitJob", None) is None
    assert fault("batch.DescribeJobs", None) is None  # the same bucket: now empty
    refused = fault("batch.ListJobs", None)
    assert refused is not None and refused[:2] == (429, "TooManyRequestsException")
    assert fault("logs.GetLogEvents", None) is None  # not a Batch call
    now[0] += 0.5  # one token back at 2/s
    assert fault("batch.SubmitJob", None) is None
    assert fault("batch.SubmitJob", None) is not None
    now[0] += 60  # the bucket holds one second of its rate, no more
    assert [fault("batch.TerminateJob", None) is None for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError):
        faults.set({"budget": {"batch.*": 0}})


def test_budget_refuses_calls_with_too_many_requests(aws: Any, emulator: Any) -> None:
    emulator.set_faults({"budget": {"batch.*": 0.001}})  # one call, then one per 1000 s
    client = boto3.client("batch", config=NO_RETRY)
    client.describe_job_queues()
    with pytest.raises(ClientError) as err:
        client.list_jobs(jobQueue=aws.task_queue)
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


# -- no process outlives its job ---------------------------------------------------------------

_ESCAPE = "setsid sleep 600 > /dev/null 2>&1 & echo $! > {pidfile}; "


def test_process_in_its_own_session_dies_with_a_terminated_job(aws: Any) -> None:
    pidfile = os.path.join(aws.efs_dir, "escaped")
    jd = job_definition(aws, ["sh", "-c", _ESCAPE.format(pidfile=pidfile) + "exec sleep 600"])
    job_id = submit(aws, jd, name="escaper")
    wait_status(job_id, ["RUNNING"])
    pid = int(_wait_file(pidfile))
    # it did leave the job's session (setsid runs in the background: give it the time to)
    deadline = time.monotonic() + 30
    while os.getsid(pid) != pid and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.getsid(pid) == pid
    batch().terminate_job(jobId=job_id, reason="stop")
    assert wait_status(job_id)["status"] == "FAILED"
    assert process_gone(pid), "a setsid process of a terminated job survived"


def test_process_in_its_own_session_dies_when_the_job_ends(aws: Any) -> None:
    pidfile = os.path.join(aws.efs_dir, "escaped")
    jd = job_definition(aws, ["sh", "-c", _ESCAPE.format(pidfile=pidfile) + "echo bye"])
    assert wait_status(submit(aws, jd, name="leaver"))["status"] == "SUCCEEDED"
    pid = int(_wait_file(pidfile))
    assert process_gone(pid), "a setsid process of a finished job survived"


def test_sigkilled_serve_takes_its_job_processes_with_it(tmp_path: Any) -> None:
    from tests.support.emulator import ServeProcess

    efs = tmp_path / "efs"
    efs.mkdir()
    pidfile = efs / "pids"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with ServeProcess(str(efs), str(tmp_path / "serve.log"), env) as serve:
        client = boto3.client(
            "batch",
            endpoint_url=serve.endpoint,
            region_name=serve.exports["AWS_DEFAULT_REGION"],
            aws_access_key_id=serve.exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=serve.exports["AWS_SECRET_ACCESS_KEY"],
        )
        script = f"setsid sleep 600 > /dev/null 2>&1 & echo $! $$ > {pidfile}; exec sleep 600"
        jd = client.register_job_definition(
            jobDefinitionName="orphan",
            type="container",
            containerProperties={
                "image": "ubuntu:22.04",
                "command": ["sh", "-c", script],
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "256"},
                ],
            },
        )["jobDefinitionArn"]
        queue = serve.exports["MINIWDL__AWS__TASK_QUEUE"]
        client.submit_job(jobName="orphan", jobQueue=queue, jobDefinition=jd)
        pids = [int(p) for p in _wait_file(str(pidfile)).split()]
        os.kill(serve.pid, signal.SIGKILL)
        for pid in pids:
            assert process_gone(pid), f"job process {pid} outlived a SIGKILLed serve"
