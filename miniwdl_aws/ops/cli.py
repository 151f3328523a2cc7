"""The ``miniwdl-aws`` command: ``doctor``, ``runs``, ``cleanup``, ``logs``.

::

    miniwdl-aws doctor [--workflow-queue Q] [--task-queue Q] [--fsap fsap-...] [--s3 URI] [--json]
    miniwdl-aws runs [--since HOURS] [--queue Q ...] [--json]
    miniwdl-aws runs RUN_ID [--queue Q ...] [--json]
    miniwdl-aws cleanup RUN_ID [--queue Q ...] [--wait SECONDS] [--dry-run]
    miniwdl-aws logs RUN_ID [CALL] [--follow] [--queue Q ...]
    miniwdl-aws report RUN_DIR|RUN_ID [-o FILE] [--queue Q ...]

Settings come from miniwdl's configuration (``--cfg``, ``MINIWDL_CFG``, ``MINIWDL__AWS__*``) and
flags; flags win. Results go to stdout, everything else (errors, notes) to stderr; every error
is one line, no traceback. Exit status, for every subcommand:

- 0: done (``doctor`` found no problem; ``cleanup`` left nothing active)
- 1: nothing found (no runs in the window, no jobs of that run, no job of that call, no log
  yet), ``doctor`` found a problem, or ``cleanup`` left jobs active
- 2: a usage, configuration or AWS error
- 130: interrupted (Ctrl-C); 141: stdout closed early (``| head``), quietly, as a Unix tool
  killed by SIGPIPE
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from .. import naming
from ..aws.batch import BatchApi
from ..aws.clients import AwsClients
from ..aws.logs import LogsApi
from ..errors import ConfigError, MiniwdlAwsError
from ..studio import STUDIO_METADATA_FILE
from . import report
from .doctor import Doctor, Targets
from .logs import (
    NEXT_ATTEMPT_SLACK_S,
    NoMoreAttempts,
    NothingFound,
    follow_attempts,
    follow_job,
    print_logs,
    select_jobs,
)
from .runs import (
    ACTIVE_STATUSES,
    check_run_id,
    cleanup_run,
    expand_arrays,
    find_run_jobs,
    list_runs,
    search_queues,
)
from .summary import build_summary, format_table

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_NOTHING", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_NOTHING = 1  # nothing found, a doctor problem, jobs left active
EXIT_USAGE = 2  # usage, configuration or AWS error
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away


class _UsageError(Exception):
    """argparse wants to exit with a usage error; we print one line instead."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``miniwdl-aws``."""
    parser = _Parser(prog="miniwdl-aws", description="Operate miniwdl-aws runs and infrastructure")
    parser.add_argument("--cfg", help="miniwdl configuration file (default: MINIWDL_CFG)")
    parser.add_argument("--region", help="AWS region (default: [aws] region, AWS_DEFAULT_REGION)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    doctor = sub.add_parser("doctor", help="check the AWS infrastructure a run needs")
    doctor.add_argument("--workflow-queue", help="workflow job queue ([aws] workflow_queue)")
    doctor.add_argument("--task-queue", help="task job queue ([aws] task_queue)")
    doctor.add_argument("--task-queue-fallback", help="on-demand fallback task queue")
    doctor.add_argument("--fsap", help="EFS access point id ([aws] fsap)")
    doctor.add_argument("--workflow-role", help="workflow job IAM role ARN ([aws] workflow_role)")
    doctor.add_argument("--s3", help="S3 folder to check is writable ([aws] s3_upload_folder)")
    doctor.add_argument("--image", help="workflow image ([aws] workflow_image)")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--studio-metadata", default=STUDIO_METADATA_FILE, help=argparse.SUPPRESS)

    runs = sub.add_parser("runs", help="list recent runs, or show the jobs of one run")
    runs.add_argument("run_id", nargs="?", metavar="RUN_ID", help="show this run's jobs")
    runs.add_argument("--queue", action="append", help="job queue to search (default: all)")
    runs.add_argument("--since", type=float, default=24.0, help="hours to look back (listing)")
    runs.add_argument("--json", action="store_true", help="machine-readable output")

    cleanup = sub.add_parser("cleanup", help="terminate every active job of a run")
    cleanup.add_argument("run_id", metavar="RUN_ID")
    cleanup.add_argument("--queue", action="append", help="job queue to search (default: all)")
    cleanup.add_argument("--wait", type=float, default=120.0, help="seconds to wait (default 120)")
    cleanup.add_argument("--dry-run", action="store_true", help="only show what would be done")

    logs = sub.add_parser(
        "logs", help="print a run's workflow log, or the log of one of its calls' jobs"
    )
    logs.add_argument("run_id", metavar="RUN_ID")
    logs.add_argument(
        "call",
        nargs="?",
        metavar="CALL",
        help="a call (e.g. greet, call-greet-0): the log of its task jobs; default: the workflow"
        " job's",
    )
    logs.add_argument("--follow", "-f", action="store_true", help="follow it until the job ends")
    logs.add_argument("--queue", action="append", help="job queue to search (default: all)")
    logs.add_argument("--period", type=float, default=2.0, help=argparse.SUPPRESS)
    report.add_parser(sub)  # miniwdl-aws report RUN_DIR|RUN_ID [-o FILE] (ops/report.py)
    return parser


def _check_args(args: argparse.Namespace) -> None:
    """What argparse's types cannot say; one line each (a usage error)."""
    since = getattr(args, "since", None)
    if since is not None and not since > 0:
        raise _UsageError(
            f"miniwdl-aws runs: --since must be a positive number of hours: {since:g}"
        )
    wait = getattr(args, "wait", None)
    if wait is not None and not wait >= 0:
        raise _UsageError(f"miniwdl-aws cleanup: --wait must be >= 0 seconds: {wait:g}")
    period = getattr(args, "period", None)
    if period is not None and not period > 0:
        raise _UsageError(f"miniwdl-aws logs: --period must be > 0: {period:g}")
    for queue in getattr(args, "queue", None) or []:
        if not queue.strip():
            raise _UsageError(f"miniwdl-aws {args.command}: --queue must name a job queue")


def _load_cfg(path: Optional[str]) -> Any:
    from WDL.runtime.config import Loader

    # miniwdl's Loader skips a named file that does not exist; a typo must not silently drop
    # the user's settings.
    if path and not os.path.isfile(path):
        raise ConfigError(f"--cfg: no such file: {path}")
    quiet = logging.getLogger("miniwdl-aws.cfg")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return Loader(quiet, [path] if path else None)


def _targets(args: argparse.Namespace, cfg: Any) -> Targets:
    from .. import config

    def pick(flag: Optional[str], option: str) -> str:
        return flag if flag is not None else str(config.read_option(cfg, option))

    return Targets(
        region=pick(args.region, "region"),
        workflow_queue=pick(args.workflow_queue, "workflow_queue"),
        task_queue=pick(args.task_queue, "task_queue"),
        task_queue_fallback=pick(args.task_queue_fallback, "task_queue_fallback"),
        fsap=pick(args.fsap, "fsap"),
        workflow_role=pick(args.workflow_role, "workflow_role"),
        s3_folder=pick(args.s3, "s3_upload_folder"),
        workflow_image=pick(args.image, "workflow_image"),
    )


def _region(args: argparse.Namespace, cfg: Any) -> Optional[str]:
    from .. import config

    return args.region or config.read_option(cfg, "region") or None


def cmd_doctor(args: argparse.Namespace, cfg: Any, out: TextIO) -> int:
    """Run the checks, print one line each; 1 when any is a problem."""
    targets = _targets(args, cfg)
    doctor = Doctor(AwsClients(targets.region or None), targets, args.studio_metadata)
    checks = doctor.run()
    problems = doctor.problems
    if args.json:
        json.dump([dataclasses.asdict(c) for c in checks], out, indent=2)
        print(file=out)
        return 1 if problems else 0
    for check in checks:
        print(check.line(), file=out)
    print(
        f"{len(problems)} problem(s) found" if problems else "no problems found",
        file=out,
    )
    return 1 if problems else 0


def _ts(ms: Optional[int]) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) if ms else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]
    )


