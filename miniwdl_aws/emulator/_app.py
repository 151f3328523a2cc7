"""The WSGI layer in front of moto: call counting, fault injection, strict validation, and the
``/_emulator/`` side channel (stats, faults, config, active jobs).

An AWS call goes through named steps: buffer the body, name the operation, count it and draw a
fault, refuse a signature for a region that does not exist, page ListJobs or validate
SubmitJob/RegisterJobDefinition and EFS creations (strict mode), forward it to moto, and, under
the ``lost_request``/``lost_response`` faults, reset the connection before or after moto
processed it. None of them changes a
job: that is the executor's business."""

from __future__ import annotations

import collections
import functools
import io
import json
import os
import re
import socket
import struct
import threading
import time
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

import boto3

from ._executor import Executor
from ._faults import FaultInjector, error_response
from ._listjobs import list_jobs
from ._ops import OperationNamer, RequestInfo
from ._state import INTERNAL_HEADER, REQUEST, Settings
from ._validate import validate_efs, validate_register, validate_submit

_INTERNAL_ENVIRON = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")
_REGION_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/")

StartResponse = Callable[..., Any]


@functools.lru_cache(maxsize=1)
def _known_regions() -> FrozenSet[str]:
    """Every region of every partition botocore knows (EC2 is in all of them)."""
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition)
    )


def _unknown_region(region: Optional[str], protocol: str) -> Optional[Tuple[int, str, str]]:
    """AWS's answer to a request signed for a region that does not exist: the signature's
    credential scope is refused (moto itself fails with an HTML 500 page). JSON services say
    ``InvalidSignatureException``, query services ``SignatureDoesNotMatch`` (both 403); S3
    ``AuthorizationHeaderMalformed`` (400)."""
    if region is None or region in _known_regions():
        return None
    message = f"Credential should be scoped to a valid region, not '{region}'."
    if protocol in ("json", "rest-json"):
        return 403, "InvalidSignatureException", message
    if protocol in ("query", "ec2"):
        return 403, "SignatureDoesNotMatch", message
    return 400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; {message}"


def _service_throttle(service: str, fault: Tuple[int, str, str]) -> Tuple[int, str, str]:
    """A throttling fault as the service says it: Batch answers 429
    ``TooManyRequestsException``; CloudWatch Logs answers 400 ``ThrottlingException``."""
    if service == "logs" and fault[1] == "TooManyRequestsException":
        return 400, "ThrottlingException", "Rate exceeded"
    return fault


def _lose_response(environ: Dict[str, Any]) -> None:
    """Reset the client's connection (RST) instead of sending the response, then tell werkzeug
    the client is gone (it then writes nothing more)."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            # linger 0: closing the connection's descriptor resets it (RST), as a load balancer
            # dropping the connection does
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # the request handler still holds this socket object, and on keep-alive would read
            # the next request from it: put a socket at end-of-file in its descriptor's place
            # (dup2 closes the connection's descriptor, which sends the RST), so the handler
            # reads EOF and ends quietly
            dead, peer = socket.socketpair()
            peer.close()
            os.dup2(dead.fileno(), sock.fileno())
            dead.close()
        except OSError:
            pass
    raise ConnectionResetError("emulator fault: connection reset")


class CallStats:
    """Thread-safe per-operation call counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Dict[str, int] = collections.Counter()
        self._lost: Dict[str, int] = collections.Counter()

    def count(self, name: str) -> None:
        """Record one call of ``name``."""
        with self._lock:
            self._calls[name] += 1

    def count_lost(self, name: str) -> None:
        """Record one call of ``name`` processed whose response the ``lost_response`` fault
        dropped (``request:<name>``: one the ``lost_request`` fault dropped unprocessed)."""
        with self._lock:
            self._lost[name] += 1

    def snapshot(self) -> Dict[str, Any]:
        """``{"calls": {name: count}}``, plus ``"lost_responses": {name: count}`` once any
        response was lost."""
        with self._lock:
            out: Dict[str, Any] = {"calls": dict(sorted(self._calls.items()))}
            if self._lost:
                out["lost_responses"] = dict(sorted(self._lost.items()))
            return out

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._calls.clear()
            self._lost.clear()


