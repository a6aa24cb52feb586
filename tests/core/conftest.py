"""Fixtures of the core tests."""

from __future__ import annotations

import pytest

from langchain_modelscope.testing import EmulatorConfig


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig:
    """Pinned to the daily-counter regime: these tests rely on its headers and counters."""
    return EmulatorConfig(regime="daily")
