"""The backend's pure request builder: which queue an attempt goes to."""

from __future__ import annotations

import dataclasses
import logging

from WDL.runtime.config import Loader

from miniwdl_aws import config
from miniwdl_aws.backend import request


def _settings() -> config.AwsSettings:
    s = config.load_settings(Loader(logging.getLogger("t"), []))
    return dataclasses.replace(s, task_queue="spot", task_queue_fallback="ondemand")


def test_fallback_after_the_preemptible_budget() -> None:
    s = _settings()
    rv = {"preemptible": 2}
    assert [request.queue_for_attempt(rv, s, n) for n in range(4)] == [
        "spot",
        "spot",
        "ondemand",
        "ondemand",
    ]
    assert request.queue_for_attempt({}, s, 1) == "ondemand"  # no budget: first interruption
    assert (
        request.queue_for_attempt({}, dataclasses.replace(s, task_queue_fallback=""), 5) == "spot"
    )


def test_a_task_with_its_own_queue_or_a_gpu_never_falls_back() -> None:
    s = _settings()
    assert request.queue_for_attempt({"aws_queue": "gpu-q", "preemptible": 1}, s, 3) == "gpu-q"
    assert request.queue_for_attempt({"gpu": True, "preemptible": 1}, s, 3) == "spot"
