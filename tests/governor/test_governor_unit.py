"""The governor on its own: limits by host, bad values, waiting, cancellation, threads and event
loops mixed, and slots shared through a store. No server, no timed assertions."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from langchain_modelscope import ChatModelScope, ModelScopeEmbeddings, ModelScopeImageGenerator
from langchain_modelscope._governor import (
    SHARED_HOST_LIMIT,
    Gate,
    _LeaseBook,
    gate_for,
    in_flight,
    resolve_limit,
    set_concurrency_store,
)
from langchain_modelscope.errors import ConcurrencyLimitTimeoutError
from langchain_modelscope.quota import InMemoryQuotaStore, QuotaStore, SQLiteQuotaStore

pytestmark = pytest.mark.disable_socket

_tokens = iter(f"ms-00000000-0000-0000-0000-{n:012d}" for n in range(1, 10**6))


@pytest.fixture
def token() -> str:
    """A fresh account per test: the governor's counters are per process."""
    return next(_tokens)


def gate(token: str, limit: int, wait: float | None = 5.0) -> Gate:
    made = gate_for(SecretStr(token), "http://localhost:1/v1", limit, wait)
    assert made is not None
    return made


# ---------------------------------------------------------------------------- the limit in force


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api-inference.modelscope.cn/v1", SHARED_HOST_LIMIT),
        ("https://api-inference.modelscope.ai/v1", SHARED_HOST_LIMIT),
        ("https://API-Inference.ModelScope.cn./v1", SHARED_HOST_LIMIT),
        ("https://ms-ens-1a2b.api-inference.modelscope.cn/v1", None),  # a dedicated deployment
        ("http://127.0.0.1:8000/v1", None),  # the emulator
        ("https://proxy.example.com/modelscope/v1", None),
    ],
)
def test_auto_limits_the_shared_hosts_only(base_url: str, expected: int | None) -> None:
    assert SHARED_HOST_LIMIT <= 2
    assert resolve_limit("auto", base_url) == expected
    assert resolve_limit(None, base_url) is None  # None turns it off everywhere
    assert resolve_limit(5, base_url) == 5  # an explicit value applies everywhere


def test_every_model_class_defaults_to_auto_and_takes_the_setting() -> None:
    shared = "https://api-inference.modelscope.cn/v1"
    for cls in (ChatModelScope, ModelScopeEmbeddings, ModelScopeImageGenerator):
        assert cls(api_key="t", base_url=shared).max_concurrent_requests == "auto"
        off = cls(api_key="t", base_url=shared, max_concurrent_requests=None)
        assert off.max_concurrent_requests is None
    assert ChatModelScope(api_key="t", base_url=shared).client._gate is not None
    assert ChatModelScope(api_key="t", base_url="http://127.0.0.1:1/v1").client._gate is None
    off = ChatModelScope(api_key="t", base_url=shared, max_concurrent_requests=None)
    assert off.client._gate is None
    # A changed setting reaches the core (the core is rebuilt from the settings).
    off.max_concurrent_requests = 1
    assert off.client._gate is not None
    assert off.client._gate.limit == 1


@pytest.mark.parametrize("bad", [0, -1, True, "2", 1.5, "none"])
def test_bad_limits_are_clear_errors_at_construction(bad: object) -> None:
    with pytest.raises(ValidationError, match="max_concurrent_requests"):
        ChatModelScope(api_key="t", max_concurrent_requests=bad)


def test_the_wait_is_the_pool_timeout_when_a_timeout_is_set() -> None:
    model = ChatModelScope(
        api_key="t", max_concurrent_requests=1, timeout=httpx.Timeout(30.0, pool=4.0)
    )
    assert model.client._gate is not None
    assert model.client._gate._wait == 4.0
    unbounded = ChatModelScope(
        api_key="t", max_concurrent_requests=1, timeout=httpx.Timeout(30.0, pool=None)
    )
    assert unbounded.client._gate is not None
    assert unbounded.client._gate._wait is None


# ---------------------------------------------------------------------------- waiting


def test_a_wait_past_its_timeout_is_a_typed_error(token: str) -> None:
    held = gate(token, 1)
    waiting = gate(token, 1, wait=0.05)
    with (
        held.hold(),
        pytest.raises(ConcurrencyLimitTimeoutError, match="no free concurrency slot"),
        waiting.hold("Qwen/Qwen3-8B"),
    ):
        pytest.fail("must not get a slot")
    assert in_flight(token) == 0
    with waiting.hold():
        assert in_flight(token) == 1


def test_each_call_is_held_to_its_own_limit_on_the_shared_count(token: str) -> None:
    one, three = gate(token, 1, wait=0.05), gate(token, 3, wait=0.05)
    with three.hold(), three.hold():
        with pytest.raises(ConcurrencyLimitTimeoutError), one.hold():
            pass
        with three.hold():
            assert in_flight(token) == 3


