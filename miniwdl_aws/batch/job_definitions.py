"""Job definitions keyed by content hash: registered once, reused by every task and run.

RegisterJobDefinition is a control-plane call with a low rate limit, and 0.12.2 made one (plus a
deregistration) per task. Here each distinct content is looked up once per process: an ACTIVE
definition of the same hashed name from an earlier run is reused, else one is registered. Two
processes racing may each register a revision of the same name; both are identical, so either is
fine and nothing is deregistered.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, Dict, Mapping, Optional

from .._util import _
from ..aws.batch import BatchApi
from . import specs

__all__ = ["JobDefinitionCache"]


class JobDefinitionCache:
    """Thread-safe map from job-definition content to a registered definition's ARN.

    :param api: the Batch API layer
    :param name_prefix: job definitions are named ``<name_prefix>-<hash>``
    :param tags: tags for newly registered definitions
    :param platform: ``EC2`` (Fargate task jobs are not supported)
    """

    def __init__(
        self,
        api: BatchApi,
        name_prefix: str,
        tags: Optional[Mapping[str, str]] = None,
        platform: str = "EC2",
    ) -> None:
        self._api = api
        self._prefix = name_prefix
        self._tags = dict(tags or {})
        self._platform = platform
        self._lock = threading.Lock()
        self._entries: Dict[str, Future[str]] = {}
        self.registered = 0  # definitions this process registered (not reused)

    def get(
        self,
        logger: logging.Logger,
        container_properties: Mapping[str, Any],
        consumables: Optional[Mapping[str, int]] = None,
    ) -> str:
        """The ARN of a job definition with exactly ``container_properties`` (and
        ``consumables``, see :func:`~miniwdl_aws.batch.specs.register_request`).

        Concurrent callers with the same content wait for the first one's lookup instead of
        registering duplicates. A failed lookup is not cached, so a later task retries it.
        """
        request = specs.register_request(
            self._prefix, container_properties, self._tags, self._platform, consumables
        )
        digest = request["tags"][specs.TAG_DEFINITION_HASH]
        with self._lock:
            entry = self._entries.get(digest)
            owner = entry is None
            if entry is None:
                entry = Future()
                self._entries[digest] = entry
        if not owner:
            return entry.result()
        try:
            arn = self._find_or_register(logger, request, digest)
        except BaseException as exn:
            with self._lock:
                del self._entries[digest]
            entry.set_exception(exn)
            raise
        entry.set_result(arn)
        return arn

    def _find_or_register(
        self, logger: logging.Logger, request: Dict[str, Any], digest: str
    ) -> str:
        name = request["jobDefinitionName"]
        for existing in sorted(
            self._api.active_job_definitions(name), key=lambda d: -int(d.get("revision", 0))
        ):
            # the name carries the hash; the tag (when present) guards against a hand-made
            # definition that happens to use our naming
            tagged = (existing.get("tags") or {}).get(specs.TAG_DEFINITION_HASH)
            if tagged in (None, digest):
                logger.info(
                    _("reusing job definition", arn=existing["jobDefinitionArn"], hash=digest[:20])
                )
                return str(existing["jobDefinitionArn"])
        arn = self._api.register_job_definition(request)
        with self._lock:
            self.registered += 1
        logger.info(_("registered job definition", arn=arn, hash=digest[:20]))
        logger.debug(_("job definition", **request["containerProperties"]))
        return arn
