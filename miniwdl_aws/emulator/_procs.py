"""Every process of a job, as a container's cgroup would hold them, read from ``/proc``.

A job runs in its own session and process group, but a process that calls ``setsid`` (or a
daemon that double-forks) leaves both, and once the job's main process has exited its orphans
are no longer its descendants. So each job process carries a marker variable in its environment
(``MARKER_ENV=<emulator token>:<job id>#<attempt>``, inherited by everything it starts unless a
process clears its environment), and the job's processes are found again by their session, by
descent from the main process, or by that marker.

The memory watchdog sums the resident set of each job's session (``/proc/<pid>/stat``): no
cgroup is needed, so it works wherever the emulator does.

A ``guardian`` process (see :data:`GUARDIAN_SOURCE`) outlives a SIGKILLed emulator: it reads a
pipe only the emulator holds, and at end of file kills every process that carries the
emulator's token.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict, Iterable, Optional, Set, Tuple

MARKER_ENV = "MINIWDL_AWS_EMULATOR_JOB"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def marker(token: str, job_id: str, attempt: int) -> str:
    """The marker value of one attempt of one job of the emulator ``token``."""
    return f"{token}:{job_id}#{attempt}"


class ProcInfo:
    """What ``/proc/<pid>/stat`` says about one process."""

    __slots__ = ("pid", "ppid", "pgid", "sid", "rss_bytes")

    def __init__(self, pid: int, ppid: int, pgid: int, sid: int, rss_bytes: int) -> None:
        self.pid = pid
        self.ppid = ppid
        self.pgid = pgid
        self.sid = sid
        self.rss_bytes = rss_bytes


def _stat(pid: int) -> Optional[ProcInfo]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name is in parentheses and may itself contain spaces or parentheses
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        if fields[0] == b"Z":
            return None  # a zombie holds no memory and cannot be killed again
        return ProcInfo(
            pid, int(fields[1]), int(fields[2]), int(fields[3]), int(fields[21]) * _PAGE
        )
    except (IndexError, ValueError):
        return None


def snapshot() -> Dict[int, ProcInfo]:
    """Every live (non-zombie) process visible in ``/proc``."""
    out: Dict[int, ProcInfo] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            info = _stat(int(name))
            if info is not None:
                out[info.pid] = info
    return out


def marker_of(pid: int) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return None
    key = MARKER_ENV.encode() + b"="
    for item in env.split(b"\0"):
        if item.startswith(key):
            return item[len(key) :].decode(errors="replace")
    return None


def marked(
    procs: Dict[int, ProcInfo], prefixes: Iterable[str], skip_sids: Set[int]
) -> Dict[int, str]:
    """``{pid: marker}`` of the processes whose marker starts with one of ``prefixes``.
    Processes in a session of ``skip_sids`` (the sessions of jobs still running, killed by group
    anyway) are not read."""
    wanted = tuple(prefixes)
    if not wanted:
        return {}
    mine = os.getpid()
    out: Dict[int, str] = {}
    for info in procs.values():
        if info.sid in skip_sids or info.pid == mine:
            continue
        value = marker_of(info.pid)
        if value is not None and value.startswith(wanted):
            out[info.pid] = value
    return out


def kill(pids: Iterable[int], sig: int) -> None:
    """Send ``sig`` to each of ``pids`` (gone or foreign ones are skipped)."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def session_rss(sids: Set[int]) -> Dict[int, int]:
    """Resident bytes of every process in each of the sessions ``sids``."""
    out = dict.fromkeys(sids, 0)
    for info in snapshot().values():
        if info.sid in out:
            out[info.sid] += info.rss_bytes
    return out


# Runs as `python -c` (no import of this package: it must work whatever the job did to the
# environment). Blocks reading stdin; at end of file (the emulator exited, even by SIGKILL) it
# kills every process carrying the emulator's token, twice in case one forked in between.
GUARDIAN_SOURCE = r"""
import os, signal, sys
token = sys.argv[1].encode()
key = sys.argv[2].encode() + b"=" + token + b":"
while sys.stdin.buffer.read(4096):
    pass
for _ in range(2):
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(key) for item in env):
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass
"""


def start_guardian(token: str) -> Tuple[subprocess.Popen, int]:
    """Start the guardian of emulator ``token``; returns it and the write end of its pipe, which
    the caller keeps open for as long as it runs (closing it makes the guardian sweep)."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", GUARDIAN_SOURCE, token, MARKER_ENV],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # signals meant for the emulator's group do not reach it
        )
    finally:
        os.close(read_end)
    return proc, write_end


__all__ = [
    "MARKER_ENV",
    "GUARDIAN_SOURCE",
    "kill",
    "marked",
    "marker",
    "session_rss",
    "snapshot",
    "start_guardian",
]
