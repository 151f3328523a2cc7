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

    def family_limits(self, families: Sequence[str]) -> Dict[str, Dict[str, int]]:
        """``{family: {"cpu", "mem_bytes"}}``: the most vCPUs and memory of any instance type of
        each family (``c5`` covers ``c5.large`` ... ``c5.24xlarge``); families EC2 does not
        know are absent."""
        if not families:
            return {}
        pages = self._clients("ec2").get_paginator("describe_instance_types")
        found: Dict[str, Dict[str, int]] = {}
        wanted = [f"{family}.*" for family in families]
        for page in self._pages(
            "DescribeInstanceTypes",
            pages.paginate(Filters=[{"Name": "instance-type", "Values": wanted}]),
        ):
            for t in cast(List[Dict[str, Any]], page.get("InstanceTypes", [])):
                family = str(t["InstanceType"]).split(".", 1)[0]
                if family not in families:
                    continue
                best = found.setdefault(family, {"cpu": 0, "mem_bytes": 0})
                best["cpu"] = max(best["cpu"], int(t["VCpuInfo"]["DefaultVCpus"]))
                best["mem_bytes"] = max(
                    best["mem_bytes"], int(t["MemoryInfo"]["SizeInMiB"]) * 1048576
                )
        return found

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
