"""Fixtures of the embeddings tests: a scripted fake service, and retries without waiting."""

from __future__ import annotations

import pytest

from langchain_modelscope._client import ModelScopeClient
from langchain_modelscope.testing import EmulatorConfig
from tests.embeddings.fakes import FakeService


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen as in production, minus the sleeping (tests stay fast)."""
    monkeypatch.setattr(ModelScopeClient, "_wait", lambda self, state: 0.0)


@pytest.fixture
def fake() -> FakeService:
    """A fresh scripted ``/v1/embeddings`` behind ``httpx.MockTransport``."""
    return FakeService()


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig:
    """Pinned to the daily-counter regime: these tests rely on its headers and counters."""
    return EmulatorConfig(regime="daily")
