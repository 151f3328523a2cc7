"""``python -m miniwdl_aws.emulator serve ...``: run the local AWS until SIGINT/SIGTERM.

Prints shell ``export`` lines (endpoint, fake credentials, region and, with ``--bootstrap``, the
``MINIWDL__*`` settings and the demo bucket) on stdout, so ``eval "$(... serve --bootstrap &)"``
style harnesses or a port file can pick them up. On the way out every job process is killed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from typing import Any, Dict, List, Optional

from ._emulator import Emulator
from ._exports import format_exports
from ._faults import FaultInjector
from ._images import parse_spec
from ._profiles import with_profile
from ._state import DEFAULT_KILL_GRACE

CONTAINER_BACKEND_ENV = "MINIWDL__SCHEDULER__CONTAINER_BACKEND"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m miniwdl_aws.emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the local AWS on 127.0.0.1 until SIGINT/SIGTERM")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    serve.add_argument(
        "--efs-dir", default=None, help="directory standing in for EFS (default: a new temp dir)"
    )
    serve.add_argument("--bootstrap", action="store_true", help="create the reference stack")
    serve.add_argument(
        "--dwell", type=float, default=0.02, help="seconds per transitional job state"
    )
    serve.add_argument("--no-strict", action="store_true", help="accept what AWS would reject")
    serve.add_argument(
        "--min-timeout", type=float, default=60.0, help="smallest attemptDurationSeconds accepted"
    )
    serve.add_argument(
        "--kill-grace",
        type=float,
        default=DEFAULT_KILL_GRACE,
        help="seconds SIGTERM->SIGKILL (default: ECS's 30)",
    )
    serve.add_argument(
        "--port-file", default=None, help="write the endpoint URL here (atomically) once serving"
    )
    serve.add_argument(
        "--faults",
        default=None,
        metavar="JSON",
        help="fault spec to serve with from the start (a JSON object, or @FILE), e.g."
        ' \'{"lost_response": {"batch.SubmitJob": 0.2}, "visibility_lag": 1}\'; every client'
        " meets it; change it later with POST /_emulator/faults",
    )
    serve.add_argument(
        "--realistic",
        action="store_true",
        help="serve with the realistic profile: the account-wide Batch budget of 50 requests/s,"
        " per-call latency and a 1 s listing lag (see _profiles.py; --faults keys win)",
    )
    serve.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="NAME=DOCKERFILE",
        help="put an image in the local image table: jobs of image NAME get the ENV of that"
        " Dockerfile's final stage, and the files it copies from its build context (repeatable)",
    )
    return parser


def _fault_spec(arg: Optional[str]) -> Optional[Dict[str, Any]]:
    """``--faults``: a JSON object given inline or as ``@FILE``."""
    if arg is None:
        return None
    text = arg
    if arg.startswith("@"):
        with open(arg[1:]) as f:
            text = f.read()
    spec = json.loads(text)
    if not isinstance(spec, dict):
        raise ValueError("--faults must be a JSON object")
    FaultInjector().set(spec)  # refused here, before serving, if it is not a valid spec
    return spec


def serve(args: argparse.Namespace) -> int:
    """Start, print exports, block until a signal, stop."""
    try:
        faults = with_profile("realistic" if args.realistic else None, _fault_spec(args.faults))
        if faults is not None:
            FaultInjector().set(faults)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"serve: bad --faults: {exc}\n")
        return 2
    try:
        images = dict(parse_spec(spec) for spec in args.image)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"serve: bad --image: {exc}\n")
        return 2
    efs_dir = args.efs_dir or tempfile.mkdtemp(prefix="miniwdl-aws-efs-")
    emu = Emulator(
        efs_dir=efs_dir,
        port=args.port,
        dwell=args.dwell,
        strict=not args.no_strict,
        min_timeout=args.min_timeout,
        kill_grace=args.kill_grace,
        images=images,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emu.start()
    try:
        values = emu.env()
        if args.bootstrap:
            stack = emu.bootstrap(efs_dir=efs_dir)
            values.update(stack.miniwdl_env())
            # so a plain `miniwdl run` in the shell that sourced these runs its tasks as Batch
            # jobs here, not in local Docker (miniwdl's default backend)
            values[CONTAINER_BACKEND_ENV] = "aws_batch_job"
            values["LOCAL_AWS_DEMO_BUCKET"] = stack.bucket
        else:
            os.makedirs(efs_dir, exist_ok=True)
        if faults is not None:  # after the bootstrap, which they must not disturb
            emu.set_faults(faults)
        if args.port_file:  # before the exports, so both are there once the exports appear
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(emu.endpoint_url + "\n")
            os.replace(tmp, args.port_file)
        sys.stdout.write(format_exports(values))
        sys.stdout.flush()
        while not stop.wait(3600):
            pass
    finally:
        emu.stop()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """CLI entry point."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
