"""The submitter's own promises: --follow under log lag, and no data loss when S3 fails."""

from __future__ import annotations

import collections
import os
from typing import List

from tests.support.procs import Proc

from ..harness import LocalAws
from ..scorecard import Row, judged
from ..workflows import SCATTER_WDL, write
from ._common import (
    BACKEND,
    RUN_GUARD,
    SUBMITTER,
    WRAPPER,
    guarded,
    result_files,
    result_objects,
    settle,
    stream_messages,
    submit_cmd,
    submitter_env,
    tail,
)


def follow(aws: LocalAws, n: int, lag: float = 1.0) -> List[Row]:
    """``--follow`` while CloudWatch delivers the workflow log late and in bursts: every line
    of the log stream must be printed exactly once, in order."""
    name = f"--follow with {lag:g} s log lag + disorder"
    goal = "0 lost, 0 dup"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "follow")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        aws.set_faults({"seed": 2, "log_lag": lag, "log_disorder": True})
        try:
            cmd = submit_cmd(aws, wdl, f"n={n}", "--follow", "--verbose")
            proc = Proc(cmd, submitter_env(aws), work, "submit")
            code = proc.wait(RUN_GUARD)
        finally:
            aws.set_faults({})
        left = settle(aws)
        wf_jobs = [
            j for j in aws.all_jobs() if (j.get("tags") or {}).get("MiniwdlRole") == "workflow"
        ]
        if len(wf_jobs) != 1:
            return [
                judged(name, "no workflow job", goal, False, f"exit {code}; {tail(proc.stderr)}")
            ]
        stream = wf_jobs[0]["container"]["logStreamName"]
        from miniwdl_aws.submit import END_OF_LOG

        # the end-of-log marker is the follower's own signal to stop, not a line for the user
        truth = [m for m in stream_messages(aws, "/aws/batch/job", stream) if m != END_OF_LOG]
        printed = (proc.stderr + proc.stdout).splitlines()
        truth_count = collections.Counter(truth)
        printed_count = collections.Counter(line for line in printed if line in truth_count)
        lost = sum(max(0, c - printed_count[line]) for line, c in truth_count.items())
        dup = sum(max(0, printed_count[line] - c) for line, c in truth_count.items())
        in_order = [line for line in printed if line in truth_count] == truth
        missing = [line for line, c in truth_count.items() if printed_count[line] < c]
        detail = (
            f"exit {code}, {len(truth)} lines in the stream, in order {in_order}, active left"
            f" {left}; first lost: {missing[:2]!r}; {tail(proc.stderr)}"
        )
        ok = lost == 0 and dup == 0 and in_order and code == 0 and len(truth) > n
        return [judged(name, f"{lost} lost, {dup} dup", goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def s3_failure(aws: LocalAws, n: int = 3) -> List[Row]:
    """Every S3 write under the upload folder fails; ``--delete-after success`` must keep the
    run directory (0 bytes lost) and the submitter must exit non-zero."""
    name = "S3 upload fails, --delete-after success"
    goal = "0 B lost, exit != 0"

    def body() -> List[Row]:
        work = os.path.join(aws.workdir, "s3fail")
        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        bucket = aws.stack["bucket"]
        aws.set_faults({"s3_fail": {"key": "^upload/"}})
        try:
            cmd = submit_cmd(
                aws,
                wdl,
                f"n={n}",
                "--follow",
                "--s3upload",
                f"s3://{bucket}/upload/",
                "--delete-after",
                "success",
            )
            proc = Proc(cmd, submitter_env(aws), work, "submit")
            code = proc.wait(RUN_GUARD)
        finally:
            aws.set_faults({})
        left = settle(aws)
        expected = {f"result-{i}": len(f"result-{i}\n") for i in range(n)}
        found = result_files(aws.efs_dir) | result_objects(aws, bucket)
        lost = sum(size for text, size in expected.items() if text not in found)
        detail = f"exit {code}, active left {left}; {tail(proc.stderr)}"
        ok = lost == 0 and code not in (0, None)
        return [judged(name, f"{lost} B lost, exit {code}", goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)
