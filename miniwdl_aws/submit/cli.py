"""``miniwdl_submit_awsbatch`` / ``miniwdl-aws-submit`` / ``python -m miniwdl_aws``.

The story of :meth:`Submitter.run`: parse the command line once into a frozen
:class:`~.request.SubmitRequest`; check everything checkable locally; load the WDL and inputs;
resolve the infrastructure (queues and their tags, access point, buckets, image) with read-only
AWS lookups; build the workflow job; ship the WDL and inputs (inline or staged in S3); register
(or reuse) the job definition; submit; optionally wait and follow the log; exit with miniwdl's
exit code. Errors before submitting print one line and exit 2, no traceback, nothing submitted.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from miniwdl_aws import naming
from miniwdl_aws._util import _
from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.clients import AwsClients
from miniwdl_aws.aws.efs import EfsApi
from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.aws.s3 import S3Api
from miniwdl_aws.batch.job_definitions import JobDefinitionCache
from miniwdl_aws.batch.recovery import SubmitOutcomeUnknown, submit_without_twins
from miniwdl_aws.batch.submitter import AdaptiveSubmitter
from miniwdl_aws.config import read_option
from miniwdl_aws.errors import ConfigError, MiniwdlAwsError
from miniwdl_aws.submit import args as cli_args
from miniwdl_aws.submit import job, outcome, rundir, shipping, validate
from miniwdl_aws.submit.follow import LOG_GROUP, LogFollower, LogLost
from miniwdl_aws.submit.progress import TaskProgress
from miniwdl_aws.submit.request import SubmitRequest
from miniwdl_aws.submit.upload import S3Uploader, UploadError, parse_s3_uri, run_folder
from miniwdl_aws.submit.wait import JobWaiter

PREFIX = "[miniwdl-aws-submit]"
EXIT_USAGE = 2  # bad arguments/configuration: nothing was submitted
EXIT_INTERRUPTED = 130  # Ctrl-C while waiting: the workflow job keeps running

logger = logging.getLogger(cli_args.PROG)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the submitter; returns the process exit code (miniwdl's, when waiting)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return Submitter(stdout=sys.stdout, stderr=sys.stderr).run(argv)
    except MiniwdlAwsError as exn:
        print(f"{cli_args.PROG}: error: {exn}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PREFIX} interrupted before submitting; nothing was submitted", file=sys.stderr)
        return EXIT_INTERRUPTED


class Submitter:
    """One invocation of the submitter (streams injectable for tests)."""

    def __init__(self, stdout: TextIO, stderr: TextIO, environ: Optional[Dict[str, str]] = None):
        self.stdout = stdout
        self.stderr = stderr
        self.environ = dict(os.environ if environ is None else environ)

    def note(self, msg: str) -> None:
        """A status line of ours on stderr."""
        print(f"{PREFIX} {msg}", file=self.stderr, flush=True)

    def emit(self, line: str) -> None:
        """A line of the workflow job's log on stderr."""
        print(line, file=self.stderr, flush=True)

    def run(self, argv: List[str]) -> int:
        """Validate, resolve, ship, submit, and optionally wait. Raises MiniwdlAwsError."""
        req = cli_args.parse(argv, config_reader(), self.environ)
        memory_mib = validate.check_local(req)
        if req.pass_env:
            validate.check_passthrough_settings(job.passthrough_env(self.environ))
        sources = shipping.local_sources(req.passthrough, req.mount, req.self_test)
        aws = connect(req.region)
        infra = validate.resolve_infrastructure(aws.batch, aws.efs, aws.s3, req)
        run_id = naming.new_run_id()
        spec = job.workflow_spec(req, infra, sources.wdl_arg, run_id, memory_mib, self.environ)
        shipment = shipping.plan(
            sources.files,
            functools.partial(job.fits_inline, spec),
            validate.stage_folder(req, run_id),
            stager(aws.s3, req.kms_key),
        )
        spec = job.with_shipment(spec, shipment)
        request = job.submit_request(spec, register_job_definition(aws.batch, spec))
        try:
            job_id, settled = submit_job(aws.batch, request, req.submit_recovery_seconds)
        except SubmitOutcomeUnknown as exn:  # not EXIT_USAGE: the job may exist
            return self._outcome_unknown(run_id, exn)
        except KeyboardInterrupt:  # maybe during a lookup: the job may exist
            return self._outcome_unknown(run_id, None)
        self._report_submitted(req, spec, shipment, job_id, settled)
        if not req.wait:
            return 0
        return self._wait(aws, req, job_id, run_id, (infra.task_queue, infra.task_queue_fallback))

    def _outcome_unknown(self, run_id: str, exn: Optional[SubmitOutcomeUnknown]) -> int:
        """Say that the workflow job may exist, and how to find and stop it; the exit code."""
        unknown = (
            f"see its jobs with `miniwdl-aws runs {run_id}` and terminate any with"
            f" `miniwdl-aws cleanup {run_id}`"
        )
        if exn is None:
            print(f"{PREFIX} interrupted submitting run {run_id}; {unknown}", file=self.stderr)
            return EXIT_INTERRUPTED
        why = " ".join(str(exn).split())
        print(f"{cli_args.PROG}: error: run {run_id}: {why}; {unknown}", file=self.stderr)
        return 1

    def _report_submitted(
        self,
        req: SubmitRequest,
        spec: job.WorkflowJobSpec,
        shipment: shipping.Shipment,
        job_id: str,
        settled: bool,
    ) -> None:
        # told only now: before submitting, stderr is reserved for a one-line error
        if settled:
            self.note("a SubmitJob response was lost; settled by looking the job up by name")
        for uri in shipment.staged:
            self.note(f"staged {uri}")
        if spec.forwarded:
            self.note("passed through (--no-env to stop): " + " ".join(spec.forwarded))
        self.note(f"submitted {spec.job_name} to {spec.queue}; run id {spec.run_id}")
        self.note(f"run directory: {rundir.home_path(req.dir, spec.run_id)[0]}/")
        if req.s3upload:
            self.note(f"S3 folder: {run_folder(req.s3upload, spec.run_id)}")
        print(job_id, file=self.stdout, flush=True)

    def _wait(
        self,
        aws: AwsApis,
        req: SubmitRequest,
        job_id: str,
        run_id: str,
        task_queues: Sequence[str],
    ) -> int:
        """Wait for the workflow job (following its log with ``--follow``), showing the counts
        of the run's task jobs; its exit code."""
        isatty = getattr(self.stderr, "isatty", None)
        progress = TaskProgress(
            aws.batch,
            run_id,
            task_queues,
            job_id,
            self.stderr,
            tty=bool(isatty and isatty()),
            prefix=PREFIX + " ",
            period=req.progress_seconds,
        )
        waiter = JobWaiter(
            aws.batch,
            LogsApi(aws.clients),
            self.emit,
            self.note,
            poll_seconds=req.poll_seconds,
            outage_limit=req.describe_error_wait,
            progress=progress,
        )
        try:
            code = waiter.wait(job_id, follow=req.follow)
        except KeyboardInterrupt:
            progress.clear()
            self.note(
                "interrupted: stopped waiting; the workflow job keeps running. To terminate it:\n"
                f"  aws batch terminate-job --job-id {job_id} --reason"
                " 'terminated by user (miniwdl-aws-submit)'"
            )
            return EXIT_INTERRUPTED
        self._tell_outcome(aws, req, run_id, waiter, code)
        if req.s3upload:
            self.note(f"this run's S3 folder: {run_folder(req.s3upload, run_id)}")
        return code

    def _tell_outcome(
        self, aws: AwsApis, req: SubmitRequest, run_id: str, waiter: JobWaiter, code: int
    ) -> None:
        """After the job ended: miniwdl's error in one short paragraph (when miniwdl ran and
        failed), then where the run's log and directory are."""
        container = waiter.desc.get("container") or {}
        stream = container.get("logStreamName")
        group = waiter.follower.group if waiter.follower is not None else LOG_GROUP
        followed = waiter.follower is not None and waiter.saw_end
        lines = list(waiter.tail)

        def log_lines() -> List[str]:
            # the whole log when it was not followed to its end (GetLogEvents, 1 MB a page)
            if followed or not stream:
                return lines
            try:
                return LogFollower(LogsApi(aws.clients), stream, group).poll()
            except (LogLost, MiniwdlAwsError):
                return lines

        home = rundir.home_path(req.dir, run_id)[0]
        if code != 0 and "exitCode" in container:  # miniwdl ran (else Batch's reason was said)
            folder = run_folder(req.s3upload, run_id) if req.s3upload else None
            found = outcome.find_error(home, folder, _downloader(aws.s3), log_lines)
            for line in outcome.error_paragraph(found) if found else []:
                self.note(line)
        run_dir = outcome.run_dir_from_log(lines) or outcome.run_dir_on_disk(home) or home + "/"
        # the wrapper logs deleting it; without the log, a mount this machine sees tells
        deleted = outcome.run_dir_deleted(lines) or bool(
            req.delete_after and os.path.isdir(req.mount) and not os.path.lexists(home)
        )
        for line in outcome.where_lines(run_id, group, stream, run_dir, code == 0, deleted):
            self.note(line)


