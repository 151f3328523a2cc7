"""The only production module that calls the boto3 ``batch`` and ``efs`` clients.

:class:`BatchApi` wraps one shared client per service, counts calls per operation (so tests and
the end-of-run summary can check API economy), and turns ``ClientError`` into
:class:`~miniwdl_aws.errors.AwsCallError`; throttling and 5xx responses become :class:`Throttled`
so the submitter can slow down and retry them.

SubmitJob has no idempotency token, so a retry after a *lost response* (connection reset or
read timeout once the request was sent, or a 5xx) may start a second job. SubmitJob therefore
goes through a client without botocore retries, and such failures raise :class:`Ambiguous`: the
caller looks the job up by name before submitting again
(:func:`~miniwdl_aws.batch.recovery.submit_without_twins`).
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, TypeVar

import botocore.exceptions

from .._util import AwsClients
from ..errors import AwsCallError

__all__ = [
    "BatchApi",
    "Throttled",
    "Ambiguous",
    "DESCRIBE_JOBS_MAX",
    "TERMINAL_STATES",
    "is_retryable",
]

DESCRIBE_JOBS_MAX = 100  # DescribeJobs takes "up to 100 job IDs"
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED"})

_THROTTLE_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "ServerException",
    }
)

T = TypeVar("T")


class Throttled(AwsCallError):
    """A call refused for rate (``TooManyRequestsException``) or a transient 5xx: retryable."""


class Ambiguous(Throttled):
    """A transient failure after which the request may or may not have taken effect (lost
    response, 5xx): retryable, but check first for a call that creates something."""


# failures before the request left this host: it certainly had no effect
_NOT_SENT = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
)


def _translate(operation: str, exn: Exception) -> AwsCallError:
    if isinstance(exn, botocore.exceptions.ClientError):
        err = exn.response.get("Error", {})
        code = err.get("Code")
        status = exn.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        message = err.get("Message") or str(exn)
        if status >= 500 and code != "TooManyRequestsException":
            return Ambiguous(operation, code, message)
        if code in _THROTTLE_CODES or status == 429:
            return Throttled(operation, code, message)
        return AwsCallError(operation, code, message)
    if isinstance(exn, _NOT_SENT):
        return Throttled(operation, type(exn).__name__, str(exn))
    if isinstance(
        exn, (botocore.exceptions.HTTPClientError, botocore.exceptions.ResponseStreamingError)
    ):
        # connection reset or read timeout after sending: the call may have happened
        return Ambiguous(operation, type(exn).__name__, str(exn))
    # no credentials, no region, invalid parameters...: retrying cannot help
    return AwsCallError(operation, type(exn).__name__, str(exn))


def is_retryable(exn: Exception) -> bool:
    """Whether a boto3 call's exception is worth retrying: throttling, 5xx, connection trouble
    (not bad credentials, parameters or permissions)."""
    return isinstance(_translate("", exn), Throttled)


class BatchApi:
    """Batch and EFS calls used by miniwdl-aws, thread-safe and counted.

    :param clients: the process's shared :class:`~miniwdl_aws._util.AwsClients`
    :param submit_clients: clients without botocore retries, for SubmitJob (default: ``clients``)
    """

    def __init__(self, clients: AwsClients, submit_clients: Optional[AwsClients] = None) -> None:
        self._clients = clients
        self._submit_clients = submit_clients or clients
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    # --- bookkeeping ---

    def _call(self, service: str, operation: str, fn: Callable[..., T], **kwargs: Any) -> T:
        with self._lock:
            self._counts[f"{service}.{operation}"] += 1
        try:
            return fn(**kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exn:
            raise _translate(operation, exn) from None

    def call_counts(self) -> Dict[str, int]:
        """Calls made per ``service.Operation`` (botocore's internal retries not included)."""
        with self._lock:
            return dict(self._counts)

    @property
    def _batch(self) -> Any:
        return self._clients("batch")

    # --- job definitions ---

    def register_job_definition(self, request: Dict[str, Any]) -> str:
        """Register a job definition; returns its ARN."""
        res = self._call(
            "batch", "RegisterJobDefinition", self._batch.register_job_definition, **request
        )
        return str(res["jobDefinitionArn"])

    def active_job_definitions(self, name: str) -> List[Dict[str, Any]]:
        """ACTIVE revisions of the job definition ``name`` (every page)."""
        ans: List[Dict[str, Any]] = []
        kwargs: Dict[str, Any] = {"jobDefinitionName": name, "status": "ACTIVE"}
        while True:
            res = self._call(
                "batch", "DescribeJobDefinitions", self._batch.describe_job_definitions, **kwargs
            )
            ans.extend(res.get("jobDefinitions", []))
            if not res.get("nextToken"):
                return ans
            kwargs["nextToken"] = res["nextToken"]

    # --- jobs ---

    def submit_job(self, request: Dict[str, Any]) -> str:
        """Submit a job; returns its job id.

        :raises Ambiguous: the job may have been created; see :meth:`find_job`
        """
        client = self._submit_clients("batch")
        res = self._call("batch", "SubmitJob", client.submit_job, **request)
        return str(res["jobId"])

    def find_job(self, job_queue: str, job_name: str, created_after_ms: int) -> Optional[str]:
        """Id of the newest job named exactly ``job_name`` in ``job_queue`` created at or after
        ``created_after_ms`` (epoch milliseconds), if any. Reads every page: the filter matches
        case-insensitively, so other jobs may come first."""
        found: List[Dict[str, Any]] = []
        kwargs: Dict[str, Any] = {
            "jobQueue": job_queue,
            "filters": [{"name": "JOB_NAME", "values": [job_name]}],
        }
        while True:
            res = self._call("batch", "ListJobs", self._batch.list_jobs, **kwargs)
            found.extend(
                j
                for j in res.get("jobSummaryList", [])
                if j.get("jobName") == job_name and int(j.get("createdAt", 0)) >= created_after_ms
            )
            if not res.get("nextToken"):
                break
            kwargs["nextToken"] = res["nextToken"]
        if not found:
            return None
        return str(max(found, key=lambda j: int(j.get("createdAt", 0)))["jobId"])

    def describe_jobs(self, job_ids: List[str]) -> List[Dict[str, Any]]:
        """Descriptions of up to :data:`DESCRIBE_JOBS_MAX` jobs (unknown ids are left out)."""
        assert 0 < len(job_ids) <= DESCRIBE_JOBS_MAX, len(job_ids)
        res = self._call("batch", "DescribeJobs", self._batch.describe_jobs, jobs=job_ids)
        return list(res.get("jobs", []))

    def terminate_job(self, job_id: str, reason: str) -> None:
        """Terminate a job in any state (cancels it if not yet started)."""
        self._call("batch", "TerminateJob", self._batch.terminate_job, jobId=job_id, reason=reason)

    def list_job_ids(self, job_queue: str, name_prefix: str) -> List[str]:
        """Ids of every job in ``job_queue`` whose name starts with ``name_prefix`` (any status)."""
        ans: List[str] = []
        kwargs: Dict[str, Any] = {
            "jobQueue": job_queue,
            "filters": [{"name": "JOB_NAME", "values": [name_prefix + "*"]}],
        }
        while True:
            res = self._call("batch", "ListJobs", self._batch.list_jobs, **kwargs)
            ans.extend(j["jobId"] for j in res.get("jobSummaryList", []))
            if not res.get("nextToken"):
                return ans
            kwargs["nextToken"] = res["nextToken"]

    # --- infrastructure checks (global_init) ---

    def describe_job_queues(self, queues: List[str]) -> Dict[str, Dict[str, Any]]:
        """The named (or ARN) job queues that exist, in one call, keyed by the name asked for."""
        res = self._call(
            "batch", "DescribeJobQueues", self._batch.describe_job_queues, jobQueues=list(queues)
        )
        ans: Dict[str, Dict[str, Any]] = {}
        for q in res.get("jobQueues", []):
            for asked in queues:
                if asked in (q.get("jobQueueName"), q.get("jobQueueArn")):
                    ans[asked] = dict(q)
        return ans

    def describe_compute_environments(self, names: Iterable[str]) -> List[Dict[str, Any]]:
        """Descriptions of the named (or ARN) compute environments that exist."""
        names = list(names)
        if not names:
            return []
        res = self._call(
            "batch",
            "DescribeComputeEnvironments",
            self._batch.describe_compute_environments,
            computeEnvironments=names,
        )
        return list(res.get("computeEnvironments", []))

    def instance_type_limits(self, instance_types: List[str]) -> Dict[str, Dict[str, int]]:
        """``{type: {"cpu": vCPUs, "mem_bytes": bytes}}`` for concrete EC2 instance types."""
        if not instance_types:
            return {}
        ec2 = self._clients("ec2")
        res = self._call(
            "ec2",
            "DescribeInstanceTypes",
            ec2.describe_instance_types,
            InstanceTypes=instance_types,
        )
        return {
            t["InstanceType"]: {
                "cpu": int(t["VCpuInfo"]["DefaultVCpus"]),
                "mem_bytes": int(t["MemoryInfo"]["SizeInMiB"]) * 1048576,
            }
            for t in res.get("InstanceTypes", [])
        }

    def describe_access_point(self, fsap_id: str) -> Optional[Dict[str, Any]]:
        """The EFS access point ``fsap_id``, or None if it does not exist."""
        efs = self._clients("efs")
        try:
            res = self._call(
                "efs", "DescribeAccessPoints", efs.describe_access_points, AccessPointId=fsap_id
            )
        except AwsCallError as exn:
            if exn.code in ("AccessPointNotFound", "ResourceNotFoundException"):
                return None
            raise
        aps = res.get("AccessPoints", [])
        return dict(aps[0]) if aps else None
