"""The local image table: a job of an image built from a Dockerfile gets that image's ENV, and the
files the Dockerfile copies are the ones it reads (issue "A local AWS as unkind as the real one",
item 8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from miniwdl_aws.emulator._images import Image, from_dockerfile, parse_spec
from tests.support.logs import stream_messages

REPO = Path(__file__).resolve().parents[2]


def test_this_repositorys_dockerfile_gives_its_env_and_cfg() -> None:
    image = from_dockerfile(str(REPO / "Dockerfile"))
    assert image.env["MINIWDL_CFG"] == "/etc/miniwdl-aws.cfg"
    assert image.files == {"/etc/miniwdl-aws.cfg": str(REPO / "miniwdl-aws.cfg")}
    env = image.job_env()
    assert env["MINIWDL_CFG"] == str(REPO / "miniwdl-aws.cfg")
    assert env["PYTHONUNBUFFERED"] == "1"


def test_only_the_last_stage_counts_and_other_stages_files_are_not_the_contexts(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.cfg").write_text("x")
    (tmp_path / "b.cfg").write_text("y")
    (tmp_path / "Dockerfile").write_text(
        "FROM base AS build\nENV BUILD_ONLY=1\nCOPY a.cfg /etc/a.cfg\n"
        "FROM base\n# a comment\nCOPY --from=build /etc/a.cfg /etc/a.cfg\n"
        "COPY b.cfg c.missing /opt/\n"
        'ENV ONE=1 \\\n    TWO="two words"\nENV LEGACY value with spaces\n'
    )
    image = from_dockerfile(str(tmp_path / "Dockerfile"))
    assert image.env == {"ONE": "1", "TWO": "two words", "LEGACY": "value with spaces"}
    # the --from file is another stage's; the missing source is not in the context
    assert image.files == {"/opt/b.cfg": str(tmp_path / "b.cfg")}


def test_job_env_maps_only_values_that_name_copied_files() -> None:
    image = Image(env={"CFG": "/etc/x.cfg", "OTHER": "/etc/y"}, files={"/etc/x.cfg": "/h/x.cfg"})
    assert image.job_env() == {"CFG": "/h/x.cfg", "OTHER": "/etc/y"}


def test_spec_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NAME=DOCKERFILE"):
        parse_spec("just-a-name")
    with pytest.raises(ValueError, match="no such Dockerfile"):
        parse_spec(f"img:1={os.path.join(tmp_path, 'nope')}")


def test_a_job_of_a_table_image_reads_the_images_env_and_files(aws: Any, emulator: Any) -> None:
    """The in-process local AWS of the tests has this repository's workflow image in its table:
    a job of that image finds MINIWDL_CFG naming the shipped miniwdl-aws.cfg; a job of another
    image does not (its environment is the job's own)."""
    from tests.support.submitter import WORKFLOW_IMAGE

    from .helpers import job_definition, submit, wait_status

    script = 'echo "cfg=$MINIWDL_CFG"'
    for image, expected in ((WORKFLOW_IMAGE, str(REPO / "miniwdl-aws.cfg")), ("other:1", "")):
        jd = job_definition(aws, ["sh", "-c", script], container={"image": image})
        desc = wait_status(submit(aws, jd, name="imgenv"))
        assert desc["status"] == "SUCCEEDED", desc.get("statusReason")
        messages = stream_messages(desc["container"]["logStreamName"])
        assert messages[0] == f"cfg={expected}"