def _downloader(s3: S3Api) -> Callable[[str, str], None]:
    """Copies an S3 URI to a local file (for the run's ``error.json``)."""

    def download(uri: str, dest: str) -> None:
        bucket, key = parse_s3_uri(uri, "error.json")
        s3.download_file(bucket, key, dest)

    return download


def config_reader() -> Callable[[str], Any]:
    """``[aws]`` option reader over miniwdl's configuration (cfg files, ``MINIWDL__AWS__*``)."""
    from WDL.runtime.config import Loader

    return functools.partial(read_option, Loader(logger))


@dataclass(frozen=True)
class AwsApis:
    """The AWS calls the submitter makes, over one set of clients."""

    clients: AwsClients
    batch: BatchApi
    efs: EfsApi
    s3: S3Api


def connect(region: str) -> AwsApis:
    """Clients for ``region`` (else the environment's or profile's); ConfigError with none."""
    clients = AwsClients(region=region or None)
    if not clients.region:
        raise ConfigError("no AWS region: set AWS_DEFAULT_REGION or [aws] region")
    # SubmitJob goes through clients without botocore retries (see miniwdl_aws.aws.retry)
    return AwsApis(clients, BatchApi(clients), EfsApi(clients), S3Api(clients))


def stager(s3: S3Api, kms_key: str) -> Callable[[bytes, str], None]:
    """Verified upload of a shipped file to S3 (staged mode); failures are ConfigError."""
    uploader = S3Uploader(s3, kms_key)

    def put(data: bytes, uri: str) -> None:
        try:
            uploader.put_bytes(data, uri)
        except UploadError as exn:
            raise ConfigError(f"staging the WDL/inputs in S3 failed: {exn}") from None

    return put


