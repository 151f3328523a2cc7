"""The few places where the emulator reaches into moto. ``tests/emulator/test_contract.py`` pins
every name used here, so a moto upgrade that moves them fails loudly.

- ``moto.batch.models.Job`` (module global read by ``BatchBackend.submit_job`` at call time) is
  replaced by :func:`build_job`, which builds a :class:`LocalJob` and, when building fails
  (moto validates tags only after queueing the job), takes the half-built job off its queue
  again: left there, it broke every later ListJobs with a status or name filter (HTTP 500);
- ``BatchBackend.list_jobs`` and ``describe_jobs`` do not see a job younger than the
  ``visibility_lag`` fault (eventual consistency of a new job);
- ``moto.logs.models.LogStream.get_log_events`` is ``_logs.get_log_events``: tokens that a late
  older event does not shift, and that expire (24 hours, or the ``log_token_ttl`` fault);
- ``BatchBackend.describe_jobs`` looks jobs up by id (moto scans every job ever submitted) and, in
  strict mode, rejects more than 100 ids as AWS does;
- ``BatchBackend.cancel_job`` calls ``LocalJob.cancel`` (moto calls ``terminate`` for both);
- ``BatchBackend.reset`` first kills our job processes;
- ``moto.batch.models.JOB_NAME_REGEX`` accepts AWS's 1-character job names (moto wants 2+);
- ``moto.moto_api._internal.moto_api_backend.reset()`` wipes every backend (``Emulator.start``);
- ``BatchBackend.update_compute_environment`` applies ``maxvCpus`` (moto ignores it), so tests
  can shrink or grow capacity, and lets waiting jobs start when a compute environment is
  re-ENABLED;
- ``moto.s3.models.FakeKey.etag`` gives keys whose ``FakeKey.encryption`` is ``aws:kms`` or
  ``aws:kms:dsse`` an ETag that is not the MD5 of their data, as AWS does (see ``_s3``).

:func:`install` patches moto once; :func:`bind` hands the running executor to the patched
methods and to :class:`LocalJob` (moto calls both with no way to pass it), and :func:`unbind`
takes it back. The executor is seen only through the :class:`Runner` protocol, so this module
does not import ``_executor``.
"""

from __future__ import annotations

import re
import time
from typing import Any, Dict, List, Optional, Protocol, cast

from moto.batch import models as batch_models
from moto.batch.exceptions import ClientException
from moto.logs import models as logs_models

from . import _jobs, _logs, _s3
from ._faults import FaultInjector
from ._state import Settings

_ORIGINALS: Dict[str, Any] = {}


class BatchHooks(Protocol):
    """What the patched Batch backend methods need from the running executor."""

    settings: Settings
    faults: FaultInjector

    def kill_all(self, reason: str) -> None:
        """Kill every job process and mark every active job FAILED."""

    def forget(self) -> None:
        """Drop every reference to jobs (moto's state was wiped)."""

    def capacity_changed(self) -> None:
        """Start whatever queued jobs now fit."""


class Runner(BatchHooks, _jobs.JobRunner, Protocol):
    """The executor as :func:`bind` takes it: it runs jobs and serves the patched backend."""


_bound: Optional[Runner] = None  # the running emulator's executor; one per process, like moto


def bound() -> Optional[Runner]:
    """The executor handed over by :func:`bind`, or None while no emulator runs."""
    return _bound


def bind(runner: Runner) -> None:
    """Route moto's calls into ``runner`` (at most one at a time, as moto's state is global)."""
    global _bound
    if _bound is not None:
        raise RuntimeError("another Emulator is already running in this process")
    _bound = runner
    _jobs.LocalJob.runner = runner


def unbind() -> None:
    """Undo :func:`bind`."""
    global _bound
    _bound = None
    _jobs.LocalJob.runner = None


def build_job(*args: Any, **kwargs: Any) -> _jobs.LocalJob:
    """moto's ``Job(...)``: a :class:`LocalJob`, or, if building it fails, no trace of it."""
    job = cast(_jobs.LocalJob, _jobs.LocalJob.__new__(_jobs.LocalJob))
    try:
        job.__init__(*args, **kwargs)  # type: ignore[misc]
    except BaseException:
        queue = job.__dict__.get("job_queue")
        if queue is not None:
            jobs = queue.jobs
            # by identity, from the end: other requests only ever append to this list
            for i in range(len(jobs) - 1, -1, -1):
                if jobs[i] is job:
                    del jobs[i]
                    break
        raise
    return job


def _hidden(job: Any) -> bool:
    """Whether ``job`` is still too new to be listed or described (``visibility_lag``)."""
    executor = bound()
    lag = executor.faults.visibility_lag() if executor is not None else 0.0
    created = getattr(job, "created_ms", None)
    return bool(lag) and created is not None and time.time() * 1000 - created < lag * 1000


