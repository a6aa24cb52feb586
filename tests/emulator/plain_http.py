"""Plain-httpx helpers of the emulator tests.

Plain httpx on purpose: the package's own client must not be what checks the server against
the facts sheet. The per-test `client` fixture is in ``conftest.py``.
"""

from __future__ import annotations

from typing import Any

import httpx


def one_off_get(url: str, **kwargs: Any) -> httpx.Response:
    """One-off request without TLS setup (certifi loading is slow, and this is plain http)."""
    return httpx.get(url, verify=False, **kwargs)


def one_off_post(url: str, **kwargs: Any) -> httpx.Response:
    """One-off request without TLS setup (certifi loading is slow, and this is plain http)."""
    return httpx.post(url, verify=False, **kwargs)


def hello_body(model: str, **extra: Any) -> dict[str, Any]:
    """A chat-completions body that says "Hello" to `model`, with `extra` fields."""
    return {"model": model, "messages": [{"role": "user", "content": "Hello"}], **extra}
