"""The EFS calls of miniwdl-aws: access points (backend check, submitter, SageMaker Studio),
file systems and mount targets (``doctor``)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, cast

from ..errors import AwsCallError
from .calls import ServiceApi

__all__ = ["EfsApi"]

_NOT_FOUND = ("AccessPointNotFound", "ResourceNotFoundException")


class EfsApi(ServiceApi):
    """EFS calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`)."""

    SERVICE = "efs"

    def access_point(self, fsap_id: str) -> Dict[str, Any]:
        """The EFS access point ``fsap_id``.

        :raises AwsCallError: code ``AccessPointNotFound`` when it does not exist
        """
        res = self._call(
            "DescribeAccessPoints",
            lambda: self._clients("efs").describe_access_points(AccessPointId=fsap_id),
        )
        aps = res.get("AccessPoints", [])
        if not aps:
            raise AwsCallError(
                "DescribeAccessPoints", "AccessPointNotFound", f"{fsap_id} does not exist"
            )
        return cast(Dict[str, Any], aps[0])

    def describe_access_point(self, fsap_id: str) -> Optional[Dict[str, Any]]:
        """The EFS access point ``fsap_id``, or None if it does not exist."""
        try:
            return self.access_point(fsap_id)
        except AwsCallError as exn:
            if exn.code in _NOT_FOUND:
                return None
            raise

    def access_points(self, fs_id: str) -> Iterator[Dict[str, Any]]:
        """The access points of the file system ``fs_id``, read 100 per page as the caller
        goes (one that stops early reads no further page)."""
        pages = self._clients("efs").get_paginator("describe_access_points")
        for page in self._pages(
            "DescribeAccessPoints",
            pages.paginate(FileSystemId=fs_id, PaginationConfig={"PageSize": 100}),
        ):
            yield from cast(List[Dict[str, Any]], page.get("AccessPoints", []))

    def describe_file_system(self, fs_id: str) -> Dict[str, Any]:
        """The file system ``fs_id``."""
        res = self._call(
            "DescribeFileSystems",
            lambda: self._clients("efs").describe_file_systems(FileSystemId=fs_id),
        )
        systems = res.get("FileSystems", [])
        if not systems:
            raise AwsCallError("DescribeFileSystems", "FileSystemNotFound", f"no {fs_id}")
        return cast(Dict[str, Any], systems[0])

    def mount_targets(self, fs_id: str) -> List[Dict[str, Any]]:
        """The mount targets of the file system ``fs_id`` (every page)."""
        pages = self._clients("efs").get_paginator("describe_mount_targets")
        ans: List[Dict[str, Any]] = []
        for page in self._pages("DescribeMountTargets", pages.paginate(FileSystemId=fs_id)):
            ans.extend(cast(List[Dict[str, Any]], page.get("MountTargets", [])))
        return ans

    def mount_target_security_groups(self, mount_target_id: str) -> List[str]:
        """The security group ids of one mount target."""
        res = self._call(
            "DescribeMountTargetSecurityGroups",
            lambda: self._clients("efs").describe_mount_target_security_groups(
                MountTargetId=mount_target_id
            ),
        )
        return [str(g) for g in res.get("SecurityGroups", [])]
