"""Pins the moto internals the emulator relies on, so a moto upgrade that moves them fails here
(with a clear message) instead of deep inside a job. See ``miniwdl_aws/emulator/_patches.py``."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

moto = pytest.importorskip("moto")

from moto.batch import models as batch_models  # noqa: E402
from moto.logs import models as logs_models  # noqa: E402


def _params(fn: Any) -> list:
    return list(inspect.signature(fn).parameters)


def _original(name: str, current: Any) -> Any:
    """moto's own object, even while an emulator (which patches them) runs in this process."""
    from miniwdl_aws.emulator import _patches

    return _patches._ORIGINALS.get(name, current)


def test_moto_version_is_the_pinned_range() -> None:
    major, minor = (int(x) for x in moto.__version__.split(".")[:2])
    assert (major, minor) == (5, 2), "re-check every pin below, then widen setup.py's moto range"


def test_submit_job_instantiates_the_module_global_job() -> None:
    source = inspect.getsource(batch_models.BatchBackend.submit_job)
    assert "Job(" in source and ".start()" in source
    assert "self._jobs[job.job_id] = job" in source
    assert "JOB_NAME_REGEX.match(job_name)" in source
    assert hasattr(batch_models, "JOB_NAME_REGEX")


def test_job_constructor_and_helpers() -> None:
    job_cls = _original("job", batch_models.Job)
    assert _params(job_cls.__init__)[:14] == [
        "self",
        "name",
        "job_def",
        "job_queue",
        "backend",
        "log_backend",
        "container_overrides",
        "eks_properties_override",
        "depends_on",
        "parameters",
        "all_jobs",
        "timeout",
        "array_properties",
        "provided_job_id",
    ]
    for name in (
        "run",
        "start",
        "terminate",
        "describe",
        "describe_short",
        "_get_container_property",
        "_add_parameters_to_command",
        "_get_attempt_duration",
        "_container_details",
    ):
        assert callable(getattr(job_cls, name, None)), f"moto Job.{name} is gone"
    source = inspect.getsource(job_cls.__init__)
    for attr in (
        "self.job_definition",
        "self.container_overrides",
        "self.job_queue",
        "self.backend",
        "self._log_backend",
        "self.depends_on",
        "self.parameters",
        "self.timeout",
        "self.array_properties",
        "self.job_stopped",
        "self.job_stopped_at",
        "self.job_stopped_reason",
        "self.exit_code",
        "self.log_stream_name",
        "self._child_jobs",
        "self.job_created_at",
        "self.job_started_at",
        "self.arn",
    ):
        assert attr in source, f"moto Job no longer sets {attr}"


def test_backend_methods_we_wrap_or_call() -> None:
    backend = batch_models.BatchBackend
    assert _params(_original("describe_jobs", backend.describe_jobs)) == ["self", "jobs"]
    assert _params(_original("cancel_job", backend.cancel_job)) == ["self", "job_id", "reason"]
    assert _params(backend.terminate_job) == ["self", "job_id", "reason"]
    assert _params(_original("reset", backend.reset)) == ["self"]
    update = _original("update_compute_environment", backend.update_compute_environment)
    assert _params(update) == [
        "self",
        "compute_environment_name",
        "state",
        "compute_resources",
        "service_role",
    ]
    for name in (
        "get_job_by_id",
        "get_job_definition",
        "get_compute_environment",
        "list_tags_for_resource",
    ):
        assert callable(getattr(backend, name, None)), name
    assert "job.terminate(reason)" in inspect.getsource(backend.terminate_job)
    assert "self._jobs" in inspect.getsource(backend.__init__)


def test_job_definition_and_queue_attributes() -> None:
    jd_source = inspect.getsource(batch_models.JobDefinition.__init__)
    for attr in (
        "self.retry_strategy",
        "self.propagate_tags",
        "self.platform_capabilities",
        "self.container_properties",
        "self.timeout",
        "self.parameters",
        "self.name",
        "self.arn",
    ):
        assert attr in jd_source, attr
    queue_source = inspect.getsource(batch_models.JobQueue.__init__)
    assert "self.environments" in queue_source and "self.arn" in queue_source
    ce_source = inspect.getsource(batch_models.ComputeEnvironment.__init__)
    assert "self.compute_resources" in ce_source and "self.arn" in ce_source


def test_logs_backend_api() -> None:
    backend = logs_models.LogsBackend
    assert _params(backend.ensure_log_group) == ["self", "log_group_name"]
    assert _params(backend.ensure_log_stream) == ["self", "log_group_name", "log_stream_name"]
    assert _params(backend.put_log_events) == [
        "self",
        "log_group_name",
        "log_stream_name",
        "log_events",
    ]