def register_job_definition(api: BatchApi, spec: job.WorkflowJobSpec) -> str:
    """ARN of an ACTIVE job definition with exactly this content (registered if new), found and
    registered as the task job definitions are."""
    cache = JobDefinitionCache(api, job.JOB_DEFINITION_PREFIX, platform=job.platform(spec))
    try:
        return cache.get(logger, job.container_properties(spec))
    except Exception as exn:
        raise ConfigError(f"registering the workflow job definition failed: {exn}") from None


def submit_job(api: BatchApi, request: Dict[str, Any], recovery_seconds: float) -> Tuple[str, bool]:
    """Submit the workflow job; ``(job id, whether a lost SubmitJob response was settled by
    looking the job up by name)``.

    SubmitJob is not idempotent: a lost response is settled by looking the job up by name
    (:func:`~miniwdl_aws.batch.recovery.submit_without_twins`), and throttling is retried (paced)
    only when nothing was processed.

    :raises SubmitOutcomeUnknown: the job may or may not exist
    :raises ConfigError: SubmitJob failed; nothing was submitted
    """
    # no env values in logs (they may hold settings users consider private)
    logger.debug(_("SubmitJob", **{k: v for k, v in request.items() if k != "containerOverrides"}))
    listed_before = api.call_counts().get("batch.ListJobs", 0)
    since_ms = int(time.time() * 1000) - 5000  # slack for clock skew
    try:
        job_id = AdaptiveSubmitter(max_rate=1.0).call(
            lambda: submit_without_twins(api, request, since_ms, recovery_seconds),
            lambda: False,
            max_tries=5,
        )
    except (SubmitOutcomeUnknown, KeyboardInterrupt):
        raise
    except Exception as exn:  # one line, no traceback; nothing was submitted
        raise ConfigError(f"SubmitJob failed: {exn}") from None
    return job_id, api.call_counts().get("batch.ListJobs", 0) > listed_before
