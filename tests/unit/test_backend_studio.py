"""The EFS backend completes its settings inside SageMaker Studio (detection itself is tested
with the ops module)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from WDL.runtime.config import Loader

from miniwdl_aws import backend, config
from miniwdl_aws.backend import container as backend_container
from miniwdl_aws.studio import StudioSettings


class Services:
    clients = object()


def _settings(**overrides: str) -> config.AwsSettings:
    cfg = Loader(logging.getLogger("t"), [], {"aws": overrides} if overrides else None)
    return config.load_settings(cfg)


def test_outside_studio_settings_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_container, "studio_settings", lambda *a, **k: None)
    monkeypatch.setattr(backend.BatchJob, "_fs_mount", "/mnt/efs", raising=False)
    s = _settings(task_queue="q", fsap="fsap-0123456789abcdef")
    assert backend.BatchJob._complete_settings(Services(), s, logging.getLogger("t")) == s  # type: ignore[arg-type]


def test_inside_studio_detected_values_fill_in(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}

    def fake(clients: Any, logger: Any, **kw: str) -> StudioSettings:
        seen.update(kw)
        return StudioSettings("fs-0123456789", "fsap-0123456789ab", "studio-q", "200001", None)  # type: ignore[arg-type]

    monkeypatch.setattr(backend_container, "studio_settings", fake)
    monkeypatch.setattr(backend.BatchJob, "_fs_mount", "/home/sagemaker-user", raising=False)
    try:
        s = backend.BatchJob._complete_settings(Services(), _settings(), logging.getLogger("t"))  # type: ignore[arg-type]
        assert (s.fs, s.fsap, s.task_queue) == ("fs-0123456789", "fsap-0123456789ab", "studio-q")
        assert backend.BatchJob._studio_uid == "200001"
        # explicit settings are passed for the ops module to keep or reject
        assert seen == {
            "fs_id": "",
            "fsap": "",
            "task_queue": "",
            "file_io_root": "/home/sagemaker-user",
        }
    finally:
        backend.BatchJob._studio_uid = None