def _list_jobs(self: Any, *args: Any, **kwargs: Any) -> List[Any]:
    return [job for job in _ORIGINALS["list_jobs"](self, *args, **kwargs) if not _hidden(job)]


def _get_log_events(
    self: Any,
    start_time: Any,
    end_time: Any,
    limit: Any,
    next_token: Optional[str],
    start_from_head: Any,
) -> Any:
    executor = bound()
    ttl = executor.faults.log_token_ttl() if executor is not None else None
    return _logs.get_log_events(self, start_time, end_time, limit, next_token, start_from_head, ttl)


def _describe_jobs(self: Any, jobs: Optional[List[str]]) -> List[Dict[str, Any]]:
    executor = bound()
    ids = list(jobs or [])
    if executor is not None and executor.settings.strict and len(ids) > 100:
        raise ClientException("jobs: the list of job ids must contain between 1 and 100 ids")
    out = []
    seen = set()
    for ident in ids:
        job_id = ident.rsplit("/", 1)[-1] if ident.startswith("arn:") else ident
        job = self._jobs.get(job_id)
        if job is not None and job_id not in seen and not _hidden(job):
            seen.add(job_id)
            out.append(job.describe())
    return out


def _cancel_job(self: Any, job_id: str, reason: str) -> None:
    if not job_id:
        raise ClientException("'jobId' is a required field (cannot be an empty string)")
    if not reason:
        raise ClientException("'reason' is a required field (cannot be an empty string)")
    job = self.get_job_by_id(job_id)
    if isinstance(job, _jobs.LocalJob):
        job.cancel(reason)
    elif job is not None:
        _ORIGINALS["cancel_job"](self, job_id, reason)


def _reset(self: Any) -> None:
    executor = bound()
    if executor is not None:
        executor.kill_all("Emulator state reset")
    _ORIGINALS["reset"](self)
    if executor is not None:
        executor.forget()


def _update_compute_environment(
    self: Any,
    compute_environment_name: str,
    state: Optional[str],
    compute_resources: Optional[Dict[str, Any]],
    service_role: Optional[str],
) -> Any:
    result = _ORIGINALS["update_compute_environment"](
        self, compute_environment_name, state, compute_resources, service_role
    )
    ce = self.get_compute_environment(compute_environment_name)
    if ce is not None and compute_resources and ce.compute_resources is not None:
        for key in ("maxvCpus", "minvCpus", "desiredvCpus"):
            if compute_resources.get(key) is not None:
                ce.compute_resources[key] = compute_resources[key]
    executor = bound()
    if executor is not None:  # more room, or re-ENABLED
        executor.capacity_changed()
    return result


def install() -> None:
    """Patch moto (idempotent)."""
    if _ORIGINALS:
        return
    backend = batch_models.BatchBackend
    _ORIGINALS.update(
        job=batch_models.Job,
        describe_jobs=backend.describe_jobs,
        cancel_job=backend.cancel_job,
        reset=backend.reset,
        update_compute_environment=backend.update_compute_environment,
        job_name_regex=batch_models.JOB_NAME_REGEX,
        list_jobs=backend.list_jobs,
        get_log_events=logs_models.LogStream.get_log_events,
    )
    batch_models.JOB_NAME_REGEX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
    batch_models.Job = build_job  # type: ignore[misc,assignment]
    backend.describe_jobs = _describe_jobs  # type: ignore[method-assign]
    backend.list_jobs = _list_jobs  # type: ignore[method-assign]
    logs_models.LogStream.get_log_events = _get_log_events  # type: ignore[method-assign]
    backend.cancel_job = _cancel_job  # type: ignore[method-assign]
    backend.reset = _reset  # type: ignore[method-assign]
    backend.update_compute_environment = _update_compute_environment  # type: ignore[method-assign]
    _s3.install()


def uninstall() -> None:
    """Undo :func:`install`."""
    if not _ORIGINALS:
        return
    backend = batch_models.BatchBackend
    batch_models.Job = _ORIGINALS["job"]  # type: ignore[misc]
    backend.describe_jobs = _ORIGINALS["describe_jobs"]  # type: ignore[method-assign]
    backend.cancel_job = _ORIGINALS["cancel_job"]  # type: ignore[method-assign]
    backend.reset = _ORIGINALS["reset"]  # type: ignore[method-assign]
    backend.update_compute_environment = _ORIGINALS["update_compute_environment"]  # type: ignore[method-assign]
    batch_models.JOB_NAME_REGEX = _ORIGINALS["job_name_regex"]
    backend.list_jobs = _ORIGINALS["list_jobs"]  # type: ignore[method-assign]
    logs_models.LogStream.get_log_events = _ORIGINALS["get_log_events"]  # type: ignore[method-assign]
    _s3.uninstall()
    _ORIGINALS.clear()
