"""Size and render time of ``report.html`` for large runs (issue 16: usable at 10,000 tasks).

Builds a synthetic run of N tasks (every 10th retried after a Spot interruption, every 50th
after an OOM kill; each attempt sampled every 5 s for 10-60 minutes), renders the page, and
loads it in headless Chromium, which reports the milliseconds from navigation to a drawn page
(``data-render-ms``, set by the page's script after the timeline, table and charts are drawn).

    python bench/report_scale.py --tasks 1000 10000
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from typing import Any, Dict, List

from miniwdl_aws.ops.report import render_report
from miniwdl_aws.ops.summary import build_summary
from miniwdl_aws.usage import UsageSeries

RUN = "mw261129T000000-bench0"
T0 = 1_764_000_000_000
SPOT = "Host EC2 (instance i-0123456789abcdef0) terminated."
OOM = "OutOfMemoryError: Container killed due to memory usage"


def _job(i: int, n: int, start: int, secs: int, reason: str, rng: random.Random) -> Dict[str, Any]:
    stop = start + secs * 1000
    container: Dict[str, Any] = {"exitCode": 0} if not reason else {}
    if reason == OOM:
        container = {"exitCode": 137, "reason": OOM}
    return {
        "jobId": f"job-{i}-{n}",
        "jobName": f"{RUN}-call-t{i}",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
        "status": "FAILED" if reason else "SUCCEEDED",
        "statusReason": reason if reason == SPOT else "",
        "createdAt": start - rng.randint(5, 600) * 1000,
        "startedAt": start,
        "stoppedAt": stop,
        "attempts": [{"startedAt": start, "stoppedAt": stop,
                      "statusReason": reason if reason == SPOT else "", "container": container}],
        "container": {
            "resourceRequirements": [
                {"type": "VCPU", "value": str(rng.choice([1, 2, 4, 8]))},
                {"type": "MEMORY", "value": str(rng.choice([2048, 8192, 16384]))},
            ],
            "command": ["/bin/bash", f"/mnt/efs/run/call-t{i}/batch_task{n}.sh"],
        },
        "tags": {"MiniwdlCall": f"call-t{i}", "MiniwdlAttempt": str(n), "MiniwdlRole": "task"},
    }  # fmt: skip


def synthetic(tasks: int) -> tuple:
    """(DescribeJobs-like jobs, usage series by job id) of a run of ``tasks`` tasks."""
    rng = random.Random(16)
    jobs: List[Dict[str, Any]] = []
    series: Dict[str, List[UsageSeries]] = {}
    for i in range(tasks):
        start = T0 + rng.randint(0, 4 * 3600) * 1000
        tries = [SPOT] if i % 10 == 0 else [OOM] if i % 50 == 1 else []
        for n, reason in enumerate(tries + [""], 1):
            secs = rng.randint(600, 3600) if not reason else rng.randint(60, 600)
            job = _job(i, n, start, secs, reason, rng)
            jobs.append(job)
            pts, cpu = [], 0.0
            for k in range(secs // 5 + 1):
                cpu += 5 * rng.uniform(0.2, 1.5)
                pts.append((k * 5.0, cpu, int(rng.uniform(0.5, 3.0) * 1073741824)))
            series[job["jobId"]] = [UsageSeries(job["jobId"], 1, "cgroup2", 5.0, None, pts)]
            start += secs * 1000 + rng.randint(10, 120) * 1000
    return jobs, series


def render_ms(chromium: str, path: str, tmp: str) -> int:
    """Milliseconds from navigation to the drawn page in headless Chromium."""
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp}/profile", "--window-size=1280,900", "--dump-dom",
         "file://" + path],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    m = re.search(r'data-render-ms="(\d+)"', out.stdout)
    if not m:
        raise RuntimeError("page did not render: " + out.stderr[-500:])
    return int(m.group(1))


def main() -> None:
    """One line per run size: tasks, attempts, page size, build and render times."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--repeat", type=int, default=3, help="browser loads per size (median)")
    args = p.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.tasks:
            jobs, series = synthetic(n)
            t = time.monotonic()
            summary = build_summary(
                RUN, jobs, now=(T0 + 6 * 3600 * 1000) / 1000, usage_series=series
            )
            page = render_report(summary, series)
            build_s = time.monotonic() - t
            path = os.path.join(tmp, f"report-{n}.html")
            with open(path, "w") as f:
                f.write(page)
            row: Dict[str, Any] = {
                "tasks": n,
                "jobs": len(jobs),
                "samples": sum(len(s[0].points) for s in series.values()),
                "html_mib": round(len(page.encode()) / 1048576, 2),
                "build_s": round(build_s, 2),
            }
            if chromium:
                times = sorted(render_ms(chromium, path, tmp) for _ in range(args.repeat))
                row["render_ms_median"] = times[len(times) // 2]
                row["render_ms_all"] = times
            print(row, flush=True)


if __name__ == "__main__":
    main()
