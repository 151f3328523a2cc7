"""``miniwdl_submit_awsbatch`` / ``miniwdl-aws-submit`` / ``python -m miniwdl_aws``.

The story of :func:`main`: parse; validate everything (locally, then read-only AWS lookups);
ship the WDL and inputs; register (or reuse) the workflow job definition; submit; optionally wait
and follow the log; exit with miniwdl's exit code. Errors print one line, no traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from importlib import resources
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from miniwdl_aws import naming
from miniwdl_aws._util import _
from miniwdl_aws.aws.batch import BatchApi
from miniwdl_aws.aws.clients import AwsClients
from miniwdl_aws.aws.efs import EfsApi
from miniwdl_aws.aws.logs import LogsApi
from miniwdl_aws.aws.s3 import S3Api
from miniwdl_aws.batch.recovery import SubmitOutcomeUnknown, submit_without_twins
from miniwdl_aws.batch.submitter import AdaptiveSubmitter
from miniwdl_aws.config import read_option
from miniwdl_aws.errors import ConfigError, MiniwdlAwsError
from miniwdl_aws.submit import args as cli_args
from miniwdl_aws.submit import job, rundir, shipping, validate
from miniwdl_aws.submit.upload import S3Uploader, UploadError, run_folder
from miniwdl_aws.submit.wait import JobWaiter

PREFIX = "[miniwdl-aws-submit]"
EXIT_USAGE = 2  # bad arguments/configuration: nothing was submitted
EXIT_INTERRUPTED = 130  # Ctrl-C while waiting: the workflow job keeps running
RELEASE_IMAGE = "ghcr.io/miniwdl-ext/miniwdl-aws"


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


def default_image() -> str:
    """The release image matching this package version."""
    from miniwdl_aws import __version__

    return f"{RELEASE_IMAGE}:v{__version__}"


class Submitter:
    """One invocation of the submitter (streams injectable for tests)."""

    def __init__(self, stdout: TextIO, stderr: TextIO, environ: Optional[Dict[str, str]] = None):
        self.stdout = stdout
        self.stderr = stderr
        self.environ = dict(os.environ if environ is None else environ)
        self.passed_env: List[str] = []

    def note(self, msg: str) -> None:
        """A status line of ours on stderr."""
        print(f"{PREFIX} {msg}", file=self.stderr, flush=True)

    def emit(self, line: str) -> None:
        """A line of the workflow job's log on stderr."""
        print(line, file=self.stderr, flush=True)

    def run(self, argv: List[str]) -> int:
        """Validate, ship, submit, and optionally wait. Raises MiniwdlAwsError."""
        from WDL.runtime.config import Loader

        logger = logging.getLogger(cli_args.PROG)
        cfg = Loader(logger)
        option: Callable[[str], Any] = lambda name: read_option(cfg, name)  # noqa: E731
        # The mount defaults from the env var only, never from a miniwdl.cfg file: a laptop's cfg
        # root is a local directory, meaningless inside the workflow job.
        root = self.environ.get(cli_args.ENV_FILE_IO_ROOT, "")
        args = cli_args.parse(argv, option, root, self.environ)

        # 1. everything checkable without AWS
        memory_mib = validate.check_local(args)
        user_tags = {str(k): str(v) for k, v in (option("job_tags") or {}).items()}
        user_tags.update(cli_args.parse_tags(args.tag))
        timeout = cli_args.parse_duration(args.timeout) if args.timeout else None
        files, wdl_arg = self._local_sources(args)

        # 2. read-only AWS lookups
        clients = AwsClients(region=option("region") or None)
        if not clients.region:
            raise ConfigError("no AWS region: set AWS_DEFAULT_REGION or [aws] region")
        # SubmitJob goes through clients without botocore retries (see miniwdl_aws.aws.retry)
        api = BatchApi(clients)
        s3 = S3Api(clients)
        validate.resolve_queues(api, args)
        fs_id = validate.fs_of_access_point(EfsApi(clients), args.fsap) if args.efs else None
        for uri, flag in ((args.s3upload, "--s3upload"), (args.stage, "--stage")):
            if uri:
                validate.check_bucket(s3, uri, flag)

        # 3. the job
        kms_key = str(option("s3_upload_kms_key") or "")
        run_id = naming.new_run_id()
        spec = job.WorkflowJobSpec(
            run_id=run_id,
            job_name=job.job_name(
                args.name, None if args.self_test else args.passthrough.uri, run_id
            ),
            queue=args.workflow_queue,
            image=args.image or default_image(),
            cpu=args.cpu,
            memory_mib=memory_mib,
            mount=args.mount,
            efs=args.efs,
            fs_id=fs_id,
            fsap=args.fsap,
            role=args.workflow_role,
            public_ip=not args.no_public_ip,
            command=[],
            env=self._job_env(args, fs_id, run_id, user_tags, kms_key),
            tags=user_tags,
            timeout=timeout,
        )
        base_cmd = self._wrapper_command(args, wdl_arg)

        def fits(extra_env: Dict[str, str]) -> bool:
            trial = job.WorkflowJobSpec(**{**spec.__dict__})
            trial.env = {**spec.env, **extra_env}
            trial.command = base_cmd + ["--wdl-zip", "env:X" * 4, "--inputs", "env:X" * 4]
            req = job.submit_request(trial, "x" * 200)
            return (
                shipping.json_size(req["containerOverrides"]) <= shipping.OVERRIDES_LIMIT
                and shipping.json_size(req) <= shipping.REQUEST_LIMIT
            )

        uploader = S3Uploader(s3, kms_key)

        def put(data: bytes, uri: str) -> None:
            try:
                uploader.put_bytes(data, uri)
            except UploadError as exn:
                raise ConfigError(f"staging the WDL/inputs in S3 failed: {exn}") from None

        shipment = shipping.plan(files, fits, validate.stage_folder(args, run_id), put)
        spec.env.update(shipment.env)
        spec.command = base_cmd[:1] + shipment.wrapper_args + base_cmd[1:]

        # 4. submit
        jobdef = self._job_definition(api, spec)
        request = job.submit_request(spec, jobdef)
        # no env values in logs (they may hold settings users consider private)
        logger.debug(
            _("SubmitJob", **{k: v for k, v in request.items() if k != "containerOverrides"})
        )
        # SubmitJob is not idempotent: a lost response is settled by looking the job up by name,
        # and throttling is retried (paced) only when nothing was processed
        listed_before = api.call_counts().get("batch.ListJobs", 0)
        since_ms = int(time.time() * 1000) - 5000  # slack for clock skew
        window = float(option("submit_recovery_seconds"))
        unknown = (
            f"see its jobs with `miniwdl-aws runs {run_id}` and terminate any with"
            f" `miniwdl-aws cleanup {run_id}`"
        )
        try:
            job_id = AdaptiveSubmitter(max_rate=1.0).call(
                lambda: submit_without_twins(api, request, since_ms, window),
                lambda: False,
                max_tries=5,
            )
        except SubmitOutcomeUnknown as exn:  # not EXIT_USAGE: the job may exist
            why = " ".join(str(exn).split())
            print(f"{cli_args.PROG}: error: run {run_id}: {why}; {unknown}", file=self.stderr)
            return 1
        except KeyboardInterrupt:  # maybe during a lookup: the job may exist
            print(f"{PREFIX} interrupted submitting run {run_id}; {unknown}", file=self.stderr)
            return EXIT_INTERRUPTED
        except Exception as exn:  # one line, no traceback; nothing was submitted
            raise ConfigError(f"SubmitJob failed: {exn}") from None
        if api.call_counts().get("batch.ListJobs", 0) > listed_before:
            self.note("a SubmitJob response was lost; settled by looking the job up by name")
        for uri in shipment.staged:
            self.note(f"staged {uri}")
        if self.passed_env:
            self.note("passed through (--no-env to stop): " + " ".join(self.passed_env))
        self.note(f"submitted {spec.job_name} to {spec.queue}; run id {run_id}")
        self.note(f"run directory: {rundir.home_path(args.dir, run_id)[0]}/")
        if args.s3upload:
            self.note(f"S3 folder: {run_folder(args.s3upload, run_id)}")
        print(job_id, file=self.stdout, flush=True)
        if not args.wait:
            return 0
        waiter = JobWaiter(
            api,
            LogsApi(clients),
            self.emit,
            self.note,
            poll_seconds=args.poll_seconds,
            outage_limit=float(option("describe_error_wait")),
        )
        try:
            code = waiter.wait(job_id, follow=args.follow)
        except KeyboardInterrupt:
            self.note(
                "interrupted: stopped waiting; the workflow job keeps running. To terminate it:\n"
                f"  aws batch terminate-job --job-id {job_id} --reason"
                " 'terminated by user (miniwdl-aws-submit)'"
            )
            return EXIT_INTERRUPTED
        if args.s3upload:
            self.note(f"this run's S3 folder: {run_folder(args.s3upload, run_id)}")
        return code

    def _local_sources(self, args: Any) -> Tuple[Dict[str, bytes], Optional[str]]:
        """The files to ship (``wdl``/``inputs``) and the ``--wdl`` argument for a WDL the job
        can open itself (URL, or a path on the shared filesystem)."""
        pt = args.passthrough
        files: Dict[str, bytes] = {}
        if args.self_test:
            src = resources.files("miniwdl_aws").joinpath("self_test.wdl")
            with resources.as_file(src) as path:
                files["wdl"] = shipping.load_and_zip(str(path), [])
            files["inputs"] = json.dumps(SELF_TEST_INPUTS).encode()
            return files, None
        assert pt.uri
        if pt.input_file:  # first: its own errors are clearer than the input check's
            files["inputs"] = shipping.read_inputs(pt.input_file)
        check_quant = "--no-quant-check" not in pt.rest

        def check_doc(doc: Any) -> None:
            shipping.check_inputs(doc, pt.inputs, pt.input_arg, pt.empty, pt.none, pt.task)

        if "://" in pt.uri and not pt.uri.startswith("file://"):
            wdl_arg: Optional[str] = pt.uri  # fetched by miniwdl inside the job
        else:
            path = pt.uri[len("file://") :] if pt.uri.startswith("file://") else pt.uri
            real = os.path.realpath(path)
            if not os.path.isfile(real):
                raise ConfigError(f"WDL file not found or unreadable: {pt.uri}")
            if (real + "/").startswith(os.path.realpath(args.mount) + "/"):
                shipping.load_and_zip(real, pt.path, check_quant, check_doc)  # validates it
                wdl_arg = real  # visible inside the job at the same path
            else:
                files["wdl"] = shipping.load_and_zip(path, pt.path, check_quant, check_doc)
                wdl_arg = None
        return files, wdl_arg

    def _job_env(
        self,
        args: Any,
        fs_id: Optional[str],
        run_id: str,
        tags: Dict[str, str],
        kms_key: str = "",
    ) -> Dict[str, str]:
        env = {} if args.no_env else job.passthrough_env(self.environ)
        passed = sorted(env)
        env.update(
            {
                naming.ENV_RUN_ID: run_id,
                "MINIWDL__FILE_IO__ROOT": args.mount,
                "MINIWDL__AWS__TASK_QUEUE": args.task_queue,
                "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "aws_batch_job"
                if args.efs
                else "aws_batch_job_no_efs",
            }
        )
        if args.task_queue_fallback:
            env["MINIWDL__AWS__TASK_QUEUE_FALLBACK"] = args.task_queue_fallback
        if args.efs:
            env["MINIWDL__AWS__FSAP"] = args.fsap
            env["MINIWDL__AWS__FS"] = fs_id or ""
        if kms_key:  # the upload needs it too, even when it came from the laptop's cfg file
            env["MINIWDL__AWS__S3_UPLOAD_KMS_KEY"] = kms_key
        if tags:
            env["MINIWDL__AWS__JOB_TAGS"] = json.dumps(tags, separators=(",", ":"))
        # told after submitting: before that, stderr is reserved for a one-line error
        self.passed_env = passed
        return env

    def _wrapper_command(self, args: Any, wdl_arg: Optional[str]) -> List[str]:
        cmd = [job.WRAPPER]
        if wdl_arg:
            cmd += ["--wdl", wdl_arg]
        cmd += ["--dir", args.dir]
        if args.s3upload:
            cmd += ["--s3upload", args.s3upload]
        if args.delete_after:
            cmd += ["--delete-after", args.delete_after]
        cmd.append("--")
        cmd += args.passthrough.rest
        return cmd

    def _job_definition(self, api: BatchApi, spec: job.WorkflowJobSpec) -> str:
        """ARN of an ACTIVE job definition with exactly this content (registered if new)."""
        body = job.job_definition_request(spec)
        try:
            found = api.active_job_definitions(body["jobDefinitionName"])
            if found:
                return str(max(found, key=lambda d: d["revision"])["jobDefinitionArn"])
            return api.register_job_definition(body)
        except Exception as exn:
            raise ConfigError(f"registering the workflow job definition failed: {exn}") from None


SELF_TEST_INPUTS = {"self_test.names": ["Alyssa", "Ben", "Cy"]}
