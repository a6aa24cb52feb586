"""Fixtures of the chat-model tests.

`chat_env` points ChatModelScope at a fresh emulator through the environment (the standard
suites build models from class properties, which cannot see fixtures); `local_test_image`
serves the image the standard image tests download, so the suite stays offline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from langchain_modelscope._chat_families import LEARNED_STREAMING
from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR
from langchain_modelscope.testing import ModelScopeEmulator
from tests.chat.chat_wire import PNG_BYTES

#: The image langchain-tests' image tests fetch from the internet.
STANDARD_TEST_IMAGE_URL = (
    "https://raw.githubusercontent.com/langchain-ai/docs/"
    "4d11d08b6b0e210bd456943f7a22febbd168b543/src/images/agentic-rag-output.png"
)


@pytest.fixture(autouse=True)
def _forget_learned_streaming() -> Iterator[None]:
    """Each test starts from the family rules alone."""
    LEARNED_STREAMING.forget_all()
    yield
    LEARNED_STREAMING.forget_all()


@pytest.fixture
def chat_env(
    modelscope_emulator: ModelScopeEmulator, monkeypatch: pytest.MonkeyPatch
) -> ModelScopeEmulator:
    """A fresh emulator that models built without arguments talk to."""
    for name in API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(API_KEY_ENV_VARS[0], modelscope_emulator.token)
    monkeypatch.setenv(BASE_URL_ENV_VAR, modelscope_emulator.base_url)
    return modelscope_emulator


@pytest.fixture
def local_test_image(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Answer `httpx.get` of the standard test image locally; other URLs are untouched."""
    real_get = httpx.get

    def fake_get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url) == STANDARD_TEST_IMAGE_URL:
            request = httpx.Request("GET", str(url))
            return httpx.Response(
                200, content=PNG_BYTES, headers={"content-type": "image/png"}, request=request
            )
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", fake_get)
    return PNG_BYTES
