"""``LocalJob``: moto's Batch ``Job`` model, run by our executor instead of Docker.

moto's ``BatchBackend.submit_job`` instantiates the module-global ``moto.batch.models.Job`` at call
time; :func:`miniwdl_aws.emulator._patches.install` points that name at this class. The job keeps
moto's bookkeeping attributes (``status``, ``job_stopped``, ``exit_code``...) up to date, but
:meth:`describe` is our own: moto's drops ``exitCode``, ignores override resource requirements and
appends to the stored environment on every call. Describing never changes a job.

moto builds the job, so the executor cannot be passed to its constructor: it is injected into the
class instead (:attr:`LocalJob.runner`, set by :func:`miniwdl_aws.emulator._patches.bind`) and
typed by the :class:`JobRunner` protocol, so this module depends on no other part of the emulator
but ``_state``.
"""

from __future__ import annotations

import copy
import time
from datetime import datetime
from typing import Any, ClassVar, Dict, List, Optional, Protocol

from moto.batch import models as batch_models

from ._state import REQUEST

TERMINAL = ("SUCCEEDED", "FAILED")
_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


class JobRunner(Protocol):
    """What a job needs from whatever runs it (the emulator's executor)."""

    def admit(self, job: LocalJob) -> None:
        """Take a freshly submitted job."""

    def terminate(self, job: LocalJob, reason: str, cancel_only: bool) -> None:
        """TerminateJob (``cancel_only=False``) or CancelJob."""


def now_ms() -> int:
    """Wall-clock milliseconds, as Batch reports times."""
    return int(time.time() * 1000)


