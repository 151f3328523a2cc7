"""Command-line grammar of the submitter.

Our own flags are parsed first (``parse_known_args``); whatever is left goes to ``miniwdl run``
inside the workflow job. That remainder is parsed again with ``miniwdl run``'s *own* argument
parser, so that the WDL source and the ``-i`` inputs file are identified exactly as miniwdl would
identify them (``-i in.json wf.wdl`` ships ``wf.wdl``, never ``in.json``).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence

from miniwdl_aws.config import env_var_name
from miniwdl_aws.errors import ConfigError

PROG = "miniwdl_submit_awsbatch"

# Flag → [aws] option (miniwdl_aws/config.py) supplying its default, so one setting
# (cfg file or MINIWDL__AWS__<KEY>) serves both the submitter and a plain `miniwdl run`.
OPTION_DEFAULTS: Dict[str, str] = {
    "workflow_queue": "workflow_queue",
    "task_queue": "task_queue",
    "task_queue_fallback": "task_queue_fallback",
    "fsap": "fsap",
    "workflow_role": "workflow_role",
    "image": "workflow_image",
    "s3upload": "s3_upload_folder",
    "delete_after": "s3_upload_delete_after",
}
ENV_FS = "MINIWDL__AWS__FS"
ENV_FILE_IO_ROOT = "MINIWDL__FILE_IO__ROOT"

DELETE_AFTER_CHOICES = ("success", "failure", "always")


@dataclass
class PassThrough:
    """``miniwdl run`` arguments, split into what we ship and what we pass verbatim.

    :param uri: the WDL source as given (filename, URL, zip), or None with ``--self-test``
    :param input_file: the ``-i`` value when it names a file ("-" and literal JSON stay in ``rest``)
    :param path: ``-p/--path`` import directories
    :param rest: every other argument, in order, verbatim
    """

    uri: Optional[str]
    input_file: Optional[str] = None
    path: List[str] = field(default_factory=list)
    rest: List[str] = field(default_factory=list)
    #: as ``miniwdl run`` parsed them, to check the inputs locally before submitting
    inputs: List[str] = field(default_factory=list)
    input_arg: Optional[str] = None
    empty: List[str] = field(default_factory=list)
    none: List[str] = field(default_factory=list)
    task: Optional[str] = None


def build_parser() -> argparse.ArgumentParser:
    """The submitter's own flags (unknown arguments are left for ``miniwdl run``)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [miniwdl run args ...] --workflow-queue QUEUE [options]",
        description="Launch `miniwdl run` as an AWS Batch job on a Fargate workflow queue; it"
        " runs each WDL task as a Batch job on the task queue, with EFS as the shared filesystem."
        " A local WDL (with its imports) and a local -i inputs JSON are shipped to the job."
        " Arguments not listed here pass through to `miniwdl run`.",
        allow_abbrev=False,
    )
    g = p.add_argument_group("AWS Batch")
    g.add_argument("--workflow-queue", help="job queue for the workflow job [env %(env)s]")
    g.add_argument(
        "--task-queue",
        help="job queue for task jobs [env %(env)s, or the workflow queue's DefaultTaskQueue tag]",
    )
    g.add_argument(
        "--task-queue-fallback",
        help="task queue after spot interruptions (runtime.preemptible) [env %(env)s, or the"
        " DefaultTaskQueueFallback tag]",
    )
    g.add_argument(
        "--fsap", help="EFS access point (fsap-...) to mount [env %(env)s, or the DefaultFsap tag]"
    )
    g.add_argument(
        "--no-efs",
        "--no-EFS",
        dest="efs",
        action="store_false",
        help="no EFS: the compute environments mount a shared filesystem at --mount themselves"
        f" [env {ENV_FS}=false]",
    )
    g.add_argument(
        "--mount",
        help=f"shared filesystem mount point in every container [env {ENV_FILE_IO_ROOT}, else"
        " /mnt/efs, or /mnt/net with --no-efs]",
    )
    g = p.add_argument_group("workflow job")
    g.add_argument(
        "--workflow-role",
        help="IAM role ARN (job + execution role) of the workflow job [env %(env)s, or the"
        " WorkflowEngineRoleArn tag]",
    )
    g.add_argument("--name", help="workflow job name [from the WDL filename]")
    g.add_argument("--cpu", default="1", metavar="N", help="vCPUs of the workflow job [1]")
    g.add_argument(
        "--memory-GiB", dest="memory_gib", type=float, default=4, metavar="N", help="GiB [4]"
    )
    g.add_argument("--image", help="workflow job image [env %(env)s, else the release image]")
    g.add_argument(
        "--no-env",
        action="store_true",
        help="don't pass MINIWDL__* environment variables through to the workflow job",
    )
    g.add_argument(
        "--no-public-ip",
        action="store_true",
        help="don't assign the workflow job a public IP (private subnets with NAT)",
    )
    g.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tag the workflow job and every task job (repeatable)",
    )
    g.add_argument(
        "--timeout",
        metavar="DURATION",
        help="terminate the workflow job after this long, e.g. 3600, 90m, 12h, 2d (Batch minimum"
        " 60s)",
    )
    g = p.add_argument_group("files")
    g.add_argument(
        "--dir",
        help="under the mount: DIR puts the run in a new DIR/<run id>/; DIR/. runs exactly in DIR"
        " [MOUNT/miniwdl_run]",
    )
    g.add_argument(
        "--s3upload",
        metavar="S3URI",
        help="s3://bucket/folder/ to upload logs and outputs under, into the run's own"
        " <folder>/<run id>/ [env %(env)s]",
    )
    g.add_argument(
        "--delete-after",
        metavar="WHEN",
        help="with --s3upload, after every object verified, delete the directory the run"
        " created (never one that existed before): "
        + ",".join(DELETE_AFTER_CHOICES)
        + " [env %(env)s]",
    )
    g.add_argument(
        "--stage",
        metavar="S3URI",
        help="s3://bucket/folder/ to stage the WDL and inputs in when too large to ship inline"
        " [the --s3upload folder]",
    )
    g = p.add_argument_group("waiting")
    g.add_argument("--wait", "-w", action="store_true", help="wait; exit with miniwdl's exit code")
    g.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="stream the workflow log to standard error while waiting (implies --wait)",
    )
    g.add_argument(
        "--self-test",
        action="store_true",
        help="run a small built-in workflow end to end (needs no internet; implies --follow)",
    )
    # Poll period for DescribeJobs/GetLogEvents; hidden (tests and the demo shorten it).
    p.add_argument("--poll-seconds", type=float, default=2.0, help=argparse.SUPPRESS)
    for action in p._actions:
        if action.help and "%(env)s" in action.help:
            action.help = action.help.replace("%(env)s", env_var_name(OPTION_DEFAULTS[action.dest]))
    return p


