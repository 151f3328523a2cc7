"""The task ``runtime`` keys this backend reads beyond miniwdl's own.

miniwdl 1.16 passes no ``hints`` to container backends, so these come from ``runtime``:

- ``acceleratorType`` (``nvidia*`` requests a GPU), ``acceleratorCount`` (GPUs);
- ``maxTime`` or ``aws_timeout``: per-attempt timeout, seconds or ``"90m"``/``"2h"``/``"1d"``,
  at least 60 s, instead of ``[aws] job_timeout``;
- ``aws_queue``: job queue for this task instead of ``[aws] task_queue``;
- ``aws_container_properties``: JSON object (or a WDL map/object) of extra containerProperties,
  merged over ``[aws] container_properties``.

Each malformed value is one :class:`WDL.Error.RuntimeError` naming the key, never a traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict

import WDL

from .._util import _
from ..batch import specs

__all__ = ["parse_runtime_keys"]


def parse_runtime_keys(
    runtime_eval: Dict[str, WDL.Value.Base], logger: logging.Logger
) -> Dict[str, Any]:
    """The ``runtime_values`` entries for our keys present in ``runtime_eval``."""
    rv: Dict[str, Any] = {}
    if "acceleratorType" in runtime_eval:
        accel = str(runtime_eval["acceleratorType"].coerce(WDL.Type.String()).value)
        if accel.lower().startswith("nvidia"):
            rv["gpu"] = True
        else:
            logger.warning(_("ignored unrecognized runtime.acceleratorType", value=accel))
        rv["acceleratorType"] = accel
    if "acceleratorCount" in runtime_eval:
        count = runtime_eval["acceleratorCount"]
        if not isinstance(count, WDL.Value.Int) or count.value < 0:
            raise WDL.Error.RuntimeError("invalid setting of runtime.acceleratorCount")
        rv["acceleratorCount"] = count.value
    for key in ("maxTime", "aws_timeout"):
        if key in runtime_eval:
            raw = runtime_eval[key].json
            try:
                rv[key] = specs.parse_duration(raw)
            except ValueError:
                raise WDL.Error.RuntimeError(
                    f'invalid setting of runtime.{key} (seconds, or e.g. "90m"): {raw}'
                ) from None
    if "aws_queue" in runtime_eval:
        rv["aws_queue"] = str(runtime_eval["aws_queue"].coerce(WDL.Type.String()).value)
    if "aws_container_properties" in runtime_eval:
        rv["aws_container_properties"] = _container_properties(
            runtime_eval["aws_container_properties"]
        )
    return rv


def _container_properties(raw: WDL.Value.Base) -> Dict[str, Any]:
    what = "invalid setting of runtime.aws_container_properties (a JSON object)"
    try:
        props = json.loads(raw.value) if isinstance(raw, WDL.Value.String) else raw.json
    except ValueError as exn:
        raise WDL.Error.RuntimeError(f"{what}: {exn}") from None
    if not isinstance(props, dict):
        raise WDL.Error.RuntimeError(what)
    return props
