"""``doctor`` checks of EFS: the access point and its POSIX settings, mount targets in the
compute environments' zones (One Zone or Regional), and NFS (TCP 2049) through the security
groups between the compute environments and the mount targets."""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, Iterable, List

from ..errors import AwsCallError
from .checks import NFS_PORT, OK, PROBLEM, WARN, CheckContext

__all__ = ["EfsChecks"]


class EfsChecks(CheckContext):
    """The EFS and NFS checks (mixed into :class:`~miniwdl_aws.ops.doctor.Doctor`)."""

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
            ap = self.efs.access_point(self.t.fsap)
        except AwsCallError as exn:
            self._add(
                f"EFS access point {self.t.fsap}",
                PROBLEM,
                self._err(exn),
                "create it (see infra/miniwdl-aws.yaml) or fix [aws] fsap",
            )
            return
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
        mts = self.efs.mount_targets(self._fs_id)
        return [m for m in mts if m.get("LifeCycleState") == "available"]

    def _subnets(self, ids: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        return {s["SubnetId"]: s for s in self.ec2.subnets(sorted(set(ids)))}

    def check_mount_targets(self) -> None:
        """The file system has an available mount target in every zone the compute environments
        use (and, for One Zone EFS, the compute environments stay in its zone)."""
        if not self._fs_id:
            return
        name = f"EFS mount targets of {self._fs_id}"
        fs = self.efs.describe_file_system(self._fs_id)
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

    def check_nfs_security_groups(self) -> None:
        """The mount targets' security groups admit TCP 2049 from each compute environment's
        security groups, and those let TCP 2049 out."""
        mts = self._mount_targets()
        ces = [ce for ce in self._all_ces() if (ce.get("computeResources") or {}).get("subnets")]
        if not mts or not ces:
            return
        mt_groups: Dict[str, List[str]] = {}
        for mt in mts:
            mt_groups[mt["MountTargetId"]] = self.efs.mount_target_security_groups(
                mt["MountTargetId"]
            )
        subnets = self._subnets(
            [s for ce in ces for s in ce["computeResources"]["subnets"]]
            + [mt["SubnetId"] for mt in mts]
        )
        group_ids = {g for gs in mt_groups.values() for g in gs}
        group_ids |= {g for ce in ces for g in ce["computeResources"].get("securityGroupIds", [])}
        groups = {g["GroupId"]: g for g in self.ec2.security_groups(sorted(group_ids))}
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
