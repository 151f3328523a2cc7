"""The submitter's grammar: our flags, config defaults, and `miniwdl run`'s own grammar."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest

from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit import args as cli_args


def _parse(
    argv: list,
    options: Optional[Dict[str, Any]] = None,
    root: str = "/",
    env: Optional[Dict[str, str]] = None,
) -> Any:
    opts = options or {}
    environ = {**(env or {}), "MINIWDL__FILE_IO__ROOT": root}
    return cli_args.parse(argv, lambda name: opts.get(name, ""), environ)


@pytest.mark.parametrize(
    "argv, uri, input_file, rest",
    [
        (["-i", "in.json", "wf.wdl"], "wf.wdl", "in.json", []),
        (["wf.wdl", "x=1", "y=2", "-i", "in.json"], "wf.wdl", "in.json", ["x=1", "y=2"]),
        (["--input=in.json", "wf.wdl", "--verbose"], "wf.wdl", "in.json", ["--verbose"]),
        (["-iin.json", "wf.wdl"], "wf.wdl", "in.json", []),
        (["-i", '{"a": 1}', "wf.wdl"], "wf.wdl", None, ["-i", '{"a": 1}']),
        (["--env", "FOO=1", "wf.wdl", "a=b"], "wf.wdl", None, ["--env", "FOO=1", "a=b"]),
        (["-p", "lib", "https://x.org/wf.wdl"], "https://x.org/wf.wdl", None, []),
    ],
)
def test_passthrough_identifies_wdl_and_inputs(argv, uri, input_file, rest) -> None:
    pt = _parse(argv + ["--workflow-queue", "q"]).passthrough
    assert (pt.uri, pt.input_file, list(pt.rest)) == (uri, input_file, rest)


def test_import_paths_are_kept_apart() -> None:
    pt = _parse(["-p", "lib", "--path", "lib2", "wf.wdl"]).passthrough
    assert pt.path == ("lib", "lib2") and pt.rest == ()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["-i", "x.json"],
        ["wf.wdl", "--bogus-flag"],
        ["wf.wdl", "-d", "somewhere"],
        # miniwdl's own grammar rejects inputs after an option that follows the URI
        ["wf.wdl", "-i", "in.json", "x=1"],
    ],
)
def test_bad_passthrough_is_a_config_error(argv) -> None:
    with pytest.raises(ConfigError):
        _parse(argv)


def test_defaults_come_from_config_options_and_file_io_root() -> None:
    opts = {
        "workflow_queue": "wq",
        "fsap": "fsap-0123456789abcdef",
        "s3_upload_folder": "s3://b/f/",
    }
    a = _parse(["wf.wdl"], opts, root="/shared")
    assert (a.workflow_queue, a.fsap, a.s3upload) == ("wq", "fsap-0123456789abcdef", "s3://b/f/")
    assert (a.mount, a.dir) == ("/shared", "/shared/miniwdl_run")
    # a flag beats the config value
    assert _parse(["wf.wdl", "--workflow-queue", "other"], opts).workflow_queue == "other"


def test_mount_defaults_and_no_efs_spellings() -> None:
    assert _parse(["wf.wdl"]).mount == "/mnt/efs"
    assert _parse(["wf.wdl", "--no-efs"]).mount == "/mnt/net"
    a = _parse(["wf.wdl"], env={"MINIWDL__AWS__FS": "false"})
    assert not a.efs and a.mount == "/mnt/net"


def test_follow_implies_wait_and_self_test_implies_follow() -> None:
    a = _parse(["wf.wdl", "-f"])
    assert a.wait and a.follow
    a = _parse(["--self-test"])
    assert a.follow and a.wait and a.passthrough.uri is None


def test_tags_and_durations() -> None:
    assert cli_args.parse_tags(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    for bad in (["novalue"], ["=v"]):
        with pytest.raises(ConfigError):
            cli_args.parse_tags(bad)
    # one duration grammar, the task runtime's (batch.specs.parse_duration)
    assert [cli_args.parse_timeout(t) for t in ("3600", "90m", "12h", "2d", "60s", "1.5h")] == [
        3600,
        5400,
        43200,
        172800,
        60,
        5400,
    ]
    for bad in ("59", "soon", "1x"):
        with pytest.raises(ConfigError):
            cli_args.parse_timeout(bad)


def test_the_request_is_typed_and_frozen() -> None:
    opts = {"job_tags": {"team": "a", "n": 1}, "s3_upload_delete_after": " Always "}
    a = _parse(["wf.wdl", "--tag", "team=b", "--timeout", "2h", "--no-env"], opts)
    assert (a.config_tags, a.flag_tags) == ({"team": "a", "n": "1"}, {"team": "b"})
    assert a.tags == {"team": "b", "n": "1"}  # --tag wins
    assert (a.timeout, a.delete_after, a.pass_env, a.public_ip) == (7200, "always", False, True)
    # [aws] defaults when the reader has none
    assert (a.job_definition_prefix, a.submit_recovery_seconds) == ("miniwdl-task", 30.0)
    with pytest.raises(AttributeError):
        a.task_queue = "x"  # type: ignore[misc]


def test_help_names_every_env_var() -> None:
    text = cli_args.build_parser().format_help()
    for var in (
        "MINIWDL__AWS__WORKFLOW_QUEUE",
        "MINIWDL__AWS__TASK_QUEUE",
        "MINIWDL__AWS__FSAP",
        "MINIWDL__AWS__S3_UPLOAD_DELETE_AFTER",
        "MINIWDL__AWS__WORKFLOW_IMAGE",
    ):
        assert var in text
