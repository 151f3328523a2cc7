"""Delivery of job output lines into moto's CloudWatch Logs backend, and GetLogEvents as
CloudWatch answers it.

Each event keeps the time its line was read (as the awslogs driver stamps it), nothing forces
timestamps to increase per stream, and GetLogEvents returns a stream's events sorted by
timestamp. moto's tokens are indices into that sorted list, so an older event arriving late
shifts every later event and a follower's token then returns an event twice; ours
(:func:`get_log_events`) are positions in the timestamp order, ``(timestamp, event id)``, which a
late older event does not move: the follower reads on without duplicates (the late event is
returned by a read from the head, not forward from a position past it; AWS does not document
its tokens' internals). A token also carries the time it was first issued and expires after
24 hours (or the ``log_token_ttl`` fault), as AWS's forward tokens do.

With the ``log_lag``/``log_disorder`` faults, lines are held back and delivered later by the shared
timer thread; per stream they still arrive in order (bursty, and interleaved unpredictably across
streams), which is what CloudWatch readers must cope with.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from moto.logs.exceptions import InvalidParameterException

from ._faults import FaultInjector
from ._timers import TimerThread

LOG_GROUP = "/aws/batch/job"
TOKEN_TTL = 24 * 3600.0  # GetLogEvents: "The token expires after 24 hours"
_NO_EVENT = (-1, -1)  # the position before a stream's first event


class LogShipper:
    """Puts lines into ``/aws/batch/job`` streams, now or later."""

    def __init__(self, faults: FaultInjector, timers: TimerThread) -> None:
        self._faults = faults
        self._timers = timers
        # re-entrant: ship() stamps and delivers under it, and _put() takes it for the timer
        self._lock = threading.RLock()
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
        lag, disorder = self._faults.log_delivery()
        with self._lock:
            # the time the line was read, as the awslogs driver stamps it (no per-stream
            # maximum is forced); stamped and queued under one lock, as one driver per
            # container sends its lines in the order it read them
            events = [{"timestamp": int(time.time() * 1000), "message": m} for m in messages]
            if lag <= 0 and not disorder:
                self._put(logs_backend, stream, events)
                return
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
                # Per stream, never deliver before an earlier batch, as one log driver does.
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
            self._last_due.clear()


def _token(direction: str, position: Tuple[int, int], issued_ms: int) -> str:
    ts, event_id = position
    return f"{direction}/{ts + 1:020d}{event_id + 1:020d}{issued_ms:020d}"


def _parse_token(token: str) -> Tuple[str, Tuple[int, int], int]:
    """``(direction, (timestamp, event id), issued ms)``; InvalidParameterException if it is not
    one of ours."""
    try:
        direction, body = token.split("/", 1)
        if direction not in ("f", "b") or len(body) != 60:
            raise ValueError(token)
        position = (int(body[:20]) - 1, int(body[20:40]) - 1)
        return direction, position, int(body[40:])
    except ValueError:
        raise InvalidParameterException("The specified nextToken is invalid.") from None


def get_log_events(
    stream: Any,
    start_time: Optional[int],
    end_time: Optional[int],
    limit: Optional[int],
    next_token: Optional[str],
    start_from_head: Any,
    ttl: Optional[float] = None,
    now_ms: Optional[int] = None,
) -> Tuple[List[Dict[str, Any]], str, str]:
    """GetLogEvents on one moto ``LogStream``: ``(events, backward token, forward token)``.

    Events come sorted by timestamp (ties in arrival order). A token is a position in that
    order, so events that arrive later with an older timestamp never shift it; at the end of a
    stream the forward token comes back unchanged (and keeps ageing: it expires ``ttl`` seconds,
    default 24 hours, after it was first issued)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    limit = int(limit or 10000)
    events = sorted(
        (
            e
            for e in list(stream.events)
            if not (start_time and e.timestamp < int(start_time))
            and not (end_time and e.timestamp > int(end_time))
        ),
        key=lambda e: (e.timestamp, e.event_id),
    )
    keys = [(e.timestamp, e.event_id) for e in events]
    if next_token:
        direction, position, issued = _parse_token(next_token)
        if now - issued > (TOKEN_TTL if ttl is None else ttl) * 1000:
            raise InvalidParameterException("The specified nextToken is invalid.")
        if direction == "f":
            page = [e for e, k in zip(events, keys) if k > position][:limit]
        else:
            older = [e for e, k in zip(events, keys) if k < position]
            page = older[-limit:] if limit else []
    else:
        issued = now
        page = events[:limit] if start_from_head else events[-limit:]
        position = _NO_EVENT if start_from_head or not events else keys[len(keys) - len(page)]
        direction = "f" if start_from_head else "b"
    if page:
        first = (page[0].timestamp, page[0].event_id)
        last = (page[-1].timestamp, page[-1].event_id)
        return (
            [e.to_response_dict() for e in page],
            _token("b", first, now),
            _token("f", last, now),
        )
    # nothing new: the same position (and the same age) as the token given, as AWS returns it
    keep = next_token or _token(direction, position, issued)
    if keep.startswith("f/"):
        return [], _token("b", _parse_token(keep)[1], issued), keep
    return [], keep, _token("f", _parse_token(keep)[1], issued)