def cmd_runs(args: argparse.Namespace, cfg: Any, out: TextIO) -> int:
    """List recent runs, or one run's jobs."""
    run_id = check_run_id(args.run_id) if args.run_id else None
    api = BatchApi(AwsClients(_region(args, cfg)))
    if run_id:
        return _show_run(api, run_id, args, out)
    runs = list_runs(api, args.queue, since=args.since * 3600.0)
    if args.json:
        json.dump([_run_json(r) for r in runs], out, indent=2)
        print(file=out)
        return EXIT_OK if runs else EXIT_NOTHING
    if not runs:
        print(f"miniwdl-aws: no runs in the last {args.since:g} hours", file=sys.stderr)
        return EXIT_NOTHING
    header = ("RUN ID", "WORKFLOW", "CREATED (UTC)", "JOBS", "ACTIVE", "STATUSES")
    rows = [
        (
            r.run_id,
            r.workflow or "-",
            _ts(r.created_at),
            str(r.jobs),
            str(r.active),
            " ".join(f"{k}={v}" for k, v in r.statuses.items()),
        )
        for r in runs
    ]
    print(_table(header, rows), file=out)
    return 0


def _run_json(run: Any) -> Dict[str, Any]:
    return {
        "run_id": run.run_id,
        "workflow": run.workflow,
        "created_at": run.created_at,
        "last_at": run.last_at,
        "jobs": run.jobs,
        "active": run.active,
        "statuses": run.statuses,
        "workflow_job_id": run.workflow_job_id,
    }


