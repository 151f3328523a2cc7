"""The plumbing shared by the ``doctor`` checks: findings, targets, cached descriptions.

:class:`CheckContext` holds what every check needs (clients, targets, the findings so far, and
the job queues and compute environments, described once); the checks live in :mod:`.doctor`
(credentials, defaults, Batch, S3), :mod:`.checks_efs` (EFS, NFS) and :mod:`.checks_iam` (roles).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Tuple

from .. import naming
from ..aws.batch import BatchApi
from ..aws.calls import CallCounter
from ..aws.clients import AwsClients
from ..aws.ec2 import Ec2Api
from ..aws.efs import EfsApi
from ..aws.iam import IamApi
from ..aws.s3 import S3Api
from ..aws.sts import StsApi
from ..errors import AwsCallError

__all__ = [
    "OK",
    "WARN",
    "PROBLEM",
    "SKIP",
    "NFS_PORT",
    "FARGATE_TYPES",
    "WORKFLOW_QUEUE_TAGS",
    "Check",
    "Targets",
    "Abort",
    "CheckContext",
]

OK, WARN, PROBLEM, SKIP = "ok", "warn", "PROBLEM", "skip"
NFS_PORT = 2049

# Tags on the workflow queue that give the submitter (and doctor) their defaults.
WORKFLOW_QUEUE_TAGS = {
    "task_queue": naming.TAG_TASK_QUEUE,
    "task_queue_fallback": naming.TAG_TASK_QUEUE_FALLBACK,
    "fsap": naming.TAG_FSAP,
    "workflow_role": naming.TAG_WORKFLOW_ROLE,
    "workflow_image": naming.TAG_WORKFLOW_IMAGE,
}
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")


@dataclasses.dataclass
class Check:
    """One finding: ``status`` is ok, warn, PROBLEM or skip; ``fix`` says what to do."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The finding as one printable line."""
        text = f"{self.status:<8} {self.name}: {self.detail}"
        return f"{text} -> fix: {self.fix}" if self.fix else text


@dataclasses.dataclass
class Targets:
    """What to check (plain values; empty means unset)."""

    region: str = ""
    workflow_queue: str = ""
    task_queue: str = ""
    task_queue_fallback: str = ""
    fsap: str = ""
    workflow_role: str = ""
    s3_folder: str = ""
    workflow_image: str = ""


class Abort(Exception):
    """Stop checking: a later check could only repeat this failure."""


class CheckContext:
    """State shared by the checks.

    :param clients: shared boto3 clients
    :param targets: what to check (copied: defaults found on the way are filled in)
    """

    def __init__(self, clients: AwsClients, targets: Targets) -> None:
        self.clients = clients
        self.calls = CallCounter()  # every check's calls, counted together
        self.batch = BatchApi(clients, counter=self.calls)
        self.efs = EfsApi(clients, self.calls)
        self.ec2 = Ec2Api(clients, self.calls)
        self.iam = IamApi(clients, self.calls)
        self.s3 = S3Api(clients, self.calls)
        self.sts = StsApi(clients, self.calls)
        self.t = dataclasses.replace(targets)
        self.checks: List[Check] = []
        self._queues: Dict[str, Dict[str, Any]] = {}
        self._ces: Dict[str, Dict[str, Any]] = {}
        self._fs_id = ""

    def _add(self, name: str, status: str, detail: str, fix: str = "") -> Check:
        check = Check(name, status, detail, fix)
        self.checks.append(check)
        return check

    @staticmethod
    def _err(exn: AwsCallError) -> str:
        return f"{exn.code or 'error'}: {exn.message}".rstrip(": ")

    @property
    def problems(self) -> List[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.status == PROBLEM]

    def _describe_queues(self, names: List[str]) -> Dict[str, Dict[str, Any]]:
        missing = [n for n in names if n and n not in self._queues]
        if missing:
            for q in self.batch.describe_job_queues(missing).values():
                self._queues[q["jobQueueName"]] = q
                self._queues[q["jobQueueArn"]] = q
        return {n: self._queues[n] for n in names if n in self._queues}

    def _queue_roles(self) -> List[Tuple[str, str]]:
        """(what the queue is for, its name) of each configured queue."""
        roles = [("workflow queue", self.t.workflow_queue), ("task queue", self.t.task_queue)]
        roles.append(("fallback task queue", self.t.task_queue_fallback))
        return [(role, name) for role, name in roles if name]

    def _queue_ces(self, name: str) -> List[Dict[str, Any]]:
        q = self._queues.get(name) or {}
        order = sorted(q.get("computeEnvironmentOrder") or [], key=lambda o: o.get("order", 0))
        return [
            self._ces[o["computeEnvironment"]]
            for o in order
            if o["computeEnvironment"] in self._ces
        ]

    def _all_ces(self) -> List[Dict[str, Any]]:
        seen: Dict[str, Dict[str, Any]] = {}
        for _, name in self._queue_roles():
            for ce in self._queue_ces(name):
                seen[ce["computeEnvironmentArn"]] = ce
        return list(seen.values())
