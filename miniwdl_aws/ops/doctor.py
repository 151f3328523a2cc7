"""``miniwdl-aws doctor``: preflight checks of the AWS infrastructure a run needs.

:class:`Doctor` runs a fixed list of checks against plain target values (:class:`Targets`, filled
from ``[aws]`` config and CLI flags by the CLI) and returns one :class:`Check` per finding:
credentials and region; the workflow and task queues and their compute environments; the EFS
access point, its POSIX user and root directory, its mount targets in the compute environments'
zones; NFS (TCP 2049) between the compute environments' and mount targets' security groups; the
IAM roles and whom they trust; and that the S3 upload folder is writable.

Unset targets are completed the way the submitter does it, from the workflow queue's tags
(``DefaultTaskQueue``, ``DefaultTaskQueueFallback``, ``DefaultFsap``, ``WorkflowEngineRoleArn``),
or inside SageMaker Studio from :func:`~miniwdl_aws.ops.studio.detect_studio`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import secrets
from typing import Any, Callable, Dict, Iterable, List, Set, Tuple
from urllib.parse import unquote, urlparse

from botocore.exceptions import BotoCoreError, ClientError

from .._util import AwsClients
from .studio import STUDIO_METADATA_FILE, detect_studio

__all__ = ["OK", "WARN", "PROBLEM", "SKIP", "Check", "Targets", "Doctor", "WORKFLOW_QUEUE_TAGS"]

OK, WARN, PROBLEM, SKIP = "ok", "warn", "PROBLEM", "skip"
NFS_PORT = 2049

# Tags on the workflow queue that give the submitter (and doctor) their defaults.
WORKFLOW_QUEUE_TAGS = {
    "task_queue": "DefaultTaskQueue",
    "task_queue_fallback": "DefaultTaskQueueFallback",
    "fsap": "DefaultFsap",
    "workflow_role": "WorkflowEngineRoleArn",
}
_FARGATE = ("FARGATE", "FARGATE_SPOT")


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


class _Abort(Exception):
    """Stop checking: a later check could only repeat this failure."""


class Doctor:
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
        self.clients = clients
        self.t = dataclasses.replace(targets)
        self.studio_metadata_file = studio_metadata_file
        self.checks: List[Check] = []
        self._queues: Dict[str, Dict[str, Any]] = {}
        self._ces: Dict[str, Dict[str, Any]] = {}
        self._fs_id = ""

    # --- plumbing ---

    def _add(self, name: str, status: str, detail: str, fix: str = "") -> Check:
        check = Check(name, status, detail, fix)
        self.checks.append(check)
        return check

    def _aws(self, service: str, method: str, **kwargs: Any) -> Any:
        return getattr(self.clients(service), method)(**kwargs)

    @staticmethod
    def _err(exn: Exception) -> str:
        if isinstance(exn, ClientError):
            err = exn.response.get("Error", {})
            return f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
        return f"{type(exn).__name__}: {exn}"

    @property
    def problems(self) -> List[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.status == PROBLEM]

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
            self.check_s3,
        ]
        for step in steps:
            try:
                step()
            except _Abort:
                break
            except (ClientError, BotoCoreError) as exn:
                self._add(step.__name__.replace("_", " "), PROBLEM, self._err(exn))
        return self.checks

    # --- credentials, region, defaults ---

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
            raise _Abort()
        try:
            ident = self._aws("sts", "get_caller_identity")
        except (ClientError, BotoCoreError) as exn:
            self._add(
                "credentials",
                PROBLEM,
                self._err(exn),
                "configure AWS credentials (aws configure, AWS_PROFILE or an instance role)",
            )
            raise _Abort() from None
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

    # --- Batch ---

    def _describe_queues(self, names: List[str]) -> Dict[str, Dict[str, Any]]:
        missing = [n for n in names if n and n not in self._queues]
        if missing:
            for q in self._aws("batch", "describe_job_queues", jobQueues=missing)["jobQueues"]:
                self._queues[q["jobQueueName"]] = q
                self._queues[q["jobQueueArn"]] = q
        return {n: self._queues[n] for n in names if n in self._queues}

    def _roles(self) -> List[Tuple[str, str]]:
        roles = [("workflow queue", self.t.workflow_queue), ("task queue", self.t.task_queue)]
        roles.append(("fallback task queue", self.t.task_queue_fallback))
        return [(role, name) for role, name in roles if name]

    def check_queues(self) -> None:
        """Each configured queue exists, is ENABLED and VALID."""
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
        found = self._describe_queues([name for _, name in self._roles()])
        for role, name in self._roles():
            q = found.get(name)
            if q is None:
                self._add(
                    f"{role} {name}",
                    PROBLEM,
                    "does not exist in this account and region",
                    "create it (see infra/miniwdl-aws.yaml) or fix the queue name",
                )
                continue
            bad = []
            if q.get("state") != "ENABLED":
                bad.append(f"state {q.get('state')}")
            if q.get("status") != "VALID":
                bad.append(f"status {q.get('status')} ({q.get('statusReason', '')})")
            if not q.get("computeEnvironmentOrder"):
                bad.append("no compute environment")
            if bad:
                self._add(
                    f"{role} {name}",
                    PROBLEM,
                    ", ".join(bad),
                    f"aws batch update-job-queue --job-queue {name} --state ENABLED (and attach"
                    " a VALID compute environment)",
                )
            else:
                self._add(f"{role} {name}", OK, "ENABLED, VALID")

    def _queue_ces(self, name: str) -> List[Dict[str, Any]]:
        q = self._queues.get(name) or {}
        order = sorted(q.get("computeEnvironmentOrder") or [], key=lambda o: o.get("order", 0))
        return [
            self._ces[o["computeEnvironment"]]
            for o in order
            if o["computeEnvironment"] in self._ces
        ]

    def check_compute_environments(self) -> None:
        """Each queue's compute environments are ENABLED, VALID, with capacity; Fargate for the
        workflow queue; Spot with SPOT_CAPACITY_OPTIMIZED recommended for tasks."""
        arns = sorted(
            {
                o["computeEnvironment"]
                for _, name in self._roles()
                for o in (self._queues.get(name) or {}).get("computeEnvironmentOrder") or []
            }
        )
        if not arns:
            return
        described = self._aws("batch", "describe_compute_environments", computeEnvironments=arns)
        for ce in described["computeEnvironments"]:
            self._ces[ce["computeEnvironmentArn"]] = ce
            self._ces[ce["computeEnvironmentName"]] = ce
        for role, name in self._roles():
            ces = self._queue_ces(name)
            for ce in ces:
                self._check_ce(ce)
            kinds = {(ce.get("computeResources") or {}).get("type", "") for ce in ces}
            if role == "workflow queue" and ces and not kinds & set(_FARGATE):
                self._add(
                    f"{role} {name}",
                    PROBLEM,
                    f"no Fargate compute environment (types: {sorted(kinds)})",
                    "attach a FARGATE compute environment: the workflow job is a Fargate job",
                )
            if role != "workflow queue" and ces and not kinds - set(_FARGATE):
                self._add(
                    f"{role} {name}",
                    WARN,
                    "only Fargate compute environments: GPU tasks cannot run",
                    "add an EC2 or SPOT compute environment for tasks",
                )

    def _check_ce(self, ce: Dict[str, Any]) -> None:
        name = f"compute environment {ce['computeEnvironmentName']}"
        if any(c.name == name for c in self.checks):
            return  # shared by several queues
        res = ce.get("computeResources") or {}
        bad = []
        if ce.get("state") != "ENABLED":
            bad.append(f"state {ce.get('state')}")
        if ce.get("status") != "VALID":
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
        if kind == "SPOT" and res.get("allocationStrategy") != "SPOT_CAPACITY_OPTIMIZED":
            self._add(
                name,
                WARN,
                f"{detail}, allocation strategy {res.get('allocationStrategy', 'BEST_FIT')}",
                "use SPOT_CAPACITY_OPTIMIZED to reduce Spot interruptions",
            )
        else:
            self._add(name, OK, detail)

    def _all_ces(self) -> List[Dict[str, Any]]:
        seen: Dict[str, Dict[str, Any]] = {}
        for _, name in self._roles():
            for ce in self._queue_ces(name):
                seen[ce["computeEnvironmentArn"]] = ce
        return list(seen.values())

    # --- EFS ---

    def check_access_point(self) -> None:
        """The access point exists and is available, and its POSIX user can write its root."""
        if not self.t.fsap:
            self._add(
                "EFS access point",
                PROBLEM,
                "not configured",
                "set [aws] fsap (MINIWDL__AWS__FSAP), --fsap, or tag the workflow queue with"
                " DefaultFsap",
            )
            return
        try:
            aps = self._aws("efs", "describe_access_points", AccessPointId=self.t.fsap)
        except ClientError as exn:
            self._add(
                f"EFS access point {self.t.fsap}",
                PROBLEM,
                self._err(exn),
                "create it (see infra/miniwdl-aws.yaml) or fix [aws] fsap",
            )
            return
        ap = aps["AccessPoints"][0]
        self._fs_id = ap["FileSystemId"]
        name = f"EFS access point {self.t.fsap}"
        if ap.get("LifeCycleState") != "available":
            self._add(name, PROBLEM, f"state {ap.get('LifeCycleState')}", "wait or recreate it")
            return
        self._check_posix(name, ap)

    def _check_posix(self, name: str, ap: Dict[str, Any]) -> None:
        posix = ap.get("PosixUser")
        root = ap.get("RootDirectory") or {}
        path = root.get("Path", "/")
        where = f"file system {ap['FileSystemId']}, root {path}"
        if not posix:
            self._add(
                name,
                WARN,
                f"{where}, no POSIX user: files are owned by each container's user",
                "set a PosixUser (nonzero uid) so every job writes as the same user",
            )
            return
        uid, gid = int(posix.get("Uid", 0)), int(posix.get("Gid", 0))
        if uid == 0:
            self._add(
                name,
                WARN,
                f"{where}, POSIX user 0 (root)",
                "prefer a nonzero uid with an owned root directory (CreationInfo)",
            )
            return
        creation = root.get("CreationInfo")
        if creation:
            owner, perms = int(creation.get("OwnerUid", -1)), str(creation.get("Permissions", ""))
            others_write = perms[-1:].isdigit() and int(perms[-1]) & 2
            if owner == uid or others_write:
                self._add(name, OK, f"{where}, uid {uid}:{gid}, root created for uid {owner}")
                return
            self._add(
                name,
                PROBLEM,
                f"{where}: root directory would be owned by uid {owner} (mode {perms}) but jobs"
                f" run as uid {uid}",
                f"recreate the access point with CreationInfo OwnerUid {uid}",
            )
            return
        if path.rstrip("/") == "":
            self._add(
                name,
                PROBLEM,
                f"{where}: uid {uid} cannot write the file system's root directory (owned by root)",
                f"use a root directory Path such as /miniwdl with CreationInfo OwnerUid {uid}",
            )
            return
        self._add(
            name,
            WARN,
            f"{where}, uid {uid}:{gid}, no CreationInfo: {path} must already exist and be"
            f" writable by uid {uid}",
            f"add CreationInfo OwnerUid {uid} so EFS creates it",
        )

    def _mount_targets(self) -> List[Dict[str, Any]]:
        if not self._fs_id:
            return []
        mts = self._aws("efs", "describe_mount_targets", FileSystemId=self._fs_id)
        return [m for m in mts.get("MountTargets", []) if m.get("LifeCycleState") == "available"]

    def _subnets(self, ids: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        return {
            s["SubnetId"]: s for s in self._aws("ec2", "describe_subnets", SubnetIds=ids)["Subnets"]
        }

    def check_mount_targets(self) -> None:
        """The file system has an available mount target in every zone the compute environments
        use (and, for One Zone EFS, the compute environments stay in its zone)."""
        if not self._fs_id:
            return
        name = f"EFS mount targets of {self._fs_id}"
        fs = self._aws("efs", "describe_file_systems", FileSystemId=self._fs_id)["FileSystems"][0]
        mt_zones = {str(m.get("AvailabilityZoneName", "?")) for m in self._mount_targets()}
        ces = self._all_ces()
        ce_subnets = {
            s for ce in ces for s in (ce.get("computeResources") or {}).get("subnets", [])
        }
        subnets = self._subnets(ce_subnets)
        need: Dict[str, List[str]] = {}
        for ce in ces:
            for sid in (ce.get("computeResources") or {}).get("subnets", []):
                zone = subnets.get(sid, {}).get("AvailabilityZone", "?")
                need.setdefault(zone, []).append(ce["computeEnvironmentName"])
        one_zone = fs.get("AvailabilityZoneName")
        if one_zone:
            stray = sorted(z for z in need if z != one_zone)
            if stray:
                self._add(
                    name,
                    PROBLEM,
                    f"One Zone file system in {one_zone}, but compute environments use {stray}",
                    f"restrict the compute environments to subnets in {one_zone}",
                )
                return
        missing = sorted(z for z in need if z not in mt_zones)
        if not mt_zones:
            self._add(name, PROBLEM, "no available mount target", "create a mount target")
        elif missing:
            self._add(
                name,
                PROBLEM,
                f"no mount target in {missing} (used by compute environments"
                f" {sorted({c for z in missing for c in need[z]})})",
                "create a mount target in each zone, or restrict the compute environments'"
                f" subnets to {sorted(mt_zones)}",
            )
        else:
            kind = f"One Zone ({one_zone})" if one_zone else "Regional"
            self._add(name, OK, f"{kind}, mount targets in {sorted(mt_zones)}")

    # --- security groups ---

    def check_nfs_security_groups(self) -> None:
        """The mount targets' security groups admit TCP 2049 from each compute environment's
        security groups, and those let TCP 2049 out."""
        mts = self._mount_targets()
        ces = [ce for ce in self._all_ces() if (ce.get("computeResources") or {}).get("subnets")]
        if not mts or not ces:
            return
        mt_groups: Dict[str, List[str]] = {}
        for mt in mts:
            mt_groups[mt["MountTargetId"]] = self._aws(
                "efs", "describe_mount_target_security_groups", MountTargetId=mt["MountTargetId"]
            )["SecurityGroups"]
        subnets = self._subnets(
            [s for ce in ces for s in ce["computeResources"]["subnets"]]
            + [mt["SubnetId"] for mt in mts]
        )
        group_ids = {g for gs in mt_groups.values() for g in gs}
        group_ids |= {g for ce in ces for g in ce["computeResources"].get("securityGroupIds", [])}
        groups = {
            g["GroupId"]: g
            for g in self._aws("ec2", "describe_security_groups", GroupIds=sorted(group_ids))[
                "SecurityGroups"
            ]
        }
        for ce in ces:
            self._check_ce_nfs(ce, mts, mt_groups, groups, subnets)

    def _check_ce_nfs(
        self,
        ce: Dict[str, Any],
        mts: List[Dict[str, Any]],
        mt_groups: Dict[str, List[str]],
        groups: Dict[str, Dict[str, Any]],
        subnets: Dict[str, Dict[str, Any]],
    ) -> None:
        res = ce["computeResources"]
        ce_groups = list(res.get("securityGroupIds") or [])
        ce_cidrs = [subnets[s]["CidrBlock"] for s in res["subnets"] if s in subnets]
        zones = {subnets[s]["AvailabilityZone"] for s in res["subnets"] if s in subnets}
        name = f"NFS from {ce['computeEnvironmentName']}"
        blocked = []
        for mt in mts:
            if mt.get("AvailabilityZoneName") not in zones:
                continue
            mt_cidr = [mt.get("IpAddress", "") + "/32"]
            ingress_ok = any(
                _allows(groups.get(g, {}).get("IpPermissions", []), ce_groups, ce_cidrs)
                for g in mt_groups[mt["MountTargetId"]]
            )
            egress_ok = not ce_groups or any(
                _allows(
                    groups.get(g, {}).get("IpPermissionsEgress", []),
                    mt_groups[mt["MountTargetId"]],
                    mt_cidr,
                )
                for g in ce_groups
            )
            if not ingress_ok:
                blocked.append(
                    f"mount target {mt['MountTargetId']} ({mt_groups[mt['MountTargetId']]}) does"
                    f" not admit TCP {NFS_PORT} from {ce_groups or ce_cidrs}"
                )
            if not egress_ok:
                blocked.append(f"{ce_groups} do not allow TCP {NFS_PORT} out to the mount target")
        if blocked:
            self._add(
                name,
                PROBLEM,
                "; ".join(blocked),
                f"add an inbound rule TCP {NFS_PORT} from the compute environment's security"
                " group to the mount target's security group",
            )
        else:
            self._add(name, OK, f"TCP {NFS_PORT} open to the mount targets in {sorted(zones)}")

    # --- IAM ---

    def check_roles(self) -> None:
        """The roles exist and trust the right services: the workflow role ecs-tasks, the compute
        environments' instance roles ec2, their service roles batch, Spot fleet roles spotfleet."""
        wanted: List[Tuple[str, str, str, str]] = []  # (label, kind, name or ARN, service)
        if self.t.workflow_role:
            wanted.append(
                ("workflow role", "role", self.t.workflow_role, "ecs-tasks.amazonaws.com")
            )
        elif self.t.workflow_queue:
            self._add(
                "workflow role",
                PROBLEM,
                "not configured",
                "set [aws] workflow_role or tag the workflow queue with WorkflowEngineRoleArn",
            )
        for ce in self._all_ces():
            res = ce.get("computeResources") or {}
            label = ce["computeEnvironmentName"]
            if res.get("instanceRole"):
                wanted.append(
                    (
                        f"instance role of {label}",
                        "profile",
                        res["instanceRole"],
                        "ec2.amazonaws.com",
                    )
                )
            elif res.get("type") in ("EC2", "SPOT"):
                self._add(f"instance role of {label}", PROBLEM, "not set", "set instanceRole")
            if ce.get("serviceRole"):
                wanted.append(
                    (f"service role of {label}", "role", ce["serviceRole"], "batch.amazonaws.com")
                )
            if res.get("spotIamFleetRole"):
                wanted.append(
                    (
                        f"Spot fleet role of {label}",
                        "role",
                        res["spotIamFleetRole"],
                        "spotfleet.amazonaws.com",
                    )
                )
        done: Set[Tuple[str, str]] = set()
        for label, kind, ref, service in wanted:
            if (ref, service) not in done:
                done.add((ref, service))
                self._check_role(label, kind, ref, service)

    def _check_role(self, label: str, kind: str, ref: str, service: str) -> None:
        name = _name_from_arn(ref)
        try:
            if kind == "profile":
                profile = self._aws("iam", "get_instance_profile", InstanceProfileName=name)
                roles = profile["InstanceProfile"].get("Roles", [])
                if not roles:
                    self._add(label, PROBLEM, f"instance profile {name} has no role", "add one")
                    return
                role = roles[0]
            else:
                role = self._aws("iam", "get_role", RoleName=name)["Role"]
        except ClientError as exn:
            self._add(label, PROBLEM, f"{ref}: {self._err(exn)}", "create it or fix the ARN")
            return
        doc = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(doc, str):
            doc = json.loads(unquote(doc))
        if service in _trusted_services(doc):
            self._add(label, OK, f"{role['RoleName']} trusts {service}")
        else:
            self._add(
                label,
                PROBLEM,
                f"{role['RoleName']} does not trust {service}",
                f"allow sts:AssumeRole by {service} in its trust policy",
            )

    # --- S3 ---

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
            self._aws("s3", "put_object", Bucket=url.netloc, Key=key, Body=b"miniwdl-aws doctor\n")
            self._aws("s3", "delete_object", Bucket=url.netloc, Key=key)
        except ClientError as exn:
            self._add(
                f"S3 upload folder {self.t.s3_folder}",
                PROBLEM,
                self._err(exn),
                "create the bucket or grant s3:PutObject on it",
            )
            return
        self._add(f"S3 upload folder {self.t.s3_folder}", OK, "writable")


