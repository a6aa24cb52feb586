"""Fixtures for the quota ledger: a fake clock, and every store behind one factory."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from langchain_modelscope.quota import (
    InMemoryQuotaStore,
    QuotaKey,
    QuotaLedger,
    QuotaStore,
    SQLiteQuotaStore,
    account_fingerprint,
)
from tests.support.redis_server import redis_server, redis_server_binary_or_skip

#: A fake token in ModelScope's format; tests assert it never leaks.
TOKEN = "ms-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER_TOKEN = "ms-11111111-2222-3333-4444-555555555555"


def _start() -> datetime:
    # 15:30 UTC = 23:30 UTC+8, half an hour before a daily reset. In the future on purpose:
    # Redis expires keys by its own (real) clock, so marks made under the fake clock must not
    # lie in the real past.
    return datetime(datetime.now(timezone.utc).year + 2, 3, 10, 15, 30, tzinfo=timezone.utc)


class FakeClock:
    """A settable clock for the ledger: tests cross 00:00 UTC+8 without waiting."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def set(self, when: datetime) -> datetime:
        self.current = when
        return self.current


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(_start())


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def other_token() -> str:
    return OTHER_TOKEN


@pytest.fixture
def key() -> QuotaKey:
    return QuotaKey("modelscope", account_fingerprint(TOKEN), "Qwen/Qwen3-32B")


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


_prefixes = itertools.count()

StoreFactory = Callable[[], QuotaStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Makes stores that all see the same marks: a second call is a second client/connection.

    (The in-memory store cannot be shared between instances, so it hands out the same one.)
    """
    made: list[QuotaStore] = []
    if request.param == "memory":
        shared = InMemoryQuotaStore()

        def factory() -> QuotaStore:
            return shared

    elif request.param == "sqlite":
        path = tmp_path / "quota.sqlite3"

        def factory() -> QuotaStore:
            store = SQLiteQuotaStore(path)
            made.append(store)
            return store

    else:
        from langchain_modelscope.quota import RedisQuotaStore

        url = request.getfixturevalue("redis_url")
        prefix = f"test:{os.getpid()}:{next(_prefixes)}:"

        def factory() -> QuotaStore:
            store = RedisQuotaStore(url, prefix=prefix)
            made.append(store)
            return store

    yield factory
    if made:
        made[0].clear()
    for store in made:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> QuotaStore:
    return store_factory()


@pytest.fixture
def ledger(store: QuotaStore, clock: FakeClock) -> QuotaLedger:
    return QuotaLedger(store, clock=clock)
