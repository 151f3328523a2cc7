"""AWS's tag and job-definition-name rules, as :mod:`miniwdl_aws.naming` checks them for the
submitter (and, through the same pure functions, the backend): one rule per test."""

from __future__ import annotations

from typing import Dict

import pytest

from miniwdl_aws import naming
from miniwdl_aws.batch import specs


def _tags(n: int) -> Dict[str, str]:
    return {f"k{i}": "v" for i in range(n)}


def test_fine_tags_pass() -> None:
    ok = {
        "team": "genomics",
        "cost center": "a_b.c:d/e=f+g-h@i",  # spaces and every allowed punctuation mark
        "Projekt-Größe": "ünïcödé 42",  # letters and digits of any script
        "k" * 128: "v" * 256,  # the longest key and value
        "empty": "",
    }
    assert naming.tag_problem(ok) is None


def test_key_and_value_lengths() -> None:
    assert "129 characters" in str(naming.tag_problem({"k" * 129: "v"}))
    assert "257 characters" in str(naming.tag_problem({"k": "v" * 257}))
    assert "empty" in str(naming.tag_problem({"": "v"}))


@pytest.mark.parametrize("key, value", [("a*b", "v"), ("k", "x!"), ("k", "a,b"), ("k", 'q"')])
def test_only_allowed_characters(key: str, value: str) -> None:
    assert "characters AWS does not allow" in str(naming.tag_problem({key: value}))


@pytest.mark.parametrize("key, value", [("aws:team", "x"), ("AWS:x", "y"), ("k", "Aws:thing")])
def test_no_aws_prefix(key: str, value: str) -> None:
    assert "aws:" in str(naming.tag_problem({key: value}))


def test_count_includes_the_tags_miniwdl_aws_adds() -> None:
    ours = len(naming.OUR_TAG_KEYS)
    assert ours == 7  # run id, workflow, call, attempt, role, parent job id, definition hash
    room = naming.MAX_TAGS - ours
    assert naming.tag_problem(_tags(room)) is None
    problem = str(naming.tag_problem(_tags(room + 1)))
    assert "too many" in problem and f"at most {room} user tags" in problem
    # a user tag with one of our keys is one resource tag, not two
    assert naming.tag_problem({**_tags(room), naming.TAG_RUN_ID: "x"}) is None


def test_job_definition_prefix() -> None:
    assert naming.job_definition_prefix_problem("miniwdl-task_2") is None
    for bad in ("", "my prefix", "a.b", "pre/fix", "ünï"):
        assert "letters, digits, - and _" in str(naming.job_definition_prefix_problem(bad))
    longest = naming.JOB_DEFINITION_NAME_MAX - 1 - naming.DEFINITION_HASH_CHARS
    assert naming.job_definition_prefix_problem("p" * longest) is None
    assert "at most" in str(naming.job_definition_prefix_problem("p" * (longest + 1)))


def test_a_valid_prefix_makes_a_valid_full_name() -> None:
    longest = naming.JOB_DEFINITION_NAME_MAX - 1 - naming.DEFINITION_HASH_CHARS
    request = specs.register_request("p" * longest, {"image": "x"})
    name = request["jobDefinitionName"]
    assert len(name) == naming.JOB_DEFINITION_NAME_MAX
    assert name.endswith("-" + request["tags"][specs.TAG_DEFINITION_HASH][:20])
