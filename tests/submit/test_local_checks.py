"""What the submitter checks on the laptop before submitting, on the inputs that must pass (the
refusals are rows of ``tests/support/bad_inputs.py``): passed-through settings the workflow job's
miniwdl accepts, and File/Directory inputs it can read."""

from __future__ import annotations

from pathlib import Path

import pytest

from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit import shipping, validate
from tests.support.bad_inputs import FILE_INPUT_WDL


def test_good_passthrough_settings_pass() -> None:
    validate.check_passthrough_settings(
        {
            "MINIWDL__AWS__SUBMIT_PERIOD": "0.01",
            "MINIWDL__AWS__CONTAINER_PROPERTIES": '{"linuxParameters": {"sharedMemorySize": 64}}',
            "MINIWDL__SCHEDULER__TASK_CONCURRENCY": "200",
            "MINIWDL__SCHEDULER__FAIL_FAST": "false",
            "MINIWDL__TASK_RUNTIME__MEMORY_LIMIT_MULTIPLIER": "1",
            "MINIWDL__TASK_RUNTIME__DEFAULTS": '{"docker": "ubuntu:24.04"}',
            "MINIWDL__DOWNLOAD_CACHE__ENABLE_PATTERNS": '["s3://*"]',
            # a plugin's key miniwdl does not know, and an [aws] key of a later version: the
            # job's miniwdl does not refuse them either
            "MINIWDL__SOME_PLUGIN__LEVEL": "x",
            "MINIWDL__AWS__FUTURE_OPTION": "x",
        }
    )


@pytest.mark.parametrize(
    "var,value,needle",
    [
        ("MINIWDL__AWS__TASK_QUEUE_FALLBACK", "", None),
        ("MINIWDL__AWS__JOB_TIMEOUT", "10", "job_timeout"),
        ("MINIWDL__TASK_RUNTIME__DEFAULTS", "{docker", "JSON dict"),
        ("MINIWDL__DOWNLOAD_CACHE__ENABLE_PATTERNS", '["*"', "JSON list"),
        ("MINIWDL__DOWNLOAD_CACHE__ENABLE_PATTERNS", "*", None),  # miniwdl reads it as ["*"]
    ],
)
def test_passthrough_settings_are_read_as_the_job_reads_them(
    var: str, value: str, needle: str
) -> None:
    if needle is None:
        validate.check_passthrough_settings({var: value})
        return
    with pytest.raises(ConfigError, match=needle) as exc:
        validate.check_passthrough_settings({var: value})
    assert "\n" not in str(exc.value)


def test_laptop_cfg_files_are_not_the_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value in this machine's cfg file or an unforwarded variable is not the job's."""
    cfg = tmp_path / "miniwdl.cfg"
    cfg.write_text("[aws]\nsubmit_period = abc\n")
    monkeypatch.setenv("MINIWDL_CFG", str(cfg))
    monkeypatch.setenv("MINIWDL__AWS__FS", "false")  # 0.12.2's --no-efs, never forwarded
    validate.check_passthrough_settings({"MINIWDL__AWS__SUBMIT_PERIOD": "1"})


@pytest.mark.parametrize(
    "path,ok",
    [
        ("s3://bucket/x.txt", True),
        ("https://example.org/x.txt", True),
        ("/mnt/efs/data/x.txt", True),
        ("/mnt/efs", True),
        ("/mnt/efs2/x.txt", False),  # a sibling sharing a prefix is outside
        ("/mnt/efs/../etc/x", False),
        ("/etc/hostname", False),
        ("data/x.txt", False),
        ("./x.txt", False),
    ],
)
def test_input_paths(path: str, ok: bool) -> None:
    problem = shipping.input_path_problem(path, False, "/mnt/efs")
    assert (problem is None) == ok, problem


def test_uris_and_paths_under_the_mount_pass_the_input_check(tmp_path: Path) -> None:
    import WDL

    wdl = tmp_path / "reads.wdl"
    wdl.write_text(FILE_INPUT_WDL)
    doc = WDL.load(str(wdl))
    inputs = ["f=s3://bucket/x.txt", "ds=/mnt/efs/d1", "ds=https://example.org/d2/"]
    shipping.check_inputs(doc, inputs, None, [], [], None, "/mnt/efs")
    with pytest.raises(ConfigError, match="outside the mount"):
        shipping.check_inputs(doc, ["f=/tmp/x.txt"], None, [], [], None, "/mnt/efs")


@pytest.mark.parametrize(
    "cfg,ok",
    [
        (["--cfg", "/mnt/efs/conf/miniwdl.cfg"], True),
        (["--cfg=/mnt/efs/miniwdl.cfg"], True),
        (["--cfg", "/home/me/miniwdl.cfg"], False),
        (["--cfg", "miniwdl.cfg"], False),
        (["--cfg=/mnt/efs2/miniwdl.cfg"], False),
    ],
)
def test_miniwdl_cfg_file_must_be_on_the_shared_filesystem(cfg: list, ok: bool) -> None:
    from miniwdl_aws.submit import args

    argv = ["wf.wdl", *cfg, "--workflow-queue", "q", "--mount", "/mnt/efs"]
    req = args.parse(argv, lambda _name: None, {})
    if ok:
        validate.check_local(req)
    else:
        with pytest.raises(ConfigError, match="cannot read this machine's files"):
            validate.check_local(req)