def _name_from_arn(ref: str) -> str:
    """``role/path/Name`` or ``instance-profile/Name`` ARN (or a bare name) -> ``Name``."""
    return ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref


def _trusted_services(doc: Dict[str, Any]) -> Set[str]:
    services: Set[str] = set()
    statements = doc.get("Statement") or []
    for st in statements if isinstance(statements, list) else [statements]:
        actions = st.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if st.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = st.get("Principal") or {}
        svc = principal.get("Service", []) if isinstance(principal, dict) else []
        services.update([svc] if isinstance(svc, str) else svc)
    return services


def _port_ok(perm: Dict[str, Any]) -> bool:
    if perm.get("IpProtocol") in ("-1", "all"):
        return True
    if perm.get("IpProtocol") not in ("tcp", "6"):
        return False
    return int(perm.get("FromPort", -1)) <= NFS_PORT <= int(perm.get("ToPort", -1))


def _allows(perms: List[Dict[str, Any]], groups: List[str], cidrs: List[str]) -> bool:
    """Whether any rule admits TCP 2049 for one of ``groups`` or a range covering every one of
    ``cidrs``."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs if c and c != "/32"]
    for perm in perms:
        if not _port_ok(perm):
            continue
        if any(p.get("GroupId") in groups for p in perm.get("UserIdGroupPairs", [])):
            return True
        for rng in perm.get("IpRanges", []):
            allowed = ipaddress.ip_network(rng.get("CidrIp", "255.255.255.255/32"), strict=False)
            if nets and all(n.subnet_of(allowed) for n in nets):  # type: ignore[arg-type]
                return True
    return False
