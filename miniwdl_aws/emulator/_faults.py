"""Fault injection: which requests to fail, which job attempts to disrupt, how to delay logs.

The spec is plain JSON (see the package docstring). Every random decision is drawn from a
``random.Random`` seeded by the spec's ``seed`` *and* a stable key (operation plus its call number,
or job name plus attempt), so outcomes do not depend on how threads interleave.
"""

from __future__ import annotations

import collections
import fnmatch
import json
import random
import re
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

_SPEC_KEYS = {
    "seed",
    "throttle",
    "tps",
    "server_error",
    "client_error",
    "spot",
    "oom",
    "cannot_pull",
    "log_lag",
    "log_disorder",
    "s3_fail",
    "latency",
    "budget",
    # the API-surface knobs (emu2): responses lost after processing, eventual consistency of
    # new jobs, CloudWatch forward-token lifetime
    "lost_response",
    "lost_request",
    "visibility_lag",
    "log_token_ttl",
}


def _lookup(table: Dict[str, Any], name: str) -> Optional[Any]:
    """The value for ``name`` in a table keyed by exact names or globs (``batch.*``, ``*``);
    an exact key wins over a glob."""
    if name in table:
        return table[name]
    for pattern, value in table.items():
        if fnmatch.fnmatchcase(name, pattern):
            return value
    return None


def _check_client_errors(table: Any) -> None:
    """Raise ValueError unless ``table`` maps operation globs to ``{"code": ..., "status":
    4xx, "message": ..., "calls": [n, ...]}`` (only ``code`` required)."""
    if not isinstance(table, dict):
        raise ValueError("client_error must map operations to {code, status, message, calls}")
    for op, sub in table.items():
        if not isinstance(sub, dict) or not isinstance(sub.get("code"), str) or not sub["code"]:
            raise ValueError(f"client_error[{op!r}] needs a non-empty string 'code'")
        status = sub.get("status", 400)
        if not isinstance(status, int) or not 400 <= status <= 499:
            raise ValueError(f"client_error[{op!r}] status must be a 4xx")
        if not all(isinstance(n, int) and n >= 1 for n in sub.get("calls", [])):
            raise ValueError(f"client_error[{op!r}] calls must be call numbers (1, 2, ...)")


def _client_error(table: Dict[str, Any], op: str, n: int) -> Optional[Tuple[int, str, str]]:
    """The 4xx answer ``client_error`` gives the ``n``-th call of ``op`` (every call when
    ``calls`` is empty or absent), or None."""
    sub = _lookup(table, op)
    if sub is None or (sub.get("calls") and n not in sub["calls"]):
        return None
    code = str(sub["code"])
    return int(sub.get("status", 400)), code, str(sub.get("message", f"{code} (injected)"))


