"""The IAM calls of miniwdl-aws (``doctor``'s role checks)."""

from __future__ import annotations

from typing import Any, Dict, cast

from .calls import ServiceApi

__all__ = ["IamApi"]


class IamApi(ServiceApi):
    """IAM calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`)."""

    SERVICE = "iam"

    def get_role(self, name: str) -> Dict[str, Any]:
        """The role ``name`` (GetRole's ``Role``)."""
        res = self._call("GetRole", lambda: self._clients("iam").get_role(RoleName=name))
        return cast(Dict[str, Any], res["Role"])

    def get_instance_profile(self, name: str) -> Dict[str, Any]:
        """The instance profile ``name`` (GetInstanceProfile's ``InstanceProfile``)."""
        res = self._call(
            "GetInstanceProfile",
            lambda: self._clients("iam").get_instance_profile(InstanceProfileName=name),
        )
        return cast(Dict[str, Any], res["InstanceProfile"])
