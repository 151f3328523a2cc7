"""The headline figures recomputed from recorded raw files alone: the issue-8 targets table at
the top of bench/RESULTS.md and the README's comparison table (``bench/run.py --summarize``).

Per-job records, where a file has them, are reduced again (:func:`bench.derive`), so the figures
come from the raw data, not from aggregates stored next to it; files written before per-job
records were kept contribute their stored aggregates."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import rawfile
from .bench import Measurement, derive
from .report import (
    MAX_CPU_PER_TASK_S,
    MAX_DESCRIBE_PER_TASK,
    MAX_NOTICE_P50_S,
    MAX_OTHER_CALLS_PER_ATTEMPT,
    MAX_PEAK_RSS_MIB,
    SPEEDUP_SIZES,
    SPEEDUPS,
    _find,
)
from .sides import OURS, THEIRS

Key = Tuple[str, str, str]
# a run whose jobs ran this long on average is a long-job run (the sleepers), not a no-op one
LONG_JOB_S = 1.0
_PROFILE_WORDS = {"default": "defaults", "tuned": "tuned"}


@dataclass
class Row:
    """One line of the targets table."""

    target: str
    measured: str
    verdict: str


def load(paths: Sequence[Path]) -> Tuple[List[rawfile.RawRun], List[Measurement]]:
    """The raw files and their measurements, figures re-derived from per-job records. A
    (side, profile, workload) measured in several files is taken from the last one."""
    runs = [rawfile.load(p) for p in paths]
    merged: Dict[Key, Measurement] = {}
    for run in runs:
        for m in run.measurements:
            if m.jobs:
                derive(m)
            merged[(m.side, m.profile, m.workload)] = m
    return runs, list(merged.values())


# --- formatting ---


def _span(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo}–{hi}"


def _tps(x: float) -> str:
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _times(x: float, sign: str = "x") -> str:
    return f"{x:.0f}{sign}" if x >= 20 else f"{x:.1f}{sign}"


def _verdict(ok: Optional[bool]) -> str:
    return {True: "met", False: "NOT met", None: "not measured"}[ok]


def _utc(epoch: float, fmt: str) -> str:
    return time.strftime(fmt, time.gmtime(epoch))


def _by_profile(ms: Sequence[Measurement]) -> List[Measurement]:
    return sorted(ms, key=lambda m: (m.profile != "default", m.profile))


def _mean_job_s(m: Measurement) -> float:
    return m.job_run_s / m.attempts if m.attempts else 0.0


def _each(ms: Sequence[Measurement], fmt: Callable[[Measurement], str]) -> str:
    """``a (default) / b (tuned)``, or ``a`` for one measurement."""
    ms = _by_profile(ms)
    if len(ms) == 1:
        return fmt(ms[0])
    return " / ".join(f"{fmt(m)} ({m.profile})" for m in ms)


# --- the targets table ---


def _other_calls_row(ours: List[Measurement], theirs: List[Measurement]) -> Row:
    th = [m.non_describe_per_attempt for m in theirs if m.tasks >= 100]
    target = f"Batch calls per task attempt besides DescribeJobs ≤ {MAX_OTHER_CALLS_PER_ATTEMPT:g}"
    if th:
        target += f" (0.12.2: {_span(th, lambda x: f'{x:.1f}')})"
    uncapped = [m for m in ours if m.tasks >= 100 and not m.tps_cap]
    if not uncapped:
        return Row(target, "-", _verdict(None))
    worst = max(uncapped, key=lambda m: m.non_describe_per_attempt)
    submits = worst.calls.get("SubmitJob", 0)
    others = sum(n for op, n in worst.calls.items() if op not in ("SubmitJob", "DescribeJobs"))
    text = (
        f"{_span([m.non_describe_per_attempt for m in uncapped], lambda x: f'{x:.2f}')} on every"
        f" uncapped run of ≥ 100 tasks ({worst.non_describe_per_attempt:.3f} on {worst.workload}"
        f" {worst.profile}: {submits:,} SubmitJob + {others:,} other calls for"
        f" {worst.attempts:,} attempts)"
    )
    capped = _by_profile([m for m in ours if m.tps_cap])
    if capped:
        text += (
            f"; {'/'.join(f'{m.non_describe_per_attempt:.2f}' for m in capped)} under the"
            f" {capped[0].tps_cap:g} TPS cap counting refused calls"
            f" ({'/'.join(m.profile for m in capped)})"
        )
    ok = worst.non_describe_per_attempt <= MAX_OTHER_CALLS_PER_ATTEMPT
    return Row(target, text, _verdict(ok))


def _describe_row(ours: List[Measurement], theirs: List[Measurement]) -> Row:
    target = f"DescribeJobs ≤ {MAX_DESCRIBE_PER_TASK:g} per task at ≥ 100 concurrent tasks"
    big = [m for m in ours if m.tasks >= 100]
    if not big:
        return Row(target, "-", _verdict(None))
    short = [m for m in big if _mean_job_s(m) < LONG_JOB_S]
    long_ = [m for m in big if _mean_job_s(m) >= LONG_JOB_S]
    parts = []
    if short:
        parts.append(
            f"{_span([m.describe_per_task for m in short], lambda x: f'{x:.3f}')} on runs of"
            f" ≥ 100 no-op tasks (at most {max(m.peak_active_jobs for m in short)} jobs active"
            " at once)"
        )
    for w in sorted({m.workload for m in long_}):
        group = [m for m in long_ if m.workload == w]
        th = [m for m in theirs if m.workload == w]
        text = (
            f"{w} ({max(m.peak_active_jobs for m in group)} active jobs of"
            f" ~{sum(map(_mean_job_s, group)) / len(group):.0f} s):"
            f" {_each(group, lambda m: f'{m.describe_per_task:.3f}')} per task,"
            f" {_each(group, lambda m: f'{m.describe_per_1000_run_s or 0:.0f}')} per 1,000"
            " running job-s"
        )
        if th:
            text += f" vs 0.12.2's {_each(th, lambda m: f'{m.describe_per_1000_run_s or 0:.0f}')}"
        parts.append(text)
    # judged as the recorded runs' targets table judges it: on runs that really had >= 100 jobs
    # active, else on runs of >= 100 tasks
    busy = [m for m in ours if m.peak_active_jobs >= 100] or big
    if max(m.describe_per_task for m in busy) <= MAX_DESCRIBE_PER_TASK:
        verdict = "met"
    elif short and max(m.describe_per_task for m in short) <= MAX_DESCRIBE_PER_TASK:
        verdict = "NOT met for long jobs"
    else:
        verdict = "NOT met"
    return Row(target, "; ".join(parts), verdict)


def _speedup_rows(ms: List[Measurement]) -> List[Row]:
    rows = []
    for n in SPEEDUP_SIZES:
        for ours_p, theirs_p, need in SPEEDUPS:
            target = f"{n:,}-task scatter ≥ {need:g}x 0.12.2 {theirs_p} tasks/s"
            if ours_p != theirs_p:
                target += f" (ours {ours_p})"
            o = _find(ms, OURS, ours_p, f"scatter{n}")
            t = _find(ms, THEIRS, theirs_p, f"scatter{n}")
            if o is None or t is None or not t.tasks_per_s:
                rows.append(Row(target, "-", _verdict(None)))
                continue
            ratio = o.tasks_per_s / t.tasks_per_s
            rows.append(
                Row(
                    target,
                    f"{_tps(o.tasks_per_s)} vs {_tps(t.tasks_per_s)} tasks/s = {_times(ratio)}",
                    _verdict(ratio >= need),
                )
            )
    return rows


def _footprint_row(ours: List[Measurement], theirs: List[Measurement]) -> Row:
    target = (
        f"runner CPU per task ≤ {MAX_CPU_PER_TASK_S:g} s, peak RSS ≤ {MAX_PEAK_RSS_MIB:g} MiB"
        " (200 tasks)"
    )
    o = [m for m in ours if m.workload == "scatter200"]
    if not o:
        return Row(target, "-", _verdict(None))
    text = (
        f"{_span([m.cpu_per_task_s for m in o], lambda x: f'{x:.3f}')} s,"
        f" {_span([m.peak_rss_mib for m in o], lambda x: f'{x:.0f}')} MiB"
    )
    t = [m for m in theirs if m.workload == "scatter200"]
    if t:
        text += (
            f" (0.12.2: {_span([m.cpu_per_task_s for m in t], lambda x: f'{x:.2f}')} s,"
            f" {_span([m.peak_rss_mib for m in t], lambda x: f'{x:.0f}')} MiB)"
        )
    ok = all(
        m.cpu_per_task_s <= MAX_CPU_PER_TASK_S and m.peak_rss_mib <= MAX_PEAK_RSS_MIB for m in o
    )
    return Row(target, text, _verdict(ok))


def _notice_row(ours: List[Measurement]) -> Row:
    target = f"job-finished → noticed p50 ≤ {MAX_NOTICE_P50_S:g} s with ≤ 100 active jobs"
    seen = [m for m in ours if m.notice_p50_s is not None]
    light = [m for m in seen if m.peak_active_jobs <= 100]
    if not light:
        return Row(target, "-", _verdict(None))
    p50 = [m.notice_p50_s or 0.0 for m in light]
    p95 = [m.notice_p95_s or 0.0 for m in light]
    text = f"p50 {_span(p50, lambda x: f'{x:.2f}')} s, p95 ≤ {max(p95):.2f} s"
    heavy = [m for m in seen if m.peak_active_jobs > 100]
    for w in sorted({m.workload for m in heavy}):
        group = [m for m in heavy if m.workload == w]
        text += (
            f" ({w}, {max(m.peak_active_jobs for m in group)} active jobs:"
            f" p50 {_each(group, lambda m: f'{m.notice_p50_s or 0:.2f}')} s,"
            f" p95 {_each(group, lambda m: f'{m.notice_p95_s or 0:.2f}')} s)"
        )
    return Row(target, text, _verdict(max(p50) <= MAX_NOTICE_P50_S))


def _refused(m: Measurement) -> int:
    return sum(m.throttled.values())


def _capped_rows(ours: List[Measurement]) -> List[Row]:
    capped = _by_profile([m for m in ours if m.tps_cap])
    if not capped:
        return [Row("10,000 tasks under 50 TPS: 0 failures", "-", _verdict(None))]
    m0 = capped[0]
    floor = m0.tasks / m0.tps_cap
    return [
        Row(
            f"{m0.tasks:,} tasks under {m0.tps_cap:g} TPS: 0 failures",
            "; ".join(
                f"{_PROFILE_WORDS.get(m.profile, m.profile)}: {m.succeeded:,}/{m.tasks:,}"
                f" succeeded, {m.failed} failed, runner exit {m.exit_code}"
                for m in capped
            ),
            _verdict(all(m.ok for m in capped)),
        ),
        Row(
            "… the cap never exceeded (no SubmitJob call refused)",
            "; ".join(
                f"{_PROFILE_WORDS.get(m.profile, m.profile)}: {_refused(m):,} of"
                f" {m.calls.get('SubmitJob', 0):,} SubmitJob calls refused (429) and retried,"
                f" at most {m.max_submits_per_s} jobs created in 1 s"
                for m in capped
            ),
            _verdict(all(_refused(m) == 0 for m in capped)),
        ),
        Row(
            f"… wall time vs the {floor:.0f} s cap floor and the runner's CPU floor",
            "; ".join(
                f"{_PROFILE_WORDS.get(m.profile, m.profile)}: {m.wall_s:.0f} s ="
                f" {m.wall_s / (m.tasks / m.tps_cap):.2f}x; runner CPU {m.runner_cpu_s:.0f} s ="
                f" {m.runner_cpu_s / m.tasks:.3f} s/task,"
                f" {m.runner_cpu_s / m.wall_s if m.wall_s else 0:.2f} of one core"
                for m in capped
            ),
            "reported",
        ),
    ]


def target_rows(ms: Sequence[Measurement]) -> List[Row]:
    """The rows of the targets table at the top of bench/RESULTS.md."""
    ms = list(ms)
    ours = [m for m in ms if m.side == OURS]
    theirs = [m for m in ms if m.side == THEIRS]
    return (
        [_other_calls_row(ours, theirs), _describe_row(ours, theirs)]
        + _speedup_rows(ms)
        + [_footprint_row(ours, theirs), _notice_row(ours)]
        + _capped_rows(ours)
    )


# --- the README table ---


def readme_rows(ms: Sequence[Measurement]) -> List[List[str]]:
    """``[what, this package, 0.12.2, ratio]`` rows of the README's comparison table."""
    ms = list(ms)
    ours = [m for m in ms if m.side == OURS]
    theirs = [m for m in ms if m.side == THEIRS]
    rows: List[List[str]] = []
    for n in SPEEDUP_SIZES:
        pairs = [
            (_find(ms, OURS, o, f"scatter{n}"), _find(ms, THEIRS, t, f"scatter{n}"))
            for o, t, _need in SPEEDUPS
        ]
        what = f"{n:,}-task scatter, default / fastest settings"
        rows.append(
            [
                what,
                " / ".join("-" if o is None else _tps(o.tasks_per_s) for o, _t in pairs)
                + " tasks/s",
                " / ".join("-" if t is None else _tps(t.tasks_per_s) for _o, t in pairs)
                + " tasks/s",
                " / ".join(
                    _times(o.tasks_per_s / t.tasks_per_s, "×")
                    if o is not None and t is not None and t.tasks_per_s
                    else "-"
                    for o, t in pairs
                ),
            ]
        )

    def other_calls(group: List[Measurement]) -> str:
        big = [m.non_describe_per_attempt for m in group if m.tasks >= 100 and not m.tps_cap]
        return _span(big, lambda x: f"{x:.2f}") if big else "-"

    rows.append(
        [
            "Batch calls per task attempt besides DescribeJobs (≥ 100 tasks)",
            other_calls(ours),
            other_calls(theirs),
            "",
        ]
    )

    def footprint(group: List[Measurement], cpu_digits: int) -> str:
        s = [m for m in group if m.workload == "scatter200"]
        if not s:
            return "-"
        cpu = _span([m.cpu_per_task_s for m in s], lambda x: f"{x:.{cpu_digits}f}")
        return f"{cpu} s, {_span([m.peak_rss_mib for m in s], lambda x: f'{x:.0f}')} MiB"

    rows.append(
        ["runner CPU per task, peak RSS (200 tasks)", footprint(ours, 3), footprint(theirs, 2), ""]
    )

    def notice(group: List[Measurement]) -> str:
        p50 = [
            m.notice_p50_s
            for m in group
            if m.notice_p50_s is not None and m.peak_active_jobs <= 100
        ]
        return f"{_span(p50, lambda x: f'{x:.2f}')} s" if p50 else "-"

    rows.append(
        ["job finished → runner noticed, p50 (≤ 100 active jobs)", notice(ours), notice(theirs), ""]
    )

    def capped(group: List[Measurement]) -> str:
        c = _by_profile([m for m in group if m.tps_cap])
        if not c:
            return "not run"
        failed = sum(m.tasks - m.succeeded for m in c)
        refused = "/".join(f"{_refused(m) / m.calls.get('SubmitJob', 1):.1%}" for m in c)
        walls = " / ".join(f"{m.wall_s / (m.tasks / m.tps_cap):.2f}×" for m in c)
        return (
            f"{failed} failures, {walls} the {c[0].tasks / c[0].tps_cap:.0f} s floor,"
            f" {refused} of SubmitJob calls refused ({'/'.join(m.profile for m in c)})"
        )

    c0 = next((m for m in ours if m.tps_cap), None)
    what = (
        "10,000 tasks under a 50 TPS cap"
        if c0 is None
        else (f"{c0.tasks:,} tasks under a {c0.tps_cap:g} TPS cap")
    )
    rows.append([what, capped(ours), capped(theirs), ""])
    return rows


