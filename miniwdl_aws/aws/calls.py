"""Counting and translating every call of the service modules.

Each service module's class derives from :class:`ServiceApi`, whose :meth:`~ServiceApi._call`
and :meth:`~ServiceApi._pages` are the only places a client method is invoked: each request is
counted per ``service.Operation`` (so tests and run summaries can check API economy) and its
botocore exception is translated by :func:`~miniwdl_aws.aws.errors.translate`.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, ClassVar, Dict, Iterable, Iterator, Optional, TypeVar

from .clients import AwsClients
from .errors import AWS_EXCEPTIONS, translate

__all__ = ["CallCounter", "ServiceApi"]

T = TypeVar("T")


class CallCounter:
    """Thread-safe count of requests per ``service.Operation`` (botocore's own retries of a
    request are not counted: they are invisible above the client)."""

    def __init__(self, on_call: Optional[Callable[[str], None]] = None) -> None:
        """:param on_call: also told of each request's key as it is counted (e.g. so that the
        SubmitJob pacer sees the other calls sharing the account's Batch budget)"""
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._on_call = on_call

    def add(self, key: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[key] += 1
        if self._on_call is not None:
            self._on_call(key)

    def snapshot(self) -> Dict[str, int]:
        """Requests so far per ``service.Operation``."""
        with self._lock:
            return dict(self._counts)


class ServiceApi:
    """Base of the per-service call classes.

    :param clients: the process's shared clients
    :param counter: where to count calls (default: a counter of this object's own), so that
        several service objects can report one total
    """

    SERVICE: ClassVar[str] = ""

    def __init__(self, clients: AwsClients, counter: Optional[CallCounter] = None) -> None:
        self._clients = clients
        self._counter = counter if counter is not None else CallCounter()

    def call_counts(self) -> Dict[str, int]:
        """Requests made per ``service.Operation`` (botocore's internal retries not included)."""
        return self._counter.snapshot()

    def operation_counts(self) -> Dict[str, int]:
        """:meth:`call_counts` of this object's service, keyed by operation name alone."""
        prefix = self.SERVICE + "."
        return {k[len(prefix) :]: v for k, v in self.call_counts().items() if k.startswith(prefix)}

    def _call(self, operation: str, fn: Callable[[], T], service: Optional[str] = None) -> T:
        """``fn()`` (one request of ``operation``), counted and with its error translated."""
        self._counter.add(f"{service or self.SERVICE}.{operation}")
        try:
            return fn()
        except AWS_EXCEPTIONS as exn:
            raise translate(operation, exn) from None

    def _pages(self, operation: str, pages: Iterable[T]) -> Iterator[T]:
        """The pages of a botocore paginator, each counted as one request of ``operation``."""
        key = f"{self.SERVICE}.{operation}"
        it = iter(pages)
        while True:
            try:
                page = next(it)
            except StopIteration:
                return
            except AWS_EXCEPTIONS as exn:
                self._counter.add(key)
                raise translate(operation, exn) from None
            self._counter.add(key)
            yield page
