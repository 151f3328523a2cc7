#!/usr/bin/env python3
"""Benchmark miniwdl-aws (this repository) side by side with miniwdl-aws 0.12.2 from PyPI.

Each (side, settings profile, workload) runs ``miniwdl run`` against its own fresh local AWS
emulator and is measured by the emulator's call counts and job timestamps, the runner's task
logs, and the kernel's rusage. Prints one table per workload, ratio lines ours/theirs and the
issue-8 targets, and appends a dated section to bench/RESULTS.md (see that file for the method)
that names the git commit measured (and whether the work tree was dirty) and links to the run's
raw data, kept in bench/results/<UTC date>-<commit>-ours.json (and -theirs.json for 0.12.2).

    python bench/run.py                  # everything (0.12.2 venv created on first use)
    python bench/run.py --quick          # seconds-long smoke run
    python bench/run.py --ours-only --sizes 200,1000 --no-submission
    python bench/run.py --summarize bench/results/A-ours.json bench/results/B-theirs.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mwbench import ours_venv, rawfile, report, summary, theirs_venv, workloads  # noqa: E402
from mwbench.bench import Measurement, Options, measure  # noqa: E402
from mwbench.provenance import GitState, git_state  # noqa: E402
from mwbench.sides import FLOOR, OURS, THEIRS, Side, profiles_for  # noqa: E402


def _ints(text: str) -> List[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: a 3-task scatter, default settings, nothing recorded",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--ours-only", action="store_true", help="do not run (or create) the 0.12.2 side"
    )
    who.add_argument("--theirs-only", action="store_true", help="run only the 0.12.2 side")
    p.add_argument(
        "--sizes",
        type=_ints,
        default=[10, 100, 200, 1000],
        help="scatter sizes (default 10,100,200,1000)",
    )
    p.add_argument(
        "--profiles", default="default,tuned", help="settings profiles to run (default,tuned)"
    )
    p.add_argument(
        "--concurrency", type=int, default=80, help="[scheduler] task_concurrency (default 80)"
    )
    p.add_argument(
        "--dwell",
        type=float,
        default=0.2,
        help="emulator seconds per transitional job state (default 0.2)",
    )
    p.add_argument(
        "--realistic-aws",
        action="store_true",
        help="run every workload on the local AWS's realistic profile (the account-wide Batch"
        " budget of 50 requests/s, per-call latency, a 1 s listing lag; a workload's own faults"
        " on top), as `serve --realistic` does",
    )
    p.add_argument("--no-realistic", action="store_true", help="skip the realistic workflow")
    p.add_argument(
        "--no-sleepers",
        action="store_true",
        help="skip the many-active-jobs workload (tasks that sleep, all in flight at once)",
    )
    p.add_argument("--sleepers-tasks", type=int, default=200)
    p.add_argument("--sleepers-seconds", type=int, default=10)
    p.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the boto3 floor (the same jobs by a minimal boto3 client, no runner)",
    )
    p.add_argument(
        "--no-submission", action="store_true", help="skip the 10,000-task submission test"
    )
    p.add_argument("--submission-tasks", type=int, default=10000)
    p.add_argument(
        "--submission-tps",
        type=int,
        default=50,
        help="Batch TPS cap of the submission test (AWS: 50)",
    )
    p.add_argument(
        "--submission-concurrency",
        type=int,
        default=200,
        help="task_concurrency of the submission test (default 200)",
    )
    p.add_argument(
        "--submission-timeout",
        type=float,
        default=1800,
        help="stop the submission test after this many seconds (default 1800); it is then"
        " reported as failed with what it got through",
    )
    p.add_argument(
        "--submission-profiles",
        default=None,
        help="profiles for the submission test (default: those of --profiles)",
    )
    p.add_argument(
        "--submission-theirs",
        action="store_true",
        help="also run 0.12.2 in the submission test (hours)",
    )
    p.add_argument(
        "--theirs-max-tasks",
        type=int,
        default=0,
        help="skip 0.12.2 default-settings runs above this many tasks (0: no limit;"
        " its 1000-task scatter takes ~20 min)",
    )
    p.add_argument(
        "--theirs-venv",
        type=Path,
        default=None,
        help="0.12.2 venv (default: $MWBENCH_THEIRS_VENV,"
        " else ~/.cache/miniwdl-aws-bench/venv-0.12.2)",
    )
    p.add_argument(
        "--setup-theirs",
        action="store_true",
        help="only create (or check) the 0.12.2 venv, then exit",
    )
    p.add_argument(
        "--theirs-from",
        type=Path,
        action="append",
        default=[],
        help="reuse the 0.12.2 measurements of an earlier raw file (a -theirs.json of"
        " bench/results or a --json file; the section links to it)",
    )
    p.add_argument(
        "--ours-bin",
        type=Path,
        default=Path(sys.executable).parent,
        help="venv bin with our miniwdl (default: this python's)",
    )
    p.add_argument(
        "--lean",
        action="store_true",
        help="run our side's runner from a venv holding only this repository and its runtime"
        " dependencies, as the workflow image does (created on first use at"
        " $MWBENCH_OURS_VENV, else ~/.cache/miniwdl-aws-bench/venv-ours-lean); miniwdl scans"
        " every installed package per task, so the README's venv with the test extras costs"
        " the runner more CPU",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=None,
        help="append the dated section here (default bench/RESULTS.md; --quick: nowhere)",
    )
    p.add_argument("--no-record", action="store_true", help="do not append to a results file")
    p.add_argument("--note", action="append", default=[], help="a line for the RESULTS.md section")
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write this run's raw measurements here (all sides, as the run goes)",
    )
    p.add_argument(
        "--raw-dir",
        type=Path,
        default=None,
        help="where a recorded run keeps its raw files <UTC date>-<commit>-ours.json and"
        " -theirs.json (default: results/ next to the results file, i.e. bench/results;"
        " --quick: none unless given)",
    )
    p.add_argument(
        "--summarize",
        type=Path,
        nargs="+",
        metavar="RAW",
        default=None,
        help="print the headline tables (RESULTS.md targets summary, README table) recomputed"
        " from these raw files (e.g. an -ours.json and a -theirs.json), then exit; runs nothing",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="scratch directory (default: a new temp dir, removed after)",
    )
    p.add_argument("--keep", action="store_true", help="keep run directories and emulator logs")
    p.add_argument("--timeout", type=float, default=3600, help="hang guard per run, seconds")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.profiles = [3], "default"
        args.no_realistic = args.no_submission = args.no_floor = args.no_sleepers = True
        args.dwell = min(args.dwell, 0.05)
        args.timeout = min(args.timeout, 120)
    return args


def plan(args: argparse.Namespace, theirs_bin: Optional[Path]) -> List[tuple]:
    """``(side, profile, workload)`` triples in run order (cheap ones first)."""
    work: List[workloads.Workload] = [
        workloads.scatter(n, args.concurrency) for n in sorted(args.sizes)
    ]
    if not args.no_realistic:
        work.insert(min(1, len(work)), workloads.realistic(args.concurrency))
    if not args.no_sleepers:
        n = args.sleepers_tasks
        work.append(workloads.sleepers(n, args.sleepers_seconds, max(n, args.concurrency)))
    sides: List[Side] = []
    if theirs_bin is not None:
        sides.append(Side(THEIRS, theirs_bin))
    if not args.theirs_only:
        sides.append(Side(OURS, args.ours_bin))
    names = [n for n in args.profiles.split(",") if n]
    out = []
    for w in work:
        for side in sides:
            for prof in profiles_for(side.name, names):
                if (
                    side.name == THEIRS
                    and prof.name == "default"
                    and 0 < args.theirs_max_tasks < w.tasks
                ):
                    continue
                out.append((side, prof, w))
        if not args.no_floor and w.wdl == workloads.SCATTER_WDL:
            out.append((Side(FLOOR, args.ours_bin), profiles_for(FLOOR, ["min"])[0], w))
    if not args.no_submission:
        sub = workloads.submission(
            args.submission_tasks, args.submission_tps, args.submission_concurrency
        )
        for side in sides:
            if side.name == THEIRS and not args.submission_theirs:
                continue
            sub_names = (args.submission_profiles or args.profiles).split(",")
            for prof in profiles_for(side.name, [n for n in sub_names if n]):
                out.append((side, prof, sub))
    return out


class RawWriter:
    """Keeps a run's raw files up to date as measurements come in (so a long run's partial
    results survive): the ``--json`` file, and for a recorded run one automatic file per side
    (``ours``: our runner and the boto3 floor; ``theirs``: 0.12.2 measured in this run)."""

    def __init__(self, base: rawfile.RawRun, json_path: Optional[Path], raw_dir: Optional[Path]):
        self.base = base
        self.json_path = json_path
        self.raw_dir = raw_dir
        self.date = time.strftime("%Y-%m-%d", time.gmtime())
        self.auto: Dict[str, Path] = {}  # side -> path reserved (before any .gz)
        self.written: Dict[str, Path] = {}  # side -> path last written

    def _run(self, ms: List[Measurement], complete: bool) -> rawfile.RawRun:
        return dataclasses.replace(self.base, measurements=ms, complete=complete)

    def write(self, ms: List[Measurement], complete: bool = False) -> None:
        """(Re)write every file with ``ms`` (this run's measurements so far)."""
        if self.json_path is not None:
            rawfile.dump(self._run(ms, complete), self.json_path)
        if self.raw_dir is None:
            return
        commit = self.base.git.commit if self.base.git else "unknown"
        for side in ("ours", "theirs"):
            mine = [m for m in ms if rawfile.file_side(m) == side]
            if not mine:
                continue
            if side not in self.auto:
                self.raw_dir.mkdir(parents=True, exist_ok=True)
                self.auto[side] = rawfile.auto_path(self.raw_dir, self.date, commit, side)
            self.written[side] = rawfile.dump_sized(self._run(mine, complete), self.auto[side])


def _reused_provenance(old: rawfile.RawRun, machine: Dict[str, str]) -> str:
    """Harness commit and machine of a reused raw file, flagging another machine."""
    harness = old.git.label() if old.git else "harness commit not recorded"
    if not old.machine:
        return f"{harness}; machine not recorded"
    where = f"{old.machine.get('cores', '?')} cores, {old.machine.get('cpu', '?')}"
    keys = ("cores", "cpu")
    if any(old.machine.get(k) != machine.get(k) for k in keys):
        return f"{harness}; measured on ANOTHER machine ({where}): ratios mix machines"
    return f"{harness}; same machine type ({where})"


def ours_checkout(ours_bin: Path) -> Optional[Path]:
    """The directory holding the ``miniwdl_aws`` that our side's python imports (for the
    editable install of the README, the repository's work tree), None if it cannot tell."""
    code = "import os, miniwdl_aws; print(os.path.dirname(os.path.abspath(miniwdl_aws.__file__)))"
    try:
        proc = subprocess.run(
            [str(ours_bin / "python"), "-c", code], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(proc.stdout.strip()).parent if proc.returncode == 0 else None


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def main(argv: Optional[List[str]] = None) -> int:
    """Run the plan, print the report, record it (or, with ``--summarize``, only summarize)."""
    args = parse_args(argv)
    if args.summarize:
        print(summary.markdown(args.summarize), end="")
        return 0
    if args.setup_theirs:
        print(theirs_venv.ensure(args.theirs_venv or theirs_venv.default_path()))
        return 0
    if args.lean and not args.theirs_only:
        args.ours_bin = ours_venv.ensure(ours_venv.default_path(), HERE.parent)
    theirs_bin = None
    if not args.ours_only and not args.theirs_from:
        theirs_bin = theirs_venv.ensure(args.theirs_venv or theirs_venv.default_path())
    target = (
        None if args.no_record else args.results or (None if args.quick else HERE / "RESULTS.md")
    )
    raw_dir = args.raw_dir
    if raw_dir is None and target is not None and not args.quick:
        raw_dir = target.parent / "results"
    # the commit of the code measured: where our side imports miniwdl_aws from (normally this
    # repository, the editable install of the README)
    checkout = None if args.theirs_only else ours_checkout(args.ours_bin)
    git: GitState = git_state(checkout or HERE.parent)
    elsewhere = checkout is not None and checkout.resolve() != HERE.parent.resolve()
    header: Dict[str, str] = {
        "concurrency": str(args.concurrency),
        "dwell_s": f"{args.dwell:g}",
        "local_aws_profile": "realistic" if args.realistic_aws else "default",
    }
    found = None if args.theirs_only else ours_venv.probe(args.ours_bin)
    if found is not None:
        # miniwdl's per-task plugin scan reads every one of them (see ours_venv)
        header["ours_runner_distributions"] = str(found[0])
    writer = RawWriter(
        rawfile.RawRun(
            [],
            git=git,
            started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            machine=report.machine(),
            settings=header,
            argv=sys.argv[1:] if argv is None else list(argv),
            reused_from=[str(p) for p in args.theirs_from],
        ),
        args.json,
        raw_dir,
    )
    print(
        f"[bench] measuring {checkout or HERE.parent}: {git.label()}", file=sys.stderr, flush=True
    )
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="mwbench-"))
    opts = Options(
        work_dir=work_dir,
        dwell=args.dwell,
        timeout=args.timeout,
        keep=args.keep,
        local_aws_profile="realistic" if args.realistic_aws else None,
    )
    reused: List[Measurement] = []
    reused_notes: List[str] = []
    for path in args.theirs_from:
        old = rawfile.load(path)
        reused += [m for m in old.measurements if m.side == THEIRS]
        reused_notes.append(f"{path.name} ({_reused_provenance(old, writer.base.machine)})")
    measured: List[Measurement] = []
    try:
        for side, prof, w in plan(args, theirs_bin):
            print(
                f"[bench] {time.strftime('%H:%M:%S')} {side.name}/{prof.name} {w.name} ...",
                file=sys.stderr,
                flush=True,
            )
            run_opts = opts
            if w.faults:  # the submission test has its own time limit
                run_opts = dataclasses.replace(opts, timeout=args.submission_timeout)
            m = measure(side, prof, w, run_opts)
            status = "ok" if m.ok else "FAILED"
            print(
                f"[bench]   {status} wall {m.wall_s:.1f} s, {m.tasks_per_s:.2f} tasks/s",
                file=sys.stderr,
                flush=True,
            )
            measured.append(m)
            writer.write(measured)  # as we go, so a long run's partial results survive
    finally:
        if args.work_dir is None and not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    writer.write(measured, complete=True)
    results = reused + measured
    print(report.text_report(results, header))
    for path in writer.written.values():
        print(f"[bench] raw data in {path}", file=sys.stderr)
    if target is not None:
        notes = list(args.note)
        if elsewhere:
            notes.append(
                f"ours imported miniwdl_aws from {checkout}, not from this harness's checkout;"
                " the commit above is that checkout's."
            )
        if args.theirs_from:
            notes.append("0.12.2 rows reused from an earlier run: " + ", ".join(reused_notes) + ".")
        raw_links = [(p.name, _rel(p, target.parent)) for p in writer.written.values()]
        raw_links += [
            (f"{p.name} (0.12.2, reused)", _rel(p, target.parent)) for p in args.theirs_from
        ]
        section = report.markdown_section(results, header, notes, git, raw_links)
        report.append_results(target, section)
        print(f"[bench] appended to {target}", file=sys.stderr)
    return 0 if all(m.ok for m in results) else 1


if __name__ == "__main__":
    sys.exit(main())
