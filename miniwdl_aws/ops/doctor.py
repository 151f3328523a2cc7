"""``miniwdl-aws doctor``: preflight checks of the AWS infrastructure a run needs.

:class:`Doctor` runs a fixed list of checks against plain target values (:class:`Targets`, filled
from ``[aws]`` config and CLI flags by the CLI) and returns one :class:`Check` per finding:
credentials and region; the workflow and task queues and their compute environments; the EFS
access point, its POSIX user and root directory, its mount targets in the compute environments'
zones; NFS (TCP 2049) between the compute environments' and mount targets' security groups; the
IAM roles and whom they trust; that the workflow image exists (in ECR); and that the S3 upload
folder is writable.

Unset targets are completed the way the submitter does it, from the workflow queue's tags
(``DefaultTaskQueue``, ``DefaultTaskQueueFallback``, ``DefaultFsap``, ``WorkflowEngineRoleArn``),
or inside SageMaker Studio from :func:`~miniwdl_aws.studio.detect_studio`.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable, Dict, List
from urllib.parse import urlparse

from ..aws.clients import AwsClients
from ..errors import AwsCallError
from ..queues import BROKEN_STATUSES, queue_problems, task_environment_problems
from ..studio import STUDIO_METADATA_FILE, detect_studio
from .checks import (
    FARGATE_TYPES,
    OK,
    PROBLEM,
    SKIP,
    WARN,
    WORKFLOW_QUEUE_TAGS,
    Abort,
    Check,
    Targets,
)
from .checks_efs import EfsChecks
from .checks_iam import IamChecks
from .checks_image import ImageChecks

__all__ = ["OK", "WARN", "PROBLEM", "SKIP", "Check", "Targets", "Doctor", "WORKFLOW_QUEUE_TAGS"]


class Doctor(EfsChecks, IamChecks, ImageChecks):
    """Runs the checks; see the module docstring.

    :param clients: shared boto3 clients
    :param targets: what to check
    :param studio_metadata_file: SageMaker Studio metadata path (injectable for tests)
    """

    def __init__(
        self,
        clients: AwsClients,
        targets: Targets,
        studio_metadata_file: str = STUDIO_METADATA_FILE,
    ) -> None:
        super().__init__(clients, targets)
        self.studio_metadata_file = studio_metadata_file

    def run(self) -> List[Check]:
        """Run every check (stopping early only when nothing further could be checked)."""
        steps: List[Callable[[], None]] = [
            self.check_credentials,
            self.resolve_defaults,
            self.check_queues,
            self.check_compute_environments,
            self.check_access_point,
            self.check_mount_targets,
            self.check_nfs_security_groups,
            self.check_roles,
            self.check_image,
            self.check_s3,
        ]
        for step in steps:
            try:
                step()
            except Abort:
                break
            except AwsCallError as exn:
                self._add(step.__name__.replace("_", " "), PROBLEM, self._err(exn))
        return self.checks

    def check_credentials(self) -> None:
        """A region is known and the credentials work (STS GetCallerIdentity)."""
        region = self.clients.region
        if not region:
            self._add(
                "region",
                PROBLEM,
                "no AWS region configured",
                "set AWS_DEFAULT_REGION, [aws] region or --region",
            )
            raise Abort()
        try:
            ident = self.sts.caller_identity()
        except AwsCallError as exn:
            self._add(
                "credentials",
                PROBLEM,
                self._err(exn),
                "configure AWS credentials (aws configure, AWS_PROFILE or an instance role)",
            )
            raise Abort() from None
        self._add(
            "credentials",
            OK,
            f"account {ident.get('Account')} as {ident.get('Arn')} in region {region}",
        )

    def resolve_defaults(self) -> None:
        """Fill unset targets from the workflow queue's tags, then from SageMaker Studio."""
        if self.t.workflow_queue:
            found = self._describe_queues([self.t.workflow_queue])
            tags = (found.get(self.t.workflow_queue) or {}).get("tags") or {}
            for attr, tag in WORKFLOW_QUEUE_TAGS.items():
                if not getattr(self.t, attr) and tags.get(tag):
                    setattr(self.t, attr, tags[tag])
                    self._add(
                        f"default {attr}", OK, f"{tags[tag]} (tag {tag} of the workflow queue)"
                    )
        if self.t.fsap and self.t.task_queue:
            return
        studio = detect_studio(self.clients, metadata_file=self.studio_metadata_file)
        if studio is None:
            return
        status = OK if studio.fsap and studio.task_queue else WARN
        self._add("SageMaker Studio", status, studio.describe(), "; ".join(studio.notes))
        self.t.fsap = self.t.fsap or studio.fsap or ""
        self.t.task_queue = self.t.task_queue or studio.task_queue or ""

    def check_queues(self) -> None:
        """Each configured queue exists and can take jobs (ENABLED, a compute environment, not
        INVALID or being deleted: :func:`~miniwdl_aws.queues.queue_problems`)."""
        if not self.t.task_queue:
            self._add(
                "task queue",
                PROBLEM,
                "not configured",
                "set [aws] task_queue (MINIWDL__AWS__TASK_QUEUE), --task-queue, or tag the"
                " workflow queue with DefaultTaskQueue",
            )
        if not self.t.workflow_queue:
            self._add(
                "workflow queue",
                SKIP,
                "not configured (only needed by miniwdl-aws-submit)",
                "set [aws] workflow_queue or --workflow-queue to check it",
            )
        found = self._describe_queues([name for _, name in self._queue_roles()])
        for role, name in self._queue_roles():
            q = found.get(name)
            if q is None:
                self._add(
                    f"{role} {name}",
                    PROBLEM,
                    "does not exist in this account and region",
                    "create it (see infra/miniwdl-aws.yaml) or fix the queue name",
                )
                continue
            bad = queue_problems(q)  # the rule the backend and the submitter apply too
            if bad:
                self._add(
                    f"{role} {name}",
                    PROBLEM,
                    ", ".join(bad),
                    f"aws batch update-job-queue --job-queue {name} --state ENABLED (and attach"
                    " a VALID compute environment)",
                )
            else:
                self._add(f"{role} {name}", OK, f"{q.get('state')}, {q.get('status')}")

    def check_compute_environments(self) -> None:
        """Each queue's compute environments are ENABLED, VALID, with capacity; Fargate for the
        workflow queue; for a task queue, not all Fargate and at least one ENABLED and VALID
        (:func:`~miniwdl_aws.queues.task_environment_problems`); Spot with
        SPOT_CAPACITY_OPTIMIZED recommended for tasks."""
        arns = sorted(
            {
                o["computeEnvironment"]
                for _, name in self._queue_roles()
                for o in (self._queues.get(name) or {}).get("computeEnvironmentOrder") or []
            }
        )
        if not arns:
            return
        for ce in self.batch.describe_compute_environments(arns):
            self._ces[ce["computeEnvironmentArn"]] = ce
            self._ces[ce["computeEnvironmentName"]] = ce
        for role, name in self._queue_roles():
            ces = self._queue_ces(name)
            for ce in ces:
                self._check_ce(ce)
            kinds = {(ce.get("computeResources") or {}).get("type", "") for ce in ces}
            if role == "workflow queue" and ces and not kinds & set(FARGATE_TYPES):
                self._add(
                    f"{role} {name}",
                    PROBLEM,
                    f"no Fargate compute environment (types: {sorted(kinds)})",
                    "attach a FARGATE compute environment: the workflow job is a Fargate job",
                )
            queued = (self._queues.get(name) or {}).get("computeEnvironmentOrder")
            if role == "workflow queue" or not queued:
                continue  # a queue without any environment is a problem of check_queues already
            bad = task_environment_problems(ces)  # the rule the backend and the submitter apply
            if bad:
                self._add(
                    f"{role} {name}",
                    PROBLEM,
                    "; ".join(bad),
                    "give it an ENABLED and VALID EC2 or SPOT compute environment (task job"
                    " definitions are EC2): aws batch update-compute-environment --state ENABLED,"
                    f" or aws batch update-job-queue --job-queue {name}"
                    " --compute-environment-order ...",
                )

    def _check_ce(self, ce: Dict[str, Any]) -> None:
        name = f"compute environment {ce['computeEnvironmentName']}"
        if any(c.name == name for c in self.checks):
            return  # shared by several queues
        res = ce.get("computeResources") or {}
        bad = []
        if ce.get("state") != "ENABLED":
            bad.append(f"state {ce.get('state')}")
        if ce.get("status") in BROKEN_STATUSES:
            bad.append(f"status {ce.get('status')} ({ce.get('statusReason', '')})")
        if ce.get("type") == "MANAGED" and int(res.get("maxvCpus") or 0) <= 0:
            bad.append("maxvCpus is 0 (no capacity)")
        if bad:
            self._add(
                name,
                PROBLEM,
                ", ".join(bad),
                f"aws batch update-compute-environment --compute-environment"
                f" {ce['computeEnvironmentName']} --state ENABLED (maxvCpus > 0)",
            )
            return
        kind = res.get("type", "UNMANAGED")
        detail = f"ENABLED, VALID, {kind}, maxvCpus {res.get('maxvCpus', '-')}"
        if ce.get("status") != "VALID":
            # CREATING or UPDATING: usable once Batch is done, as the backend and the
            # submitter judge it (queues.BROKEN_STATUSES), so not a problem yet
            self._add(
                name,
                WARN,
                f"status {ce.get('status')}: AWS Batch is still working on it",
                "run doctor again in a few minutes",
            )
            return
        if kind == "SPOT" and res.get("allocationStrategy") != "SPOT_CAPACITY_OPTIMIZED":
            self._add(
                name,
                WARN,
                f"{detail}, allocation strategy {res.get('allocationStrategy', 'BEST_FIT')}",
                "use SPOT_CAPACITY_OPTIMIZED to reduce Spot interruptions",
            )
        else:
            self._add(name, OK, detail)

    def check_s3(self) -> None:
        """The S3 upload folder is writable (put then delete a small probe object)."""
        if not self.t.s3_folder:
            self._add(
                "S3 upload folder",
                SKIP,
                "not configured",
                "set [aws] s3_upload_folder or --s3 s3://bucket/folder/ to check it",
            )
            return
        url = urlparse(self.t.s3_folder)
        if url.scheme != "s3" or not url.netloc:
            self._add("S3 upload folder", PROBLEM, f"not an s3:// URI: {self.t.s3_folder}")
            return
        prefix = url.path.lstrip("/")
        folder = prefix.rstrip("/") + "/" if prefix else ""
        key = f"{folder}.miniwdl-aws-doctor-{secrets.token_hex(4)}"
        try:
            self.s3.put_object(url.netloc, key, b"miniwdl-aws doctor\n")
            self.s3.delete_object(url.netloc, key)
        except AwsCallError as exn:
            self._add(
                f"S3 upload folder {self.t.s3_folder}",
                PROBLEM,
                self._err(exn),
                "create the bucket or grant s3:PutObject on it",
            )
            return
        self._add(f"S3 upload folder {self.t.s3_folder}", OK, "writable")
