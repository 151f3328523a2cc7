"""One measured run end to end: a fresh emulator for the side, the workload through ``miniwdl
run``, then the instruments read and reduced to a :class:`Measurement`."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from miniwdl_aws.emulator import with_profile

from . import metrics
from .emulator_proc import EmulatorProcess, clean_env
from .runner import miniwdl_command, run_measured
from .sides import FLOOR, Profile, Side
from .workloads import Workload

# What a recorded run keeps of every Batch job (ListJobs' epoch-ms timestamps; ``attempts``:
# the length of DescribeJobs' attempts list; ``attemptStartAt``/``noticedAt``: epoch ms of the
# runner's task.log lines where the attempt started / the job's end was noticed, None when the
# log has none). With the run-level fields of :class:`Measurement` (wall time, rusage, call
# counts) this is enough to recompute every figure of the tables: see :func:`derive`.
JOB_FIELDS = (
    "jobId",
    "jobName",
    "status",
    "createdAt",
    "startedAt",
    "stoppedAt",
    "attempts",
    "attemptStartAt",
    "noticedAt",
)


@dataclass
class Measurement:
    """Everything measured for one (side, profile, workload)."""

    side: str
    profile: str
    workload: str
    tasks: int
    concurrency: int
    dwell: float
    settings: Dict[str, str]
    exit_code: int = 0
    timed_out: bool = False
    attempts: int = 0
    succeeded: int = 0
    failed: int = 0
    wall_s: float = 0.0
    tasks_per_s: float = 0.0
    runner_cpu_s: float = 0.0
    cpu_per_task_s: float = 0.0
    peak_rss_mib: float = 0.0
    emulator_cpu_s: float = 0.0
    calls: Dict[str, int] = field(default_factory=dict)
    calls_per_attempt: Dict[str, float] = field(default_factory=dict)
    non_describe_per_attempt: float = 0.0
    describe_per_task: float = 0.0
    job_run_s: float = 0.0
    job_watched_s: float = 0.0
    describe_per_1000_run_s: Optional[float] = None
    describe_per_1000_watched_s: Optional[float] = None
    notice_n: int = 0
    notice_p50_s: Optional[float] = None
    notice_p95_s: Optional[float] = None
    submit_delay_p50_s: Optional[float] = None
    submit_delay_p95_s: Optional[float] = None
    peak_active_jobs: int = 0
    max_submits_per_s: int = 0
    throttled: Dict[str, int] = field(default_factory=dict)
    tps_cap: float = 0.0
    started_at: float = 0.0
    jobs: List[Dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        """``side/profile``."""
        return f"{self.side}/{self.profile}"

    @property
    def ok(self) -> bool:
        """The run finished, every task succeeded, nothing failed."""
        return (
            self.exit_code == 0
            and not self.timed_out
            and self.failed == 0
            and self.succeeded >= self.tasks
        )

    def to_dict(self) -> Dict[str, Any]:
        """JSON-able form; the per-job records as one table (``{"fields": [...], "rows":
        [[...], ...]}``), about half the size of a list of objects."""
        d = dataclasses.asdict(dataclasses.replace(self, jobs=[]))
        d["jobs"] = jobs_to_table(self.jobs)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Measurement:
        """Inverse of :meth:`to_dict` (unknown keys ignored; files without per-job records, as
        written before they were kept, load with ``jobs`` empty)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["jobs"] = jobs_from_table(d.get("jobs"))
        return cls(**kw)


