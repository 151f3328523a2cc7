"""Reliability scorecard: every fault-injection and bad-input scenario at full size, on the
local AWS, one line per figure with its goal, ending with ``N passed, N failed``.

    python bench/reliability.py                 # full sizes (200-task scatter...), a few minutes
    python bench/reliability.py --ci            # the CI sizes
    python bench/reliability.py --only throttle,sigterm
    python bench/reliability.py --markdown bench/RELIABILITY.md   # also append the card there

(``python -m tests.reliability ...`` from the repository root is the same program.) The scenarios
live in ``tests/reliability/scenarios/`` (shared with the CI tests). Exit status is 0 only when
every row passed; a row whose product part does not exist is "not run", never passed, and one
whose part exists but does not import is failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional

from tests.support.signals import restore_sigint

from . import scenarios
from .harness import REPO, LocalAws, PartBroken
from .scorecard import Row, Scorecard, judged, not_run


def _fake_aws_env() -> None:
    """This process talks only to the local AWS, with fake credentials."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            del os.environ[key]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )


ARRAYS = {"MINIWDL__AWS__ARRAY_JOBS": "true", "MINIWDL__AWS__ARRAY_JOB_MIN_SIZE": "2"}


def run_card(
    only: Optional[List[str]],
    sizes: scenarios.Sizes,
    keep: bool,
    profile: Optional[str] = None,
    settings: Optional[Dict[str, str]] = None,
) -> Scorecard:
    """Run the planned scenarios, each on a freshly reset and bootstrapped local AWS (with the
    faults of the local AWS's ``profile``, e.g. ``realistic``, under each scenario's own), and
    ``settings`` (``MINIWDL__*`` variables) in every process the scenarios start."""
    card = Scorecard(
        f"miniwdl-aws reliability scorecard ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"
    )
    scratch = tempfile.mkdtemp(prefix="miniwdl-aws-reliability-")
    broken = ""
    try:
        missing = scenarios.part_missing(scenarios.EMULATOR)
    except PartBroken as exc:
        missing, broken = None, str(exc)
    emu = None
    if missing is None and not broken:
        from miniwdl_aws.emulator import Emulator, from_dockerfile
        from tests.support.submitter import WORKFLOW_DOCKERFILE, WORKFLOW_IMAGE

        emu = Emulator(efs_dir=os.path.join(scratch, "efs0"))
        emu.add_image(WORKFLOW_IMAGE, from_dockerfile(WORKFLOW_DOCKERFILE))
        emu.start()
    try:
        for key, runner in scenarios.PLAN:
            if only and key not in only:
                continue
            started = time.monotonic()
            workdir = os.path.join(scratch, key)
            os.makedirs(workdir)
            rows: List[Row]
            if key == "restart":
                rows = scenarios.endpoint_restart(workdir)
            elif broken:
                rows = [judged(key, "part broken", "-", False, broken)]
            elif emu is None or runner is None:
                rows = [not_run(key, "-", missing or "")]
            else:
                emu.reset()
                stack = emu.bootstrap(efs_dir=os.path.join(workdir, "efs"))
                local = LocalAws.in_process(emu, stack, workdir)
                local.exports.update(settings or {})
                if profile:
                    from miniwdl_aws.emulator import with_profile

                    local.base_faults = with_profile(profile, {}) or {}
                    local.set_faults({})
                rows = runner(local, sizes)
            for row in rows:
                # no paths of this machine in a card that gets committed
                row.detail = row.detail.replace(scratch, "<scratch>").replace(REPO, "<repo>")
                card.add(row)
                took = time.monotonic() - started
                print(
                    f"  [{took:6.1f} s] {row.name}: {row.figure} ({row.status.value})",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if emu is not None:
            emu.stop()
        if keep:
            print(f"scratch kept in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return card


def main(argv: Optional[List[str]] = None) -> int:
    """Print the scorecard; exit 0 only if every row passed."""
    p = argparse.ArgumentParser(
        prog="python bench/reliability.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--ci", action="store_true", help="use the small CI sizes")
    p.add_argument(
        "--only", help="comma-separated scenario keys: " + ",".join(k for k, _ in scenarios.PLAN)
    )
    p.add_argument("--markdown", metavar="FILE", help="append the card to FILE as a dated section")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--details", action="store_true", help="print every row's details")
    p.add_argument(
        "--realistic",
        action="store_true",
        help="every scenario on the local AWS's realistic profile (account-wide Batch budget,"
        " latency, listing lag) under its own faults",
    )
    p.add_argument(
        "--arrays",
        action="store_true",
        help="every scenario with [aws] array_jobs on (array_job_min_size 2, so that the"
        " scenarios' small scatters form arrays)",
    )
    args = p.parse_args(argv)
    # the Ctrl-C row signals a submitter: started from a background shell, it would ignore it
    restore_sigint()
    _fake_aws_env()
    only = args.only.split(",") if args.only else None
    card = run_card(
        only,
        scenarios.CI if args.ci else scenarios.FULL,
        args.keep,
        "realistic" if args.realistic else None,
        ARRAYS if args.arrays else None,
    )
    text = card.render(args.details)
    print(text, end="")
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(f"\n## Reliability scorecard, {time.strftime('%Y-%m-%d', time.gmtime())}\n\n")
            flags = (" --ci" if args.ci else "") + (" --realistic" if args.realistic else "")
            flags += " --arrays" if args.arrays else ""
            f.write(f"`python bench/reliability.py{flags}`\n\n```\n")
            f.write(card.render(details=True))
            f.write("```\n")
    return 0 if card.failed == 0 else 1