def _show_run(api: BatchApi, run_id: str, args: argparse.Namespace, out: TextIO) -> int:
    # an array job's children each ran one task: shown (and summarized) one per task
    jobs = expand_arrays(api, find_run_jobs(api, run_id, args.queue))
    if not jobs:
        raise NothingFound(f"no jobs found for run {run_id}")
    summary = build_summary(run_id, jobs, api_calls=api.operation_counts())
    if args.json:
        json.dump(summary, out, indent=2)
        print(file=out)
        return 0
    header = ("JOB ID", "ROLE", "CALL", "TRY", "STATUS", "QUEUE", "CREATED (UTC)", "REASON")
    rows = []
    for job in jobs:
        tags = job.get("tags") or {}
        reason = job.get("statusReason") or (job.get("container") or {}).get("reason") or ""
        exit_code = (job.get("container") or {}).get("exitCode")
        if exit_code is not None and job.get("status") == "FAILED":
            reason = f"exit {exit_code}; {reason}" if reason else f"exit {exit_code}"
        rows.append(
            (
                job["jobId"],
                tags.get("MiniwdlRole", "-"),
                tags.get("MiniwdlCall", job.get("jobName", "")),
                tags.get("MiniwdlAttempt", "-"),
                job.get("status", ""),
                str(job.get("jobQueue", "")).rsplit("/", 1)[-1],
                _ts(job.get("createdAt")),
                reason,
            )
        )
    print(_table(header, rows), file=out)
    print(file=out)
    print(format_table(summary), file=out)
    return 0


def cmd_cleanup(args: argparse.Namespace, cfg: Any, out: TextIO) -> int:
    """Terminate every active job of the run; 1 when some are still active after --wait."""
    run_id = check_run_id(args.run_id)
    result = cleanup_run(
        BatchApi(AwsClients(_region(args, cfg))),
        run_id,
        args.queue,
        wait=args.wait,
        dry_run=args.dry_run,
        progress=lambda line: print(line, file=out, flush=True),
    )
    if not result.found:
        raise NothingFound(f"no jobs found for run {run_id}")
    if args.dry_run:
        print(f"{len(result.still_active)} active job(s) of run {run_id}", file=out)
        return 0
    if result.still_active:
        print(
            f"{len(result.still_active)} job(s) of run {run_id} still active after"
            f" {args.wait:g}s: {' '.join(result.still_active)}",
            file=out,
        )
        return 1
    print(f"run {run_id}: {len(result.terminated)} job(s) terminated, 0 active", file=out)
    return 0