def jobs_to_table(jobs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """``{"fields": JOB_FIELDS, "rows": [[value per field], ...]}``."""
    return {"fields": list(JOB_FIELDS), "rows": [[j.get(f) for f in JOB_FIELDS] for j in jobs]}


def jobs_from_table(table: Any) -> List[Dict[str, Any]]:
    """Inverse of :func:`jobs_to_table`; also accepts a plain list of job objects (or nothing)."""
    if not table:
        return []
    if isinstance(table, list):
        return [dict(j) for j in table]
    fields = list(table["fields"])
    return [dict(zip(fields, row)) for row in table["rows"]]


def _ms(epoch_s: Optional[float]) -> Optional[int]:
    return None if epoch_s is None else round(epoch_s * 1000)


def job_records(
    jobs: List[Dict[str, Any]],
    attempts: Dict[str, int],
    started: Dict[str, float],
    noticed: Dict[str, float],
) -> List[Dict[str, Any]]:
    """The :data:`JOB_FIELDS` of each ListJobs summary, with its DescribeJobs attempt count and
    the task-log times (``started``/``noticed``: epoch seconds by job id)."""
    out = []
    for j in jobs:
        jid = j["jobId"]
        rec = {f: j.get(f) for f in JOB_FIELDS}
        rec["attempts"] = attempts.get(jid)
        rec["attemptStartAt"] = _ms(started.get(jid))
        rec["noticedAt"] = _ms(noticed.get(jid))
        out.append(rec)
    return out


@dataclass(frozen=True)
class Options:
    """Run-wide harness options."""

    work_dir: Path
    dwell: float
    timeout: float
    python: str = sys.executable
    keep: bool = False
    local_aws_profile: Optional[str] = None  # e.g. "realistic" (miniwdl_aws.emulator profiles)


def runner_env(
    side: Side, profile: Profile, workload: Workload, emu: EmulatorProcess, cfg: Path
) -> Dict[str, str]:
    """The runner's environment: clean, the side's bin first, the emulator's exports, the
    workload's concurrency, the profile's settings, and an empty cfg file (no user cfg leaks)."""
    env = clean_env()
    env["PATH"] = str(side.bin_dir) + os.pathsep + env.get("PATH", "")
    env.update(emu.exports)
    env["MINIWDL_CFG"] = str(cfg)
    env["MINIWDL__SCHEDULER__CONTAINER_BACKEND"] = "aws_batch_job"
    # miniwdl 1.16's name for "how many tasks may run at once"
    env["MINIWDL__SCHEDULER__TASK_CONCURRENCY"] = str(workload.concurrency)
    env.update(profile.env)
    return env


def command(side: Side, workload: Workload, run_dir: Path) -> List[str]:
    """``miniwdl run`` for a runner side; the boto3 floor script for the floor side."""
    if side.name == FLOOR:
        return [
            str(side.bin_dir / "python"),
            str(Path(__file__).with_name("floor.py")),
            "--n",
            str(workload.tasks),
            "--concurrency",
            str(workload.concurrency),
            "--run-dir",
            str(run_dir),
            "--sleep",
            str(workload.sleep_s),
        ]
    return miniwdl_command(side.miniwdl, workload.wdl, workload.inputs, run_dir)


def measure(side: Side, profile: Profile, workload: Workload, opts: Options) -> Measurement:
    """Run ``workload`` through ``side`` with ``profile`` against a fresh emulator."""
    base = opts.work_dir / f"{side.name}-{profile.name}-{workload.name}"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    efs = base / "efs"
    run_dir = efs / "run"
    cfg = base / "empty.cfg"
    cfg.write_text("")
    m = Measurement(
        side=side.name,
        profile=profile.name,
        workload=workload.name,
        tasks=workload.tasks,
        concurrency=workload.concurrency,
        dwell=opts.dwell,
        settings=dict(profile.env),
        tps_cap=workload.tps_cap,
    )
    emu = EmulatorProcess(opts.python, str(side.bin_dir), efs, base / "emulator.log", opts.dwell)
    faults = with_profile(opts.local_aws_profile, dict(workload.faults or {})) or {}
    with emu:
        if faults:
            emu.set_faults(faults)
        emu.reset_stats()
        cpu0 = emu.cpu_seconds()
        res = run_measured(
            command(side, workload, run_dir),
            runner_env(side, profile, workload, emu, cfg),
            base / "miniwdl.log",
            opts.timeout,
        )
        stats = emu.stats()  # before the harness's own ListJobs calls
        m.emulator_cpu_s = emu.cpu_seconds() - cpu0
        if faults:
            emu.set_faults({})
        jobs = emu.list_all_jobs(emu.exports["MINIWDL__AWS__TASK_QUEUE"])
        # an array parent ([aws] array_jobs) is no task attempt: its children <parent>:<i> are
        parents = {j["jobId"].rpartition(":")[0] for j in jobs if ":" in j["jobId"]}
        jobs = [j for j in jobs if j["jobId"] not in parents]
        attempts = emu.attempt_counts([j["jobId"] for j in jobs])
    (base / "stats.json").write_text(json.dumps(stats, indent=1))
    (base / "jobs.json").write_text(json.dumps(jobs, indent=1))
    noticed, started = metrics.task_log_times(run_dir) if run_dir.exists() else ({}, {})
    records = job_records(jobs, attempts, started, noticed)
    fill(m, res.wall_s, res.exit_code, res.timed_out, res.cpu_s, res.peak_rss_mib, stats, records)
    m.started_at = res.started_at
    if not opts.keep and m.ok:
        shutil.rmtree(base, ignore_errors=True)
    return m


def fill(
    m: Measurement,
    wall_s: float,
    exit_code: int,
    timed_out: bool,
    cpu_s: float,
    peak_rss_mib: float,
    stats: Dict[str, Any],
    jobs: List[Dict[str, Any]],
) -> None:
    """Keep the runner's rusage, the emulator's Batch call counts and the per-job records (see
    :data:`JOB_FIELDS`; other keys are dropped) in ``m``, then :func:`derive` the figures."""
    m.wall_s, m.exit_code, m.timed_out = wall_s, exit_code, timed_out
    m.runner_cpu_s, m.peak_rss_mib = cpu_s, peak_rss_mib
    m.calls = metrics.batch_calls(stats)
    m.jobs = [{f: j.get(f) for f in JOB_FIELDS} for j in jobs]
    derive(m)


def derive(m: Measurement) -> None:
    """Every figure of ``m`` that follows from its raw data (wall time, runner rusage, Batch call
    counts and per-job records): the same computation when measuring and when a recorded raw
    file is summarized."""
    jobs = m.jobs
    m.attempts = len(jobs)
    m.succeeded = sum(1 for j in jobs if j.get("status") == "SUCCEEDED")
    m.failed = sum(1 for j in jobs if j.get("status") == "FAILED")
    m.tasks_per_s = m.tasks / m.wall_s if m.wall_s > 0 else 0.0
    m.cpu_per_task_s = m.runner_cpu_s / m.tasks if m.tasks else 0.0
    # every accepted SubmitJob creates exactly one job; the rest of the calls were refused (the
    # emulator counts faulted calls too), i.e. throttled under a TPS cap
    m.throttled = {"SubmitJob": max(0, m.calls.get("SubmitJob", 0) - m.attempts)}
    m.calls_per_attempt = metrics.per_attempt(m.calls, m.attempts)
    describes = m.calls.get("DescribeJobs", 0)
    others = sum(n for op, n in m.calls.items() if op != "DescribeJobs")
    m.non_describe_per_attempt = others / m.attempts if m.attempts else 0.0
    m.describe_per_task = describes / m.tasks if m.tasks else 0.0
    m.job_run_s = metrics.job_seconds(jobs, "startedAt")
    m.job_watched_s = metrics.job_seconds(jobs, "createdAt")
    m.describe_per_1000_run_s = None
    m.describe_per_1000_watched_s = None
    if m.job_run_s > 0:
        m.describe_per_1000_run_s = 1000.0 * describes / m.job_run_s
    if m.job_watched_s > 0:
        m.describe_per_1000_watched_s = 1000.0 * describes / m.job_watched_s
    m.peak_active_jobs = metrics.peak_overlap(metrics.active_intervals(jobs))
    m.max_submits_per_s = metrics.max_in_window(j["createdAt"] for j in jobs if j.get("createdAt"))
    noticed = _seconds_by_job(jobs, "noticedAt")
    lat = metrics.notice_latencies(jobs, noticed)
    m.notice_n = len(lat)
    m.notice_p50_s = metrics.percentile(lat, 50)
    m.notice_p95_s = metrics.percentile(lat, 95)
    delays = metrics.submit_delays(jobs, _seconds_by_job(jobs, "attemptStartAt"))
    m.submit_delay_p50_s = metrics.percentile(delays, 50)
    m.submit_delay_p95_s = metrics.percentile(delays, 95)


def _seconds_by_job(jobs: List[Dict[str, Any]], key: str) -> Dict[str, float]:
    return {j["jobId"]: j[key] / 1000.0 for j in jobs if j.get(key) is not None}
