"""What goes in and what must not come out: bad inputs, and credentials."""

from __future__ import annotations

import os
from typing import List

from .. import bad_inputs
from ..harness import LocalAws, Proc, part_missing
from ..scorecard import Row, judged
from ..secrets_scan import marked_credentials, scan_aws, scan_files
from ..workflows import SCATTER_WDL, runner_env, start_miniwdl, write
from ._common import (
    BACKEND,
    RUN_GUARD,
    SUBMITTER,
    WRAPPER,
    cleanup_leftovers,
    guarded,
    settle,
    submit_cmd,
    submitter_env,
)


def bad_input_table(aws: LocalAws) -> List[Row]:
    """Every bad input: non-zero exit, one line naming the problem, no traceback, no job."""
    cases = bad_inputs.CASES
    name = f"bad inputs (config, CLI, WDL): {len(cases)} cases"
    goal = f"{len(cases)}/{len(cases)}"

    def body() -> List[Row]:
        outcomes, submitted = bad_inputs.run_all(aws, cases)
        bad = (
            [f"{submitted['(unattributed)']} job(s) from no known case"]
            if "(unattributed)" in submitted
            else []
        )
        for o in outcomes:
            problems = o.problems + (
                [f"{submitted[o.case.name]} job(s)"] if submitted[o.case.name] else []
            )
            if problems:
                bad.append(f"{o.case.name}: {', '.join(problems)}")
        cleanup_leftovers(aws)
        good = len(cases) - len(bad)
        return [
            judged(
                name,
                f"{good}/{len(cases)} as required",
                goal,
                not bad and len(cases) >= 25,
                "; ".join(bad),
            )
        ]

    return guarded(name, goal, [BACKEND, SUBMITTER], body)


def secrets(aws: LocalAws, n: int = 2) -> List[Row]:
    """Run with marked credentials (``miniwdl run --debug``, and the submitter with
    ``--follow --s3upload`` when it exists), then scan everything for them."""
    name = "credentials in job defs/jobs/tags/logs/S3/files"
    goal = "0 hits"

    def body() -> List[Row]:
        creds = marked_credentials()
        env = runner_env(aws)
        env.update(creds)
        # tasks print their whole environment too, so a credential that reached a container by
        # any route lands in stderr.txt and CloudWatch, where the scan looks
        wdl = SCATTER_WDL.replace("set -e\n", "set -e\n    env | sort >&2\n")
        inputs = [f"n={n}"]
        verbose = start_miniwdl(aws, "secrets-verbose", wdl, inputs, env, ["--verbose"])
        codes = [verbose.wait(RUN_GUARD)]
        proc = start_miniwdl(aws, "secrets-debug", wdl, inputs, env, ["--debug"])
        codes.append(proc.wait(RUN_GUARD))
        code = 0 if codes == [0, 0] else next(c for c in codes if c != 0)
        ran = [f"miniwdl run --verbose and --debug: max exit {code}"]
        if part_missing(SUBMITTER, WRAPPER) is None:
            work = os.path.join(aws.workdir, "secrets-submit")
            wdl_path = write(os.path.join(work, "wf.wdl"), wdl)
            senv = submitter_env(aws)
            senv.update(creds)
            bucket = aws.stack["bucket"]
            cmd = submit_cmd(
                aws, wdl_path, *inputs, "--follow", "--s3upload", f"s3://{bucket}/sec/"
            )
            sub = Proc(cmd, senv, work, "submit")
            ran.append(f"submitter exit {sub.wait(RUN_GUARD)}")
        settle(aws)
        hits = scan_aws(aws, creds)
        roots = [aws.workdir]
        if not os.path.realpath(aws.efs_dir).startswith(os.path.realpath(aws.workdir) + os.sep):
            roots.append(aws.efs_dir)
        for root in roots:
            hits += scan_files(root, creds, skip=("emulator.log",))
        detail = f"{'; '.join(ran)}; hits: {sorted(set(hits))[:6]}"
        ok = not hits and code == 0
        return [judged(name, f"{len(hits)} hits", goal, ok, detail)]

    return guarded(name, goal, [BACKEND], body)