def _next_attempt_finder(
    batch: BatchApi, run_id: str, queues: Optional[Sequence[str]], workflow: Sequence[str]
) -> Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """For ``logs --follow RUN CALL``: the job of the attempt after a given one of the same
    call, found by its name (``<run id>-<call>-try<N+1>``, as the backend names it), None while
    it does not exist; :class:`NoMoreAttempts` once the run's workflow job (``workflow``) has
    ended, or for a job that does not say its call and attempt."""

    searched: List[str] = []  # resolved on the first poll, not again at every one

    def next_attempt(job: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        tags = job.get("tags") or {}
        call, attempt = tags.get(naming.TAG_CALL), str(tags.get(naming.TAG_ATTEMPT) or "1")
        if not call or not attempt.isdigit():
            raise NoMoreAttempts()
        name = naming.task_job_name(run_id, str(call), int(attempt) + 1)
        if not searched:
            searched.extend(search_queues(batch, queues))
        later = find_run_jobs(batch, run_id, searched, job_name=name)
        if later:
            return later[-1]
        if workflow and all(
            j.get("status") not in ACTIVE_STATUSES for j in batch.describe_jobs(list(workflow))
        ):
            raise NoMoreAttempts()  # the runner is gone: no attempt will come
        return None

    return next_attempt


def cmd_logs(args: argparse.Namespace, cfg: Any, out: TextIO) -> int:
    """Print (or follow) the log of a run's workflow job, or of one call's task jobs."""
    run_id = check_run_id(args.run_id)
    clients = AwsClients(_region(args, cfg))
    batch, logs = BatchApi(clients), LogsApi(clients)
    found = find_run_jobs(batch, run_id, args.queue)
    if args.call is not None:
        found = expand_arrays(batch, found)  # each child's log is its own task's
    jobs = select_jobs(run_id, found, args.call)

    def line(text: str) -> None:
        print(text, file=out, flush=args.follow)

    def note(text: str) -> None:
        print(f"miniwdl-aws: {text}", file=sys.stderr, flush=True)

    if args.follow:  # the earlier attempts as they are, then the latest one as it grows
        done = print_logs(logs, jobs[:-1], line, note)
        if len(jobs) > 1:
            line(f"==> following {jobs[-1]['jobId']} <==")
        if args.call is None:
            printed = follow_job(batch, logs, jobs[-1], line, note, period=args.period)
        else:  # and a task that fails, into its retry
            workflow = [
                j["jobId"] for j in found if j.get("tags", {}).get(naming.TAG_ROLE) == "workflow"
            ]
            next_attempt = _next_attempt_finder(batch, run_id, args.queue, workflow)
            from .. import config  # the CLI's edge: [aws] retry_wait, as the runner reads it

            wait = float(config.read_option(cfg, "retry_wait")) + NEXT_ATTEMPT_SLACK_S
            printed = follow_attempts(
                batch, logs, jobs[-1], next_attempt, line, note, period=args.period, wait=wait
            )
        return EXIT_OK if printed or done.lines else EXIT_NOTHING
    done = print_logs(logs, jobs, line, note)
    if not done.jobs:
        raise NothingFound(f"run {run_id}: no log yet (no job of it has started)")
    return EXIT_OK


_COMMANDS: Dict[str, Callable[[argparse.Namespace, Any, TextIO], int]] = {
    "doctor": cmd_doctor,
    "runs": cmd_runs,
    "cleanup": cmd_cleanup,
    "logs": cmd_logs,
    "report": report.cmd_report,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``miniwdl-aws`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            raise _UsageError(
                f"miniwdl-aws: missing COMMAND ({', '.join(_COMMANDS)}); see miniwdl-aws --help"
            )
        _check_args(args)
        cfg = _load_cfg(args.cfg)
        code = _COMMANDS[args.command](args, cfg, sys.stdout)
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except _UsageError as exn:
        print(str(exn), file=sys.stderr)
        return EXIT_USAGE
    except NothingFound as exn:
        print(f"miniwdl-aws: {exn}", file=sys.stderr)
        return EXIT_NOTHING
    except MiniwdlAwsError as exn:
        print(f"miniwdl-aws: {exn}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("miniwdl-aws: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exn:  # a CLI never shows a traceback
        print(f"miniwdl-aws: {type(exn).__name__}: {exn}", file=sys.stderr)
        return EXIT_USAGE


def _quiet_broken_pipe() -> int:
    """The reader of stdout went away (``miniwdl-aws runs | head -1``): no message, and no
    "Exception ignored ... BrokenPipeError" from the interpreter's final flush of stdout."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests): nothing to flush
        pass
    return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
