"""Name each incoming HTTP request as ``<service>.<Operation>`` (botocore's names).

The service comes from the SigV4 credential scope (every boto3/awscli request is signed); the
operation from ``X-Amz-Target`` (JSON protocols), the ``Action`` parameter (query protocols), or by
matching method, path and required query/header members against botocore's REST request URIs
(Batch, EFS, S3). Matchers are built lazily, once per service, from botocore's service models.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote

import botocore.session

# SigV4 signing name -> botocore service name, where they differ.
_SIGNING_TO_SERVICE = {"elasticfilesystem": "efs", "monitoring": "cloudwatch"}
_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE_RE = re.compile(r"^[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request$")


@dataclass
class RequestInfo:
    """What the request router learned about one request."""

    service: str
    operation: str
    protocol: str
    path: str
    query: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``<service>.<Operation>``, the key used by stats and faults."""
        return f"{self.service}.{self.operation}"


@dataclass
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    literal_query: Dict[str, Optional[str]]
    required_query: List[str]
    required_headers: List[str]
    literal_segments: int

    def score(
        self, method: str, path: str, query: Dict[str, List[str]], headers: Dict[str, str]
    ) -> int:
        """-1 when the route does not match, else a specificity score (higher is better)."""
        if method != self.method or not self.pattern.fullmatch(path):
            return -1
        for key, value in self.literal_query.items():
            if key not in query or (value is not None and value not in query[key]):
                return -1
        for key in self.required_query:
            if key not in query:
                return -1
        for key in self.required_headers:
            if key not in headers:
                return -1
        return (
            100 * (len(self.literal_query) + len(self.required_query) + len(self.required_headers))
            + self.literal_segments
        )


def _compile_uri(request_uri: str) -> Tuple[re.Pattern[str], Dict[str, Optional[str]], int]:
    path, _, qs = request_uri.partition("?")
    literal_query: Dict[str, Optional[str]] = {}
    for part in filter(None, qs.split("&")):
        key, eq, value = part.partition("=")
        if key == "x-id":  # an SDK hint, not sent by every client
            continue
        literal_query[key] = value if eq else None
    regex = ""
    literal = 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            regex += ".+" if piece.endswith("+}") else "[^/]+"
        elif piece:
            regex += re.escape(piece)
            literal += piece.count("/") + (1 if piece.strip("/") else 0)
    if regex.endswith("/") and len(regex) > 1:
        regex += "?"
    return re.compile(regex or "/"), literal_query, literal


def _guess_unsigned(path: str, headers: Dict[str, str]) -> str:
    """Best guess of the service of an unsigned request (e.g. ``--no-sign-request``)."""
    target = headers.get("x-amz-target", "")
    if target.startswith("Logs_"):
        return "logs"
    if path.startswith("/v1/"):
        return "batch"
    if path.startswith("/2015-02-01/"):
        return "elasticfilesystem"
    if target:
        return ""
    return "s3"  # what is usually fetched anonymously


class OperationNamer:
    """Maps raw WSGI requests to :class:`RequestInfo`. Thread-safe."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._routes: Dict[str, List[_Route]] = {}
        self._protocols: Dict[str, str] = {}
        self._lock = threading.Lock()

    def _service_routes(self, service: str) -> Tuple[str, List[_Route]]:
        with self._lock:
            if service not in self._protocols:
                try:
                    model = self._session.get_service_model(service)
                except Exception:
                    self._protocols[service] = "unknown"
                    self._routes[service] = []
                else:
                    self._protocols[service] = model.protocol
                    routes = []
                    if model.protocol.startswith("rest"):
                        for op_name in model.operation_names:
                            op = model.operation_model(op_name)
                            pattern, literal_query, literal = _compile_uri(op.http["requestUri"])
                            req_q: List[str] = []
                            req_h: List[str] = []
                            shape = op.input_shape
                            if shape is not None:
                                for member in shape.required_members:
                                    ser = shape.members[member].serialization
                                    if ser.get("location") == "querystring":
                                        req_q.append(ser.get("name", member))
                                    elif ser.get("location") == "header":
                                        req_h.append(ser.get("name", member).lower())
                            routes.append(
                                _Route(
                                    op_name,
                                    op.http["method"],
                                    pattern,
                                    literal_query,
                                    req_q,
                                    req_h,
                                    literal,
                                )
                            )
                    self._routes[service] = routes
            return self._protocols[service], self._routes[service]

    def identify(self, environ: Dict[str, object], body: Optional[bytes]) -> RequestInfo:
        """Name the request. ``body`` is only needed for query protocols whose ``Action`` is in
        a form-encoded body; pass None when it was not read."""
        path = unquote(str(environ.get("PATH_INFO") or "/"))
        query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
        headers = {
            k[5:].replace("_", "-").lower(): str(v)
            for k, v in environ.items()
            if k.startswith("HTTP_")
        }
        signing = ""
        m = _SCOPE_RE.search(headers.get("authorization", ""))
        if m:
            signing = m.group(1)
        elif "X-Amz-Credential" in query:
            mq = _QUERY_SCOPE_RE.match(query["X-Amz-Credential"][0])
            signing = mq.group(1) if mq else ""
        if not signing:
            signing = _guess_unsigned(path, headers)
        service = _SIGNING_TO_SERVICE.get(signing, signing) or "unknown"
        protocol, routes = self._service_routes(service) if signing else ("unknown", [])

        target = headers.get("x-amz-target", "")
        if target:
            return RequestInfo(service, target.rsplit(".", 1)[-1], protocol, path, query)
        action = query.get("Action", [""])[0]
        if not action and body:
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action:
            return RequestInfo(service, action, protocol, path, query)
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        best, best_score = "", -1
        for route in routes:
            score = route.score(method, path, query, headers)
            if score > best_score:
                best, best_score = route.operation, score
        return RequestInfo(service, best or f"{method}:{path}", protocol, path, query)
