"""Shared pytest fixtures. Tests never see real AWS.

- ``_no_real_aws`` (autouse, session; also applied in ``pytest_configure``, before collection):
  removes every real AWS credential, profile and config variable from ``os.environ``
  (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``, ``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL*``...),
  points ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` at paths that do not exist, and sets
  fake ``testing`` credentials, region ``us-east-1`` and ``AWS_EC2_METADATA_DISABLED=true``.
  Anything that escapes the fixtures below therefore fails to authenticate instead of reaching
  an account.
- ``emulator`` (session): a started :class:`miniwdl_aws.emulator.Emulator` (local AWS whose Batch
  runs jobs as local processes) with its EFS stand-in under the session tmp dir, dwell 0.01 s,
  strict validation, ``min_timeout`` 1 s (so timeout tests are fast), kill grace 0.5 s (AWS's
  30 s is the emulator's default) and memory limits enforced.
- ``aws`` (function): resets the emulator (kills jobs, wipes state, clears faults and stats),
  bootstraps the reference stack, sets ``emulator.env()`` in ``os.environ`` for the test and
  yields the :class:`~miniwdl_aws.emulator.Stack` (``stack.efs_dir`` is a fresh directory per
  test). On teardown it waits up to 3 s for jobs to finish, then kills leftovers and fails *this*
  test if any job was still active, so a leak is reported where it happens. Settings changed
  with ``emulator.configure`` are restored at the start of the next test.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterator

import pytest

from tests.support.signals import restore_sigint

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_EMULATOR_SETTINGS: dict = {
    "dwell": 0.01,
    "strict": True,
    "min_timeout": 1.0,
    "kill_grace": 0.5,  # AWS's is 30 s (the emulator's default): tests shorten it explicitly
    "enforce_memory": True,
    "memory_poll": 0.25,
}


def _is_aws_var(key: str) -> bool:
    return key.startswith(("AWS_", "BOTO_"))


def _scrub_aws_env() -> None:
    for key in list(os.environ):
        if _is_aws_var(key):
            del os.environ[key]
    missing = os.path.join(tempfile.gettempdir(), "miniwdl-aws-tests-no-such-dir")
    os.environ["AWS_CONFIG_FILE"] = os.path.join(missing, "config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(missing, "credentials")
    os.environ.update(_FAKE_ENV)


_ORIGINAL_AWS_ENV = {k: v for k, v in os.environ.items() if _is_aws_var(k)}


def pytest_configure(config: pytest.Config) -> None:
    """Scrub before collection, so that even test modules' import-time code sees no real AWS;
    and give Ctrl-C its terminal meaning back to the processes the tests start."""
    _scrub_aws_env()
    restore_sigint()


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> Iterator[None]:
    _scrub_aws_env()
    yield
    for key in [k for k in os.environ if _is_aws_var(k)]:
        del os.environ[key]
    os.environ.update(_ORIGINAL_AWS_ENV)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("moto", reason="the emulator needs the 'local' extra")
    from miniwdl_aws.emulator import Emulator

    efs_root = tmp_path_factory.mktemp("efs")
    from miniwdl_aws.emulator import from_dockerfile
    from tests.support.submitter import WORKFLOW_DOCKERFILE, WORKFLOW_IMAGE

    emu = Emulator(efs_dir=str(efs_root), **_EMULATOR_SETTINGS)
    emu.add_image(WORKFLOW_IMAGE, from_dockerfile(WORKFLOW_DOCKERFILE))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def aws(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    emu = emulator
    emu.configure(**_EMULATOR_SETTINGS)
    emu.reset()
    stack = emu.bootstrap(efs_dir=str(tmp_path_factory.mktemp("efs")))
    for key, value in emu.env().items():
        monkeypatch.setenv(key, value)
    yield stack
    emu.clear_faults()
    try:
        # a job terminated at the very end of a test may still be in its kill grace period
        emu.assert_no_active_jobs(timeout=3.0)
        leaked = []
    except AssertionError:
        leaked = emu.active_jobs()
    if leaked:
        emu.terminate_all("leaked by test")
        pytest.fail(f"test left {len(leaked)} Batch job(s) active: {leaked}")