def test_efs_backend_attributes() -> None:
    from moto.efs import models as efs_models

    source = inspect.getsource(efs_models.EFSBackend.__init__)
    assert "self.access_points" in source and "self.file_systems_by_id" in source
    assert "self.file_system_id" in inspect.getsource(efs_models.AccessPoint.__init__)


def test_server_pieces() -> None:
    from moto.moto_server import werkzeug_app

    for name in ("DomainDispatcherApplication", "MotoRequestHandler", "create_backend_app"):
        assert hasattr(werkzeug_app, name), name
    from moto.moto_api import state_manager

    assert state_manager.get_transition("batch::job")["progression"] == "manual"
    from moto.moto_api._internal import moto_api_backend

    assert callable(moto_api_backend.reset)


def test_install_swaps_and_uninstall_restores() -> None:
    from miniwdl_aws.emulator import _jobs, _patches

    if _patches._ORIGINALS:  # an emulator runs in this process: check the live swap instead
        assert batch_models.Job is _patches.build_job
        assert issubclass(_jobs.LocalJob, _patches._ORIGINALS["job"])
        assert logs_models.LogStream.get_log_events is _patches._get_log_events
        return
    original = batch_models.Job
    original_get = logs_models.LogStream.get_log_events
    _patches.install()
    try:
        assert batch_models.Job is _patches.build_job
        assert issubclass(_jobs.LocalJob, original)
        assert logs_models.LogStream.get_log_events is _patches._get_log_events
    finally:
        _patches.uninstall()
    assert batch_models.Job is original
    assert logs_models.LogStream.get_log_events is original_get


def test_job_is_queued_before_tags_are_validated() -> None:
    """Why ``build_job`` must take a failed job off its queue: moto appends it first."""
    source = inspect.getsource(_original("job", batch_models.Job).__init__)
    assert source.index("self.job_queue.jobs.append(self)") < source.index("validate_tags")
    assert "self.jobs" in inspect.getsource(batch_models.JobQueue.__init__)


def test_log_stream_events_and_get_log_events_signature() -> None:
    """``_logs.get_log_events`` replaces moto's and reads ``LogStream.events`` (in arrival
    order) of ``LogEvent``s with ``timestamp``, ``event_id`` and ``to_response_dict``."""
    get = _original("get_log_events", logs_models.LogStream.get_log_events)
    assert _params(get) == [
        "self",
        "start_time",
        "end_time",
        "limit",
        "next_token",
        "start_from_head",
    ]
    assert "self.events += events" in inspect.getsource(logs_models.LogStream.put_log_events)
    event_init = inspect.getsource(logs_models.LogEvent.__init__)
    assert "self.timestamp" in event_init and "self.event_id" in event_init
    assert callable(logs_models.LogEvent.to_response_dict)
    assert "list_jobs" in dir(batch_models.BatchBackend)


def test_s3_key_etag_and_encryption() -> None:
    from moto.s3 import models as s3_models

    from miniwdl_aws.emulator import _s3

    key_cls = s3_models.FakeKey
    etag = _s3._ORIGINALS.get("etag", key_cls.__dict__["etag"])
    assert isinstance(etag, property) and etag.fget is not None, "moto FakeKey.etag is gone"
    assert "return f'\"{self._etag}\"'" in inspect.getsource(etag.fget), "FakeKey.etag not quoted"
    assert "encryption" in _params(key_cls.__init__)
    assert "self.encryption = encryption" in inspect.getsource(key_cls.__init__)
    # a bucket's default encryption reaches FakeKey.encryption through put_object
    put_source = inspect.getsource(s3_models.S3Backend.put_object)
    assert 'bucket.encryption["Rule"]["ApplyServerSideEncryptionByDefault"]' in put_source
    assert "encryption=encryption" in put_source
    # parts carry the upload's encryption, and completion compares and hex-decodes their ETags
    assert "encryption=self.sse_encryption" in inspect.getsource(s3_models.FakeMultipart.set_part)
    complete_source = inspect.getsource(s3_models.FakeMultipart.complete)
    assert "part.etag" in complete_source and "decode_hex(part_etag)" in complete_source
    assert '-{count}"' in complete_source


def test_s3_install_swaps_and_uninstall_restores() -> None:
    from moto.s3 import models as s3_models

    from miniwdl_aws.emulator import _s3

    if _s3._ORIGINALS:  # an emulator runs in this process: check the live swap instead
        assert s3_models.FakeKey.__dict__["etag"] is not _s3._ORIGINALS["etag"]
        return
    original = s3_models.FakeKey.__dict__["etag"]
    _s3.install()
    try:
        swapped = s3_models.FakeKey.__dict__["etag"]
        assert swapped is not original
        _s3.install()
        assert s3_models.FakeKey.__dict__["etag"] is swapped
    finally:
        _s3.uninstall()
    assert s3_models.FakeKey.__dict__["etag"] is original
    _s3.uninstall()
    assert s3_models.FakeKey.__dict__["etag"] is original