def _buffer_body(environ: Dict[str, Any]) -> Optional[bytes]:
    """Read the request body (unless it is an S3 upload or huge) and put it back for moto."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    # S3 bodies go to moto unread: naming an S3 call needs no payload, and objects can be large.
    if not 0 < length <= 10 * 1024 * 1024 or "/s3/aws4_request" in auth:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _parse_json(body: Optional[bytes]) -> Any:
    """The JSON request body, ``{}`` when absent or malformed (moto reports the error)."""
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {}


def _aws_error(
    start_response: StartResponse, phrase: str, protocol: str, status: int, code: str, message: str
) -> List[bytes]:
    """Answer with an AWS-shaped error instead of asking moto."""
    status, headers, payload = error_response(protocol, status, code, message)
    start_response(f"{status} {phrase}", headers)
    return [payload]


def _drain(answer: Iterable[bytes]) -> None:
    """Run a response to its end (moto's work is done lazily by some iterables) and close it."""
    try:
        for _chunk in answer:
            pass
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()


def _respond(start_response: StartResponse, status: int, payload: Any) -> List[bytes]:
    body = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(
        status, ""
    )
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


class EmulatorApp:
    """WSGI app wrapping moto's ``DomainDispatcherApplication``."""

    def __init__(
        self,
        inner: Callable[[Dict[str, Any], StartResponse], Iterable[bytes]],
        settings: Settings,
        faults: FaultInjector,
        stats: CallStats,
        executor: Executor,
        default_region: str,
    ) -> None:
        self.inner = inner
        self.settings = settings
        self.faults = faults
        self.stats = stats
        self.executor = executor
        self.default_region = default_region
        self.namer = OperationNamer()

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve the side channel, pass moto's own API through, and put every AWS call through
        counting, fault injection and strict validation before moto answers it."""
        path = str(environ.get("PATH_INFO") or "/")
        if path.startswith("/_emulator/"):
            return self._side_channel(environ, start_response, path)
        if path.startswith("/moto-api"):
            return self.inner(environ, start_response)
        body = _buffer_body(environ)
        info = self.namer.identify(environ, body)
        external = environ.get(_INTERNAL_ENVIRON) != "1"
        if external:
            delay = self.faults.latency(info.name)
            if delay:
                time.sleep(delay)  # the server's threads are per request: calls overlap
            fault = self._count_and_draw_fault(info)
            if fault is not None:
                fault = _service_throttle(info.service, fault)
                return _aws_error(start_response, "Error", info.protocol, *fault)
            refused = _unknown_region(self._signed_region(environ), info.protocol)
            if refused is not None:
                return _aws_error(start_response, "Refused", info.protocol, *refused)
            if self.faults.lost_request(info.name):
                self.stats.count_lost("request:" + info.name)
                _lose_response(environ)  # before AWS saw it: nothing happened
        answer = self._answer(environ, start_response, info, body)
        if external and self.faults.lost_response(info.name):
            _drain(answer)  # AWS did the work; only its answer is lost
            self.stats.count_lost(info.name)
            _lose_response(environ)
        return answer

    def _answer(
        self,
        environ: Dict[str, Any],
        start_response: StartResponse,
        info: RequestInfo,
        body: Optional[bytes],
    ) -> Iterable[bytes]:
        """What AWS answers: ListJobs paged, SubmitJob/RegisterJobDefinition validated (strict
        mode), everything else as moto answers it."""
        if info.name == "batch.ListJobs" and self.settings.strict:
            return list_jobs(self.inner, environ, start_response, _parse_json(body))
        submit_body: Optional[Dict[str, Any]] = None
        if info.service == "batch" and info.operation in ("SubmitJob", "RegisterJobDefinition"):
            parsed = _parse_json(body)
            problem = self._strict_problem(info.operation, parsed, body, environ)
            if problem is not None:
                return _aws_error(
                    start_response, "Bad Request", "rest-json", 400, "ClientException", problem
                )
            submit_body = parsed if info.operation == "SubmitJob" else None
        if info.service == "efs" and self.settings.strict:
            refused = validate_efs(
                info.operation,
                _parse_json(body),
                self._signed_region(environ) or self.default_region,
            )
            if refused is not None:
                return _aws_error(start_response, "Bad Request", info.protocol, 400, *refused)
        return self._forward(environ, start_response, submit_body)

    def _signed_region(self, environ: Dict[str, Any]) -> Optional[str]:
        m = _REGION_RE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
        return m.group(1) if m else None

    def _count_and_draw_fault(self, info: RequestInfo) -> Optional[Tuple[int, str, str]]:
        """Count a client's call and decide whether fault injection fails it."""
        self.stats.count(info.name)
        s3_key = None
        if info.service == "s3":
            parts = info.path.split("/", 2)
            s3_key = parts[2] if len(parts) > 2 else ""
        return self.faults.request_fault(info.name, s3_key)

    def _strict_problem(
        self, operation: str, parsed: Any, body: Optional[bytes], environ: Dict[str, Any]
    ) -> Optional[str]:
        """Why AWS would reject this SubmitJob/RegisterJobDefinition (strict mode), or None."""
        if not self.settings.strict:
            return None
        region = self._signed_region(environ) or self.default_region
        if operation == "SubmitJob":
            return validate_submit(parsed, len(body or b""), region, self.settings.min_timeout)
        return validate_register(parsed, region, self.settings.min_timeout, len(body or b""))

    def _forward(
        self,
        environ: Dict[str, Any],
        start_response: StartResponse,
        submit_body: Optional[Dict[str, Any]],
    ) -> Iterable[bytes]:
        """Let moto answer, with the SubmitJob body visible to the ``LocalJob`` it builds."""
        REQUEST.submit_body = submit_body
        try:
            return self.inner(environ, start_response)
        finally:
            REQUEST.submit_body = None

    def _side_channel(
        self, environ: Dict[str, Any], start_response: StartResponse, path: str
    ) -> List[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return _respond(start_response, 400, {"error": f"invalid JSON: {exc}"})
        route: Tuple[str, str] = (method, path.rstrip("/"))
        try:
            if route == ("GET", "/_emulator/stats"):
                return _respond(start_response, 200, self.stats.snapshot())
            if route == ("POST", "/_emulator/stats/reset"):
                self.stats.reset()
                return _respond(start_response, 200, self.stats.snapshot())
            if route == ("GET", "/_emulator/faults"):
                return _respond(start_response, 200, self.faults.spec)
            if route == ("POST", "/_emulator/faults"):
                self.faults.set(payload)
                return _respond(start_response, 200, self.faults.spec)
            if route == ("GET", "/_emulator/config"):
                return _respond(start_response, 200, self.settings.as_dict())
            if route == ("POST", "/_emulator/config"):
                self.settings.update(payload)
                return _respond(start_response, 200, self.settings.as_dict())
            if route == ("GET", "/_emulator/jobs"):
                return _respond(start_response, 200, {"active": self.executor.active_jobs()})
        except (ValueError, TypeError, re.error) as exc:
            return _respond(start_response, 400, {"error": str(exc)})
        return _respond(
            start_response, 404, {"error": f"no such emulator endpoint: {method} {path}"}
        )
