"""The ECR call of miniwdl-aws (``doctor``: does the workflow image exist?)."""

from __future__ import annotations

import re
from typing import Optional, Tuple

from .calls import ServiceApi
from .errors import AwsCallError

__all__ = ["EcrApi", "parse_ecr_image"]

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:<tag>|@<digest>]
_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[\w][\w.-]{0,127})|@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def parse_ecr_image(image: str) -> Optional[Tuple[str, str, str, str]]:
    """``(account, region, repository, tag-or-digest)`` of an ECR image URI, else None (another
    registry). A missing tag means ``latest``, as Docker reads it."""
    m = _ECR_URI.match(image or "")
    if not m:
        return None
    ref = m.group("digest") or m.group("tag") or "latest"
    return m.group("account"), m.group("region"), m.group("repo"), ref


class EcrApi(ServiceApi):
    """ECR calls, counted (see :class:`~miniwdl_aws.aws.calls.ServiceApi`)."""

    SERVICE = "ecr"

    def image_exists(self, account: str, repository: str, ref: str) -> bool:
        """Whether ``repository`` holds the image ``ref`` (a tag or ``sha256:`` digest)."""
        image_id = {"imageDigest": ref} if ref.startswith("sha256:") else {"imageTag": ref}
        try:
            self._call(
                "DescribeImages",
                lambda: self._clients("ecr").describe_images(
                    registryId=account, repositoryName=repository, imageIds=[image_id]
                ),
            )
        except AwsCallError as exn:
            if exn.code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                return False
            raise
        return True