# --- the whole text ---


def _provenance(run: rawfile.RawRun) -> str:
    name = run.source.name if run.source else "?"
    sides = sorted({m.label for m in run.measurements})
    starts = [m.started_at for m in run.measurements if m.started_at]
    ends = [m.started_at + m.wall_s for m in run.measurements if m.started_at]
    when = ""
    if starts:
        day = _utc(min(starts), "%Y-%m-%d")
        when = f" measured {day} {_utc(min(starts), '%H:%M')}–{_utc(max(ends), '%H:%M')} UTC,"
    git = (
        run.git.label()
        if run.git is not None
        else "commit not recorded (the file predates recording it)"
    )
    if run.machine:
        git += f"; {run.machine.get('cores', '?')} cores, {run.machine.get('cpu', '?')}"
    jobs = "per-job records" if any(m.jobs for m in run.measurements) else "aggregates only"
    flags = "" if run.complete else ", INCOMPLETE (the run did not finish)"
    return f"- `{name}`: {', '.join(sides)};{when} {git}; {jobs}{flags}."


def markdown(paths: Sequence[Path]) -> str:
    """Both headline tables, with where each figure comes from, as markdown."""
    runs, ms = load(paths)
    scat = [m for m in ms if m.workload.startswith("scatter")]
    settings = ""
    if scat:
        settings = (
            f" Emulator dwell {_span([m.dwell for m in scat], lambda x: f'{x:g}')} s,"
            f" {_span([m.concurrency for m in scat], lambda x: f'{x:g}')} tasks in flight"
            " in the scatters."
        )
    machines = {(r.machine.get("cores"), r.machine.get("cpu")) for r in runs if r.machine}
    if len(machines) > 1:
        settings += " The files come from DIFFERENT machines: ratios between them mix machines."
    elif any(not r.machine for r in runs):
        settings += " Not every file records its machine."
    parts = [
        "## Summary: issue 8 targets",
        "",
        "Recomputed by `bench/run.py --summarize` from:",
        "",
        *[_provenance(r) for r in runs],
        "",
        settings.strip(),
        "",
        "| target (issue 8 §3) | measured | verdict |",
        "|---|---|---|",
        *[f"| {r.target} | {r.measured} | {r.verdict} |" for r in target_rows(ms)],
        "",
        "README table:",
        "",
        "| | this package | miniwdl-aws 0.12.2 | ratio |",
        "|---|---|---|---|",
        *["| " + " | ".join(r) + " |" for r in readme_rows(ms)],
    ]
    return "\n".join(parts) + "\n"
