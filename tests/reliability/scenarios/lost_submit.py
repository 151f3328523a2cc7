"""The submitter's one SubmitJob when its response is lost after AWS processed it."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional

from tests.support.procs import Proc

from ..harness import LocalAws
from ..proxy import ResetProxy
from ..scorecard import Row, judged
from ..workflows import SCATTER_WDL, scatter_expected, write
from ._common import (
    BACKEND,
    RUN_GUARD,
    SUBMITTER,
    WRAPPER,
    guarded,
    settle,
    submit_cmd,
    submitter_env,
    tail,
)

# With this seed the proxy's first 5 draws lose 2 responses at 30% and 3 at 50%: each row
# really hits the submitters' single SubmitJob (one submission alone at 30% often would not).
SEED = 7
_RUN_ID = re.compile(r"\bmw\d{6}T\d{6}-[0-9a-f]{6}\b")


def lost_submit(
    aws: LocalAws,
    fraction: float,
    submissions: int = 5,
    n: int = 1,
    window: Optional[float] = None,
    after: bool = True,
    lookups_fail: bool = False,
) -> List[Row]:
    """``submissions`` submitters (``--wait``, at once) whose SubmitJob responses are lost on
    ``fraction`` of the requests, after AWS created the job. SubmitJob has no idempotency
    token, so a blind retry starts a second workflow job, which runs the whole workflow again
    and nobody waits for; the figure is workflow jobs beyond one per submission. Each submitter
    must exit 0 with its run's outputs, or, when it cannot tell whether its job was created,
    exit non-zero with one line naming the run id and how to see and stop its jobs.

    :param window: ``[aws] submit_recovery_seconds`` for the submitters (None: the default)
    :param after: False: the connection is reset *before* the request reaches AWS, which the
        client cannot tell from a lost response: no job may be missing either
    :param lookups_fail: every ListJobs answers 5xx while the submitters run, so no lookup can
        settle a lost response: each submitter must say it cannot tell
    """
    lost = "responses lost" if after else "requests lost before AWS"
    name = f"{fraction:.0%} of the submitter's SubmitJob {lost}, {submissions} runs"
    if lookups_fail:
        name += ", ListJobs failing"
    goal = "0 extra workflow jobs"

    def body() -> List[Row]:
        port = int(aws.endpoint.rsplit(":", 1)[1])
        proxy = ResetProxy(port, fraction, seed=SEED, after=after, only=b"/v1/submitjob")
        env = submitter_env(aws)
        env["AWS_ENDPOINT_URL"] = proxy.endpoint
        if window is not None:
            env["MINIWDL__AWS__SUBMIT_RECOVERY_SECONDS"] = str(window)
        tag = (
            f"{fraction * 100:.0f}{'' if after else '-unsent'}{'-nolookup' if lookups_fail else ''}"
        )
        work = os.path.join(aws.workdir, f"lost_submit{tag}")

        def run_prefix(i: int) -> str:
            return os.path.join(aws.efs_dir, "lost_submit", f"{tag}-{i}")

        wdl = write(os.path.join(work, "wf.wdl"), SCATTER_WDL)
        procs: List[Proc] = []
        if lookups_fail:
            aws.set_faults({"server_error": {"batch.ListJobs": 1.0}})
        try:
            for i in range(submissions):
                cmd = submit_cmd(aws, wdl, f"n={n}", "--wait", "--dir", run_prefix(i))
                procs.append(Proc(cmd, env, work, f"submit-{i}"))
            codes = [p.wait(RUN_GUARD) for p in procs]
        finally:
            proxy.close()
            if lookups_fail:
                aws.set_faults({})
        left = settle(aws)
        workflow_jobs = [
            j for j in aws.all_jobs() if (j.get("tags") or {}).get("MiniwdlRole") == "workflow"
        ]
        extra = len(workflow_jobs) - submissions
        correct = unknown = 0
        bad: List[str] = []
        for i, (proc, code) in enumerate(zip(procs, codes)):
            if code == 0 and _outputs_correct(run_prefix(i), n):
                correct += 1
            elif code not in (0, None) and _says_unknown(proc.stderr):
                unknown += 1
            else:
                bad.append(f"#{i} exit {code}: {tail(proc.stderr, 1)}")
        detail = (
            f"{len(workflow_jobs)} workflow jobs for {submissions} submissions;"
            f" {proxy.resets}/{proxy.requests} SubmitJob {lost}; {correct} exit 0 with"
            f" correct outputs, {unknown} outcome unknown (exit != 0, run id named);"
            f" active left {left}"
        )
        if bad:
            detail += "; " + "; ".join(bad[:2])
        # a row whose fault never hit the submitter would prove nothing
        ok = extra == 0 and not bad and left == 0 and proxy.resets > 0
        if lookups_fail:
            ok = ok and unknown == submissions
        return [judged(name, f"{extra} extra workflow jobs", goal, ok, detail)]

    return guarded(name, goal, [BACKEND, SUBMITTER, WRAPPER], body)


def _outputs_correct(run_prefix: str, n: int) -> bool:
    """Some run under ``run_prefix`` wrote the scatter's expected ``outputs.json``."""
    for dirpath, _dirs, files in os.walk(run_prefix):
        if "outputs.json" in files:
            with open(os.path.join(dirpath, "outputs.json")) as f:
                doc: Dict[str, Any] = json.load(f)
            if doc.get("outputs", doc).get("scat.results") == scatter_expected(n):
                return True
    return False


def _says_unknown(stderr: str) -> bool:
    """The submitter's last line names the run id and the commands to see and stop its jobs."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if not lines:
        return False
    last = lines[-1]
    found = _RUN_ID.search(last)
    return bool(
        found
        and f"miniwdl-aws runs {found.group(0)}" in last
        and f"miniwdl-aws cleanup {found.group(0)}" in last
    )
