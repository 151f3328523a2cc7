"""A clock and a sleep the code under test is given instead of ``time``: sleeping advances the
clock at once, and every sleep is recorded."""

from __future__ import annotations

from typing import List


class FakeTime:
    """``clock()`` (or calling the object) reads ``now``; ``sleep(s)`` records ``s`` and moves
    ``now`` on by it. A negative sleep is a bug in the code under test."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: List[float] = []

    def clock(self) -> float:
        return self.now

    __call__ = clock

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def slept(self) -> float:
        """Seconds slept in all."""
        return sum(self.sleeps)
