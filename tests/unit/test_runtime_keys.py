"""The task runtime keys the backend reads: the ``aws`` object, the flat ``aws_*`` keys, and one
clear error naming the key and the task for each malformed value."""

from __future__ import annotations

import logging
from typing import Any, Dict

import pytest
import WDL

from miniwdl_aws.backend.runtime_keys import parse_runtime_keys

LOG = logging.getLogger("t")


def _v(value: Any) -> WDL.Value.Base:
    return WDL.Value.from_json(WDL.Type.Any(), value)


def _parse(**runtime: Any) -> Dict[str, Any]:
    return parse_runtime_keys(
        {k.replace("__", "."): _v(v) for k, v in runtime.items()}, LOG, "call-x"
    )


def test_aws_object_keys() -> None:
    rv = _parse(
        aws={
            "queue": "q",
            "job_role": "arn:aws:iam::123456789012:role/r",
            "timeout": "90m",
            "share": "teamA",
            "priority": 10,
            "consumables": {"licence": 2},
            "container_properties": {"linuxParameters": {"sharedMemorySize": 64}},
            "memory_retry_multiplier": 1.5,
        }
    )
    assert rv == {
        "aws_queue": "q",
        "aws_job_role": "arn:aws:iam::123456789012:role/r",
        "aws_timeout": 5400.0,
        "aws_share": "teamA",
        "aws_priority": 10,
        "aws_consumables": {"licence": 2},
        "aws_container_properties": {"linuxParameters": {"sharedMemorySize": 64}},
        "aws_memory_retry_multiplier": 1.5,
    }


def test_flat_keys_still_work_and_the_object_wins() -> None:
    rv = _parse(aws_queue="flat", aws_container_properties='{"a": 1}', aws={"queue": "obj"})
    assert rv == {"aws_queue": "obj", "aws_container_properties": {"a": 1}}
    assert _parse(aws_timeout=120, maxTime="2h") == {"aws_timeout": 120.0, "maxTime": 7200.0}


def test_object_as_json_string_and_dotted_keys_from_inputs() -> None:
    assert _parse(aws='{"queue": "q", "priority": 3}') == {"aws_queue": "q", "aws_priority": 3}
    assert _parse(aws__queue="q2") == {"aws_queue": "q2"}


def test_null_values_are_unset() -> None:
    assert _parse(aws={"queue": None}) == {}


@pytest.mark.parametrize(
    "runtime,words",
    [
        ({"aws": {"queeu": "q"}}, ["runtime.aws.queeu", "known keys"]),
        ({"aws": 5}, ["runtime.aws", "object"]),
        ({"aws": "{not json"}, ["runtime.aws", "object"]),
        ({"aws_container_properties": "{not json"}, ["runtime.aws_container_properties"]),
        ({"aws_container_properties": "[1]"}, ["runtime.aws_container_properties"]),
        ({"aws": {"priority": 10000}}, ["runtime.aws.priority", "0 to 9999"]),
        ({"aws": {"priority": "high"}}, ["runtime.aws.priority"]),
        ({"aws": {"consumables": {"lic": 0}}}, ["runtime.aws.consumables", "'lic'"]),
        ({"aws": {"memory_retry_multiplier": 0.5}}, ["runtime.aws.memory_retry_multiplier"]),
        ({"aws": {"timeout": "soon"}}, ["runtime.aws.timeout"]),
        ({"aws_timeout": "soon"}, ["runtime.aws_timeout"]),
        ({"maxTime": "soon"}, ["runtime.maxTime"]),
        ({"aws_queue": ""}, ["runtime.aws_queue"]),
        ({"acceleratorCount": -1}, ["runtime.acceleratorCount"]),
        ({"acceleratorType": ["nvidia"]}, ["runtime.acceleratorType"]),
    ],
)
def test_each_bad_value_is_one_line_naming_key_and_task(
    runtime: Dict[str, Any], words: Any
) -> None:
    with pytest.raises(WDL.Error.RuntimeError) as info:
        _parse(**runtime)
    message = str(info.value)
    assert "\n" not in message
    assert "(task call-x)" in message
    for word in words:
        assert word in message, message
