"""A stand-in for :class:`miniwdl_aws.aws.clients.AwsClients` in unit tests."""

from __future__ import annotations

from typing import Any


class FakeClients:
    """Hands out pre-built (e.g. Stubber-wrapped) boto3 clients by service name, the same ones
    with or without retries; a service not given is a KeyError."""

    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def __call__(self, service: str) -> Any:
        return self.clients[service]

    def no_retries(self) -> FakeClients:
        return self
