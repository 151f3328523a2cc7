"""Per-task resource usage: the sampler that runs beside each task's command, and its file format.

The sampler is a POSIX ``sh`` script (no Python, no tools beyond the shell and ``sleep``; ``date``
once if present) started by the task job's container script (:func:`sampler_line`). Every
``period`` seconds it appends one line to ``usage<N>.tsv`` in the task's directory on the shared
filesystem (:func:`usage_file_name`): CPU time used so far and memory in use, measured

- from the container's own cgroup, v2 (``cpu.stat`` ``usage_usec``, ``memory.current`` minus
  ``inactive_file``, ``memory.peak``) or v1 (``cpuacct.usage``, ``memory.usage_in_bytes`` minus
  ``total_inactive_file``, ``memory.max_usage_in_bytes``), but only when that cgroup holds
  nothing but the job's own processes: on a host, or in a container sharing the host's cgroup
  namespace, ``/sys/fs/cgroup`` is the machine's, and its figures would be the whole machine's;
- else by summing the job's process tree in ``/proc`` (``utime+stime+cutime+cstime`` of
  ``/proc/<pid>/stat``, ``VmRSS`` of ``/proc/<pid>/status``), found through
  ``/proc/<pid>/task/*/children`` when the kernel has them, else as the processes of the job's
  session. Resident sizes of processes sharing pages are counted once per process.

Memory is the working set (page cache that could be dropped is left out), as ``docker stats``
reports it. The file format (whitespace-separated, one ``start`` line per container start, so a
Batch retry of the same job appends a new series)::

    start <uptime cs> <epoch s|-> <cgroup2|cgroup1|proc> <AWS_BATCH_JOB_ID|-> <attempt|-> <period>
    <uptime cs> <cpu µs> <memory bytes> <kernel peak bytes|->

:func:`parse_usage` reads it and :func:`series_stats` reduces a series to the figures of the run
summary. Everything here is pure (no AWS, no miniwdl).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "SAMPLER_SH",
    "UsageSeries",
    "usage_file_name",
    "sampler_line",
    "parse_usage",
    "read_usage",
    "series_stats",
    "find_usage_files",
]

_USAGE_FILE = re.compile(r"^usage(\d*)\.tsv$")

# The sampler. Positional parameters: output file, period (s), pid of the container script.
# Only shell builtins in the loop (read, printf, arithmetic) and one `sleep` per period, so it
# costs a fork per period and a few dozen reads of /proc files.
SAMPLER_SH = r"""
out=$1 period=$2 root=$3 self=$$ epoch=${4:-}
stop=0
trap 'stop=1; kill $! 2>/dev/null' TERM
# /proc/uptime in centiseconds; "1" prefix keeps a fraction like 05 out of octal arithmetic
now() { read -r _up _x < /proc/uptime; now=$(( ${_up%.*} * 100 + 1${_up#*.} - 100 )); }
ppid_of() {
  _pp=0
  { read -r _st < "/proc/$1/stat"; } 2>/dev/null || return 1
  _st=${_st##*) }
  set -- $_st
  _pp=$2
}
# is $1 the container script or one of its descendants?
in_tree() {
  _p=$1 _n=0
  while [ "$_p" -gt 0 ] && [ "$_n" -lt 100 ]; do
    [ "$_p" = "$root" ] && return 0
    ppid_of "$_p" || return 1
    _p=$_pp _n=$((_n + 1))
  done
  return 1
}
ancestors=" "
_a=$root
while [ "$_a" -gt 0 ] 2>/dev/null; do
  ancestors="$ancestors$_a "
  ppid_of "$_a" || break
  _a=$_pp
done
# a cgroup is the job's own when every process in it is the script, its ancestors (an init)
# or its descendants; the host's cgroup holds other processes
own_cgroup() {
  [ -r "$1/cgroup.procs" ] || return 1
  _c=0
  while read -r _q; do
    _c=$((_c + 1))
    [ "$_c" -gt 1000 ] && return 1
    case $ancestors in *" $_q "*) continue ;; esac
    in_tree "$_q" || return 1
  done < "$1/cgroup.procs"
  [ "$_c" -gt 0 ]
}
field() {
  _v=0
  { while read -r _k _x _y; do
      if [ "$_k" = "$2" ]; then _v=$_x; return 0; fi
    done < "$1"; } 2>/dev/null
  return 1
}
one() { _v=-; { read -r _v < "$1"; } 2>/dev/null; }
# where the cgroup filesystem is mounted (a test points it at a fake one)
g=${MINIWDL_AWS_USAGE_CGROUP:-/sys/fs/cgroup}
source=proc
if [ -r $g/cgroup.controllers ] && [ -r $g/memory.current ] && own_cgroup $g; then
  source=cgroup2
else
  for c in $g/cpuacct $g/cpu,cpuacct $g/cpuacct,cpu; do
    if [ -r $c/cpuacct.usage ]; then cg1cpu=$c; break; fi
  done
  if [ -n "${cg1cpu:-}" ] && [ -r $g/memory/memory.usage_in_bytes ] \
    && own_cgroup $g/memory && own_cgroup "$cg1cpu"; then
    source=cgroup1
  fi
fi
children=0
# MINIWDL_AWS_USAGE_SCAN=1 forces the scan of every process (tests and bench measure it)
[ -r "/proc/$root/task/$root/children" ] && [ -z "${MINIWDL_AWS_USAGE_SCAN:-}" ] && children=1
ppid_of "$root"
{ read -r _st < "/proc/$root/stat"; } 2>/dev/null
_st=${_st##*) }
set -- $_st
session=$4
add_proc() {
  _ap=$1
  { read -r _st < "/proc/$_ap/stat"; } 2>/dev/null || return 0
  _st=${_st##*) }
  set -- $_st
  cpu=$((cpu + ${12} + ${13} + ${14} + ${15}))
  field "/proc/$_ap/status" VmRSS: && mem=$((mem + _v * 1024))
}
sample_proc() {
  cpu=0 mem=0
  if [ "$children" = 1 ]; then
    queue=$root
    while :; do
      set -- $queue
      [ $# -gt 0 ] || break
      _p=$1
      shift
      queue=$*
      [ "$_p" = "$self" ] && continue
      add_proc "$_p"
      for _t in /proc/$_p/task/*/children; do
        _kids=
        { read -r _kids < "$_t"; } 2>/dev/null
        queue="$queue $_kids"
      done
    done
  else
    for pd in /proc/[0-9]*; do
      { read -r _st < "$pd/stat"; } 2>/dev/null || continue
      _p=${_st%% *}
      _r=${_st##*) }
      set -- $_r
      [ "$4" = "$session" ] && [ "$_p" != "$self" ] && [ "$2" != "$self" ] && add_proc "$_p"
    done
  fi
  # USER_HZ is 100 on every Linux architecture Batch runs (x86_64, arm64)
  cpu=$((cpu * 10000))
  peak=-
}
sample() {
  case $source in
  cgroup2)
    field $g/cpu.stat usage_usec; cpu=$_v
    one $g/memory.current; mem=$_v
    field $g/memory.stat inactive_file; mem=$((mem - _v))
    one $g/memory.peak; peak=$_v
    ;;
  cgroup1)
    one "$cg1cpu/cpuacct.usage"; cpu=$((_v / 1000))
    one $g/memory/memory.usage_in_bytes; mem=$_v
    field $g/memory/memory.stat total_inactive_file; mem=$((mem - _v))
    one $g/memory/memory.max_usage_in_bytes; peak=$_v
    ;;
  *) sample_proc ;;
  esac
  now
  printf '%s %s %s %s\n' "$now" "$cpu" "$mem" "$peak" >> "$out"
}
now
# the script's bash (5.0+) passes $EPOCHSECONDS: `date` would be a fork and exec per job
[ -n "$epoch" ] || epoch=$(date +%s 2>/dev/null) || epoch=-
printf 'start %s %s %s %s %s %s\n' "$now" "${epoch:--}" "$source" "${AWS_BATCH_JOB_ID:--}" \
  "${AWS_BATCH_JOB_ATTEMPT:--}" "$period" >> "$out"
sample
# the script gone (or a zombie): stop even if nobody told us, so the sampler never lingers
alive() {
  { read -r _st < "/proc/$root/stat"; } 2>/dev/null || return 1
  _st=${_st##*) }
  [ "${_st%% *}" != Z ]
}
while [ "$stop" = 0 ] && alive; do
  sleep "$period" &
  # A TERM that came after the loop's test but before this sleep existed found no sleep to
  # kill: look again now that $! is this sleep, or the job's end would wait a whole period.
  if [ "$stop" != 0 ]; then kill $! 2>/dev/null; break; fi
  # no usable sleep (absent, or no fractions): stop rather than spin
  if ! wait $! && [ "$stop" = 0 ]; then break; fi
  [ "$stop" = 0 ] && sample
done
# the last sample, when told to stop: a task shorter than one period still gets two
sample
"""


def usage_file_name(try_counter: int) -> str:
    """The usage file of miniwdl's attempt ``try_counter`` in the task's directory (``usage.tsv``,
    then ``usage2.tsv``...), named like the attempt's container script."""
    return "usage.tsv" if try_counter == 1 else f"usage{try_counter}.tsv"


def sampler_line(usage_path: str, period: float) -> str:
    """The bash line of the container script that starts the sampler in the background (its pid
    in ``$usage_pid``): through ``/bin/sh``, its output and errors away from the task's streams,
    so it can neither write to the task's log nor fail the task."""
    text = f"{period:g}"
    return (
        f"/bin/sh -c {shlex.quote(SAMPLER_SH)} mw-usage {shlex.quote(usage_path)} {text} $$"
        ' "${EPOCHSECONDS:-}" </dev/null >/dev/null 2>&1 & usage_pid=$!'
    )


@dataclass
class UsageSeries:
    """The samples of one container start (one Batch attempt) of a task job."""

    job_id: str
    batch_attempt: Optional[int]
    source: str
    period: float
    epoch: Optional[int]
    # (seconds since the start line, CPU seconds used, memory bytes in use)
    points: List[Tuple[float, float, int]] = field(default_factory=list)
    kernel_peak: Optional[int] = None


def parse_usage(text: str) -> List[UsageSeries]:
    """The series of a usage file; malformed lines (a write cut short) are skipped."""
    out: List[UsageSeries] = []
    start_cs = 0
    for line in text.splitlines():
        parts = line.split()
        try:
            if parts and parts[0] == "start" and len(parts) >= 7:
                start_cs = int(parts[1])
                out.append(
                    UsageSeries(
                        job_id="" if parts[4] == "-" else parts[4],
                        batch_attempt=None if parts[5] == "-" else int(parts[5]),
                        source=parts[3],
                        period=float(parts[6]),
                        epoch=None if parts[2] == "-" else int(parts[2]),
                    )
                )
            elif len(parts) == 4 and out:
                series = out[-1]
                t = (int(parts[0]) - start_cs) / 100.0
                series.points.append((t, int(parts[1]) / 1e6, max(0, int(parts[2]))))
                if parts[3] != "-":
                    peak = int(parts[3])
                    series.kernel_peak = max(series.kernel_peak or 0, peak)
        except ValueError:
            continue
    return out


def read_usage(path: str) -> List[UsageSeries]:
    """:func:`parse_usage` of a file; no series when it cannot be read."""
    try:
        with open(path, errors="replace") as infile:
            return parse_usage(infile.read())
    except OSError:
        return []


def series_stats(series: UsageSeries) -> Dict[str, Any]:
    """The figures of one series: wall and CPU seconds, mean and peak CPU (vCPUs, the peak over
    one sampling period), peak and mean memory (MiB, mean weighted by time)."""
    pts = series.points
    wall = pts[-1][0] - pts[0][0] if len(pts) > 1 else 0.0
    cpu_seconds = max(0.0, pts[-1][1] - pts[0][1]) if len(pts) > 1 else 0.0
    peak_cpu = 0.0
    mem_area = 0.0
    for (t0, c0, m0), (t1, c1, _m1) in zip(pts, pts[1:]):
        if t1 > t0:
            peak_cpu = max(peak_cpu, max(0.0, c1 - c0) / (t1 - t0))
            mem_area += m0 * (t1 - t0)
    peak_mem = max((p[2] for p in pts), default=0)
    mib = 1024.0 * 1024.0
    return {
        "source": series.source,
        "samples": len(pts),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu_seconds, 3),
        "mean_cpu": round(cpu_seconds / wall, 3) if wall > 0 else 0.0,
        "peak_cpu": round(peak_cpu, 3),
        "peak_memory_mib": round(peak_mem / mib, 1),
        "mean_memory_mib": round(mem_area / wall / mib, 1)
        if wall > 0
        else round(peak_mem / mib, 1),
        "cgroup_peak_memory_mib": (
            round(series.kernel_peak / mib, 1) if series.kernel_peak is not None else None
        ),
    }


def find_usage_files(run_dir: str) -> Dict[str, List[UsageSeries]]:
    """Every usage series under ``run_dir``, by the Batch job id it records."""
    found: Dict[str, List[UsageSeries]] = {}
    for top, dirs, files in os.walk(run_dir):
        # a task's inputs, work and outputs hold no usage files; skip them for speed
        dirs[:] = [d for d in dirs if d not in ("work", "out", "_miniwdl_inputs")]
        for name in files:
            if _USAGE_FILE.match(name):
                for series in read_usage(os.path.join(top, name)):
                    if series.job_id:
                        found.setdefault(series.job_id, []).append(series)
    return found
