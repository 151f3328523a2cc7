"""The [aws] option registry: defaults, parsing, one-line errors naming the key."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from WDL.runtime.config import Loader

from miniwdl_aws import config
from miniwdl_aws.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MINIWDL_* variables or user cfg leak in from the caller's environment."""
    import os

    for var in list(os.environ):
        if var.startswith("MINIWDL"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent-xdg")
    return monkeypatch


def _loader(overrides: dict | None = None) -> Loader:
    return Loader(logging.getLogger("test"), [], {"aws": overrides} if overrides else None)


LEGACY_DEFAULTS = {
    "task_queue": "",
    "task_queue_fallback": "",
    "fsap": "",
    "fs": "",
    "region": "",
    "job_timeout": 86400,
    "boto3_retries": {"max_attempts": 5, "mode": "standard"},
    "retry_wait": 20.0,
    "container_sync": False,
    "gpu_value": 1,
    "container_properties": {},
    "memory_delta": -33,
    "job_tags": {},
}


def test_registry_matches_settings_fields() -> None:
    names = [o.name for o in config.OPTIONS]
    assert len(names) == len(set(names))
    assert names == [f.name for f in dataclasses.fields(config.AwsSettings)]


def test_legacy_keys_keep_their_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = config.load_settings(_loader())
    for name, default in LEGACY_DEFAULTS.items():
        assert config.OPTIONS_BY_NAME[name].since == "0.12.2", name
        assert getattr(settings, name) == default, name
    # the two periods keep their meaning but get faster defaults for the adaptive machinery
    assert config.OPTIONS_BY_NAME["describe_period"].since == "0.12.2"
    assert config.OPTIONS_BY_NAME["submit_period"].since == "0.12.2"


def test_every_option_documented() -> None:
    for o in config.OPTIONS:
        assert len(o.doc) > 20, o.name
        assert o.kind in ("str", "int", "float", "bool", "dict")
        assert o.env_var == "MINIWDL__AWS__" + o.name.upper()


def test_env_only_config_is_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MINIWDL__AWS__TASK_QUEUE", "q1")
    clean_env.setenv("MINIWDL__AWS__FSAP", "fsap-0123456789abcdef0")
    clean_env.setenv("MINIWDL__AWS__JOB_TAGS", '{"team": "x", "n": 3}')
    clean_env.setenv("MINIWDL__AWS__CONTAINER_SYNC", "true")
    clean_env.setenv("MINIWDL__AWS__DESCRIBE_PERIOD", "0.25")
    s = config.load_settings(_loader())
    assert (s.task_queue, s.fsap, s.container_sync, s.describe_period) == (
        "q1",
        "fsap-0123456789abcdef0",
        True,
        0.25,
    )
    assert s.user_tags == {"team": "x", "n": "3"}


def test_overrides_and_derived_values(clean_env: pytest.MonkeyPatch) -> None:
    s = config.load_settings(
        _loader({"boto3_retries": '{"max_attempts": 9, "mode": "adaptive"}', "job_timeout": "120"})
    )
    assert (s.boto3_max_attempts, s.boto3_retry_mode, s.job_timeout) == (9, "adaptive", 120)


@pytest.mark.parametrize(
    "key,value,fragment",
    [
        ("fsap", "fs-12345678", "fsap-<hex>"),
        ("fsap", "fsap-XYZ", "fsap-<hex>"),
        ("fs", "fsap-0123456789", "fs-<hex>"),
        ("describe_period", "-1", "> 0"),
        ("describe_period", "soon", "a number"),
        ("retry_wait", "-0.5", ">= 0"),
        ("job_timeout", "30", ">= 60"),
        ("job_timeout", "1.5", "an integer"),
        ("job_tags", "{not json", "a JSON object"),
        ("job_tags", "[1, 2]", "a JSON object"),
        ("job_tags", '{"a": {"b": 1}}', "string"),
        ("container_properties", '{"image": "x"}', "may not override"),
        ("container_sync", "maybe", "true or false"),
        ("boto3_retries", '{"mode": "turbo"}', "mode"),
        ("s3_upload_folder", "bucket/x", "s3://"),
        ("s3_upload_delete_after", "never", "success"),
    ],
)
def test_malformed_values_name_the_key(
    clean_env: pytest.MonkeyPatch, key: str, value: str, fragment: str
) -> None:
    clean_env.setenv(config.env_var_name(key), value)
    with pytest.raises(ConfigError) as info:
        config.load_settings(_loader())
    msg = str(info.value)
    assert "\n" not in msg
    assert f"[aws] {key}" in msg and config.env_var_name(key) in msg
    assert fragment in msg


def test_describe_period_max_not_below_min(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="describe_period_max"):
        config.load_settings(_loader({"describe_period": "3", "describe_period_max": "2"}))


def test_reading_marks_env_vars_used(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MINIWDL__AWS__RETRY_WAIT", "0")
    cfg = _loader()
    config.load_settings(cfg)
    assert "MINIWDL__AWS__RETRY_WAIT" in cfg._used_env


def test_container_properties_cannot_override_privileged(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MINIWDL__AWS__CONTAINER_PROPERTIES", '{"privileged": true}')
    with pytest.raises(ConfigError, match="privileged"):
        config.load_settings(_loader())
