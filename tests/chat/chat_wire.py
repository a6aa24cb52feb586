"""Scripted HTTP answers for ChatModelScope through `httpx.MockTransport`.

Wire shapes the facts sheet gives verbatim (error bodies, ``choices: null``, ``reasoning``
instead of ``reasoning_content``, rate-limit headers) are written here by hand, so a test cannot
pass only because the emulator and the client share a mistake. No socket is opened.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import httpx
from langchain_core.messages import AIMessageChunk, BaseMessage

from langchain_modelscope.chat_models import ChatModelScope

BASE_URL = "https://api-inference.modelscope.cn/v1"
#: A fake token in ModelScope's format; tests assert it never shows anywhere.
TOKEN = "ms-7c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5"
REQUEST_ID_HEADER = "x-request-id"


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid RGB PNG, built here so no file or network is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG_BYTES = tiny_png()
PNG_BASE64 = base64.b64encode(PNG_BYTES).decode()


Answer = Callable[[httpx.Request], httpx.Response]


def collect(chunks: Sequence[BaseMessage]) -> AIMessageChunk:
    """The sum of streamed chunks (typed loosely: bound models say AIMessage)."""
    pieces = cast("list[AIMessageChunk]", list(chunks))
    full = pieces[0]
    for piece in pieces[1:]:
        full = full + piece
    return full


def only_usage(chunks: Sequence[BaseMessage]) -> Any:
    """The usage of a stream, asserting that exactly one chunk carried it."""
    found = [c.usage_metadata for c in cast("list[AIMessageChunk]", chunks) if c.usage_metadata]
    assert len(found) == 1, found
    return found[0]


def completion(
    content: str | None = "Hello!",
    *,
    model: str = "Qwen/Qwen3-235B-A22B-Instruct-2507",
    reasoning: str | None = None,
    reasoning_field: str = "reasoning_content",
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A non-streamed chat completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message[reasoning_field] = reasoning
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-0001",
        "object": "chat.completion",
        "created": 1735689600,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage or {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    }


def chunk(
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    *,
    model: str = "Qwen/Qwen3-235B-A22B-Instruct-2507",
    **extra: Any,
) -> dict[str, Any]:
    """One streamed event; ``delta=None`` gives ``choices: []`` (the usage chunk)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-0002",
        "object": "chat.completion.chunk",
        "created": 1735689600,
        "model": model,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    body.update(extra)
    return body


def sse_bytes(events: Sequence[dict[str, Any] | str], *, done: bool = True) -> bytes:
    lines = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
        lines.append(f"data: {data}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


class Wire:
    """Answers queued in order; every request is recorded with its decoded JSON body."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._answers: deque[Answer] = deque()

    # -- queueing answers --

    def respond(self, answer: Answer) -> Wire:
        self._answers.append(answer)
        return self

    def json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Wire:
        def answer(request: httpx.Request) -> httpx.Response:
            content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
            head = {"content-type": "application/json", REQUEST_ID_HEADER: "req-json"}
            head.update(headers or {})
            return httpx.Response(status, content=content, headers=head, request=request)

        return self.respond(answer)

    def sse(
        self,
        events: Sequence[dict[str, Any] | str],
        *,
        headers: dict[str, str] | None = None,
        done: bool = True,
    ) -> Wire:
        def answer(request: httpx.Request) -> httpx.Response:
            head = {"content-type": "text/event-stream", REQUEST_ID_HEADER: "req-sse"}
            head.update(headers or {})
            return httpx.Response(
                200, content=sse_bytes(events, done=done), headers=head, request=request
            )

        return self.respond(answer)

    # -- transport --

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self._answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        return self._answers.popleft()(request)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def model(self, **kwargs: Any) -> ChatModelScope:
        transport = httpx.MockTransport(self.handle)
        params: dict[str, Any] = {
            "api_key": TOKEN,
            "base_url": BASE_URL,
            "max_retries": 0,
            "http_client": httpx.Client(transport=transport),
            "http_async_client": httpx.AsyncClient(transport=transport),
        }
        params.update(kwargs)
        return ChatModelScope(**params)


def text_stream(
    pieces: list[str], *, reasoning: list[str] | None = None, field: str = "reasoning_content"
) -> Iterator[dict[str, Any]]:
    """Events of a thinking model as the official sample shows: "" for the unused field."""
    yield chunk({"role": "assistant", "content": "", field: ""})
    for piece in reasoning or []:
        yield chunk({"content": "", field: piece})
    for piece in pieces:
        yield chunk({"content": piece, field: ""} if reasoning else {"content": piece})
    yield chunk({}, "stop")
    yield chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})
