"""A loopback TCP proxy that resets connections, for the transient-error scenarios (the emulator
answers 5xx itself; connection resets need something between the client and it)."""

from __future__ import annotations

import socket
import struct
import threading


class ResetProxy:
    """A loopback TCP proxy in front of the emulator that resets a seeded fraction of requests.

    Each chunk a client sends that starts with an HTTP method opens a new request (botocore
    sends a request's head in one write). For a drawn fraction of them the client connection is
    closed with an RST (``SO_LINGER`` 0), so the client sees ``ConnectionResetError``:

    - ``after=False``: before the bytes reach the emulator (the call never happened);
    - ``after=True``: after the emulator got the request, instead of relaying its response (the
      call happened, its answer was lost, as when a load balancer drops a connection late).

    ``only`` limits the draw to requests whose request line contains it (e.g. ``/v1/submitjob``).
    """

    def __init__(
        self,
        upstream_port: int,
        fraction: float,
        seed: int = 1,
        after: bool = False,
        only: bytes = b"",
    ) -> None:
        import random

        self.only = only.lower()
        self.upstream_port = upstream_port
        self.fraction = fraction
        self.after = after
        self.resets = 0
        self.requests = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<proxy port>``."""
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            conn = _Conn(client, upstream)
            threading.Thread(target=self._pump_up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(conn,), daemon=True).start()

    def _draw_reset(self) -> bool:
        with self._lock:
            self.requests += 1
            if self._random.random() < self.fraction:
                self.resets += 1
                return True
            return False

    def _pump_up(self, conn: _Conn) -> None:
        try:
            while True:
                data = conn.client.recv(65536)
                if not data:
                    break
                first = data.split(b"\r\n", 1)[0]
                eligible = first.split(b" ", 1)[0] in _HTTP_METHODS and self.only in first.lower()
                if eligible and self._draw_reset():
                    if not self.after:
                        conn.reset()
                        return
                    conn.doomed.set()
                conn.upstream.sendall(data)
        except OSError:
            pass
        conn.half_close(conn.upstream)

    def _pump_down(self, conn: _Conn) -> None:
        try:
            while True:
                data = conn.upstream.recv(65536)
                if data and conn.doomed.is_set():
                    conn.reset()
                    return
                if not data:
                    break
                conn.client.sendall(data)
        except OSError:
            pass
        conn.half_close(conn.client)

    def close(self) -> None:
        """Stop accepting connections."""
        self._stopped = True
        self._server.close()


_HTTP_METHODS = (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE")


class _Conn:
    """One proxied connection: its two sockets, closed once both directions are done."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.doomed = threading.Event()  # set: reset instead of relaying the next response
        self._done = 0
        self._lock = threading.Lock()

    def half_close(self, dst: socket.socket) -> None:
        """One direction ended normally: pass the end on, close when both have."""
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:
            self._done += 1
            last = self._done == 2
        if last:
            self.client.close()
            self.upstream.close()

    def reset(self) -> None:
        """Abort: RST to the client (linger 0), wake the other pump, close both."""
        try:
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # SHUT_RD sends nothing but wakes the pump blocked in recv on this socket, so the
            # close below really releases it and the kernel sends the RST
            self.client.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        try:
            self.upstream.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.client.close()
        self.upstream.close()
