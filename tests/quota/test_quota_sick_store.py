"""A sick store never stalls or fails a call: short timeouts, then process memory for a while.

Issue 12 item 4: with a Redis that accepts connections and never answers, every call used to
wait 15 s, and with Redis down the spent candidate was called on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from langchain_modelscope.quota import (
    REDIS_TIMEOUT,
    SQLITE_BUSY_TIMEOUT,
    STORE_COOLDOWN,
    MarkKind,
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    QuotaStore,
    RedisQuotaStore,
    SQLiteQuotaStore,
)
from tests.support.clock import FakeClock
from tests.support.hanging_server import HangingServer

KEY = QuotaKey("modelscope", "0123456789ab", "Qwen/Qwen3-32B")
OTHER = QuotaKey("modelscope", "0123456789ab", "Qwen/Qwen3-8B")
LOGGER = "langchain_modelscope.quota"


class SwitchableStore(QuotaStore):
    """A real store behind a switch: while ``down``, every operation raises like a dead server."""

    def __init__(self, inner: QuotaStore) -> None:
        self.inner = inner
        self.down = False
        self.calls = 0

    def __repr__(self) -> str:
        return "SwitchableStore(redis://:s3cret@10.0.0.1:6379)"

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("Error connecting to redis://:s3cret@10.0.0.1:6379")

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        self._check()
        return self.inner.extend(entry)

    def get(self, key: QuotaKey) -> QuotaEntry | None:
        self._check()
        return self.inner.get(key)

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        self._check()
        return self.inner.get_many(keys)

    def delete(self, key: QuotaKey, kind: MarkKind | None = None) -> None:
        self._check()
        self.inner.delete(key, kind)

    def claim(self, name: str, until: datetime, now: datetime) -> bool:
        self._check()
        return self.inner.claim(name, until, now)

    def clear(self) -> None:
        self._check()
        self.inner.clear()

    def entries(self) -> list[QuotaEntry]:
        self._check()
        return self.inner.entries()

    def prune(self, now: datetime) -> int:
        self._check()
        return self.inner.prune(now)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 30]


def test_a_dead_store_costs_one_warning_and_marks_still_stop_calls(
    store_factory, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    sick = SwitchableStore(store_factory())
    ledger = QuotaLedger(sick, clock=clock)
    reader = QuotaLedger(store_factory(), clock=clock)
    caplog.set_level(logging.INFO, logger=LOGGER)
    sick.down = True

    assert ledger.is_available(KEY)  # the read fails: the call goes on
    entry = ledger.mark_exhausted(KEY, reason="today's quota")
    throttle = ledger.mark_throttled(OTHER)
    for _ in range(20):  # later calls: memory, not the store
        assert not ledger.is_available(KEY)
        assert ledger.blocked_until(OTHER) == throttle
    assert sick.calls == 1
    assert ledger.store_is_down
    (warning,) = warnings_of(caplog)
    assert "working from process memory for 30 s" in warning
    assert "s3cret" not in caplog.text
    assert reader.is_available(KEY)  # the store never heard of it

    # The store answers again after the cool-down: the marks made meanwhile reach it.
    sick.down = False
    clock.advance(seconds=STORE_COOLDOWN.total_seconds())
    assert not ledger.is_available(KEY)
    assert not ledger.store_is_down
    assert reader.blocked_until(KEY) == entry
    assert reader.lookup(OTHER).probe == throttle  # its 30 s cooldown has just ended
    assert "answers again; 2 writes replayed" in caplog.text
    assert len(warnings_of(caplog)) == 1


def test_a_store_still_dead_after_the_cool_down_warns_once_more(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    sick = SwitchableStore(SQLiteQuotaStore(tmp_path / "q.sqlite3"))
    ledger = QuotaLedger(sick, clock=clock, store_cooldown=timedelta(seconds=5))
    caplog.set_level(logging.WARNING, logger=LOGGER)
    sick.down = True
    ledger.mark_exhausted(KEY)
    for _ in range(3):
        clock.advance(seconds=5)
        assert not ledger.is_available(KEY)  # still known, from memory
    assert len(warnings_of(caplog)) == 4  # one per cool-down, not one per call
    sick.down = False
    clock.advance(seconds=5)
    assert not ledger.is_available(KEY)  # the store answers: the mark is replayed into it
    assert not QuotaLedger(sick.inner, clock=clock).is_available(KEY)


async def test_async_calls_during_the_cool_down_stay_on_the_loop(
    clock: FakeClock, tmp_path: Path
) -> None:
    sick = SwitchableStore(SQLiteQuotaStore(tmp_path / "q.sqlite3"))
    ledger = QuotaLedger(sick, clock=clock)
    sick.down = True
    await ledger.amark_exhausted(KEY)
    assert not await ledger.ais_available(KEY)
    assert await ledger.aclaim("probe", clock() + timedelta(minutes=1))
    assert not await ledger.aclaim("probe", clock() + timedelta(minutes=1))
    assert sick.calls == 1


def test_a_sqlite_file_damaged_while_open_warns_once_per_cool_down(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.sqlite3"
    ledger = QuotaLedger(SQLiteQuotaStore(path), clock=clock)
    ledger.mark_exhausted(KEY)
    for suffix in ("", "-wal", "-shm"):
        target = Path(str(path) + suffix)
        if target.exists():
            target.write_bytes(b"\x00garbage" * 4096)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for _ in range(10):
        ledger.is_available(OTHER)
        ledger.mark_exhausted(OTHER)
        assert not ledger.is_available(OTHER)
    assert len(warnings_of(caplog)) == 1


# ---------------------------------------------------------------------------- a hanging Redis


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    with HangingServer() as server:
        yield server


def test_a_hanging_redis_costs_one_timeout_then_calls_run_at_memory_speed(
    hanging: HangingServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("redis")
    ledger = QuotaLedger(RedisQuotaStore(hanging.url), clock=clock)
    caplog.set_level(logging.WARNING, logger=LOGGER)

    started = time.perf_counter()
    assert ledger.is_available(KEY)
    first = time.perf_counter() - started
    started = time.perf_counter()
    ledger.mark_exhausted(KEY)
    for _ in range(50):
        assert not ledger.is_available(KEY)
    later = time.perf_counter() - started

    assert hanging.connections >= 1  # it really reached the server
    # Generous bounds on a shared machine: one 0.25 s timeout (not 15 s), then memory speed.
    assert first < REDIS_TIMEOUT + 2.0
    assert later < 1.0
    assert len(warnings_of(caplog)) == 1
    assert "TimeoutError" in warnings_of(caplog)[0]


async def test_a_hanging_redis_does_not_stall_async_calls(
    hanging: HangingServer, clock: FakeClock
) -> None:
    pytest.importorskip("redis")
    ledger = QuotaLedger(RedisQuotaStore(hanging.url), clock=clock)
    started = time.perf_counter()
    results = await asyncio.gather(*(ledger.ais_available(KEY) for _ in range(10)))
    assert all(results)
    await ledger.amark_exhausted(KEY)
    assert not await ledger.ais_available(KEY)
    # Ten concurrent reads each wait for their own timeout at most, in threads, in parallel.
    assert time.perf_counter() - started < REDIS_TIMEOUT * 2 + 2.0


def test_the_store_timeouts_are_short_by_default_and_configurable(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    assert SQLiteQuotaStore(tmp_path / "q.sqlite3").busy_timeout == SQLITE_BUSY_TIMEOUT == 1.0
    assert SQLiteQuotaStore(tmp_path / "r.sqlite3", busy_timeout=3).busy_timeout == 3.0
    store = RedisQuotaStore("redis://127.0.0.1:1/0")
    options = store._client.connection_pool.connection_kwargs
    assert options["socket_timeout"] == options["socket_connect_timeout"] == REDIS_TIMEOUT == 0.25
    assert (
        RedisQuotaStore(
            "redis://127.0.0.1:1/0", socket_timeout=2
        )._client.connection_pool.connection_kwargs["socket_timeout"]
        == 2.0
    )
    with pytest.raises(ValueError, match="socket_timeout"):
        RedisQuotaStore("redis://127.0.0.1:1/0", socket_timeout=0)
    with pytest.raises(TypeError, match="connect_timeout"):
        RedisQuotaStore("redis://127.0.0.1:1/0", connect_timeout="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="store_cooldown"):
        QuotaLedger(store, store_cooldown=0)


def test_flush_writes_what_was_marked_during_an_outage_before_the_cool_down_ends(
    clock: FakeClock, tmp_path: Path
) -> None:
    sick = SwitchableStore(SQLiteQuotaStore(tmp_path / "q.sqlite3"))
    ledger = QuotaLedger(sick, clock=clock)
    reader = QuotaLedger(sick.inner, clock=clock)
    assert ledger.flush()  # nothing to write
    sick.down = True
    entry = ledger.mark_exhausted(KEY, reason="today's quota")
    assert not ledger.flush()  # the store still fails: nothing lost, still pending
    assert reader.is_available(KEY)
    sick.down = False
    assert ledger.flush()  # no need to wait out the cool-down
    assert reader.blocked_until(KEY) == entry
    assert ledger.flush()


async def test_aflush_writes_off_the_event_loop(clock: FakeClock, tmp_path: Path) -> None:
    sick = SwitchableStore(SQLiteQuotaStore(tmp_path / "q.sqlite3"))
    ledger = QuotaLedger(sick, clock=clock)
    sick.down = True
    await ledger.amark_exhausted(KEY)
    sick.down = False
    assert await ledger.aflush()
    assert not QuotaLedger(sick.inner, clock=clock).is_available(KEY)


def test_a_process_that_exits_during_an_outage_still_writes_its_marks(tmp_path: Path) -> None:
    """A short-lived process (a CLI, a worker) that marked a quota while the store was down."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "q.sqlite3"
    script = textwrap.dedent(
        f"""
        from tests.quota.test_quota_sick_store import KEY, SwitchableStore
        from langchain_modelscope.quota import QuotaLedger, SQLiteQuotaStore

        sick = SwitchableStore(SQLiteQuotaStore({str(path)!r}))
        ledger = QuotaLedger(sick)
        sick.down = True
        ledger.mark_exhausted(KEY, reason="today's quota")
        sick.down = False  # the store is back, the cool-down is not over: exit now
        """
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script], cwd=root, check=True, timeout=60)
    assert not QuotaLedger(SQLiteQuotaStore(path)).is_available(KEY)
