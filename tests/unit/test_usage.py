"""The per-task usage sampler (issue 16, item 1): it measures the task's process tree (or the
container's own cgroup, never the host's), keeps the task's exit code and streams, stops with the
command, and is POSIX sh."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

from miniwdl_aws import usage
from miniwdl_aws.batch import specs

# allocates and touches 120 MiB, then burns CPU for a second: big enough to tell from the shell
HOG = (
    f"{sys.executable} -c 'import time\n"
    "x = bytearray(120 * 1048576)\n"
    "for i in range(0, len(x), 4096): x[i] = 1\n"
    "t = time.process_time()\n"
    "while time.process_time() - t < 1.0: pass\n'\n"
)


def _run(tmp_path: Path, command: str, env: Dict[str, str], period: float = 0.2) -> tuple:
    (tmp_path / "work").mkdir(exist_ok=True)
    (tmp_path / "command").write_text(command)
    out = tmp_path / "usage.tsv"
    cmd = specs.task_script(
        str(tmp_path / "work"),
        str(tmp_path / "command"),
        str(tmp_path / "stdout.txt"),
        str(tmp_path / "stderr.txt"),
        usage_file=str(out),
        usage_period=period,
    )
    # its own session, as a job of the local AWS or a container's processes
    p = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        start_new_session=True,
    )
    return p, usage.read_usage(str(out))


def _sampler_processes(marker: str) -> List[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(pid)
            except OSError:
                pass
    return found


@pytest.mark.parametrize("scan", ["", "1"], ids=["children", "session-scan"])
def test_sampler_measures_the_task_tree_and_keeps_exit_code_and_streams(
    tmp_path: Path, scan: str
) -> None:
    # the tree through /proc/<pid>/task/*/children, or (kernels without them) a scan of every
    # process for the job's session
    p, series = _run(
        tmp_path, HOG + "echo out\necho err >&2\nexit 7\n", {"MINIWDL_AWS_USAGE_SCAN": scan}
    )
    assert p.returncode == 7
    assert p.stderr == "err\n" and p.stdout == "out\n"  # nothing of the sampler
    assert (tmp_path / "stdout.txt").read_text() == "out\n"
    assert (tmp_path / "stderr.txt").read_text() == "err\n"
    assert len(series) == 1
    s = series[0]
    # this test's host shares its cgroup with other processes: the process tree is measured
    assert s.source == "proc"
    stats = usage.series_stats(s)
    assert stats["samples"] >= 3
    assert 120 <= stats["peak_memory_mib"] < 400
    assert stats["cpu_seconds"] >= 0.9  # the hog's second of CPU (the last sample follows it)
    assert 0 < stats["mean_cpu"] <= 2.5
    # stopped with the command: nothing of it is left running
    assert _sampler_processes(str(tmp_path / "usage.tsv")) == []


def test_sampling_off_writes_nothing(tmp_path: Path) -> None:
    cmd = specs.task_script(
        str(tmp_path), "/dev/null", str(tmp_path / "o"), str(tmp_path / "e"), usage_period=0
    )
    assert "mw-usage" not in cmd[-1]
    cmd = specs.task_script(str(tmp_path), "/dev/null", "o", "e", usage_file="u", usage_period=0)
    assert "mw-usage" not in cmd[-1]


def _fake_cgroup(root: Path, procs: List[str]) -> Path:
    g = root / "cgroup"
    g.mkdir()
    (g / "cgroup.controllers").write_text("cpu memory\n")
    (g / "cgroup.procs").write_text("".join(f"{p}\n" for p in procs))
    (g / "cpu.stat").write_text("usage_usec 4500000\nuser_usec 4000000\n")
    (g / "memory.current").write_text(str(3 * 1073741824) + "\n")
    (g / "memory.stat").write_text("anon 100\nfile 2\ninactive_file 1073741824\n")
    (g / "memory.peak").write_text(str(5 * 1073741824) + "\n")
    return g


def _sampled_script(tmp_path: Path) -> str:
    """The bash text of a task script sampling every 0.2 s into ``usage.tsv``, running
    ``command`` in ``tmp_path``."""
    return specs.task_script(
        str(tmp_path),
        str(tmp_path / "command"),
        str(tmp_path / "o"),
        str(tmp_path / "e"),
        usage_file=str(tmp_path / "usage.tsv"),
        usage_period=0.2,
    )[-1]


def test_cgroup_v2_is_read_only_when_it_holds_just_the_job(tmp_path: Path) -> None:
    # the container script itself is the only process listed: the job's own cgroup
    g = _fake_cgroup(tmp_path, [])
    script = _sampled_script(tmp_path)
    (tmp_path / "command").write_text("sleep 0.5\n")
    script = f"echo $$ > {g}/cgroup.procs\n" + script
    env = {**os.environ, "MINIWDL_AWS_USAGE_CGROUP": str(g)}
    p = subprocess.run(["/bin/bash", "-c", script], env=env, timeout=60, capture_output=True)
    assert p.returncode == 0
    (s,) = usage.read_usage(str(tmp_path / "usage.tsv"))
    assert s.source == "cgroup2"
    stats = usage.series_stats(s)
    assert stats["peak_memory_mib"] == 2048.0  # current minus inactive_file
    assert stats["cgroup_peak_memory_mib"] == 5120.0


def test_a_cgroup_shared_with_other_processes_is_not_the_tasks(tmp_path: Path) -> None:
    # another process (not the job's) in the cgroup: the host's, so the process tree is used
    other = subprocess.Popen(["sleep", "30"])
    try:
        g = _fake_cgroup(tmp_path, [str(other.pid)])
        p, series = _run(tmp_path, "sleep 0.3\n", {"MINIWDL_AWS_USAGE_CGROUP": str(g)})
    finally:
        other.kill()
        other.wait()
    assert p.returncode == 0
    assert [s.source for s in series] == ["proc"]


@pytest.mark.skipif(not shutil.which("dash"), reason="dash (a strict POSIX sh) not installed")
def test_sampler_is_posix_sh(tmp_path: Path) -> None:
    # dash has no bash extensions: the sampler must run under it unchanged
    out = tmp_path / "u.tsv"
    p = subprocess.Popen(["sleep", "1"])
    s = subprocess.run(
        ["dash", "-c", usage.SAMPLER_SH, "mw-usage", str(out), "0.2", str(p.pid)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    p.wait()
    assert s.returncode == 0 and s.stderr == ""
    (series,) = usage.read_usage(str(out))
    assert series.source == "proc" and len(series.points) >= 3


def test_parse_skips_torn_lines_and_splits_series() -> None:
    text = (
        "start 1000 1700000000 proc job-1 1 5\n"
        "1000 0 1048576 -\n"
        "1500 2500000 3145728 -\n"
        "17\n"  # a write cut short
        "start 9000 - cgroup2 job-1 2 5\n"
        "9000 0 0 4096\n"
        "9200 1000000 1048576 8192\n"
    )
    a, b = usage.parse_usage(text)
    assert (a.job_id, a.batch_attempt, a.source, a.epoch) == ("job-1", 1, "proc", 1700000000)
    assert usage.series_stats(a)["mean_cpu"] == 0.5 and usage.series_stats(a)["peak_cpu"] == 0.5
    assert usage.series_stats(a)["peak_memory_mib"] == 3.0
    assert b.epoch is None and b.kernel_peak == 8192
    assert usage.series_stats(b)["peak_cpu"] == 0.5 and usage.series_stats(b)["wall_seconds"] == 2


def _can_unshare_pid() -> bool:
    try:
        p = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", "echo $$"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0 and p.stdout.strip() == "1"


@pytest.mark.skipif(not _can_unshare_pid(), reason="cannot make a pid namespace here")
def test_container_script_as_pid_1_owns_its_cgroup(tmp_path: Path) -> None:
    # as in a Batch container: the container script is pid 1 of its own pid namespace, and the
    # cgroup lists it and its children
    g = _fake_cgroup(tmp_path, [])
    (tmp_path / "command").write_text("sleep 0.5\n")
    script = _sampled_script(tmp_path)
    script = f"sleep 5 & echo $$ > {g}/cgroup.procs; echo $! >> {g}/cgroup.procs\n" + script
    env = {**os.environ, "MINIWDL_AWS_USAGE_CGROUP": str(g)}
    p = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "/bin/bash", "-c", script],
        env=env,
        timeout=60,
        capture_output=True,
    )
    assert p.returncode == 0, p.stderr
    (s,) = usage.read_usage(str(tmp_path / "usage.tsv"))
    assert s.source == "cgroup2"


def test_cgroup_v1_is_read_when_it_holds_just_the_job(tmp_path: Path) -> None:
    # cgroup v1 (e.g. the ECS-optimized Amazon Linux 2 AMI): memory and cpuacct hierarchies
    g = tmp_path / "cgroup"
    mem, cpu = g / "memory", g / "cpu,cpuacct"
    mem.mkdir(parents=True)
    cpu.mkdir()
    (mem / "memory.usage_in_bytes").write_text(str(2 * 1073741824) + "\n")
    (mem / "memory.stat").write_text("cache 5\ntotal_inactive_file 536870912\n")
    (mem / "memory.max_usage_in_bytes").write_text(str(4 * 1073741824) + "\n")
    (cpu / "cpuacct.usage").write_text("7000000000\n")
    (tmp_path / "command").write_text("sleep 0.5\n")
    script = _sampled_script(tmp_path)
    script = f"echo $$ > {mem}/cgroup.procs; echo $$ > '{cpu}/cgroup.procs'\n" + script
    env = {**os.environ, "MINIWDL_AWS_USAGE_CGROUP": str(g)}
    p = subprocess.run(["/bin/bash", "-c", script], env=env, timeout=60, capture_output=True)
    assert p.returncode == 0
    (s,) = usage.read_usage(str(tmp_path / "usage.tsv"))
    assert s.source == "cgroup1"
    assert s.points[-1][1] == 7.0  # cpuacct.usage is in ns
    stats = usage.series_stats(s)
    assert stats["peak_memory_mib"] == 1536.0 and stats["cgroup_peak_memory_mib"] == 4096.0


def test_sampler_without_a_usable_sleep_stops_instead_of_spinning(tmp_path: Path) -> None:
    # an image whose sleep refuses the period (or has none): two samples, then the sampler ends
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sleep").write_text("#!/bin/sh\nexit 1\n")
    (fake / "sleep").chmod(0o755)
    out = tmp_path / "u.tsv"
    root = subprocess.Popen(["sleep", "30"])
    try:
        s = subprocess.run(
            ["/bin/sh", "-c", usage.SAMPLER_SH, "mw-usage", str(out), "0.2", str(root.pid)],
            env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"},
            timeout=20,
        )
    finally:
        root.kill()
        root.wait()
    assert s.returncode == 0
    (series,) = usage.read_usage(str(out))
    assert len(series.points) == 2


def test_the_scripts_bash_hands_the_sampler_its_epoch(tmp_path: Path) -> None:
    """The start line's wall-clock epoch comes from bash's $EPOCHSECONDS, not from a `date`
    fork and exec in every job; without it (a bash older than 5.0, or a caller that passes
    nothing) the sampler still asks `date`."""
    bin_dir = tmp_path / "bin"  # sleep but no date on PATH: the epoch can only come from bash
    bin_dir.mkdir()
    os.symlink(shutil.which("sleep") or "/bin/sleep", bin_dir / "sleep")
    out = tmp_path / "u.tsv"
    script = (
        usage.sampler_line(str(out), 0.2)
        + '\n/bin/sleep 0.5\nkill -TERM "$usage_pid"; wait "$usage_pid"'
    )
    before = int(time.time())
    subprocess.run(["/bin/bash", "-c", script], env={"PATH": str(bin_dir)}, timeout=30, check=True)
    (series,) = usage.read_usage(str(out))
    assert series.epoch is not None and before <= series.epoch <= int(time.time())
    # no epoch handed over: `date` it is (on the normal PATH)
    out2 = tmp_path / "u2.tsv"
    p = subprocess.Popen(["sleep", "1"])
    subprocess.run(
        ["/bin/sh", "-c", usage.SAMPLER_SH, "mw-usage", str(out2), "0.2", str(p.pid)],
        timeout=30,
        check=True,
    )
    p.wait()
    (series2,) = usage.read_usage(str(out2))
    assert series2.epoch is not None and before <= series2.epoch <= int(time.time())
