"""Helpers to run langchain-tests' standard chat suites offline (``tests/chat``, ``tests/vcr``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from langchain_modelscope._chat_families import LEARNED_STREAMING

#: The image langchain-tests' image tests download from GitHub.
STANDARD_TEST_IMAGE_URL = (
    "https://raw.githubusercontent.com/langchain-ai/docs/"
    "4d11d08b6b0e210bd456943f7a22febbd168b543/src/images/agentic-rag-output.png"
)


@contextmanager
def fresh_learned_streaming() -> Iterator[None]:
    """Forget what was learned about streaming before and after: only the family rules count."""
    LEARNED_STREAMING.forget_all()
    try:
        yield
    finally:
        LEARNED_STREAMING.forget_all()


def serve_standard_test_image(monkeypatch: pytest.MonkeyPatch, content: bytes) -> bytes:
    """Answer `httpx.get` of the standard test image with `content`; other URLs are untouched.

    The patch sits above httpx's transport, so no transport (nor vcrpy) sees this download.
    """
    real_get = httpx.get

    def fake_get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url) == STANDARD_TEST_IMAGE_URL:
            request = httpx.Request("GET", str(url))
            return httpx.Response(
                200, content=content, headers={"content-type": "image/png"}, request=request
            )
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", fake_get)
    return content
