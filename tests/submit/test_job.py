"""Pure builders of the workflow job: env filtering, names, requests."""

from __future__ import annotations

from typing import Any, Dict

from miniwdl_aws import naming
from miniwdl_aws.batch import specs
from miniwdl_aws.submit import job


def _spec(**kw: object) -> job.WorkflowJobSpec:
    base = dict(
        run_id="mw260101T000000-abcdef",
        job_name="mw260101T000000-abcdef-hello",
        queue="wq",
        image="img:1",
        cpu="1",
        memory_mib=4096,
        mount="/mnt/efs",
        efs=True,
        fs_id="fs-0123456789abcdef",
        fsap="fsap-0123456789abcdef",
        role="arn:aws:iam::123456789012:role/wf",
        public_ip=True,
        command=["miniwdl-aws-workflow", "--dir", "/mnt/efs/miniwdl_run", "--"],
        env={"A": "1"},
        tags={"team": "x"},
    )
    base.update(kw)
    return job.WorkflowJobSpec(**base)  # type: ignore[arg-type]


def test_passthrough_env_drops_ours_and_secrets() -> None:
    environ = {
        "MINIWDL__SCHEDULER__CALL_CONCURRENCY": "4",
        "MINIWDL__AWS__TASK_QUEUE": "laptop-q",  # ours: set explicitly, never copied
        "MINIWDL__FILE_IO__ROOT": "/laptop",
        "MINIWDL__DOWNLOAD_AWSCLI__SECRET_KEY": "s",
        "MINIWDL__HTTP__AUTH_TOKEN": "t",
        "MINIWDL__X__Y": "AKIAABCDEFGHIJKLMNOP",  # looks like an access key id
        "MINIWDL__X__Z": "prefix-supersecretvalue-suffix",  # embeds a secret's value
        "MY_API_TOKEN": "supersecretvalue",
        "AWS_SECRET_ACCESS_KEY": "abc",
        "HOME": "/root",
    }
    assert job.passthrough_env(environ) == {"MINIWDL__SCHEDULER__CALL_CONCURRENCY": "4"}


def test_job_names_are_valid_for_batch() -> None:
    rid = "mw260101T000000-abcdef"
    assert job.job_name(None, "/a/b/hello.world.wdl", rid) == f"{rid}-hello"
    assert job.job_name(None, "https://x.org/p/wf%20v2.wdl?raw=1", rid) == f"{rid}-wf_20v2"
    assert job.job_name("my run!", None, rid) == f"{rid}-my_run"
    long = job.job_name("x" * 500, None, rid)
    assert len(long) == 128 and long.startswith(rid)


def _definition(spec: job.WorkflowJobSpec) -> Dict[str, Any]:
    # as the submitter registers it: the task job definitions' own builder
    return specs.register_request(
        job.JOB_DEFINITION_PREFIX, job.container_properties(spec), platform=job.platform(spec)
    )


def test_job_definition_is_content_named_and_fargate_shaped() -> None:
    a = _definition(_spec())
    assert a == _definition(_spec(env={"B": "2"}, command=["x"]))  # per-run bits
    assert a["jobDefinitionName"] != _definition(_spec(image="img:2"))["jobDefinitionName"]
    # one hashing and naming for workflow and task definitions
    digest = specs.definition_hash(a["containerProperties"], "FARGATE")
    assert a["tags"] == {specs.TAG_DEFINITION_HASH: digest}
    assert a["jobDefinitionName"] == naming.job_definition_name(job.JOB_DEFINITION_PREFIX, digest)
    props = a["containerProperties"]
    assert a["platformCapabilities"] == ["FARGATE"] and a["propagateTags"] is True
    assert props["mountPoints"] == [{"containerPath": "/mnt/efs", "sourceVolume": "file_io_root"}]
    # the task jobs' EFS volume: through the access point, encrypted in transit
    assert props["volumes"] == [specs.efs_volume("fs-0123456789abcdef", "fsap-0123456789abcdef")]
    assert props["networkConfiguration"] == {"assignPublicIp": "ENABLED"}
    no_ip = _definition(_spec(public_ip=False))["containerProperties"]
    assert no_ip["networkConfiguration"] == {"assignPublicIp": "DISABLED"}
    ec2 = _definition(_spec(efs=False, fs_id=None, fsap=None))
    assert ec2["platformCapabilities"] == ["EC2"]
    assert ec2["containerProperties"]["volumes"] == [specs.host_volume("/mnt/efs")]


def test_shipment_goes_into_env_and_wrapper_arguments() -> None:
    from miniwdl_aws.submit.shipping import Shipment

    shipment = Shipment({"MINIWDL_AWS_WDL_ZIP": "abc"}, ["--wdl-zip", "env:W"], [])
    spec = job.with_shipment(_spec(), shipment)
    assert spec.env == {"A": "1", "MINIWDL_AWS_WDL_ZIP": "abc"}
    assert list(spec.command) == [
        "miniwdl-aws-workflow",
        "--wdl-zip",
        "env:W",
        "--dir",
        "/mnt/efs/miniwdl_run",
        "--",
    ]
    assert job.fits_inline(_spec(), {"X": "y" * 100})
    assert not job.fits_inline(_spec(), {"X": "y" * 9000})


def test_submit_request_tags_and_timeout() -> None:
    req = job.submit_request(_spec(timeout=3600), "arn:jd")
    assert req["tags"][naming.TAG_RUN_ID] == "mw260101T000000-abcdef"
    assert req["tags"][naming.TAG_ROLE] == "workflow" and req["tags"]["team"] == "x"
    assert req["timeout"] == {"attemptDurationSeconds": 3600}
    assert req["containerOverrides"]["environment"] == [{"name": "A", "value": "1"}]
    assert "timeout" not in job.submit_request(_spec(), "arn:jd")


def test_inline_payloads_keep_headroom_under_the_overrides_limit() -> None:
    """Batch adds its own variables to the overrides and fails a job over 8,192 characters
    only after accepting it: a payload that would leave less than the margin is staged."""
    from miniwdl_aws.submit import shipping

    spec = _spec()
    base = shipping.json_size(job.submit_request(spec, "x" * 200)["containerOverrides"])
    room = shipping.OVERRIDES_LIMIT - base
    assert job.fits_inline(spec, {"P": "y" * (room - 2000)})
    assert not job.fits_inline(spec, {"P": "y" * (room - 200)})  # under 8,192, but no margin
    assert shipping.OVERRIDES_BUDGET <= shipping.OVERRIDES_LIMIT - 1024
