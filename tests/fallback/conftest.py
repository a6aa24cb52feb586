"""Fixtures for the fallback tests: a settable ledger clock, a real redis-server, fake models."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from langchain_modelscope.quota import InMemoryQuotaStore, QuotaLedger
from tests.fallback.fakes import FakeClock, future_start
from tests.support.redis_server import redis_server, redis_server_binary_or_skip


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(future_start())


@pytest.fixture
def ledger(clock: FakeClock) -> QuotaLedger:
    """A private in-memory ledger on the fake clock (tests never touch the default one)."""
    return QuotaLedger(InMemoryQuotaStore(), clock=clock)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for the whole session (skipped without one, failed on CI)."""
    binary = redis_server_binary_or_skip()
    try:
        import redis  # noqa: F401
    except ImportError:
        message = 'the redis package is missing: pip install "langchain-modelscope[redis]"'
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with redis_server(binary) as url:
        yield url
