"""A scripted stand-in for ``/v1/embeddings`` behind ``httpx.MockTransport`` (no sockets).

Answers are built here from the OpenAI embeddings shape (the facts sheet's embeddings row), not
by the emulator, so a test cannot pass only because client and emulator share a mistake.
Normal answers list their items in *reverse* order: a client that ignores ``index`` misplaces
vectors and the tests see it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from langchain_modelscope.embeddings import ModelScopeEmbeddings

TOKEN = "ms-00000000-0000-4000-8000-0000000000aa"
#: Embeddings are served from dedicated deployments, so tests use such a host.
BASE_URL = "https://ms-ens-0123456789.api-inference.modelscope.cn/v1"
MODEL = "Qwen/Qwen3-Embedding-8B"


def vector_for(text: str) -> list[float]:
    """A small vector that identifies its text, so a misplaced vector is caught."""
    weighted = sum((k + 1) * ord(c) for k, c in enumerate(text))
    return [float(len(text)), float(weighted), float(ord(text[-1]))]


def float32_base64(values: Sequence[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32, written with ``struct`` here."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def embeddings_answer(
    items: Sequence[tuple[Any, Any]], *, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    """An answer with ``(index, embedding)`` items, in the order given."""
    data = [{"object": "embedding", "index": i, "embedding": e} for i, e in items]
    body = {
        "object": "list",
        "data": data,
        "model": MODEL,
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
    return httpx.Response(status, json=body, headers=headers)


def error_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """An error answer: a dict as JSON, a str verbatim, None as an empty body."""
    if body is None:
        return httpx.Response(status, headers=headers)
    if isinstance(body, str):
        return httpx.Response(status, content=body.encode(), headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class Call:
    """One request as the fake service saw it."""

    number: int
    url: str
    headers: httpx.Headers
    body: dict[str, Any]
    timeout: dict[str, Any]

    @property
    def texts(self) -> list[str]:
        texts: list[str] = self.body["input"]
        return texts


Responder = Callable[[Call], "httpx.Response | None"]


class FakeService:
    """Records every call; answers with ``responder`` (None: a correct answer)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responder: Responder = lambda call: None
        self.delay: Callable[[Call], float] = lambda call: 0.0
        self.headers: dict[str, str] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed: list[Call] = []

    # -- answering --

    def correct_answer(self, call: Call) -> httpx.Response:
        items = [(i, vector_for(t)) for i, t in enumerate(call.texts)]
        return embeddings_answer(items[::-1], headers=self.headers)

    def _record(self, request: httpx.Request) -> Call:
        call = Call(
            number=len(self.calls) + 1,
            url=str(request.url),
            headers=request.headers,
            body=json.loads(request.content),
            timeout=dict(request.extensions.get("timeout", {})),
        )
        self.calls.append(call)
        return call

    def _answer(self, call: Call) -> httpx.Response:
        return self.responder(call) or self.correct_answer(call)

    def handle(self, request: httpx.Request) -> httpx.Response:
        return self._answer(self._record(request))

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        call = self._record(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay(call))
            self.completed.append(call)
            return self._answer(call)
        finally:
            self.in_flight -= 1

    # -- the client under test --

    def embeddings(self, **params: Any) -> ModelScopeEmbeddings:
        settings: dict[str, Any] = {"api_key": TOKEN, "base_url": BASE_URL, "model": MODEL}
        settings.update(params)
        return ModelScopeEmbeddings(
            http_client=httpx.Client(transport=httpx.MockTransport(self.handle)),
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
            **settings,
        )

    @property
    def inputs(self) -> list[list[str]]:
        return [call.texts for call in self.calls]


def texts(count: int, prefix: str = "doc") -> list[str]:
    """Distinct texts whose fake vectors differ (last character and length vary)."""
    return [f"{prefix} {i} {chr(ord('a') + i % 26)}" for i in range(count)]
