"""Fixtures for the operability tests: the emulator's reference stack, made NFS-complete.

The reference stack that ``aws`` bootstraps shares one security group between the compute
environments and the EFS mount target. On AWS a new security group admits nothing, so ``doctor``
rightly reports that NFS (TCP 2049) is blocked; ``stack`` adds the self-referencing TCP 2049
rule a real deployment needs (idempotently, in case the bootstrap gains it), so that tests start
from a stack that passes and then break one thing at a time.
"""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest
from botocore.exceptions import ClientError


def allow_nfs(group_id: str) -> None:
    """Admit TCP 2049 into ``group_id`` from itself (no-op when already allowed)."""
    try:
        boto3.client("ec2").authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 2049,
                    "ToPort": 2049,
                    "UserIdGroupPairs": [{"GroupId": group_id}],
                }
            ],
        )
    except ClientError as exn:
        if exn.response["Error"]["Code"] != "InvalidPermission.Duplicate":
            raise


@pytest.fixture
def stack(aws: Any) -> Iterator[Any]:
    """The reference stack with NFS allowed between its compute environments and mount target."""
    allow_nfs(aws.security_group_id)
    yield aws
