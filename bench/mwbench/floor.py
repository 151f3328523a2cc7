"""The emulator's floor: N no-op jobs through the emulator by a minimal boto3 client, with the
same number in flight as the runners get, and no WDL runner at all.

Run as a script by the harness in place of ``miniwdl run``, with the emulator's environment::

    python floor.py --n 200 --concurrency 80 --run-dir DIR [--sleep SECONDS]

One job definition; worker threads submit as fast as the emulator answers while at most
``concurrency`` jobs are active; one thread describes the active jobs (100 ids per call) every
0.1 s. It writes one miniwdl-format ``task.log`` per job under DIR (attempt start, submission,
terminal state) so the harness measures it exactly like the runners.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import boto3
import botocore.config

POLL_SECONDS = 0.1


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"


class Floor:
    """Submit ``n`` jobs keeping at most ``concurrency`` active; notice each end."""

    def __init__(self, n: int, concurrency: int, run_dir: str, sleep_s: int = 0) -> None:
        self.n = n
        self.run_dir = run_dir
        self.slots = threading.Semaphore(concurrency)
        self.lock = threading.Lock()
        self.active: Dict[str, int] = {}
        self.failed = 0
        self.done = threading.Event()
        self.finished = 0
        cfg = botocore.config.Config(
            max_pool_connections=64, retries={"mode": "standard", "total_max_attempts": 10}
        )
        self.batch = boto3.session.Session().client("batch", config=cfg)
        self.queue = os.environ["MINIWDL__AWS__TASK_QUEUE"]
        self.definition = self.batch.register_job_definition(
            jobDefinitionName="bench-floor",
            type="container",
            containerProperties={
                "image": "ubuntu:22.04",
                "command": ["sleep", str(sleep_s)],
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "1024"},
                ],
            },
        )["jobDefinitionArn"]

    def _log(self, i: int, message: str) -> None:
        path = os.path.join(self.run_dir, f"job-{i:05d}")
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "task.log"), "a") as f:
            f.write(f"{_stamp()} floor.job-{i} NOTICE {message}\n")

    def submit(self, i: int) -> None:
        """Submit job ``i`` once a slot is free."""
        self.slots.acquire()
        self._log(i, "task setup")
        job_id = self.batch.submit_job(
            jobName=f"floor-{i}", jobQueue=self.queue, jobDefinition=self.definition
        )["jobId"]
        self._log(i, f'submitted :: jobId: "{job_id}"')
        with self.lock:
            self.active[job_id] = i

    def poll(self) -> None:
        """Describe active jobs every POLL_SECONDS until all ``n`` ended."""
        while self.finished < self.n:
            time.sleep(POLL_SECONDS)
            with self.lock:
                ids: List[str] = list(self.active)
            for k in range(0, len(ids), 100):
                for job in self.batch.describe_jobs(jobs=ids[k : k + 100])["jobs"]:
                    status = job["status"]
                    if status not in ("SUCCEEDED", "FAILED"):
                        continue
                    with self.lock:
                        i: Optional[int] = self.active.pop(job["jobId"], None)
                    if i is None:
                        continue
                    self._log(i, f'job change :: status: "{status}", jobId: "{job["jobId"]}"')
                    self.failed += status == "FAILED"
                    self.finished += 1
                    self.slots.release()

    def run(self) -> int:
        """Run everything; exit status 0 when every job succeeded."""
        poller = threading.Thread(target=self.poll, daemon=True)
        poller.start()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(self.submit, range(self.n)))
        poller.join()
        return 1 if self.failed else 0


def main() -> int:
    """CLI."""
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--sleep", type=int, default=0, help="seconds each job sleeps")
    a = p.parse_args()
    os.makedirs(a.run_dir, exist_ok=True)
    return Floor(a.n, a.concurrency, a.run_dir, a.sleep).run()


if __name__ == "__main__":
    raise SystemExit(main())