class LocalJob(batch_models.Job):
    """A Batch job whose container command runs as a local subprocess (see ``_executor``)."""

    # One per process, like moto's backends; None while no Emulator runs.
    runner: ClassVar[Optional[JobRunner]] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        body = REQUEST.submit_body or {}
        jd = self.job_definition
        self.retry_strategy: Optional[Dict[str, Any]] = (
            body.get("retryStrategy") or jd.retry_strategy
        )
        self.propagate_tags = bool(body.get("propagateTags", jd.propagate_tags))
        self.attempt_no = 0
        self.created_ms = now_ms()
        self.started_ms: Optional[int] = None
        self.stopped_ms: Optional[int] = None
        self.status_reason: Optional[str] = None
        self.history: List[str] = []
        self.container_reason: Optional[str] = None
        self.attempt_records: List[Dict[str, Any]] = []
        self.current_stream: Optional[str] = None
        self.vcpus = self._resource("VCPU", 1.0)
        # executor bookkeeping (guarded by Executor.lock)
        self.proc: Any = None
        self.proc_done = True
        self.ce: Any = None
        self.kill_reason: Optional[str] = None
        self.kill_retryable = True
        self.kill_container_reason: Optional[str] = None
        self.timers: List[Any] = []
        self.tmpdir: Optional[str] = None
        self.waits_for: List[str] = list(d["jobId"] for d in (self.depends_on or []))

    # -- moto hooks ------------------------------------------------------------------------------

    def start(self) -> None:
        """Hand the job to the executor instead of starting moto's thread."""
        runner = LocalJob.runner
        assert runner is not None, "LocalJob used without a running Emulator"
        runner.admit(self)

    def run(self) -> None:  # never called: start() does not start the thread
        raise RuntimeError("LocalJob runs through the emulator's executor")

    def terminate(self, reason: str) -> None:
        """TerminateJob (moto's backend calls this): stop the job whatever its state; on an
        array parent, its children (the parent then ends with its last child)."""
        if LocalJob.runner is not None:
            for child in self._array_children():
                LocalJob.runner.terminate(child, reason, cancel_only=False)
            LocalJob.runner.terminate(self, reason, cancel_only=False)

    def cancel(self, reason: str) -> None:
        """CancelJob: effective only before the job runs; on an array parent, AWS "attempts to
        cancel all child jobs" (those not yet STARTING or RUNNING)."""
        if LocalJob.runner is not None:
            for child in self._array_children():
                LocalJob.runner.terminate(child, reason, cancel_only=True)
            LocalJob.runner.terminate(self, reason, cancel_only=True)

    def _get_container_property(self, p: str, default: Any) -> Any:
        if p == "environment":
            return self.environment_list()
        return super()._get_container_property(p, default)

    # -- derived properties ----------------------------------------------------------------------

    def container_properties(self) -> Dict[str, Any]:
        """The job definition's container properties (empty dict for non-container jobs)."""
        return self.job_definition.container_properties or {}

    def command(self) -> List[str]:
        """Override command, else the definition's, with ``Ref::`` parameters substituted."""
        cmd = (
            self.container_overrides.get("command")
            or self.container_properties().get("command")
            or []
        )
        return [str(c) for c in self._add_parameters_to_command(cmd)]

    def environment_list(self) -> List[Dict[str, str]]:
        """Definition env overlaid by override env (a fresh list every call)."""
        merged: Dict[str, str] = {}
        for src in (
            self.container_properties().get("environment") or [],
            self.container_overrides.get("environment") or [],
        ):
            for item in src:
                merged[item["name"]] = item.get("value", "")
        return [{"name": k, "value": v} for k, v in merged.items()]

    def resource_requirements(self) -> List[Dict[str, str]]:
        """Definition resource requirements overlaid by the override's, by type."""
        props = self.container_properties()
        merged: Dict[str, str] = {}
        if props.get("vcpus") is not None:
            merged["VCPU"] = str(props["vcpus"])
        if props.get("memory") is not None:
            merged["MEMORY"] = str(props["memory"])
        for item in props.get("resourceRequirements") or []:
            merged[item["type"]] = str(item["value"])
        ov = self.container_overrides
        if ov.get("vcpus") is not None:
            merged["VCPU"] = str(ov["vcpus"])
        if ov.get("memory") is not None:
            merged["MEMORY"] = str(ov["memory"])
        for item in ov.get("resourceRequirements") or []:
            merged[item["type"]] = str(item["value"])
        return [{"type": k, "value": v} for k, v in merged.items()]

    def _resource(self, kind: str, default: float) -> float:
        for item in self.resource_requirements():
            if item["type"] == kind:
                return float(item["value"])
        return default

    def memory_mib(self) -> Optional[float]:
        """The MEMORY requirement in MiB (overrides applied), or None when there is none."""
        value = self._resource("MEMORY", -1.0)
        return value if value >= 0 else None

    def gpus(self) -> int:
        """The GPU requirement (0 when there is none)."""
        return int(self._resource("GPU", 0.0))

    def attempt_duration(self) -> Optional[int]:
        """``attemptDurationSeconds`` from the submission, else the definition."""
        return self._get_attempt_duration()

    def max_attempts(self) -> int:
        """``retryStrategy.attempts`` (1 when absent)."""
        return int((self.retry_strategy or {}).get("attempts") or 1)

    def platform_capabilities(self) -> List[str]:
        """``EC2`` unless the definition says otherwise."""
        return list(self.job_definition.platform_capabilities or ["EC2"])

    def set_status(self, status: str) -> None:
        """Move to ``status`` and keep moto's bookkeeping attributes in step."""
        if status in TERMINAL:
            self.job_stopped = True
            self.job_stopped_at = datetime.now()
            self.job_stopped_reason = self.status_reason
        self.history.append(status)
        self.status = status

    # -- describe --------------------------------------------------------------------------------

    def describe_short(self) -> Dict[str, Any]:
        """A ListJobs summary."""
        status = self.status or "SUBMITTED"
        out: Dict[str, Any] = {
            "jobArn": self.arn,
            "jobId": self.job_id,
            "jobName": self.job_name,
            "createdAt": self.created_ms,
            "status": status,
            "jobDefinition": self.job_definition.arn,
        }
        if self.status_reason is not None:
            out["statusReason"] = self.status_reason
        if self.started_ms is not None:
            out["startedAt"] = self.started_ms
        if self.stopped_ms is not None and status in TERMINAL:
            out["stoppedAt"] = self.stopped_ms
        container: Dict[str, Any] = {}
        if self.exit_code is not None and status in TERMINAL:
            container["exitCode"] = self.exit_code
        if self.container_reason is not None and status in TERMINAL:
            container["reason"] = self.container_reason
        if container:
            out["container"] = container
        if self.array_properties.get("index") is not None:
            out["arrayProperties"] = {"index": self.array_properties["index"]}
        elif self.array_properties.get("size"):
            # AWS ArrayPropertiesSummary: "size ... is returned for parent array jobs"
            out["arrayProperties"] = {"size": int(self.array_properties["size"])}
        return out

    def describe(self) -> Dict[str, Any]:
        """DescribeJobs output, shaped like AWS's."""
        out = self.describe_short()
        out.update(
            {
                "jobQueue": self.job_queue.arn,
                "dependsOn": copy.deepcopy(self.depends_on or []),
                "parameters": dict(self.parameters),
                "tags": self.backend.list_tags_for_resource(self.arn),
                "propagateTags": self.propagate_tags,
                "platformCapabilities": self.platform_capabilities(),
                "attempts": copy.deepcopy(self.attempt_records),
            }
        )
        if self.retry_strategy:
            out["retryStrategy"] = copy.deepcopy(self.retry_strategy)
        duration = self.attempt_duration()
        if duration:
            out["timeout"] = {"attemptDurationSeconds": duration}
        if self._child_jobs:
            out.update(self._array_summary())
        if (
            self.job_definition.type == "container"
            and self.job_definition.container_properties is not None
        ):
            out["container"] = self._full_container(out.get("container", {}))
        elif self.job_definition.type == "multinode":
            out["nodeProperties"] = self.job_definition.node_properties
        return out

    def _full_container(self, base: Dict[str, Any]) -> Dict[str, Any]:
        props = self.container_properties()
        ov = self.container_overrides
        details: Dict[str, Any] = {
            k: copy.deepcopy(v)
            for k, v in props.items()
            if k not in ("environment", "resourceRequirements", "vcpus", "memory", "command")
        }
        details.update(base)
        details["command"] = self.command()
        details["environment"] = self.environment_list()
        details["resourceRequirements"] = self.resource_requirements()
        for key in ("instanceType",):
            if ov.get(key):
                details[key] = ov[key]
        if self.current_stream is not None:
            details["logStreamName"] = self.current_stream
        return details

    def _array_summary(self) -> Dict[str, Any]:
        children = self._child_jobs or []
        counts = dict.fromkeys(_STATUSES, 0)
        for child in children:
            counts[child.status or "SUBMITTED"] += 1
        return {
            "arrayProperties": {"statusSummary": counts, "size": len(children)},
            "status": self.status,
        }

    # -- array jobs ------------------------------------------------------------------------------

    def array_parent_id(self) -> Optional[str]:
        """The id of this job's array parent when it is an array child, else None."""
        if self.array_properties.get("index") is None:
            return None
        return self.job_id.rsplit(":", 1)[0]  # moto names children "<parent id>:<index>"

    def _array_children(self) -> List[LocalJob]:
        return [c for c in self._child_jobs or [] if isinstance(c, LocalJob)]

    def array_size(self) -> int:
        """How many children this array parent has (0 for a job that is not one)."""
        return int(self.array_properties.get("size") or 0)

    def finish_array(self, failed: bool) -> None:
        """Give an array parent the status its finished children add up to. moto never runs a
        parent, so nothing else ends it."""
        self.status_reason = None
        self.stopped_ms = now_ms()
        self.set_status("FAILED" if failed else "SUCCEEDED")