class FaultInjector:
    """Holds the current fault spec and answers "should this request/attempt fail?"."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._spec: Dict[str, Any] = {}
        self._counters: Dict[str, int] = collections.Counter()
        self._windows: Dict[str, Deque[float]] = {}
        self._buckets: Dict[str, Tuple[float, float]] = {}  # pattern -> (tokens, at)

    @property
    def spec(self) -> Dict[str, Any]:
        """A copy of the current spec."""
        with self._lock:
            return json.loads(json.dumps(self._spec))

    def set(self, spec: Dict[str, Any]) -> None:
        """Replace the spec (``{}`` clears). Raises ValueError on unknown keys or bad regexes."""
        if not isinstance(spec, dict):
            raise ValueError("fault spec must be a JSON object")
        unknown = set(spec) - _SPEC_KEYS
        if unknown:
            raise ValueError(f"unknown fault spec keys: {sorted(unknown)}")
        for key in ("spot", "oom", "cannot_pull", "s3_fail"):
            sub = spec.get(key)
            if sub is not None:
                re.compile(sub.get("job_name" if key != "s3_fail" else "key", ".*"))
        _check_client_errors(spec.get("client_error", {}))
        budget = spec.get("budget", {})
        if not isinstance(budget, dict) or not all(
            isinstance(v, (int, float)) and v > 0 for v in budget.values()
        ):
            raise ValueError("budget must map operation globs to requests per second (> 0)")
        with self._lock:
            self._spec = json.loads(json.dumps(spec))
            self._counters = collections.Counter()
            self._windows = {}
            self._buckets = {}

    def clear(self) -> None:
        """Remove every fault."""
        self.set({})

    def _draw(self, *key: object) -> float:
        return random.Random(":".join(str(k) for k in (self._spec.get("seed", 0),) + key)).random()

    def request_fault(self, op: str, s3_key: Optional[str]) -> Optional[Tuple[int, str, str]]:
        """``(http_status, error_code, message)`` if this call of ``op`` must fail, else None."""
        with self._lock:
            spec = self._spec
            if not spec:
                return None
            self._counters[op] += 1
            n = self._counters[op]
            s3_fail = spec.get("s3_fail")
            if s3_fail and s3_key is not None and op.startswith("s3."):
                ops = s3_fail.get("ops", ["PutObject", "UploadPart", "CompleteMultipartUpload"])
                if op.split(".", 1)[1] in ops and re.search(s3_fail.get("key", ".*"), s3_key):
                    return (
                        500,
                        "InternalError",
                        "We encountered an internal error. Please try again.",
                    )
            client_error = _client_error(spec.get("client_error", {}), op, n)
            if client_error is not None:
                return client_error
            fraction = _lookup(spec.get("throttle", {}), op)
            if fraction and self._draw("throttle", op, n) < float(fraction):
                return 429, "TooManyRequestsException", "Too Many Requests"
            if not self._within_budget(spec.get("budget", {}), op):
                return 429, "TooManyRequestsException", "Too Many Requests"
            cap = _lookup(spec.get("tps", {}), op)
            if cap is not None:
                now = self._clock()
                window = self._windows.setdefault(op, collections.deque())
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= int(cap):
                    return 429, "TooManyRequestsException", "Rate exceeded"
                window.append(now)
            fraction = _lookup(spec.get("server_error", {}), op)
            if fraction and self._draw("server_error", op, n) < float(fraction):
                if self._draw("server_error_kind", op, n) < 0.5:
                    return 500, "InternalFailure", "An internal error occurred."
                return 503, "ServiceUnavailable", "Service is unavailable."
            return None

    def _within_budget(self, budget: Dict[str, float], op: str) -> bool:
        """Take a token from every ``budget`` bucket whose glob matches ``op`` (the account-wide
        Batch API rate: one bucket shared by all the operations it matches, refilled at its rate,
        holding at most one second of it). False, taking nothing, when one is empty."""
        matching = [p for p in budget if p == op or fnmatch.fnmatchcase(op, p)]
        if not matching:
            return True
        now = self._clock()
        levels = {}
        for pattern in matching:
            rate = float(budget[pattern])
            tokens, at = self._buckets.get(pattern, (max(1.0, rate), now))
            levels[pattern] = min(max(1.0, rate), tokens + (now - at) * rate)
        if any(level < 1.0 for level in levels.values()):
            for pattern, level in levels.items():
                self._buckets[pattern] = (level, now)
            return False
        for pattern, level in levels.items():
            self._buckets[pattern] = (level - 1.0, now)
        return True

    def latency(self, op: str) -> float:
        """Seconds to hold a call of ``op`` before answering it (``latency``: a number for every
        call, or a table of operation globs): AWS API calls take tens to hundreds of
        milliseconds, and shutdown and throughput measurements are only realistic with that."""
        with self._lock:
            spec = self._spec.get("latency")
        if spec is None:
            return 0.0
        value = spec if isinstance(spec, (int, float)) else _lookup(spec, op)
        return max(0.0, float(value or 0.0))

    def lost_response(self, op: str) -> bool:
        """Whether this call of ``op`` is processed and its response then lost (``lost_response``:
        a fraction for every call, or a table of operation globs to fractions). Drawn per
        operation and call number, like ``throttle``."""
        return self._lost("lost_response", op)

    def lost_request(self, op: str) -> bool:
        """Whether this call of ``op`` is lost before AWS processes it (``lost_request``, same
        shape as ``lost_response``): the client sees the same reset and cannot tell which."""
        return self._lost("lost_request", op)

    def _lost(self, kind: str, op: str) -> bool:
        with self._lock:
            spec = self._spec.get(kind)
            if not spec:
                return False
            fraction = spec if isinstance(spec, (int, float)) else _lookup(spec, op)
            if not fraction:
                return False
            key = f"{kind}:{op}"
            self._counters[key] += 1
            return self._draw(kind, op, self._counters[key]) < float(fraction)

    def visibility_lag(self) -> float:
        """Seconds a new job stays invisible to ListJobs and DescribeJobs (``visibility_lag``)."""
        with self._lock:
            return max(0.0, float(self._spec.get("visibility_lag", 0.0) or 0.0))

    def log_token_ttl(self) -> Optional[float]:
        """Seconds a GetLogEvents token stays valid (``log_token_ttl``; None: AWS's 24 hours)."""
        with self._lock:
            value = self._spec.get("log_token_ttl")
        return None if value is None else max(0.0, float(value))

    def spot_after(
        self, job_name: str, attempt: int, index: Optional[int] = None
    ) -> Optional[float]:
        """Seconds of RUNNING after which this attempt's host is reclaimed, or None. ``index``:
        an array child's, so that each child draws on its own (they share the parent's name)."""
        return self._attempt_fault("spot", job_name, attempt, index)

    def oom_after(
        self, job_name: str, attempt: int, index: Optional[int] = None
    ) -> Optional[float]:
        """Seconds of RUNNING after which this attempt is killed for memory use, or None."""
        return self._attempt_fault("oom", job_name, attempt, index)

    def _attempt_fault(
        self, kind: str, job_name: str, attempt: int, index: Optional[int] = None
    ) -> Optional[float]:
        with self._lock:
            sub = self._spec.get(kind)
            if not sub or not re.search(sub.get("job_name", ".*"), job_name):
                return None
            attempts: List[int] = sub.get("attempts") or []
            if attempts and attempt not in attempts:
                return None
            key = job_name if index is None else f"{job_name}:{index}"
            if self._draw(kind, key, attempt) >= float(sub.get("fraction", 1.0)):
                return None
            return float(sub.get("after", 0.0))

    def cannot_pull(self, job_name: str) -> bool:
        """Whether this job's image pull fails."""
        with self._lock:
            sub = self._spec.get("cannot_pull")
            if not sub:
                return False
            return re.search(sub.get("job_name", ".*"), job_name) is not None

    def log_delivery(self) -> Tuple[float, bool]:
        """``(lag_seconds, disorder)`` for CloudWatch delivery."""
        with self._lock:
            return float(self._spec.get("log_lag", 0.0) or 0.0), bool(
                self._spec.get("log_disorder")
            )


def error_response(
    protocol: str, status: int, code: str, message: str
) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """An AWS-shaped error response for the request's protocol: ``(status, headers, body)``."""
    request_id = f"emu-{random.getrandbits(64):016x}"
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    else:  # rest-xml (S3) and anything unknown
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body
