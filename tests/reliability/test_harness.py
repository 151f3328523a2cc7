"""The harness pieces that need no local AWS: the connection-reset proxy and process capture."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from typing import Iterator

import pytest

from .proxy import ResetProxy


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _get(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.read() == b"hello"
    except (ConnectionResetError, urllib.error.URLError, ConnectionError):
        return False


def test_proxy_passes_everything_at_zero(upstream: int) -> None:
    proxy = ResetProxy(upstream, 0.0)
    try:
        assert all(_get(proxy.endpoint) for _ in range(10))
        assert proxy.resets == 0 and proxy.requests == 10
    finally:
        proxy.close()


def test_proxy_resets_the_drawn_fraction(upstream: int) -> None:
    proxy = ResetProxy(upstream, 0.5, seed=4)
    try:
        results = [_get(proxy.endpoint) for _ in range(40)]
        assert results.count(False) == proxy.resets
        assert 0 < proxy.resets < 40
    finally:
        proxy.close()


def test_proxy_after_mode_executes_then_resets(upstream: int) -> None:
    proxy = ResetProxy(upstream, 1.0, after=True)
    try:
        assert not _get(proxy.endpoint)
        assert proxy.resets == 1
    finally:
        proxy.close()
