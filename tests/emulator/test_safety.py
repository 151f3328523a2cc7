"""The suite-wide guard in tests/conftest.py: no real AWS credentials, profiles or config."""

from __future__ import annotations

import os

import boto3


def test_no_real_aws_identity_is_reachable() -> None:
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        assert var not in os.environ
    assert not os.path.exists(os.environ["AWS_CONFIG_FILE"])
    assert not os.path.exists(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    creds = boto3.session.Session().get_credentials()
    assert creds is not None and creds.access_key == "testing" and creds.token is None
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
