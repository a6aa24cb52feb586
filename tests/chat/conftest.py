"""Fixtures of the chat-model tests.

`chat_env` points ChatModelScope at a fresh emulator through the environment (the standard
suites build models from class properties, which cannot see fixtures); `local_test_image`
serves the image the standard image tests download, so the suite stays offline.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR
from langchain_modelscope.testing import EmulatorConfig, ModelScopeEmulator
from tests.chat.chat_wire import PNG_BYTES
from tests.support.standard_suite import fresh_learned_streaming, serve_standard_test_image


@pytest.fixture(autouse=True)
def _forget_learned_streaming() -> Iterator[None]:
    """Each test starts from the family rules alone."""
    with fresh_learned_streaming():
        yield


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
    return serve_standard_test_image(monkeypatch, PNG_BYTES)


@pytest.fixture
def daily_emulator() -> Iterator[ModelScopeEmulator]:
    """An emulator in the daily-counter regime (2025 to mid-2026): its headers and counters."""
    with ModelScopeEmulator(config=EmulatorConfig(regime="daily")) as emulator:
        yield emulator


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig:
    """The service as it is now (the points regime); `daily` marks tests of the old one."""
    return EmulatorConfig()
