"""One measured ``miniwdl run`` subprocess: wall time, exit code, and the kernel's own account
of its CPU time and peak RSS (``os.wait4`` rusage, which covers the runner process and any
children it waited for; no sampling, so no peak is missed)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class RunnerResult:
    """What one ``miniwdl run`` cost.

    :param wall_s: seconds from spawn to exit
    :param exit_code: its exit status (negative: killed by that signal)
    :param cpu_s: user + system CPU seconds
    :param peak_rss_mib: peak resident set size in MiB
    :param timed_out: it was killed by the harness's timeout
    :param started_at: epoch seconds at spawn
    """

    wall_s: float
    exit_code: int
    cpu_s: float
    peak_rss_mib: float
    timed_out: bool
    started_at: float


def miniwdl_command(miniwdl: Path, wdl: Path, inputs: List[str], run_dir: Path) -> List[str]:
    """``miniwdl run`` of ``wdl`` in exactly ``run_dir`` (the trailing ``/.`` means "use this
    directory", not "make a timestamped one inside it")."""
    return [str(miniwdl), "run", str(wdl), *inputs, "--dir", f"{run_dir}/.", "--no-color"]


def run_measured(
    cmd: List[str], env: Dict[str, str], log_path: Path, timeout: float
) -> RunnerResult:
    """Run ``cmd`` with ``env`` in the log's directory (never the repository, whose
    ``miniwdl_aws.egg-info`` would shadow the other side's plugin metadata), stdout+stderr to
    ``log_path``; kill its process group after ``timeout`` seconds (a hang guard, not a
    measurement)."""
    with open(log_path, "wb") as log:
        started_at = time.time()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        box: List[Tuple[int, int, object]] = []
        end: List[float] = []

        def reap() -> None:
            box.append(os.wait4(proc.pid, 0))
            end.append(time.monotonic())

        reaper = threading.Thread(target=reap, daemon=True)
        reaper.start()
        reaper.join(timeout)
        timed_out = reaper.is_alive()
        if timed_out:
            _kill_group(proc.pid)
            reaper.join(30)
    _pid, status, rusage = box[0]
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    ru = rusage  # resource.struct_rusage
    cpu = float(ru.ru_utime + ru.ru_stime)  # type: ignore[attr-defined]
    peak_mib = float(ru.ru_maxrss) / 1024.0  # type: ignore[attr-defined]  # KiB on Linux
    return RunnerResult(end[0] - t0, proc.returncode, cpu, peak_mib, timed_out, started_at)


def _kill_group(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline: Optional[float] = time.monotonic() + 15
        while deadline and time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