async def test_a_cancelled_waiter_frees_nothing_and_a_cancelled_holder_frees_its_slot(
    token: str,
) -> None:
    limit = gate(token, 1)
    release = asyncio.Event()

    async def hold() -> None:
        async with limit.ahold():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    assert in_flight(token) == 1
    waiter.cancel()  # it was waiting: nothing to free
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert in_flight(token) == 1
    holder.cancel()  # it held the slot: freed
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert in_flight(token) == 0


async def test_a_waiter_cancelled_right_after_it_was_handed_the_slot_gives_it_back(
    token: str,
) -> None:
    limit = gate(token, 1)
    first = limit.ahold()
    await first.__aenter__()
    waiter = asyncio.create_task(limit.ahold().__aenter__())
    await asyncio.sleep(0)
    await first.__aexit__(None, None, None)  # hands the slot to the waiter...
    waiter.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert in_flight(token) == 0
    async with limit.ahold():
        assert in_flight(token) == 1


def test_threads_and_event_loops_share_one_account(token: str) -> None:
    limit = gate(token, 2, wait=None)
    seen: list[int] = []
    lock = threading.Lock()
    counter = {"now": 0}

    def note(delta: int) -> None:
        with lock:
            counter["now"] += delta
            seen.append(counter["now"])

    def in_a_thread() -> None:
        for _ in range(20):
            with limit.hold():
                note(1)
                note(-1)

    async def on_a_loop() -> None:
        async def one() -> None:
            async with limit.ahold():
                note(1)
                await asyncio.sleep(0)
                note(-1)

        await asyncio.gather(*(one() for _ in range(20)))

    workers = [threading.Thread(target=in_a_thread) for _ in range(3)]
    workers += [threading.Thread(target=asyncio.run, args=(on_a_loop(),)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert max(seen) <= 2
    assert in_flight(token) == 0


# ---------------------------------------------------------------------------- across processes


@pytest.fixture
def shared_store(tmp_path: Path) -> Iterator[SQLiteQuotaStore]:
    store = SQLiteQuotaStore(tmp_path / "slots.sqlite3")
    set_concurrency_store(store, poll=0.01)
    yield store
    set_concurrency_store(None)


def test_slots_shared_through_a_store_hold_back_another_process(
    shared_store: SQLiteQuotaStore, token: str
) -> None:
    # Another process on the same file: its own lease book.
    elsewhere = _LeaseBook(SQLiteQuotaStore(shared_store.path), lease=30.0, poll=0.01)
    name = f"slots:{gate(token, 1)._account}"
    limit = gate(token, 1, wait=0.1)
    with limit.hold(), pytest.raises(TimeoutError):
        elsewhere.acquire(name, 1, deadline=0.0)
    holder = elsewhere.acquire(name, 1, deadline=None)
    assert holder is not None
    with pytest.raises(ConcurrencyLimitTimeoutError), limit.hold():
        pass
    assert in_flight(token) == 0  # the local slot was given back when the lease was not had
    elsewhere.release(holder)
    with limit.hold():
        pass
    elsewhere.stop()


async def test_async_calls_take_leases_too(shared_store: SQLiteQuotaStore, token: str) -> None:
    limit = gate(token, 1, wait=0.1)
    elsewhere = _LeaseBook(SQLiteQuotaStore(shared_store.path), lease=30.0, poll=0.01)
    holder = elsewhere.acquire(f"slots:{limit._account}", 1, deadline=None)
    with pytest.raises(ConcurrencyLimitTimeoutError):
        async with limit.ahold():
            pass
    assert holder is not None
    elsewhere.release(holder)
    async with limit.ahold():
        assert in_flight(token) == 1
    elsewhere.stop()


def test_a_failing_store_limits_in_process_only(token: str, caplog) -> None:
    class Broken(InMemoryQuotaStore):
        def acquire_slot(self, *args: object, **kwargs: object) -> bool:
            raise OSError("disk gone")

    set_concurrency_store(Broken())
    try:
        with gate(token, 1).hold():
            assert in_flight(token) == 1
    finally:
        set_concurrency_store(None)
    assert "limiting calls in this process only" in caplog.text


def test_set_concurrency_store_checks_its_arguments() -> None:
    class NoSlots(QuotaStore):
        extend = get = delete = claim = clear = entries = prune = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="QuotaStore"):
        set_concurrency_store("redis://localhost")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="acquire_slot"):
        set_concurrency_store(NoSlots())
    with pytest.raises(ValueError, match="lease"):
        set_concurrency_store(InMemoryQuotaStore(), lease=0)
