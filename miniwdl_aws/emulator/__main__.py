"""``python -m miniwdl_aws.emulator serve ...``: run the local AWS until SIGINT/SIGTERM.

Prints shell ``export`` lines (endpoint, fake credentials, region and, with ``--bootstrap``, the
``MINIWDL__*`` settings and the demo bucket) on stdout, so ``eval "$(... serve --bootstrap &)"``
style harnesses or a port file can pick them up. On the way out every job process is killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from typing import List, Optional

from ._emulator import Emulator
from ._exports import format_exports


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
    serve.add_argument("--kill-grace", type=float, default=2.0, help="seconds SIGTERM->SIGKILL")
    serve.add_argument(
        "--port-file", default=None, help="write the endpoint URL here (atomically) once serving"
    )
    return parser


def serve(args: argparse.Namespace) -> int:
    """Start, print exports, block until a signal, stop."""
    efs_dir = args.efs_dir or tempfile.mkdtemp(prefix="miniwdl-aws-efs-")
    emu = Emulator(
        efs_dir=efs_dir,
        port=args.port,
        dwell=args.dwell,
        strict=not args.no_strict,
        min_timeout=args.min_timeout,
        kill_grace=args.kill_grace,
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
            values["LOCAL_AWS_DEMO_BUCKET"] = stack.bucket
        else:
            os.makedirs(efs_dir, exist_ok=True)
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
