"""One background thread that runs callbacks at given times (state dwell, timeouts, kills).

A single heap-driven thread instead of a thread or busy loop per job keeps thousands of queued jobs
cheap. Callbacks must be short; they run one at a time.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

_logger = logging.getLogger("miniwdl_aws.emulator")


class Timer:
    """Handle of a scheduled callback; :meth:`cancel` makes it a no-op."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback (if it has not run yet)."""
        self.cancelled = True


class TimerThread:
    """Runs ``fn(*args)`` after ``delay`` seconds, in order of due time."""

    def __init__(self, name: str = "emulator-timers") -> None:
        self._heap: List[Tuple[float, int, Timer, Callable[..., Any], Tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Schedule ``fn(*args)`` in ``delay`` seconds; returns a cancellable handle."""
        return self.call_at(time.monotonic() + max(0.0, delay), fn, *args)

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Schedule ``fn(*args)`` at ``time.monotonic()`` value ``when``; callbacks due at the
        same time run in the order they were scheduled."""
        timer = Timer()
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), timer, fn, args))
            self._cond.notify()
        return timer

    def _loop(self) -> None:
        while True:
            with self._cond:
                item: Optional[Tuple[float, int, Timer, Callable[..., Any], Tuple[Any, ...]]] = None
                while self._running:
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            item = heapq.heappop(self._heap)
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if not self._running:
                    return
            assert item is not None
            _, _, timer, fn, args = item
            if timer.cancelled:
                continue
            try:
                fn(*args)
            except Exception:  # a bad callback must not stop every other job's timers
                _logger.exception("emulator timer callback failed")

    def stop(self) -> None:
        """Stop the thread; pending callbacks are dropped."""
        with self._cond:
            self._running = False
            self._heap.clear()
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(5.0)
