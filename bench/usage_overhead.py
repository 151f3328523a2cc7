"""Cost of the per-task usage sampler (issue 16: at most 1% of a core).

Runs the sampler (:data:`miniwdl_aws.usage.SAMPLER_SH`, under ``/bin/sh`` as task jobs run it)
against a stand-in task of ``--procs`` sleeping processes for ``--seconds`` at each period, and
reports the CPU it used (its own and its ``sleep`` children's, from ``getrusage``) per second of
wall time, as a percentage of one core, with the cost of one sample.

    python bench/usage_overhead.py --seconds 30 --periods 1 5
    python bench/usage_overhead.py --stop-latency 400

``--stop-latency N`` instead runs N no-op task scripts (:func:`miniwdl_aws.batch.specs.task_script`
with the sampler at a 5 s period), 40 at a time, and counts those that outlived their task by a
whole sampling period: the sampler told to stop must not first finish a ``sleep``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import resource
import subprocess
import tempfile
import time

from miniwdl_aws import usage
from miniwdl_aws.batch import specs


def measure(period: float, seconds: float, procs: int, scan: bool = False) -> dict:
    """One measurement: the sampler's CPU share over ``seconds`` at ``period`` (``scan``: the
    fallback that scans every process, for kernels without /proc/<pid>/task/*/children)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "usage.tsv")
        # the stand-in task: a shell with `procs` sleeping children, as a task's process tree
        task = subprocess.Popen(
            ["/bin/sh", "-c", f"for i in $(seq {procs}); do sleep 3600 & done; wait"],
            start_new_session=True,
        )
        time.sleep(0.5)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        env = {**os.environ, "MINIWDL_AWS_USAGE_SCAN": "1" if scan else ""}
        sampler = subprocess.Popen(
            ["/bin/sh", "-c", usage.SAMPLER_SH, "mw-usage", out, f"{period:g}", str(task.pid)],
            env=env,
        )
        time.sleep(seconds)
        sampler.terminate()
        sampler.wait()
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        os.killpg(task.pid, 15)
        task.wait()
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        (series,) = usage.read_usage(out)
        samples = len(series.points)
    return {
        "mode": "scan" if scan else "children",
        "processes_visible": sum(1 for d in os.listdir("/proc") if d.isdigit()),
        "period_s": period,
        "wall_s": round(wall, 1),
        "samples": samples,
        "source": series.source,
        "cpu_s": round(cpu, 3),
        "core_percent": round(100 * cpu / wall, 3),
        "ms_per_sample": round(1000 * cpu / max(1, samples), 2),
    }


def stop_latency(runs: int, period: float = 5.0) -> dict:
    """How many of ``runs`` no-op task scripts took a whole sampling ``period`` or longer."""
    with tempfile.TemporaryDirectory() as tmp:

        def one(i: int) -> float:
            d = os.path.join(tmp, f"t{i}")
            os.makedirs(d)
            with open(os.path.join(d, "command"), "w") as f:
                f.write("true\n")
            cmd = specs.task_script(
                d, os.path.join(d, "command"), os.path.join(d, "stdout.txt"),
                os.path.join(d, "stderr.txt"), usage_file=os.path.join(d, "usage.tsv"),
                usage_period=period,
            )  # fmt: skip
            t0 = time.monotonic()
            subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
            return time.monotonic() - t0

        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            took = sorted(pool.map(one, range(runs)))
    return {
        "runs": runs,
        "period_s": period,
        "waited_a_period": sum(t >= period for t in took),
        "p50_s": round(took[len(took) // 2], 3),
        "max_s": round(took[-1], 3),
    }


def main() -> None:
    """Measure each period and print one line per measurement."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--periods", type=float, nargs="+", default=[1.0, 5.0])
    p.add_argument("--procs", type=int, default=10)
    p.add_argument("--scan", action="store_true", help="also measure the scanning fallback")
    p.add_argument("--stop-latency", type=int, metavar="N", help="see the module docstring")
    args = p.parse_args()
    if args.stop_latency:
        print(stop_latency(args.stop_latency), flush=True)
        return
    for scan in [False, True] if args.scan else [False]:
        for period in args.periods:
            print(measure(period, args.seconds, args.procs, scan), flush=True)


if __name__ == "__main__":
    main()
