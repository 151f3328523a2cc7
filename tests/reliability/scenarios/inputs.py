"""What goes in and what must not come out: bad inputs, and credentials."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

from tests.support import bad_inputs
from tests.support.bad_inputs import BadInput
from tests.support.miniwdl import miniwdl_cmd
from tests.support.procs import BIN, Proc, run
from tests.support.submitter import submit_cmd as _submitter

from ..harness import LocalAws
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

# Words that make a line read as an error report rather than an echo of settings.
_ERROR_WORDS = re.compile(
    r"error|invalid|must|not |no such|unknown|cannot|can't|fail|missing|should|requires|"
    r"expected|too |exceed|unable|does not|isn't|unreadable|refus|no [\w ]+ found",
    re.IGNORECASE,
)


@dataclasses.dataclass
class Outcome:
    """What one bad input did."""

    case: BadInput
    exit_code: Optional[int]
    error_line: Optional[str]
    traceback: bool
    output: str

    @property
    def problems(self) -> List[str]:
        """Everything wrong with the outcome (empty: as required); job submission is checked
        separately from the emulator's call counts."""
        out = []
        if self.exit_code is None:
            out.append("hung")
        elif self.exit_code == 0:
            out.append("exit 0")
        if self.traceback:
            out.append("traceback")
        if not self.error_line:
            out.append(f"no error line naming {list(self.case.needles)}")
        return out


def _error_line(text: str, needles: Sequence[str]) -> Optional[str]:
    for line in text.splitlines():
        low = line.lower()
        if any(n.lower() in low for n in needles) and _ERROR_WORDS.search(line):
            return line.strip()
    return None


def _tag(index: int) -> str:
    return f"relcase{index:02d}"


def run_case(aws: LocalAws, case: BadInput, index: int) -> Outcome:
    """Run one case of the table as a real process in its own folder and judge its output."""
    folder = os.path.join(aws.workdir, "bad", f"{index:02d}")
    shutil.rmtree(folder, ignore_errors=True)
    bucket = str(aws.stack.get("bucket") or "bucket")
    args = bad_inputs.prepare(case, folder, aws.efs_dir, bucket)
    env = bad_inputs.apply_env(case, runner_env(aws))
    # Any job the case starts can be traced back to it: task jobs by the run id in their
    # names, the submitter's workflow job by its --name.
    if case.tool == "miniwdl":
        rundir = os.path.join(aws.efs_dir, "runs", "bad", f"{index:02d}")
        cmd = miniwdl_cmd(args[0], args[1:], rundir, ["--no-color"])
        env["MINIWDL__AWS__RUN_ID"] = _tag(index)
    elif case.tool == "ops":
        cmd = [os.path.join(BIN, "miniwdl-aws"), *args]
    else:
        mount = None if "--mount" in args else aws.efs_dir
        cmd = _submitter([*args, "--name", _tag(index)], mount=mount)
    res = run(cmd, env, folder, "case", timeout=120)
    text = res.stdout + "\n" + res.stderr
    return Outcome(
        case,
        res.returncode,
        _error_line(text, case.needles),
        "Traceback (most recent" in text,
        text,
    )


def jobs_by_case(aws: LocalAws) -> Dict[int, int]:
    """Jobs started by each case index, from job names and run-id tags (a submitted workflow
    job's task jobs share its run id)."""
    jobs = aws.all_jobs()
    run_to_case: Dict[str, int] = {}
    for job in jobs:
        m = re.search(r"relcase(\d\d)$", job["jobName"])
        if m:
            run_to_case[(job.get("tags") or {}).get("MiniwdlRunId", "")] = int(m.group(1))
    counts: Dict[int, int] = {}
    for job in jobs:
        m = re.match(r"relcase(\d\d)-", job["jobName"])
        idx = (
            int(m.group(1))
            if m
            else run_to_case.get((job.get("tags") or {}).get("MiniwdlRunId", ""), -1)
        )
        counts[idx] = counts.get(idx, 0) + 1
    return counts


def run_all(
    aws: LocalAws, cases: Sequence[BadInput] = bad_inputs.CASES, workers: int = 2
) -> Tuple[List[Outcome], Dict[str, int]]:
    """Run every case (``workers`` at a time) and return the outcomes plus the jobs each case
    started (index -1: jobs no case can be tied to, also a failure)."""
    bad_inputs.create_bad_queues(aws.client("batch"), aws.stack["task_compute_environment"])
    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(lambda ic: run_case(aws, ic[1], ic[0]), enumerate(cases)))
    counts = jobs_by_case(aws)
    submitted = {c.name: counts.get(i, 0) for i, c in enumerate(cases)}
    if counts.get(-1):
        submitted["(unattributed)"] = counts[-1]
    return outcomes, submitted


def bad_input_table(aws: LocalAws) -> List[Row]:
    """Every bad input of ``tests/support/bad_inputs.py``: non-zero exit, one line naming the
    problem, no traceback, no job."""
    cases = bad_inputs.CASES
    name = f"bad inputs (config, CLI, WDL): {len(cases)} cases"
    goal = f"{len(cases)}/{len(cases)}"

    def body() -> List[Row]:
        outcomes, submitted = run_all(aws, cases)
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
    """Run with marked credentials (``miniwdl run --verbose`` and ``--debug``, and the submitter
    with ``--follow --s3upload``), then scan everything for them. Every run must succeed: a
    process that failed early leaks nothing because it did nothing."""
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
        work = os.path.join(aws.workdir, "secrets-submit")
        wdl_path = write(os.path.join(work, "wf.wdl"), wdl)
        senv = submitter_env(aws)
        senv.update(creds)
        bucket = aws.stack["bucket"]
        cmd = submit_cmd(aws, wdl_path, *inputs, "--follow", "--s3upload", f"s3://{bucket}/sec/")
        sub_code = Proc(cmd, senv, work, "submit").wait(RUN_GUARD)
        ran = [f"miniwdl run --verbose and --debug: max exit {code}", f"submitter exit {sub_code}"]
        settle(aws)
        hits = scan_aws(aws, creds)
        roots = [aws.workdir]
        if not os.path.realpath(aws.efs_dir).startswith(os.path.realpath(aws.workdir) + os.sep):
            roots.append(aws.efs_dir)
        for root in roots:
            hits += scan_files(root, creds, skip=("emulator.log",))
        detail = f"{'; '.join(ran)}; hits: {sorted(set(hits))[:6]}"
        ran_ok = code == 0 and sub_code == 0
        figure = f"{len(hits)} hits" + ("" if ran_ok else " (a run failed)")
        return [judged(name, figure, goal, not hits and ran_ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)
