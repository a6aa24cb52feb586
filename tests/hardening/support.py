"""A scripted, offline ModelScope for the hardening tests: every request is recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.embeddings import ModelScopeEmbeddings

BASE_URL = "https://api-inference.modelscope.cn/v1"
HOST = "api-inference.modelscope.cn"

Handler = Callable[[httpx.Request], httpx.Response]


def completion(content: str = "ok") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "Qwen/Qwen3-32B",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class Wire:
    """An httpx transport (sync and async) answering with ``handler``; keeps each request."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler or (lambda request: httpx.Response(200, json=completion()))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._handler(request)

    def clients(self) -> dict[str, Any]:
        return {
            "http_client": httpx.Client(transport=httpx.MockTransport(self._answer)),
            "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(self._answer)),
        }

    def chat(self, **kwargs: Any) -> ChatModelScope:
        settings: dict[str, Any] = {"api_key": "ms-test", "base_url": BASE_URL, "max_retries": 0}
        settings.update(kwargs)
        return ChatModelScope(**settings, **self.clients())

    def embeddings(self, **kwargs: Any) -> ModelScopeEmbeddings:
        settings: dict[str, Any] = {"api_key": "ms-test", "base_url": BASE_URL, "max_retries": 0}
        settings.update(kwargs)
        return ModelScopeEmbeddings(**settings, **self.clients())
