"""Fixtures for the quota ledger: every store behind one factory.

The fake `clock` and the session's real redis-server (`redis_url`) come from
``tests/conftest.py``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
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
from tests.support.clock import FakeClock

#: A fake token in ModelScope's format; tests assert it never leaks.
TOKEN = "ms-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER_TOKEN = "ms-11111111-2222-3333-4444-555555555555"


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def other_token() -> str:
    return OTHER_TOKEN


@pytest.fixture
def key() -> QuotaKey:
    return QuotaKey("modelscope", account_fingerprint(TOKEN), "Qwen/Qwen3-32B")


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
