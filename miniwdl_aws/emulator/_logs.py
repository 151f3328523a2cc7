"""Delivery of job output lines into moto's CloudWatch Logs backend.

Timestamps are kept non-decreasing per stream: moto's GetLogEvents tokens are indices into the
timestamp-sorted event list, so an older event arriving late would shift a follower's position.
With the ``log_lag``/``log_disorder`` faults, lines are held back and delivered later by the shared
timer thread; per stream they still arrive in order (bursty, and interleaved unpredictably across
streams), which is what CloudWatch readers must cope with.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Dict, List, Tuple

from ._faults import FaultInjector
from ._timers import TimerThread

LOG_GROUP = "/aws/batch/job"


class LogShipper:
    """Puts lines into ``/aws/batch/job`` streams, now or later."""

    def __init__(self, faults: FaultInjector, timers: TimerThread) -> None:
        self._faults = faults
        self._timers = timers
        self._lock = threading.Lock()
        self._last_ts: Dict[Tuple[int, str], int] = {}
        self._last_due: Dict[Tuple[int, str], float] = {}
        self._rng = random.Random(0)

    def open_stream(self, logs_backend: Any, stream: str) -> None:
        """Create the log group (if needed) and the stream."""
        with self._lock:
            logs_backend.ensure_log_group(LOG_GROUP)
            logs_backend.ensure_log_stream(LOG_GROUP, stream)

    def ship(self, logs_backend: Any, stream: str, lines: List[bytes]) -> None:
        """Timestamp ``lines`` (now) and deliver them, honouring log faults. Empty lines are
        dropped, as the awslogs driver does."""
        messages = [ln.decode("utf-8", "replace").rstrip("\r") for ln in lines]
        messages = [m for m in messages if m]
        if not messages:
            return
        key = (id(logs_backend), stream)
        with self._lock:
            ts = max(int(time.time() * 1000), self._last_ts.get(key, 0))
            self._last_ts[key] = ts
        events = [{"timestamp": ts, "message": m} for m in messages]
        lag, disorder = self._faults.log_delivery()
        if lag <= 0 and not disorder:
            self._put(logs_backend, stream, events)
            return
        with self._lock:
            now = time.monotonic()
            batches: List[List[Dict[str, Any]]] = [events]
            if disorder:
                batches = []
                i = 0
                while i < len(events):
                    n = self._rng.randint(1, 8)
                    batches.append(events[i : i + n])
                    i += n
            for batch in batches:
                jitter = self._rng.uniform(0.0, max(lag, 0.2)) if disorder else 0.0
                # Per stream, never deliver before an earlier batch (keeps timestamps ordered).
                due = max(now + lag + jitter, self._last_due.get(key, 0.0))
                self._last_due[key] = due
                self._timers.call_at(due, self._put, logs_backend, stream, batch)

    def _put(self, logs_backend: Any, stream: str, events: List[Dict[str, Any]]) -> None:
        with self._lock:
            try:
                logs_backend.ensure_log_group(LOG_GROUP)
                logs_backend.ensure_log_stream(LOG_GROUP, stream)
                logs_backend.put_log_events(LOG_GROUP, stream, events)
            except Exception:  # the state was reset under us; the lines have nowhere to go
                pass

    def forget(self) -> None:
        """Drop per-stream bookkeeping (after a reset)."""
        with self._lock:
            self._last_ts.clear()
            self._last_due.clear()