def parse(
    argv: Sequence[str],
    option: Callable[[str], Any],
    file_io_root: str = "",
    environ: Optional[Dict[str, str]] = None,
) -> argparse.Namespace:
    """Parse ``argv`` (without the program name) into our settings plus ``.passthrough``.

    :param option: reads an ``[aws]`` option (``config.read_option`` bound to a Loader); its
        value is the default of the matching flag
    :param file_io_root: ``[file_io] root``, the default ``--mount`` when not ``/``

    Nothing is checked against AWS here. Raises ConfigError."""
    env = dict(os.environ if environ is None else environ)
    parser = build_parser()
    args, rest = parser.parse_known_args(list(argv))
    # 0.12.2 spelled "no EFS" as MINIWDL__AWS__FS=false; [aws] fs is otherwise an fs- id.
    fs_off = env.get(ENV_FS, "").strip().lower() in ("0", "false", "no", "off", "f", "n")
    if fs_off:
        args.efs = False
    for dest, name in OPTION_DEFAULTS.items():
        if getattr(args, dest) in (None, ""):
            value = option(name)
            if value not in (None, ""):
                setattr(args, dest, str(value).strip())
    if not args.mount:
        root = file_io_root.strip()
        args.mount = root if root and root != "/" else ("/mnt/efs" if args.efs else "/mnt/net")
    args.mount = os.path.normpath(args.mount)
    if not args.dir:
        args.dir = os.path.join(args.mount, "miniwdl_run")
    if args.self_test:
        args.follow = True
    if args.follow:
        args.wait = True
    if args.delete_after:
        args.delete_after = args.delete_after.strip().lower()
    args.passthrough = parse_passthrough(rest, self_test=args.self_test)
    return args


