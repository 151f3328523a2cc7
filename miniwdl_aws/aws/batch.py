"""The AWS Batch calls of miniwdl-aws (and the EC2/EFS lookups the backend's checks make).

SubmitJob has no idempotency token, so a retry after a *lost response* (connection reset or read
timeout once the request was sent, or a 5xx) may start a second job. SubmitJob therefore goes
through a client without botocore retries, and such failures raise
:class:`~miniwdl_aws.errors.Ambiguous`: the caller looks the job up by name before submitting
again (:func:`~miniwdl_aws.batch.recovery.submit_without_twins`). See :mod:`.retry` for the
policy of every other call.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, cast

import botocore.session

from .._util import _
from ..errors import AwsCallError
from .calls import CallCounter, ServiceApi
from .clients import AwsClients
from .ec2 import Ec2Api
from .efs import EfsApi
from .retry import TERMINATE, RetryPolicy, retry_call

__all__ = ["BatchApi", "DESCRIBE_JOBS_MAX", "TERMINAL_STATES", "requested_resources"]

DESCRIBE_JOBS_MAX = 100  # DescribeJobs takes "up to 100 job IDs"
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED"})
LIST_JOBS_PAGE_MAX = 1000  # ListJobs maxResults: "between 1 and 1000"


def _dicts(items: Iterable[Any]) -> List[Dict[str, Any]]:
    # response TypedDicts, handed to callers as the plain dicts they are at run time
    return cast(List[Dict[str, Any]], list(items))


class BatchApi(ServiceApi):
    """Batch calls used by miniwdl-aws, thread-safe and counted.

    :param clients: the process's shared :class:`~miniwdl_aws.aws.clients.AwsClients`
    :param submit_clients: clients without botocore retries, for SubmitJob and TerminateJob's
        own retries (default: ``clients.no_retries()``)
    :param counter: where to count calls (default: this object's own)
    """

    SERVICE = "batch"

    def __init__(
        self,
        clients: AwsClients,
        submit_clients: Optional[AwsClients] = None,
        counter: Optional[CallCounter] = None,
    ) -> None:
        super().__init__(clients, counter)
        self._submit_clients = submit_clients or clients.no_retries()
        # the backend's checks call these through the Batch API object; counted together
        self._ec2 = Ec2Api(clients, self._counter)
        self._efs = EfsApi(clients, self._counter)

    # --- job definitions ---

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def container_property_names() -> Tuple[str, ...]:
        """The keys RegisterJobDefinition's ``containerProperties`` accepts (botocore's model),
        so that a typo in user-given properties is one clear error before any call. Read once
        per process: a new botocore session parses the whole Batch model from disk, which had
        been about half of the runner's CPU when done for every task attempt."""
        model = botocore.session.get_session().get_service_model("batch")
        return tuple(model.shape_for("ContainerProperties").members)  # type: ignore[attr-defined]

    def register_job_definition(self, request: Dict[str, Any]) -> str:
        """Register a job definition; returns its ARN."""
        res = self._call(
            "RegisterJobDefinition",
            lambda: self._clients("batch").register_job_definition(**request),
        )
        return str(res["jobDefinitionArn"])

    def active_job_definitions(self, name: str) -> List[Dict[str, Any]]:
        """ACTIVE revisions of the job definition ``name`` (every page)."""
        pages = self._clients("batch").get_paginator("describe_job_definitions")
        ans: List[Dict[str, Any]] = []
        for page in self._pages(
            "DescribeJobDefinitions", pages.paginate(jobDefinitionName=name, status="ACTIVE")
        ):
            ans.extend(_dicts(page.get("jobDefinitions", [])))
        return ans

    # --- jobs ---

    def submit_job(self, request: Dict[str, Any]) -> str:
        """Submit a job, without botocore retries; returns its job id.

        :raises Ambiguous: the job may have been created; see :meth:`find_job`
        """
        client = self._submit_clients("batch")
        res = self._call("SubmitJob", lambda: client.submit_job(**request))
        return str(res["jobId"])

    def list_jobs(self, job_queue: str, filters: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Job summaries of ``job_queue`` matching ``filters`` (ListJobs, every page; Batch
        ignores ``jobStatus`` when a filter is given, so these are jobs of any status)."""
        pages = self._clients("batch").get_paginator("list_jobs")
        ans: List[Dict[str, Any]] = []
        for page in self._pages(
            "ListJobs", pages.paginate(jobQueue=job_queue, filters=cast(Any, filters))
        ):
            ans.extend(_dicts(page.get("jobSummaryList", [])))
        return ans

    def list_array_children(self, array_job_id: str, status: str) -> List[Dict[str, Any]]:
        """Summaries of the children of array job ``array_job_id`` in ``status`` (ListJobs with
        ``arrayJobId`` and ``jobStatus``, every page of up to 1,000)."""
        pages = self._clients("batch").get_paginator("list_jobs")
        ans: List[Dict[str, Any]] = []
        config: Any = {"PageSize": LIST_JOBS_PAGE_MAX}
        for page in self._pages(
            "ListJobs",
            pages.paginate(
                arrayJobId=array_job_id, jobStatus=cast(Any, status), PaginationConfig=config
            ),
        ):
            ans.extend(_dicts(page.get("jobSummaryList", [])))
        return ans

    def find_job(self, job_queue: str, job_name: str, created_after_ms: int) -> Optional[str]:
        """Id of the newest job named exactly ``job_name`` in ``job_queue`` created at or after
        ``created_after_ms`` (epoch milliseconds), if any. Reads every page: the filter matches
        case-insensitively, so other jobs may come first."""
        found = [
            j
            for j in self.list_jobs(job_queue, [{"name": "JOB_NAME", "values": [job_name]}])
            if j.get("jobName") == job_name and int(j.get("createdAt", 0)) >= created_after_ms
        ]
        if not found:
            return None
        return str(max(found, key=lambda j: int(j.get("createdAt", 0)))["jobId"])

    def list_job_ids(self, job_queue: str, name_prefix: str) -> List[str]:
        """Ids of every job in ``job_queue`` whose name starts with ``name_prefix`` (any status)."""
        flt = [{"name": "JOB_NAME", "values": [name_prefix + "*"]}]
        return [str(j["jobId"]) for j in self.list_jobs(job_queue, flt)]

    def describe_jobs(self, job_ids: List[str]) -> List[Dict[str, Any]]:
        """Descriptions of up to :data:`DESCRIBE_JOBS_MAX` jobs (unknown ids are left out)."""
        assert 0 < len(job_ids) <= DESCRIBE_JOBS_MAX, len(job_ids)
        res = self._call("DescribeJobs", lambda: self._clients("batch").describe_jobs(jobs=job_ids))
        return _dicts(res.get("jobs", []))

    def describe_jobs_in_order(self, job_ids: Sequence[str]) -> List[Dict[str, Any]]:
        """Descriptions of any number of jobs (one DescribeJobs per 100), in the order asked,
        duplicates and unknown ids left out."""
        out: List[Dict[str, Any]] = []
        ids = list(dict.fromkeys(job_ids))
        for i in range(0, len(ids), DESCRIBE_JOBS_MAX):
            chunk = ids[i : i + DESCRIBE_JOBS_MAX]
            by_id = {j["jobId"]: j for j in self.describe_jobs(chunk)}
            out.extend(by_id[j] for j in chunk if j in by_id)
        return out

    def terminate_job(self, job_id: str, reason: str) -> None:
        """Terminate a job in any state (cancels it if not yet started), with botocore's
        retries."""
        self._call(
            "TerminateJob",
            lambda: self._clients("batch").terminate_job(jobId=job_id, reason=reason),
        )

    def terminate_job_retrying(
        self,
        job_id: str,
        reason: str,
        attempts: int = TERMINATE.attempts,
        deadline: Optional[float] = TERMINATE.deadline,
        logger: Optional[logging.Logger] = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Terminate a job, retrying throttling and transient failures with backoff: at most
        ``attempts`` requests in all (no botocore retries beneath them), none started after
        ``deadline`` seconds. Not paced with SubmitJob (AWS meters TerminateJob apart).

        :raises AwsCallError: the last failure, when every attempt failed
        """
        client = self._submit_clients("batch")
        policy = RetryPolicy(attempts, TERMINATE.first_pause, TERMINATE.max_pause, deadline)

        def note(attempt: int, exn: AwsCallError, pause: float) -> None:
            if logger is not None:
                logger.info(
                    _(
                        "AWS Batch TerminateJob failed; retrying",
                        jobId=job_id,
                        attempt=attempt,
                        pause=round(pause, 2),
                        error=str(exn),
                    )
                )

        retry_call(
            lambda: self._call(
                "TerminateJob", lambda: client.terminate_job(jobId=job_id, reason=reason)
            ),
            policy,
            on_retry=note,
            sleep=sleep,
            clock=clock,
        )

    # --- queues and compute environments ---

    def describe_job_queues(self, queues: List[str]) -> Dict[str, Dict[str, Any]]:
        """The named (or ARN) job queues that exist, in one call, keyed by the name asked for."""
        res = self._call(
            "DescribeJobQueues",
            lambda: self._clients("batch").describe_job_queues(jobQueues=list(queues)),
        )
        ans: Dict[str, Dict[str, Any]] = {}
        for q in _dicts(res.get("jobQueues", [])):
            for asked in queues:
                if asked in (q.get("jobQueueName"), q.get("jobQueueArn")):
                    ans[asked] = q
        return ans

    def all_job_queues(self) -> List[Dict[str, Any]]:
        """Every job queue of the account and region (DescribeJobQueues, every page)."""
        pages = self._clients("batch").get_paginator("describe_job_queues")
        ans: List[Dict[str, Any]] = []
        for page in self._pages("DescribeJobQueues", pages.paginate()):
            ans.extend(_dicts(page.get("jobQueues", [])))
        return ans

    def queue_names(self) -> List[str]:
        """Names of every job queue of the account and region."""
        return [str(q["jobQueueName"]) for q in self.all_job_queues()]

    def describe_compute_environments(self, names: Iterable[str]) -> List[Dict[str, Any]]:
        """Descriptions of the named (or ARN) compute environments that exist."""
        names = list(names)
        if not names:
            return []
        res = self._call(
            "DescribeComputeEnvironments",
            lambda: self._clients("batch").describe_compute_environments(computeEnvironments=names),
        )
        return _dicts(res.get("computeEnvironments", []))

    # --- the backend's other checks (global_init), counted with the Batch calls ---

    def instance_type_limits(self, instance_types: List[str]) -> Dict[str, Dict[str, int]]:
        """``{type: {"cpu": vCPUs, "mem_bytes": bytes}}`` for concrete EC2 instance types
        (:meth:`miniwdl_aws.aws.ec2.Ec2Api.instance_type_limits`)."""
        return self._ec2.instance_type_limits(instance_types)

    def queue_position(self, job_queue: str, job_arn: str) -> Optional[int]:
        """The job's 1-based position at the front of its queue (GetJobQueueSnapshot), or None
        when it is not among the jobs listed there or the call is not answered."""
        try:
            res = self._call(
                "GetJobQueueSnapshot",
                lambda: self._clients("batch").get_job_queue_snapshot(jobQueue=job_queue),
            )
        except AwsCallError:
            return None  # a convenience for a warning: not allowed or not offered
        jobs = _dicts((res.get("frontOfQueue") or {}).get("jobs", []))
        for index, job in enumerate(jobs):
            if job.get("jobArn") == job_arn:
                return index + 1
        return None

    def family_limits(self, families: Sequence[str]) -> Dict[str, Dict[str, int]]:
        """The largest vCPUs and memory of each EC2 instance family
        (:meth:`miniwdl_aws.aws.ec2.Ec2Api.family_limits`)."""
        return self._ec2.family_limits(families)

    def describe_access_point(self, fsap_id: str) -> Optional[Dict[str, Any]]:
        """The EFS access point ``fsap_id``, or None if it does not exist
        (:meth:`miniwdl_aws.aws.efs.EfsApi.describe_access_point`)."""
        return self._efs.describe_access_point(fsap_id)


def requested_resources(container: Mapping[str, Any]) -> Tuple[Optional[float], Optional[float]]:
    """``(vCPUs, memory MiB)`` that a job's ``container`` (of a DescribeJobs answer) or
    ``containerOverrides`` (of a SubmitJob request) asks for: its ``resourceRequirements`` (as
    ``batch.specs.Resources.requirements`` writes them), else the legacy ``vcpus``/``memory``
    fields; None for what it does not say."""
    vcpus = _number(container.get("vcpus"))
    memory = _number(container.get("memory"))
    for req in container.get("resourceRequirements") or []:
        value = _number(req.get("value"))
        if value is None:
            continue
        if req.get("type") == "VCPU":
            vcpus = value
        elif req.get("type") == "MEMORY":
            memory = value
    return vcpus, memory


def _number(value: Any) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
