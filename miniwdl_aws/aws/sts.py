"""The STS call of miniwdl-aws (``doctor``'s credentials check)."""

from __future__ import annotations

from typing import Any, Dict, cast

from .calls import ServiceApi

__all__ = ["StsApi"]


class StsApi(ServiceApi):
    """STS calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`)."""

    SERVICE = "sts"

    def caller_identity(self) -> Dict[str, Any]:
        """Who the credentials are (GetCallerIdentity: ``Account``, ``Arn``, ``UserId``)."""
        res = self._call("GetCallerIdentity", lambda: self._clients("sts").get_caller_identity())
        return cast(Dict[str, Any], res)
