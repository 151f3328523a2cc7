#!/usr/bin/env python3
"""Our ``AdaptiveSubmitter`` against a simulated 50-per-rolling-second SubmitJob cap, with many
task threads submitting at once: accepted calls per second, refusals, final rate.

No emulator and no runner, so it isolates the submitter's behaviour under throttling from the
machine's load (the 10,000-task submission test showed the same shape end to end)::

    python bench/throttle_sim.py                          # our defaults (submit_period 0.025)
    python bench/throttle_sim.py --rate 50 --burst 20     # the tuned profile
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
from pathlib import Path
from typing import Deque, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from miniwdl_aws.batch.submitter import AdaptiveSubmitter, SubmitAborted
from miniwdl_aws.errors import Throttled


class RollingCap:
    """Refuses a call when ``cap`` calls were accepted in the last second (as the emulator's
    ``tps`` fault and AWS's per-account limit do)."""

    def __init__(self, cap: int, latency: float) -> None:
        self.cap = cap
        self.latency = latency
        self.lock = threading.Lock()
        self.window: Deque[float] = collections.deque()
        self.accepted: List[float] = []
        self.refused = 0

    def call(self) -> None:
        """One SubmitJob."""
        time.sleep(self.latency)
        now = time.monotonic()
        with self.lock:
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            if len(self.window) >= self.cap:
                self.refused += 1
                raise Throttled("SubmitJob", "TooManyRequestsException", "Rate exceeded")
            self.window.append(now)
            self.accepted.append(now)


def main() -> int:
    """CLI."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rate", type=float, default=40.0, help="1/submit_period (default 40)")
    p.add_argument("--burst", type=int, default=20, help="submit_burst (default 20)")
    p.add_argument("--cap", type=int, default=50, help="calls per rolling second (default 50)")
    p.add_argument("--threads", type=int, default=200, help="task threads (default 200)")
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--latency", type=float, default=0.01, help="seconds per call")
    a = p.parse_args()
    sub = AdaptiveSubmitter(max_rate=a.rate, burst=a.burst)
    cap = RollingCap(a.cap, a.latency)
    t0 = time.monotonic()
    stop = t0 + a.seconds

    def worker() -> None:
        try:
            while time.monotonic() < stop:
                sub.call(cap.call, lambda: time.monotonic() > stop)
        except SubmitAborted:  # the simulation's end
            pass

    for _ in range(a.threads):
        threading.Thread(target=worker, daemon=True).start()
    time.sleep(a.seconds + 0.5)
    per_s = collections.Counter(int(t - t0) for t in cap.accepted)
    print("accepted per second:", [per_s[i] for i in range(a.seconds)])
    print(f"accepted {len(cap.accepted)}, refused {cap.refused}, ideal {a.cap * a.seconds}")
    print("submitter:", {k: round(v, 3) for k, v in sub.stats().items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
