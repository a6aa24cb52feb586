"""A minimal, fast OpenAI-compatible server for the benchmarks, run in its own process.

Why not the emulator: it is a thread-per-connection server that builds every answer, so under
500 concurrent calls it would be the bottleneck, and its cost would hide the clients'. This
server answers from precomputed bytes on one asyncio loop: a fixed short chat completion, a
fixed 1,000-chunk SSE stream, and embeddings of any batch size (float JSON or base64, as
asked). It reads just enough HTTP/1.1 (Content-Length bodies, keep-alive) for httpx and the
openai SDK.

Run: ``python -m bench._server --ready-file PATH`` writes ``http://127.0.0.1:<port>/v1`` to
PATH once listening. It exits on SIGTERM/SIGINT, or by itself when its parent process dies.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any, Final

from bench._harness import raise_fd_limit

CHAT_MODEL: Final = "Qwen/Qwen2.5-72B-Instruct"
EMBEDDING_MODEL: Final = "Qwen/Qwen3-Embedding-0.6B"
SHORT_ANSWER: Final = "Hello! How can I help you today?"
CREATED: Final = 1735689600
#: ModelScope sends these on every successful answer; clients that read them pay for it.
RATELIMIT_HEADERS: Final = (
    ("modelscope-ratelimit-requests-limit", "2000"),
    ("modelscope-ratelimit-requests-remaining", "1999"),
    ("modelscope-ratelimit-model-requests-limit", "500"),
    ("modelscope-ratelimit-model-requests-remaining", "499"),
)
_MAX_HEAD: Final = 64 * 1024
_DISTINCT_VECTORS: Final = 16


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "server: bench-fast"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _json_answer(body: bytes, status: int = 200, reason: str = "OK") -> bytes:
    headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("x-request-id", "bench-0000"),
    ]
    if status == 200:
        headers.extend(RATELIMIT_HEADERS)
    return _head(status, reason, headers) + body


def _http_chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n"


def chat_completion_body() -> bytes:
    """The short answer every non-streamed chat call gets."""
    return _dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": CHAT_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": SHORT_ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23},
        }
    )


def stream_events(chunks: int, include_usage: bool) -> list[bytes]:
    """The SSE `data:` payloads of one streamed answer: `chunks` content deltas (the first
    carries the role, the last the finish reason), an optional usage chunk, then [DONE]."""

    def chunk(**fields: Any) -> bytes:
        head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED}
        return _dumps({**head, "model": CHAT_MODEL, **fields})

    events: list[bytes] = []
    for index in range(chunks):
        delta: dict[str, Any] = {"content": f"w{index % 100} "}
        if index == 0:
            delta["role"] = "assistant"
        finish = "stop" if index == chunks - 1 else None
        events.append(chunk(choices=[{"index": 0, "delta": delta, "finish_reason": finish}]))
    if include_usage:
        usage = {"prompt_tokens": 14, "completion_tokens": chunks, "total_tokens": 14 + chunks}
        events.append(chunk(choices=[], usage=usage))
    events.append(b"[DONE]")
    return events


def stream_answer(chunks: int, include_usage: bool) -> bytes:
    """A whole chunked-encoding SSE answer, one HTTP chunk per event, as real servers send."""
    head = _head(
        200,
        "OK",
        [
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("transfer-encoding", "chunked"),
            ("x-request-id", "bench-0000"),
            *RATELIMIT_HEADERS,
        ],
    )
    parts = [head]
    parts.extend(
        _http_chunk(b"data: " + event + b"\n\n") for event in stream_events(chunks, include_usage)
    )
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class EmbeddingAnswers:
    """Embedding answers by (batch size, encoding), built once each: the server stays cheap."""

    def __init__(self, dimensions: int) -> None:
        rng = random.Random(7)
        self._float_vectors: list[str] = []
        self._b64_vectors: list[str] = []
        for _ in range(_DISTINCT_VECTORS):
            values = [rng.uniform(-0.1, 0.1) for _ in range(dimensions)]
            # Ten significant digits, like real services' JSON floats.
            self._float_vectors.append("[" + ",".join(f"{v:.10g}" for v in values) + "]")
            packed = struct.pack(f"<{dimensions}f", *values)
            self._b64_vectors.append(json.dumps(base64.b64encode(packed).decode("ascii")))
        self._cache: dict[tuple[int, str], bytes] = {}

    def answer(self, count: int, encoding: str) -> bytes:
        key = (count, encoding)
        cached = self._cache.get(key)
        if cached is None:
            vectors = self._b64_vectors if encoding == "base64" else self._float_vectors
            items = ",".join(
                f'{{"object":"embedding","index":{i},"embedding":{vectors[i % _DISTINCT_VECTORS]}}}'
                for i in range(count)
            )
            usage = _dumps({"prompt_tokens": 8 * count, "total_tokens": 8 * count})
            body = (
                f'{{"object":"list","data":[{items}],"model":"{EMBEDDING_MODEL}",'
                f'"usage":{usage.decode()}}}'
            ).encode()
            cached = _json_answer(body)
            self._cache[key] = cached
        return cached


class App:
    """Routes one request to precomputed bytes and counts what it served."""

    def __init__(self, chunks: int, dimensions: int) -> None:
        self.chat = _json_answer(chat_completion_body())
        self.stream_plain = stream_answer(chunks, include_usage=False)
        self.stream_usage = stream_answer(chunks, include_usage=True)
        self.embeddings = EmbeddingAnswers(dimensions)
        self.served = 0

    def respond(self, method: str, target: str, body: bytes) -> bytes:
        path = target.split("?", 1)[0]
        if method == "GET" and path == "/_bench/stats":
            return _json_answer(_dumps({"served": self.served}))
        self.served += 1
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return self._error(400, "Bad Request", "body is not JSON")
        if method == "POST" and path.endswith("/chat/completions"):
            if not request.get("stream"):
                return self.chat
            options = request.get("stream_options") or {}
            return self.stream_usage if options.get("include_usage") else self.stream_plain
        if method == "POST" and path.endswith("/embeddings"):
            texts = request.get("input")
            count = 1 if isinstance(texts, str) else len(texts or [])
            encoding = request.get("encoding_format") or "float"
            if encoding not in ("float", "base64"):
                return self._error(400, "Bad Request", f"bad encoding_format {encoding!r}")
            return self.embeddings.answer(count, encoding)
        return self._error(404, "Not Found", f"no route for {method} {path}")

    @staticmethod
    def _error(status: int, reason: str, message: str) -> bytes:
        return _json_answer(_dumps({"errors": {"message": message}}), status, reason)


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: parse heads and Content-Length bodies, answer."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        transport = self.transport
        assert transport is not None
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    transport.close()
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                transport.close()
                return
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                lowered = name.strip().lower()
                if lowered == "content-length":
                    length = int(value.strip() or 0)
                elif lowered == "connection":
                    close = value.strip().lower() == "close"
                elif lowered == "transfer-encoding":
                    # Nobody benchmarked here sends chunked bodies: say so loudly, not silently.
                    transport.write(
                        App._error(411, "Length Required", "chunked bodies unsupported")
                    )
                    transport.close()
                    return
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = bytes(self.buffer[end + 4 : total])
            del self.buffer[:total]
            transport.write(self.app.respond(method, target, body))
            if close:
                transport.close()
                return


async def serve(ready_file: Path | None, chunks: int, dimensions: int) -> None:
    """Listen on a free loopback port until a signal or the parent's death."""
    loop = asyncio.get_running_loop()
    app = App(chunks, dimensions)
    server = await loop.create_server(
        lambda: Connection(app), "127.0.0.1", 0, backlog=4096, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if ready_file is not None:
        tmp = ready_file.with_name(ready_file.name + f".tmp{os.getpid()}")
        tmp.write_text(url + "\n", encoding="utf-8")
        os.replace(tmp, ready_file)
    else:
        print(url, flush=True)
    parent = os.getppid()
    async with server:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            if os.getppid() != parent:  # orphaned: the harness died without cleaning up
                break


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench._server", description=__doc__)
    parser.add_argument("--ready-file", type=Path, default=None)
    parser.add_argument("--chunks", type=int, default=1000, help="content chunks per stream")
    parser.add_argument("--dimensions", type=int, default=1024, help="embedding size")
    args = parser.parse_args(argv)
    raise_fd_limit()
    asyncio.run(serve(args.ready_file, args.chunks, args.dimensions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
