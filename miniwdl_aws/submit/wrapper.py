"""``miniwdl-aws-workflow``: the program inside the workflow job.

It turns the shipped WDL/inputs back into files, creates the run's own directory (see
:mod:`.rundir`), runs ``miniwdl run`` in it as a child process (forwarding SIGTERM/SIGINT so
miniwdl terminates its task jobs), uploads the run to its own S3 folder ``<s3upload>/<run id>/``
when asked (verified; ``--delete-after`` only after every object verified, and only the run's own
directory), and exits with miniwdl's exit code. Everything it and miniwdl print goes to standard
error, one stream, so CloudWatch keeps the order; its very last line is the end-of-log marker the
submitter's follower waits for.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from types import FrameType
from typing import Any, Dict, List, Optional, Sequence, Tuple

from miniwdl_aws import naming
from miniwdl_aws.errors import MiniwdlAwsError
from miniwdl_aws.submit import END_OF_LOG, rundir
from miniwdl_aws.submit.args import DELETE_AFTER_CHOICES
from miniwdl_aws.submit.shipping import ENV_INPUTS, ENV_WDL_ZIP, materialize
from miniwdl_aws.submit.upload import (
    S3Uploader,
    UploadError,
    parse_s3_uri,
    run_folder,
    upload_run,
)

PREFIX = "[miniwdl-aws-workflow]"
EXIT_SETUP_FAILED = 2  # like miniwdl's own exit status for errors before running anything
EXIT_UPLOAD_FAILED = 75  # EX_TEMPFAIL: miniwdl succeeded but the upload did not; retry it
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def say(msg: str) -> None:
    """One line of ours in the log."""
    print(f"{PREFIX} {msg}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The wrapper's own flags; ``miniwdl run`` arguments follow ``--``."""
    p = argparse.ArgumentParser(
        prog="miniwdl-aws-workflow",
        usage="miniwdl-aws-workflow [options] -- [miniwdl run args ...]",
        description="Run `miniwdl run` inside a workflow job (started by miniwdl_submit_awsbatch),"
        " then upload its logs and outputs to S3.",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--wdl", help="WDL source the job can open itself (URL or shared path)")
    g.add_argument("--wdl-zip", metavar="SRC", help="shipped WDL zip: env:VAR or s3://...")
    p.add_argument("--inputs", metavar="SRC", help="shipped inputs JSON: env:VAR or s3://...")
    p.add_argument(
        "--dir",
        required=True,
        help="under the mount: DIR (the run goes in a new DIR/<run id>/) or DIR/. (exactly DIR)",
    )
    p.add_argument("--s3upload", metavar="S3URI", help="s3://bucket/folder/ to upload to")
    p.add_argument("--delete-after", choices=DELETE_AFTER_CHOICES)
    p.add_argument("miniwdl_args", nargs=argparse.REMAINDER)
    return p


class _Child:
    """The ``miniwdl run`` child and the signals to forward to it."""

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.signalled: Optional[int] = None

    def handle(self, sig: int, _frame: Optional[FrameType]) -> None:
        if self.signalled is None:
            say(f"received signal {sig}; forwarding to miniwdl")
        self.signalled = sig
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point; returns (and, as a script, exits with) miniwdl's exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    child = _Child()
    previous = {sig: signal.signal(sig, child.handle) for sig in FORWARDED}
    try:
        code = run(args, child)
    except KeyboardInterrupt:
        code = 128 + int(signal.SIGINT)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.stdout.flush()
        sys.stderr.flush()
        print(END_OF_LOG, file=sys.stderr, flush=True)
    return code


class _Settings:
    """What the wrapper reads from miniwdl's configuration (the image's cfg and MINIWDL__ env)."""

    def __init__(self) -> None:
        import logging

        from WDL.runtime.config import Loader

        from miniwdl_aws.config import read_option

        cfg = Loader(logging.getLogger("miniwdl-aws-workflow"))
        self.mount: str = cfg["file_io"]["root"]
        self.kms_key: str = read_option(cfg, "s3_upload_kms_key")


@dataclass(frozen=True)
class _Prepared:
    """What running miniwdl needs, once the shipped files and the run's directory are ready."""

    settings: _Settings
    uploader: Optional[S3Uploader]
    home: rundir.RunHome
    cmd: List[str]


def run(args: argparse.Namespace, child: _Child) -> int:
    """Prepare, run miniwdl, upload. Returns the exit code."""
    # one run id for the job names (backend), the run's directory and its S3 folder
    run_id = naming.current_run_id()
    os.environ[naming.ENV_RUN_ID] = run_id
    with tempfile.TemporaryDirectory(prefix="miniwdl_aws_workflow_") as tmp:
        prep = _prepare(args, tmp, run_id)
        if prep is None:
            return EXIT_SETUP_FAILED
        if child.signalled is not None:
            rundir.cleanup_unused(prep.home)
            return 128 + child.signalled
        code, text = _run_miniwdl(prep.cmd, child)
    if text.strip():
        print(text.rstrip("\n"), file=sys.stderr, flush=True)
    doc = _parse_json(text)
    run_dir = doc.get("dir") if isinstance(doc.get("dir"), str) else None
    say(f"miniwdl exit code {code}" + (f"; run directory {run_dir}" if run_dir else ""))
    if not args.s3upload or prep.uploader is None:
        return code
    folder = run_folder(args.s3upload, run_id)
    mount = prep.settings.mount
    return _upload_and_clean(args, prep.uploader, folder, prep.home, run_dir, mount, doc, code)


def _prepare(args: argparse.Namespace, tmp: str, run_id: str) -> Optional[_Prepared]:
    """Settings, the shipped files in ``tmp``, the run's own directory and miniwdl's command
    line; None after an error (said, and uploaded as ``error.json`` with ``--s3upload``)."""
    from miniwdl_aws.aws.clients import AwsClients
    from miniwdl_aws.aws.s3 import S3Api

    miniwdl_args = list(args.miniwdl_args)
    if miniwdl_args[:1] == ["--"]:
        miniwdl_args = miniwdl_args[1:]
    uploader = None
    home: Optional[rundir.RunHome] = None
    try:
        settings = _Settings()
        if (
            args.s3upload
            or (args.wdl_zip or "").startswith("s3://")
            or (args.inputs or "").startswith("s3://")
        ):
            uploader = S3Uploader(S3Api(AwsClients(max_attempts=3)), settings.kms_key)
        if args.s3upload:
            parse_s3_uri(args.s3upload, "--s3upload")
        if args.delete_after and not args.s3upload:
            raise MiniwdlAwsError("--delete-after requires --s3upload")
        home = rundir.provision(args.dir, settings.mount, run_id, bool(args.delete_after))
        say(f"run id {run_id}; run directory under {home.path}")
        cmd = _miniwdl_command(args, miniwdl_args, tmp, uploader, home)
    except (MiniwdlAwsError, UploadError, OSError) as exn:
        say(f"error before the run started: {exn}")
        rundir.cleanup_unused(home)
        err = {"error": type(exn).__name__, "message": str(exn)}
        if args.s3upload and uploader is not None:
            res = upload_run(uploader, run_folder(args.s3upload, run_id), None, None, err)
            _report(res.uploaded, res.errors)
        return None
    return _Prepared(settings, uploader, home, cmd)


def _run_miniwdl(cmd: List[str], child: _Child) -> Tuple[int, str]:
    """Run ``miniwdl run`` as ``child`` (signals forwarded); its exit code and stdout."""
    say("running: " + " ".join(cmd))
    # the payloads are consumed; miniwdl would only warn about them as unused settings
    env = {k: v for k, v in os.environ.items() if k not in (ENV_WDL_ZIP, ENV_INPUTS)}
    child.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    if child.signalled is not None:  # arrived while the child was being started
        child.proc.send_signal(child.signalled)
    out, _ = child.proc.communicate()
    rc = child.proc.returncode
    return (rc if rc >= 0 else 128 - rc), out.decode("utf-8", "replace")


def _miniwdl_command(
    args: argparse.Namespace,
    miniwdl_args: List[str],
    tmp: str,
    uploader: Optional[S3Uploader],
    home: rundir.RunHome,
) -> List[str]:
    def download(uri: str, dest: str) -> None:
        assert uploader is not None
        uploader.get_file(uri, dest)

    if args.wdl_zip:
        wdl = materialize(args.wdl_zip, os.path.join(tmp, "source.zip"), dict(os.environ), download)
    elif args.wdl:
        wdl = args.wdl
    else:
        raise MiniwdlAwsError("no WDL: pass --wdl or --wdl-zip")
    cmd = ["miniwdl", "run", wdl] + miniwdl_args
    if args.inputs:
        cmd += [
            "-i",
            materialize(args.inputs, os.path.join(tmp, "inputs.json"), dict(os.environ), download),
        ]
    return cmd + ["--dir", home.miniwdl_dir, "--error-json"]


def _parse_json(text: str) -> Dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _report(uploaded: List[str], errors: List[str]) -> None:
    say(f"uploaded and verified {len(uploaded)} objects")
    for err in errors:
        say(f"UPLOAD FAILED: {err}")


def _upload_and_clean(
    args: argparse.Namespace,
    uploader: S3Uploader,
    folder: str,
    home: Optional[rundir.RunHome],
    run_dir: Optional[str],
    mount: str,
    doc: Dict[str, Any],
    code: int,
) -> int:
    say(f"uploading to {folder}")
    error = None if run_dir else (doc or {"error": "RunFailed", "message": f"exit code {code}"})
    res = upload_run(uploader, folder, run_dir, doc, error)
    _report(res.uploaded, res.errors)
    if res.outputs is not None:
        print(json.dumps({"s3upload": folder, "outputs": res.outputs}, indent=2), file=sys.stderr)
    if not res.ok:
        say(
            f"upload incomplete ({len(res.errors)} failed): keeping the run directory"
            f" {run_dir or '(none)'}; nothing was deleted"
        )
        return code if code != 0 else EXIT_UPLOAD_FAILED
    say(f"this run's S3 folder: {folder}")
    when = args.delete_after
    if home is not None and when and (when == "always" or (when == "success") == (code == 0)):
        try:
            rundir.delete(home, run_dir, mount)
            say(f"deleted {home.path} (--delete-after {when})")
        except (MiniwdlAwsError, OSError) as exn:
            say(f"not deleting: {exn}")
    return code


if __name__ == "__main__":
    sys.exit(main())
