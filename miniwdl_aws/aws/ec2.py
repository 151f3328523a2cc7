"""The EC2 calls of miniwdl-aws: instance type sizes (backend check), subnets and security
groups (``doctor``)."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, cast

from .calls import ServiceApi

__all__ = ["Ec2Api"]


class Ec2Api(ServiceApi):
    """EC2 calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`)."""

    SERVICE = "ec2"

    def instance_type_limits(self, instance_types: List[str]) -> Dict[str, Dict[str, int]]:
        """``{type: {"cpu": vCPUs, "mem_bytes": bytes}}`` for concrete EC2 instance types."""
        if not instance_types:
            return {}
        res = self._call(
            "DescribeInstanceTypes",
            lambda: self._clients("ec2").describe_instance_types(
                InstanceTypes=cast(Any, instance_types)
            ),
        )
        return {
            str(t["InstanceType"]): {
                "cpu": int(t["VCpuInfo"]["DefaultVCpus"]),
                "mem_bytes": int(t["MemoryInfo"]["SizeInMiB"]) * 1048576,
            }
            for t in cast(List[Dict[str, Any]], res.get("InstanceTypes", []))
        }

    def subnets(self, subnet_ids: Sequence[str]) -> List[Dict[str, Any]]:
        """The named subnets (one call: named ids come back in one page)."""
        ids = list(subnet_ids)
        if not ids:
            return []
        res = self._call(
            "DescribeSubnets", lambda: self._clients("ec2").describe_subnets(SubnetIds=ids)
        )
        return cast(List[Dict[str, Any]], res.get("Subnets", []))

    def security_groups(self, group_ids: Sequence[str]) -> List[Dict[str, Any]]:
        """The named security groups (one call: named ids come back in one page)."""
        ids = list(group_ids)
        if not ids:
            return []
        res = self._call(
            "DescribeSecurityGroups",
            lambda: self._clients("ec2").describe_security_groups(GroupIds=ids),
        )
        return cast(List[Dict[str, Any]], res.get("SecurityGroups", []))
