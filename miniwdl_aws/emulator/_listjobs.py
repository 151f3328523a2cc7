"""AWS's ListJobs behaviour in strict mode, which moto lacks: pages of ``maxResults`` (default
100) with ``nextToken``, and only RUNNING jobs when neither a status, a filter nor an array job is
given. Code that forgets to paginate, or expects every status from a bare listing, fails here as
it would on AWS."""

from __future__ import annotations

import base64
import io
import json
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

DEFAULT_PAGE = 100
MAX_PAGE = 1000

StartResponse = Callable[..., Any]
App = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


def _decode_token(token: Optional[str]) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[1]))
    except (ValueError, IndexError):
        raise ValueError("invalid nextToken") from None


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"emulator-listjobs:{offset}".encode()).decode()


def list_jobs(
    inner: App, environ: Dict[str, Any], start_response: StartResponse, body: Dict[str, Any]
) -> Iterable[bytes]:
    """Forward a ListJobs request to moto and cut the answer into an AWS-style page."""
    try:
        offset = _decode_token(body.pop("nextToken", None))
    except ValueError as exc:
        return _error(start_response, str(exc))
    page = int(body.pop("maxResults", None) or DEFAULT_PAGE)
    if not 1 <= page <= MAX_PAGE:
        return _error(start_response, f"maxResults must be between 1 and {MAX_PAGE}")
    if not body.get("jobStatus") and not body.get("filters") and not body.get("arrayJobId"):
        body["jobStatus"] = "RUNNING"
    # AWS: "The filter doesn't apply to child jobs in an array": a name filter finds the parent
    parents_only = bool(body.get("filters")) and not body.get("arrayJobId")
    raw = json.dumps(body).encode()
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))

    captured: List[Tuple[str, List[Tuple[str, str]]]] = []

    def capture(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
        captured.append((status, headers))
        return lambda _data: None

    result = inner(environ, capture)
    try:
        payload = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = captured[0]
    if not status.startswith("200"):
        start_response(status, headers)
        return [payload]
    answer = json.loads(payload)
    jobs = answer.get("jobSummaryList", [])
    if parents_only:
        jobs = [j for j in jobs if "index" not in (j.get("arrayProperties") or {})]
    answer["jobSummaryList"] = jobs[offset : offset + page]
    if offset + page < len(jobs):
        answer["nextToken"] = _encode_token(offset + page)
    out = json.dumps(answer).encode()
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(out))))
    start_response(status, headers)
    return [out]


def _error(start_response: StartResponse, message: str) -> List[bytes]:
    out = json.dumps({"__type": "ClientException", "message": message}).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "ClientException"),
            ("Content-Length", str(len(out))),
        ],
    )
    return [out]
