"""The process-wide AWS plumbing every task of one miniwdl process shares.

One set per process: boto3 clients (one with botocore retries for idempotent calls, one
without for SubmitJob, which has no idempotency token), the job-definition cache, the adaptive
SubmitJob pacer and the status poller. Task threads only submit their job and then sleep on the
poller's :class:`~miniwdl_aws.batch.poller.JobWatch`.
"""

from __future__ import annotations

import logging
import threading
from typing import Optional

from .. import naming
from ..aws.batch import BatchApi
from ..aws.calls import CallCounter
from ..aws.clients import AwsClients
from ..batch.arrays import ArrayCoalescer
from ..batch.job_definitions import JobDefinitionCache
from ..batch.poller import StatusPoller
from ..batch.submitter import AdaptiveSubmitter
from ..config import AwsSettings

__all__ = ["Services", "shared_services", "forget_services"]


class Services:
    """Process-wide AWS plumbing shared by every task of the process."""

    def __init__(self, settings: AwsSettings, logger: logging.Logger) -> None:
        self.settings = settings
        self.clients = AwsClients(
            region=settings.region or None,
            max_attempts=settings.boto3_max_attempts,
            retry_mode=settings.boto3_retry_mode,
            max_pool_connections=64,
        )
        self.submitter = AdaptiveSubmitter(
            max_rate=1.0 / settings.submit_period, burst=settings.submit_burst
        )
        # SubmitJob and TerminateJob go through clients.no_retries() (see BatchApi); every
        # other Batch call is shown to the submitter, as AWS counts them against one budget
        self.api = BatchApi(self.clients, counter=CallCounter(on_call=self._batch_call))
        self.definitions = JobDefinitionCache(
            self.api, settings.job_definition_prefix, settings.user_tags
        )
        # with array jobs, children are followed through their parents' status summaries
        self.arrays: Optional[ArrayCoalescer] = None
        if settings.array_jobs:
            self.arrays = ArrayCoalescer(
                self.api,
                self.submitter,
                window=settings.array_job_window,
                min_size=settings.array_job_min_size,
                recovery_seconds=settings.submit_recovery_seconds,
                logger=logger.getChild("arrays"),
            )
        self.poller = StatusPoller(
            self.api.describe_jobs,
            list_array=self.api.list_array_children if settings.array_jobs else None,
            period=settings.describe_period,
            period_max=settings.describe_period_max,
            error_seconds=settings.describe_error_wait,
            logger=logger.getChild("poller"),
        )
        self.run_id = naming.process_run_id()

    def _batch_call(self, key: str) -> None:
        # SubmitJob is entered by the submitter itself when it admits the call
        if key.startswith("batch.") and key != "batch.SubmitJob":
            self.submitter.note_other_call()


_services: Optional[Services] = None
_lock = threading.Lock()


def shared_services(settings: AwsSettings, logger: logging.Logger) -> Services:
    """This process's services, built on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = Services(settings, logger)
        return _services


def forget_services() -> None:
    """Stop the poller and forget the services, so the next :func:`shared_services` builds new
    ones (in-process tests that reset the local AWS between runs)."""
    global _services
    with _lock:
        if _services is not None:
            _services.poller.stop()
        _services = None
