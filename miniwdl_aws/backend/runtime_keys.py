"""The task ``runtime`` keys this backend reads beyond miniwdl's own.

miniwdl 1.16 passes no ``hints`` to container backends, so these come from ``runtime``:

- ``acceleratorType`` (``nvidia*`` requests a GPU), ``acceleratorCount`` (GPUs);
- ``maxTime``: per-attempt timeout, seconds or ``"90m"``/``"2h"``/``"1d"``, at least 60 s,
  instead of ``[aws] job_timeout``;
- ``aws``: one object of AWS Batch settings for the task (:data:`AWS_KEYS`), e.g.
  ``aws: object { queue: "highmem", job_role: "arn:...", share: "teamA", priority: 10 }``;
  also a JSON string of such an object, and settable per call from the inputs JSON
  (``"wf.call.runtime.aws": {...}``, which replaces the task's own ``aws`` object, or
  ``"wf.call.runtime.aws.queue": "q"`` for one key);
- the flat keys of earlier versions, ``aws_queue``, ``aws_timeout`` and
  ``aws_container_properties``, and ``aws_<key>`` for every other key of the object.

Each malformed value is one :class:`WDL.Error.RuntimeError` naming the key and the task, so
miniwdl writes ``error.json`` and prints one line, never a traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Dict

import WDL

from .._util import _
from ..batch import specs

__all__ = ["AWS_KEYS", "parse_runtime_keys", "parse_aws_object"]


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value.strip()


def _duration(key: str, value: Any) -> float:
    try:
        return specs.parse_duration(value)
    except ValueError:
        raise ValueError('seconds, or e.g. "90m"') from None


def _priority(key: str, value: Any) -> int:
    # SubmitJob's schedulingPriorityOverride: 0 to 9999, higher first
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9999:
        raise ValueError("an integer from 0 to 9999")
    return value


def _multiplier(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
        raise ValueError("a number >= 1 (1 turns memory retry off)")
    return float(value)


def _json_object(key: str, value: Any) -> Dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exn:
            raise ValueError(f"a JSON object ({exn})") from None
    if not isinstance(value, dict):
        raise ValueError("a JSON object")
    return value


def _consumables(key: str, value: Any) -> Dict[str, int]:
    # SubmitJob's consumableResourcePropertiesOverride: resource name (or ARN) -> quantity
    table = _json_object(key, value)
    for name, quantity in table.items():
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError(f"an object of resource name to a positive integer (at {name!r})")
    return {str(k): int(v) for k, v in table.items()}


# key of the runtime ``aws`` object -> (runtime_values entry, parser of its JSON value)
AWS_KEYS: Dict[str, Any] = {
    "queue": ("aws_queue", _string),
    "job_role": ("aws_job_role", _string),
    "timeout": ("aws_timeout", _duration),
    "share": ("aws_share", _string),
    "priority": ("aws_priority", _priority),
    "consumables": ("aws_consumables", _consumables),
    "container_properties": ("aws_container_properties", _json_object),
    "memory_retry_multiplier": ("aws_memory_retry_multiplier", _multiplier),
}


def _task(run_id: str) -> str:
    return f" (task {run_id})" if run_id else ""


def parse_aws_object(raw: Any, run_id: str = "") -> Dict[str, Any]:
    """The ``runtime_values`` entries of a runtime ``aws`` object given as its JSON value (a
    dict, or a string holding a JSON object); RuntimeError naming the key otherwise."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exn:
            raise WDL.Error.RuntimeError(
                f"invalid setting of runtime.aws{_task(run_id)}: should be an object ({exn})"
            ) from None
    if not isinstance(raw, dict):
        raise WDL.Error.RuntimeError(
            f"invalid setting of runtime.aws{_task(run_id)}: should be an object,"
            f' e.g. object {{ queue: "my-queue" }}'
        )
    rv: Dict[str, Any] = {}
    for key, value in raw.items():
        if key not in AWS_KEYS:
            raise WDL.Error.RuntimeError(
                f"unknown key runtime.aws.{key}{_task(run_id)}; known keys: " + ", ".join(AWS_KEYS)
            )
        if value is None:
            continue  # an optional left unset in the WDL
        entry, parse = AWS_KEYS[key]
        rv[entry] = _parse_value(f"runtime.aws.{key}", parse, value, run_id)
    return rv


def _parse_value(where: str, parse: Callable[[str, Any], Any], value: Any, run_id: str) -> Any:
    try:
        return parse(where, value)
    except ValueError as exn:
        shown = json.dumps(value) if not isinstance(value, str) else value
        raise WDL.Error.RuntimeError(
            f"invalid setting of {where}{_task(run_id)}: should be {exn}, got {shown[:200]}"
        ) from None


def parse_runtime_keys(
    runtime_eval: Dict[str, WDL.Value.Base], logger: logging.Logger, run_id: str = ""
) -> Dict[str, Any]:
    """The ``runtime_values`` entries for our keys present in ``runtime_eval``; ``run_id``
    (miniwdl's id of the call) names the task in error messages."""
    rv: Dict[str, Any] = {}
    task = _task(run_id)
    if "acceleratorType" in runtime_eval:
        raw = _json(runtime_eval["acceleratorType"])
        if not isinstance(raw, str):
            raise WDL.Error.RuntimeError(
                f"invalid setting of runtime.acceleratorType{task}: should be a string such as"
                f' "nvidia-tesla-t4", got {json.dumps(raw)[:200]}'
            )
        accel = raw
        if accel.lower().startswith("nvidia"):
            rv["gpu"] = True
        else:
            logger.warning(_("ignored unrecognized runtime.acceleratorType", value=accel))
        rv["acceleratorType"] = accel
    if "acceleratorCount" in runtime_eval:
        count = runtime_eval["acceleratorCount"]
        if not isinstance(count, WDL.Value.Int) or count.value < 0:
            raise WDL.Error.RuntimeError(
                f"invalid setting of runtime.acceleratorCount{task}: should be an integer >= 0"
            )
        rv["acceleratorCount"] = count.value
    if "maxTime" in runtime_eval:
        rv["maxTime"] = _parse_value(
            "runtime.maxTime", _duration, _json(runtime_eval["maxTime"]), run_id
        )
    # the flat keys first, so that the object's keys win over them
    for key, (entry, parse) in AWS_KEYS.items():
        flat = "aws_" + key
        if flat in runtime_eval:
            rv[entry] = _parse_value(f"runtime.{flat}", parse, _json(runtime_eval[flat]), run_id)
    if "aws" in runtime_eval:
        rv.update(parse_aws_object(_json(runtime_eval["aws"]), run_id))
    dotted = {k[4:]: _json(v) for k, v in runtime_eval.items() if k.startswith("aws.")}
    if dotted:
        rv.update(parse_aws_object(dotted, run_id))
    return rv


def _json(value: WDL.Value.Base) -> Any:
    """The JSON-like value of a runtime value; a WDL Null is None."""
    if isinstance(value, WDL.Value.Null):
        return None
    return value.json
