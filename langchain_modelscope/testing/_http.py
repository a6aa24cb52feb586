"""HTTP plumbing: the threading server, request bodies, and writing answers and SSE streams.

Knows nothing about ModelScope: it reads a request, calls `dispatch(handler)`, and writes
whatever `Outcome` it is given.
"""

from __future__ import annotations

import contextlib
import http
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from langchain_modelscope.testing._wire import Answer, Outcome, Reset, Stream

REQUEST_ID_HEADER = "x-request-id"

Dispatch = Callable[[BaseHTTPRequestHandler], None]


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Daemon threads, a deep accept queue, and a way to drop idle keep-alive connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "modelscope-emulator"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        cast(EmulatorHTTPServer, self.server).dispatch(self)

    def do_GET(self) -> None:
        """Every method goes to the emulator's dispatcher."""
        self._dispatch()

    def do_POST(self) -> None:
        """See do_GET."""
        self._dispatch()

    def do_PUT(self) -> None:
        """See do_GET."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """See do_GET."""
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output stays clean."""


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, plain or chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size_line = handler.rfile.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _head(status: int, headers: dict[str, str], close: bool) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", "Server: modelscope-emulator"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n"


def write_outcome(
    handler: BaseHTTPRequestHandler,
    outcome: Outcome,
    head: dict[str, str],
    slow: float,
    finish: Callable[[int], None],
) -> None:
    """Write `outcome` after `slow` seconds; `head` headers go first (request id, Date).

    `finish(status)` runs just before the last bytes go out, so a client that has read the
    answer always finds the emulator's books up to date.
    """
    if slow > 0:
        time.sleep(slow)
    try:
        if isinstance(outcome, Reset):
            finish(0)
            _reset_connection(handler)
            return
        if isinstance(outcome, Answer):
            headers = {
                "Content-Type": outcome.content_type,
                "Content-Length": str(len(outcome.body)),
                **head,
                **outcome.headers,
            }
            finish(outcome.status)
            handler.wfile.write(
                _head(outcome.status, headers, handler.close_connection) + outcome.body
            )
            return
        _write_stream(handler, outcome, head, finish)
    except OSError:
        handler.close_connection = True
        finish(499)


def _write_stream(
    handler: BaseHTTPRequestHandler,
    stream: Stream,
    head: dict[str, str],
    finish: Callable[[int], None],
) -> None:
    headers = {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "Transfer-Encoding": "chunked",
        **head,
        **stream.headers,
    }
    first = _head(200, headers, handler.close_connection)
    if stream.keepalive:
        first += _chunk(b": keep-alive\n\n")
    handler.wfile.write(first)
    stop = stream.cut_after if stream.cut_after is not None else stream.error_after
    events = stream.events if stop is None else stream.events[:stop]
    for event in events:
        handler.wfile.write(_chunk(f"data: {event}\n\n".encode()))
    finish(200)
    if stream.cut_after is not None:
        handler.close_connection = True
    elif stream.error_after is not None:
        handler.wfile.write(_chunk(stream.error_event.encode("utf-8")) + b"0\r\n\r\n")
    else:
        handler.wfile.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")


def _reset_connection(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    conn = handler.connection
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    handler.rfile.close()
