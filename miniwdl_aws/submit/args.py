"""Command-line grammar of the submitter, parsed once into a :class:`.request.SubmitRequest`.

Our own flags are parsed first (``parse_known_args``); whatever is left goes to ``miniwdl run``
inside the workflow job. That remainder is parsed again with ``miniwdl run``'s *own* argument
parser, so that the WDL source and the ``-i`` inputs file are identified exactly as miniwdl would
identify them (``-i in.json wf.wdl`` ships ``wf.wdl``, never ``in.json``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable, Dict, List, Mapping, NoReturn, Optional, Sequence, Tuple

from miniwdl_aws.batch.specs import MIN_TIMEOUT_S, parse_duration
from miniwdl_aws.config import OPTIONS_BY_NAME, env_var_name
from miniwdl_aws.errors import ConfigError
from miniwdl_aws.submit.request import PassThrough, SubmitRequest

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
    _batch_flags(p.add_argument_group("AWS Batch"))
    _job_flags(p.add_argument_group("workflow job"))
    _file_flags(p.add_argument_group("files"))
    _waiting_flags(p.add_argument_group("waiting"))
    # Poll period for DescribeJobs/GetLogEvents; hidden (tests and the demo shorten it).
    p.add_argument("--poll-seconds", type=float, default=2.0, help=argparse.SUPPRESS)
    # Period of the task-job counts shown while waiting; hidden (tests shorten it).
    p.add_argument("--progress-seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    for action in p._actions:
        if action.help and "%(env)s" in action.help:
            action.help = action.help.replace("%(env)s", env_var_name(OPTION_DEFAULTS[action.dest]))
    return p


def _batch_flags(g: Any) -> None:
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


def _job_flags(g: Any) -> None:
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
    g.add_argument(
        "--image",
        help="workflow job image, built from this repository's Dockerfile [env %(env)s, or the"
        " workflow queue's WorkflowImage tag]",
    )
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


def _file_flags(g: Any) -> None:
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


def _waiting_flags(g: Any) -> None:
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


def parse(
    argv: Sequence[str], option: Callable[[str], Any], environ: Mapping[str, str]
) -> SubmitRequest:
    """Parse ``argv`` (without the program name) into the submitter's settings.

    :param option: reads an ``[aws]`` option (``config.read_option`` bound to a Loader); its
        value is the default of the matching flag
    :param environ: the environment: ``MINIWDL__FILE_IO__ROOT`` is the default ``--mount`` (when
        not ``/``; never a cfg file's root, a laptop directory meaningless inside the job), and
        ``MINIWDL__AWS__FS=false`` is 0.12.2's spelling of ``--no-efs``

    Nothing is checked against AWS here. Raises ConfigError."""
    ns, rest = build_parser().parse_known_args(list(argv))
    fs_off = environ.get(ENV_FS, "").strip().lower() in ("0", "false", "no", "off", "f", "n")
    efs = bool(ns.efs) and not fs_off
    flags = _flags_over_options(ns, option)
    mount = _mount(ns.mount, environ.get(ENV_FILE_IO_ROOT, ""), efs)
    return SubmitRequest(
        passthrough=parse_passthrough(rest, self_test=ns.self_test),
        workflow_queue=flags["workflow_queue"],
        task_queue=flags["task_queue"],
        task_queue_fallback=flags["task_queue_fallback"],
        fsap=flags["fsap"],
        workflow_role=flags["workflow_role"],
        image=flags["image"],
        efs=efs,
        mount=mount,
        dir=ns.dir or os.path.join(mount, "miniwdl_run"),
        name=ns.name,
        cpu=ns.cpu,
        memory_gib=ns.memory_gib,
        pass_env=not ns.no_env,
        public_ip=not ns.no_public_ip,
        config_tags={str(k): str(v) for k, v in (_option(option, "job_tags") or {}).items()},
        flag_tags=parse_tags(ns.tag),
        timeout=parse_timeout(ns.timeout) if ns.timeout else None,
        s3upload=flags["s3upload"],
        delete_after=flags["delete_after"].strip().lower(),
        stage=ns.stage or "",
        kms_key=str(_option(option, "s3_upload_kms_key") or ""),
        wait=ns.wait or ns.follow or ns.self_test,
        follow=ns.follow or ns.self_test,
        self_test=ns.self_test,
        poll_seconds=ns.poll_seconds,
        region=str(_option(option, "region") or ""),
        job_definition_prefix=str(_option(option, "job_definition_prefix")),
        submit_recovery_seconds=float(_option(option, "submit_recovery_seconds")),
        describe_error_wait=float(_option(option, "describe_error_wait")),
        progress_seconds=ns.progress_seconds,
    )


def _option(option: Callable[[str], Any], name: str) -> Any:
    """``[aws] name``, or its registered default when the reader has nothing (a bare reader in
    tests; ``config.read_option`` itself always answers)."""
    value = option(name)
    return OPTIONS_BY_NAME[name].default if value in (None, "") else value


def _flags_over_options(ns: argparse.Namespace, option: Callable[[str], Any]) -> Dict[str, str]:
    """Each flag of :data:`OPTION_DEFAULTS`, else its ``[aws]`` option (stripped); "" if unset."""
    out = {}
    for dest, name in OPTION_DEFAULTS.items():
        value = getattr(ns, dest)
        if value in (None, ""):
            value = option(name)
            value = "" if value is None else str(value).strip()
        out[dest] = value
    return out


def _mount(flag: Optional[str], file_io_root: str, efs: bool) -> str:
    if flag:
        return os.path.normpath(flag)
    root = file_io_root.strip()
    return os.path.normpath(root if root and root != "/" else ("/mnt/efs" if efs else "/mnt/net"))


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
    ns = None if self_test else _judged_by_miniwdl(run, rest)
    uri, input_file, path, verbatim = _split(rest, _value_options(run), self_test)
    if ns is None:
        return PassThrough(uri=None, input_file=input_file, path=path, rest=verbatim)
    if not uri:
        raise ConfigError("missing the WDL source (a filename or URL) for miniwdl run")
    return PassThrough(
        uri=uri,
        input_file=input_file,
        path=path,
        rest=verbatim,
        inputs=tuple(ns.inputs or []),
        input_arg=ns.input_file,
        empty=tuple(ns.empty or []),
        none=tuple(ns.none or []),
        task=ns.task,
    )


def _judged_by_miniwdl(run: argparse.ArgumentParser, rest: List[str]) -> argparse.Namespace:
    """``rest`` parsed by ``miniwdl run``'s parser; its complaints become ConfigError."""

    def _error(message: str) -> NoReturn:
        raise ConfigError(f"miniwdl run arguments: {message}")

    run.error = _error  # type: ignore[method-assign,assignment]
    try:
        ns = run.parse_args(rest)
    except SystemExit as exc:  # argparse --help and friends
        raise ConfigError(f"miniwdl run arguments: {' '.join(rest)}") from exc
    if ns.run_dir:
        raise ConfigError("use the submitter's --dir (a prefix under the mount), not -d")
    return ns


def _split(
    rest: List[str], value_opts: Mapping[str, argparse.Action], self_test: bool
) -> Tuple[Optional[str], Optional[str], Tuple[str, ...], Tuple[str, ...]]:
    """``(uri, input file, import paths, verbatim rest)`` of the ``miniwdl run`` tokens."""
    uri: Optional[str] = None
    input_file: Optional[str] = None
    path: List[str] = []
    verbatim: List[str] = []
    i = 0
    while i < len(rest):
        tok = rest[i]
        name, eq, inline = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        action = value_opts.get(name)
        if tok == "--":
            verbatim.extend(rest[i:])
            break
        if action is not None:
            value = inline if eq else (rest[i + 1] if i + 1 < len(rest) else "")
            step = 1 if eq else 2
            if action.dest == "input_file" and _names_file(value):
                input_file = value
            elif action.dest == "path":
                # kept apart: imports are bundled into the shipped zip, so a local -p dir
                # means nothing inside the job
                path.append(value)
            else:
                verbatim.extend(rest[i : i + step])
            i += step
            continue
        attached = tok[2:] if tok.startswith("-i") and not tok.startswith("--") else ""
        if attached and _names_file(attached):  # -iFILE
            input_file = attached
        elif not tok.startswith("-") and uri is None and not self_test:
            uri = tok
        else:
            verbatim.append(tok)
        i += 1
    return uri, input_file, tuple(path), tuple(verbatim)


def _names_file(value: str) -> bool:
    """An ``-i`` value is a file name unless it is ``-`` (stdin) or a literal JSON object."""
    v = value.strip()
    return bool(v) and v != "-" and not v.startswith("{")


def parse_tags(items: Sequence[str]) -> Dict[str, str]:
    """``KEY=VALUE`` strings → dict (AWS's tag rules are checked with the other sources' tags,
    in :func:`.validate.check_local`)."""
    tags: Dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"--tag expects KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


def parse_timeout(text: str) -> int:
    """``--timeout``: ``3600``, ``90m``, ``12h``, ``2d`` (the one duration grammar,
    :func:`miniwdl_aws.batch.specs.parse_duration`) → whole seconds, at least Batch's 60."""
    try:
        seconds = int(parse_duration(text))
    except ValueError:
        raise ConfigError(f"--timeout: not a duration: {text!r} (e.g. 3600, 90m, 12h)") from None
    if seconds < MIN_TIMEOUT_S:
        raise ConfigError(f"--timeout {text}: AWS Batch requires at least 60 seconds")
    return seconds
