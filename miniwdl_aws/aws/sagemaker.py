"""The SageMaker calls of miniwdl-aws (SageMaker Studio detection)."""

from __future__ import annotations

from typing import Any, Mapping

from .calls import ServiceApi
from .errors import AwsCallError

__all__ = ["SageMakerApi"]


class SageMakerApi(ServiceApi):
    """SageMaker calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`)."""

    SERVICE = "sagemaker"

    def home_efs(self, domain_id: str) -> str:
        """The id of the EFS a Studio domain mounts as its users' home."""
        res = self._call(
            "DescribeDomain", lambda: self._clients("sagemaker").describe_domain(DomainId=domain_id)
        )
        return _field(res, "HomeEfsFileSystemId", "DescribeDomain")

    def home_uid(self, domain_id: str, user_profile: str) -> str:
        """The POSIX uid owning a Studio user's directory on the home EFS."""
        res = self._call(
            "DescribeUserProfile",
            lambda: self._clients("sagemaker").describe_user_profile(
                DomainId=domain_id, UserProfileName=user_profile
            ),
        )
        return _field(res, "HomeEfsFileSystemUid", "DescribeUserProfile")


def _field(res: Mapping[str, Any], key: str, operation: str) -> str:
    value = res.get(key)
    if value is None:
        raise AwsCallError(operation, "MissingField", f"the answer has no {key}")
    return str(value)
