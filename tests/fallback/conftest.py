"""Fixtures for the fallback tests: a ledger on the fake clock.

The fake `clock` and the session's real redis-server (`redis_url`) come from
``tests/conftest.py``; the fake models are in ``fakes.py``.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from langchain_modelscope.quota import InMemoryQuotaStore, QuotaLedger
from langchain_modelscope.testing import EmulatorConfig
from tests.fallback import _worker
from tests.support.clock import FakeClock


@pytest.fixture
def ledger(clock: FakeClock) -> QuotaLedger:
    """A private in-memory ledger on the fake clock (tests never touch the default one)."""
    return QuotaLedger(InMemoryQuotaStore(), clock=clock)


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig:
    """Pinned to the daily-counter regime: these tests rely on its headers and counters."""
    return EmulatorConfig(regime="daily")


@pytest.fixture(scope="module")
def ctx() -> Any:
    """A forkserver context that imported the package once: workers start in milliseconds."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the forkserver start method (Linux, macOS)")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_worker.PRELOAD)
    return context
