"""Pure builders of the workflow job: env filtering, names, requests."""

from __future__ import annotations

from miniwdl_aws import naming
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


def test_job_definition_is_content_named_and_fargate_shaped() -> None:
    a = job.job_definition_request(_spec())
    assert a == job.job_definition_request(_spec(env={"B": "2"}, command=["x"]))  # per-run bits
    assert (
        a["jobDefinitionName"]
        != job.job_definition_request(_spec(image="img:2"))["jobDefinitionName"]
    )
    props = a["containerProperties"]
    assert a["platformCapabilities"] == ["FARGATE"]
    assert props["mountPoints"] == [{"containerPath": "/mnt/efs", "sourceVolume": "efs"}]
    efs = props["volumes"][0]["efsVolumeConfiguration"]
    assert efs["authorizationConfig"]["accessPointId"] == "fsap-0123456789abcdef"
    assert props["networkConfiguration"] == {"assignPublicIp": "ENABLED"}
    no_ip = job.job_definition_request(_spec(public_ip=False))["containerProperties"]
    assert no_ip["networkConfiguration"] == {"assignPublicIp": "DISABLED"}
    ec2 = job.job_definition_request(_spec(efs=False, fs_id=None, fsap=None))
    assert ec2["platformCapabilities"] == ["EC2"]
    assert ec2["containerProperties"]["volumes"][0]["host"] == {"sourcePath": "/mnt/efs"}


def test_submit_request_tags_and_timeout() -> None:
    req = job.submit_request(_spec(timeout=3600), "arn:jd")
    assert req["tags"][naming.TAG_RUN_ID] == "mw260101T000000-abcdef"
    assert req["tags"][naming.TAG_ROLE] == "workflow" and req["tags"]["team"] == "x"
    assert req["timeout"] == {"attemptDurationSeconds": 3600}
    assert req["containerOverrides"]["environment"] == [{"name": "A", "value": "1"}]
    assert "timeout" not in job.submit_request(_spec(), "arn:jd")