def _run_parser() -> argparse.ArgumentParser:
    """``miniwdl run``'s own parser (so its grammar, not a guess, classifies the remainder)."""
    import WDL.CLI

    sub = argparse.ArgumentParser(prog="miniwdl", add_help=False, exit_on_error=False)
    subparsers = sub.add_subparsers(dest="command")
    run = WDL.CLI.fill_run_subparser(subparsers)
    WDL.CLI.fill_common(run)
    run.exit_on_error = False
    return run


def _value_options(parser: argparse.ArgumentParser) -> Dict[str, argparse.Action]:
    """Option strings of ``parser`` that consume a following value."""
    out: Dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.option_strings and action.nargs != 0:
            for opt in action.option_strings:
                out[opt] = action
    return out


def parse_passthrough(rest: Sequence[str], self_test: bool = False) -> PassThrough:
    """Split the ``miniwdl run`` arguments into the WDL source, the ``-i`` file and the rest.

    The grammar check uses miniwdl's parser; the split walks the tokens with the same option
    table so that the remaining arguments keep their order and spelling."""
    rest = list(rest)
    run = _run_parser()
    if not self_test:
        # Let miniwdl's own parser judge the arguments first (errors become ConfigError).
        def _error(message: str) -> NoReturn:
            raise ConfigError(f"miniwdl run arguments: {message}")

        run.error = _error  # type: ignore[method-assign,assignment]
        try:
            ns = run.parse_args(rest)
        except SystemExit as exc:  # argparse --help and friends
            raise ConfigError(f"miniwdl run arguments: {' '.join(rest)}") from exc
        if ns.run_dir:
            raise ConfigError("use the submitter's --dir (a prefix under the mount), not -d")
    value_opts = _value_options(run)
    out = PassThrough(uri=None)
    if not self_test:
        out.inputs = list(ns.inputs or [])
        out.input_arg = ns.input_file
        out.empty = list(ns.empty or [])
        out.none = list(ns.none or [])
        out.task = ns.task
    i = 0
    positional_seen = False
    while i < len(rest):
        tok = rest[i]
        name, eq, inline = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        action = value_opts.get(name)
        if tok == "--":
            out.rest.extend(rest[i:])
            break
        if action is not None:
            value = inline if eq else (rest[i + 1] if i + 1 < len(rest) else "")
            step = 1 if eq else 2
            if action.dest == "input_file" and _names_file(value):
                out.input_file = value
            elif action.dest == "path":
                # kept apart: imports are bundled into the shipped zip, so a local -p dir
                # means nothing inside the job
                out.path.append(value)
            else:
                out.rest.extend(rest[i : i + step])
            i += step
            continue
        if tok.startswith("-i") and len(tok) > 2 and not tok.startswith("--"):
            value = tok[2:]
            if _names_file(value):
                out.input_file = value
            else:
                out.rest.append(tok)
        elif not tok.startswith("-") and not positional_seen and not self_test:
            out.uri = tok
            positional_seen = True
        else:
            out.rest.append(tok)
        i += 1
    if not self_test and not out.uri:
        raise ConfigError("missing the WDL source (a filename or URL) for miniwdl run")
    return out


def _names_file(value: str) -> bool:
    """An ``-i`` value is a file name unless it is ``-`` (stdin) or a literal JSON object."""
    v = value.strip()
    return bool(v) and v != "-" and not v.startswith("{")


def parse_tags(items: Sequence[str]) -> Dict[str, str]:
    """``KEY=VALUE`` strings → dict, checked against Batch's tag limits."""
    tags: Dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"--tag expects KEY=VALUE, got {item!r}")
        if len(key) > 128 or len(value) > 256 or key.lower().startswith("aws:"):
            raise ConfigError(f"--tag {item!r}: keys ≤128 chars, values ≤256, no aws: prefix")
        tags[key] = value
    return tags


def parse_duration(text: str) -> int:
    """``3600``, ``90m``, ``12h``, ``2d`` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    mult = units.get(t[-1:], None)
    num = t[:-1] if mult else t
    try:
        seconds = int(float(num) * (mult or 1))
    except ValueError:
        raise ConfigError(f"--timeout: not a duration: {text!r} (e.g. 3600, 90m, 12h)") from None
    if seconds < 60:
        raise ConfigError(f"--timeout {text}: AWS Batch requires at least 60 seconds")
    return seconds
