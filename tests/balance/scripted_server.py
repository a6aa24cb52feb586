"""A tiny loopback HTTP server that answers what a test scripts, and records what it got.

For answers the emulator does not (yet) give, written from the facts sheet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    content_type: str = "application/json"


@dataclass
class ScriptedServer:
    url: str
    #: path -> answers in order (the last one repeats)
    answers: dict[str, list[Scripted]] = field(default_factory=dict)
    #: (method, path, headers) of every request
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def script(self, path: str, *answers: Scripted) -> None:
        self.answers[path] = list(answers)

    def _next(self, path: str) -> Scripted:
        queue = self.answers.get(path)
        if not queue:
            return Scripted(404, {"errors": {"message": f"no script for {path}"}})
        return queue.pop(0) if len(queue) > 1 else queue[0]


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            state.seen.append((self.command, path, {k.lower(): v for k, v in self.headers.items()}))
            answer = state._next(path)
            body = answer.body
            if isinstance(body, dict | list):
                body = json.dumps(body)
            data = body.encode() if isinstance(body, str) else body
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _answer  # noqa: N815 - http.server's names
        do_POST = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
