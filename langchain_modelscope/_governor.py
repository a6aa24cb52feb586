"""The per-account concurrency governor: at most N calls in flight per ModelScope token.

Why: ModelScope aims to serve *one request at a time* per developer and throttles beyond that
with "We have to rate limit you" windows that last hours (modelscope-api.md §2a: 6 parallel
calls opened one; a 30-minute batch got 152 such 429s), while LangChain's ``batch()`` runs up to
~32 calls at once. So a call takes a slot of its account before it is sent and gives it back
when its answer, or its stream, is done; a call that finds no free slot waits for one.

Decisions, written once here and driven from sync and async:

* **Per account, per process.** One counter per token (by its fingerprint), shared by every
  model instance, thread and event loop of the process. Each call is held to its own model's
  limit: it goes when fewer than that many calls of its account are in flight. Waiters are
  served first come, first served, and a slot is handed straight to the next waiter.
* **Default by host** (:func:`resolve_limit`): :data:`SHARED_HOST_LIMIT` (2) on the shared
  API-Inference hosts, none elsewhere. 2, not 1: still a third of the 6 that opened an
  hours-long window, and one call can be made while another's stream is open (a tool or a
  callback calling the model) without waiting on its own account; not more, because the
  service promises only one. Dedicated deployments (``ms-ens-….api-inference.modelscope.cn``)
  are your own paid instances, outside the shared per-developer throttle; the emulator,
  proxies and other hosts are not ModelScope's shared pool either.
* **A call holds its slot across its retries**, and a stream until it ends or is closed: the
  tries of one call are sequential, so the server never sees more than the limit, and a call
  that is retrying does not lose its turn to newcomers (backoff waits are seconds).
* **Waiting is bounded** by the pool timeout of the model's ``timeout`` when one is set (as
  httpx bounds the wait for a pooled connection), else by :data:`DEFAULT_SLOT_WAIT`; then
  `ConcurrencyLimitTimeoutError`. A cancelled waiter frees nothing it does not hold; a
  cancelled holder frees its slot.
* **Across processes and hosts** (opt-in, :func:`set_concurrency_store`): each call also takes
  a lease in a quota store (SQLite for one host, Redis for several). Leases expire, so a killed
  process frees its slots within :data:`DEFAULT_LEASE`; live ones are renewed in the
  background. A store that fails is skipped for a while (the in-process limit still holds):
  a sick store must not stall calls.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator

from langchain_modelscope.errors import ConcurrencyLimitTimeoutError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from langchain_modelscope._quota._store import QuotaStore

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_SLOT_WAIT",
    "SHARED_HOSTS",
    "SHARED_HOST_LIMIT",
    "ConcurrencyLimit",
    "Gate",
    "MaxConcurrentRequests",
    "check_limit",
    "gate_for",
    "resolve_limit",
    "set_concurrency_store",
]

logger = logging.getLogger("langchain_modelscope")

#: The shared API-Inference hosts, where ModelScope's per-developer throttle applies.
SHARED_HOSTS: Final = frozenset({"api-inference.modelscope.cn", "api-inference.modelscope.ai"})
#: The default limit there (see the module's docstring for why 2).
SHARED_HOST_LIMIT: Final = 2
#: Longest wait for a slot, seconds, when the model's ``timeout`` is not set: long enough for a
#: ``batch()`` of 32 calls of a minute each at 2 in flight (16 rounds), short of "forever".
DEFAULT_SLOT_WAIT: Final = 1200.0
#: How long a cross-process lease lasts without renewal, seconds: a killed process's slot
#: comes free this long after its last renewal (renewals run every third of it).
DEFAULT_LEASE: Final = 30.0
#: After a store failure, how long the cross-process leases are skipped, seconds.
_STORE_COOLDOWN: Final = 30.0

ConcurrencyLimit = int | Literal["auto"] | None


def check_limit(value: object) -> ConcurrencyLimit:
    """``"auto"``, ``None`` or a positive int; anything else is a ValueError saying so (a
    ValueError, so pydantic reports it as the field's error)."""
    if value is None:
        return None
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"max_concurrent_requests takes a positive int, None (no limit) or 'auto' "
            f"(2 on the shared API-Inference hosts, none elsewhere), got {value!r}"
        )
    if value < 1:
        raise ValueError(
            f"max_concurrent_requests must be 1 or more (None turns the limit off), got {value}"
        )
    return value


#: The field type of ``max_concurrent_requests`` on every model class.
MaxConcurrentRequests = Annotated[ConcurrencyLimit, BeforeValidator(check_limit)]


def resolve_limit(limit: ConcurrencyLimit, base_url: str) -> int | None:
    """The limit in force: ``"auto"`` is :data:`SHARED_HOST_LIMIT` on :data:`SHARED_HOSTS`."""
    limit = check_limit(limit)
    if limit != "auto":
        return limit
    host = (urlsplit(base_url).hostname or "").lower().rstrip(".")
    return SHARED_HOST_LIMIT if host in SHARED_HOSTS else None


# --------------------------------------------------------------------------- in one process


class _Waiter:
    """One call waiting for a slot; `wake` is told once the slot is handed to it."""

    __slots__ = ("cap", "granted", "wake")

    def __init__(self, cap: int, wake: Callable[[], None]) -> None:
        self.cap = cap
        self.granted = False
        self.wake = wake


class _WaitExpiredError(Exception):
    """An async wait for a slot ran out of time (turned into the typed error by the gate)."""


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(_WaitExpiredError())


def _wake_soon(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    loop.call_soon_threadsafe(_resolve, future)


class _AccountSlots:
    """The calls in flight of one account in this process, and those waiting, under one lock.

    A plain `threading.Lock` guards a counter and a queue; async waiters wait on a future of
    their own loop, woken with ``call_soon_threadsafe``, so threads and event loops mix and no
    loop is ever blocked (the lock is only held for a few operations).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self._waiters: deque[_Waiter] = deque()

    def _take(self, cap: int) -> bool:
        """Under the lock: a free slot at once (never ahead of someone waiting)."""
        if self.in_flight < cap and not self._waiters:
            self.in_flight += 1
            return True
        return False

    def _hand_over(self) -> None:
        """Under the lock: give free slots to waiters, first come first served."""
        kept: deque[_Waiter] = deque()
        while self._waiters:
            waiter = self._waiters.popleft()
            if self.in_flight < waiter.cap:
                try:
                    waiter.wake()
                except RuntimeError:  # its event loop is closed: nobody will use the slot
                    continue
                self.in_flight += 1
                waiter.granted = True
            else:
                kept.append(waiter)
        self._waiters = kept

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self._hand_over()

    def _give_up(self, waiter: _Waiter) -> bool:
        """A waiter stops waiting: True if it was handed a slot meanwhile (it holds it)."""
        with self._lock:
            if waiter.granted:
                return True
            self._waiters.remove(waiter)
            return False

    def acquire(self, cap: int, timeout: float | None) -> bool:
        """Take a slot, waiting up to ``timeout`` seconds; False if none came in time."""
        with self._lock:
            if self._take(cap):
                return True
            event = threading.Event()
            waiter = _Waiter(cap, event.set)
            self._waiters.append(waiter)
        try:
            if event.wait(timeout):
                return True
        except BaseException:  # KeyboardInterrupt while waiting: free what was handed over
            if self._give_up(waiter):
                self.release()
            raise
        return self._give_up(waiter)

    async def aacquire(self, cap: int, timeout: float | None) -> bool:
        """The async twin of `acquire`: waits on the running loop, never blocking it."""
        with self._lock:
            if self._take(cap):
                return True
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(cap, lambda: _wake_soon(loop, future))
            self._waiters.append(waiter)
        # Not asyncio.wait_for: before Python 3.12 it swallows a cancellation that arrives
        # just as the future is done, so a cancelled call would go on.
        timer = None if timeout is None else loop.call_later(timeout, _expire, future)
        try:
            await future
            return True
        except _WaitExpiredError:
            return self._give_up(waiter)
        except BaseException:  # cancelled: a slot handed over meanwhile is given back
            if self._give_up(waiter):
                self.release()
            raise
        finally:
            if timer is not None:
                timer.cancel()


_accounts_lock = threading.Lock()
_accounts: dict[str, _AccountSlots] = {}


def _slots_of(account: str) -> _AccountSlots:
    with _accounts_lock:
        slots = _accounts.get(account)
        if slots is None:
            slots = _accounts[account] = _AccountSlots()
        return slots


# --------------------------------------------------------------------------- across processes


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _LeaseBook:
    """Slots as expiring leases in a quota store, renewed while held by a daemon thread."""

    def __init__(self, store: QuotaStore, lease: float, poll: float) -> None:
        import socket
        import uuid

        self.store = store
        self.lease = lease
        self.poll = poll
        self._holder_prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:"
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, int]] = {}  # holder -> (slot name, limit)
        self._down_until = 0.0
        self._renewer: threading.Thread | None = None
        self._stopped = threading.Event()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store!r}, lease={self.lease})"

    def _usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def _went_down(self, error: Exception) -> None:
        first = self._usable()
        self._down_until = time.monotonic() + _STORE_COOLDOWN
        if first:
            logger.warning(
                "concurrency slots: %r failed (%s); limiting calls in this process only for "
                "%g s, then trying it again",
                self.store,
                type(error).__name__,
                _STORE_COOLDOWN,
            )

    def _try(self, name: str, holder: str, limit: int) -> bool | None:
        """One attempt at a lease: True/False, or None when the store failed."""
        now = _utc_now()
        try:
            return self.store.acquire_slot(
                name, holder, limit, now + timedelta(seconds=self.lease), now
            )
        except Exception as error:  # a sick store must not fail the call
            self._went_down(error)
            return None

    def _new_holder(self) -> str:
        return self._holder_prefix + str(next(self._ids))

    def _keep(self, holder: str, name: str, limit: int) -> str:
        with self._lock:
            self._held[holder] = (name, limit)
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew, name="modelscope-slot-leases", daemon=True
                )
                self._renewer.start()
        return holder

    def _decide(
        self, won: bool | None, holder: str, name: str, limit: int, deadline: float | None
    ) -> tuple[bool, str | None]:
        """What one try means: (done, the holder id if a lease was had); past the deadline
        (a monotonic time), TimeoutError. A store that failed is done with, without a lease."""
        if won is None:
            return True, None
        if won:
            return True, self._keep(holder, name, limit)
        if deadline is not None and time.monotonic() + self.poll > deadline:
            raise TimeoutError
        return False, None

    def acquire(self, name: str, limit: int, deadline: float | None) -> str | None:
        """A lease's holder id, or None when the store is skipped; polls while all are held."""
        holder, delay = self._new_holder(), self.poll
        while self._usable():
            done, got = self._decide(self._try(name, holder, limit), holder, name, limit, deadline)
            if done:
                return got
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        return None

    async def aacquire(self, name: str, limit: int, deadline: float | None) -> str | None:
        """The async twin of `acquire`: a blocking store runs off the event loop."""
        holder, delay = self._new_holder(), self.poll
        while self._usable():
            if self.store.blocking:
                won = await asyncio.to_thread(self._try, name, holder, limit)
            else:
                won = self._try(name, holder, limit)
            done, got = self._decide(won, holder, name, limit, deadline)
            if done:
                return got
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return None

    def release(self, holder: str) -> None:
        with self._lock:
            held = self._held.pop(holder, None)
        if held is None or not self._usable():
            return  # leases taken before a store failure simply expire
        try:
            self.store.release_slot(held[0], holder)
        except Exception as error:
            self._went_down(error)

    def _renew(self) -> None:
        while not self._stopped.wait(self.lease / 3):
            with self._lock:
                held = list(self._held.items())
            for holder, (name, limit) in held:
                if self._usable() and self._try(name, holder, limit) is False:
                    logger.warning("concurrency slots: a lease lapsed before it was renewed")

    def stop(self) -> None:
        self._stopped.set()


_book: _LeaseBook | None = None


def set_concurrency_store(
    store: QuotaStore | None, *, lease: float = DEFAULT_LEASE, poll: float = 0.05
) -> None:
    """Share every account's ``max_concurrent_requests`` across processes through ``store``.

    Each call then also takes a lease in the store (a SQLite file: the processes of one host;
    Redis: several hosts). A lease lasts ``lease`` seconds and is renewed while the call runs,
    so a killed process frees its slots within ``lease``. A call that finds every slot leased
    polls the store (from ``poll`` seconds, doubling to 1 s). ``None`` goes back to limiting
    each process on its own (the default).
    """
    global _book
    from langchain_modelscope._quota._store import QuotaStore

    if store is not None and not isinstance(store, QuotaStore):
        raise TypeError(
            f"set_concurrency_store() takes a QuotaStore (SQLiteQuotaStore, RedisQuotaStore, "
            f"InMemoryQuotaStore) or None, got {type(store).__name__}"
        )
    if store is not None and type(store).acquire_slot is QuotaStore.acquire_slot:
        raise TypeError(
            f"set_concurrency_store(): {type(store).__name__} does not implement "
            f"acquire_slot/release_slot; use SQLiteQuotaStore or RedisQuotaStore"
        )
    for value, what in ((lease, "lease"), (poll, "poll")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"set_concurrency_store({what}=) must be a positive number of seconds")
    old, _book = _book, None if store is None else _LeaseBook(store, float(lease), float(poll))
    if old is not None:
        old.stop()


# --------------------------------------------------------------------------- the gate


class Gate:
    """One client's way through its account's slots: its limit, its wait, its account."""

    __slots__ = ("_account", "_limit", "_slots", "_wait")

    def __init__(self, account: str, limit: int, wait: float | None) -> None:
        self._account = account
        self._limit = limit
        self._wait = wait
        self._slots = _slots_of(account)

    def __repr__(self) -> str:
        return f"Gate(limit={self._limit}, wait={self._wait})"

    @property
    def limit(self) -> int:
        return self._limit

    def _timed_out(self, model: str | None) -> ConcurrencyLimitTimeoutError:
        return ConcurrencyLimitTimeoutError(
            f"no free concurrency slot for this account within {self._wait:g} s: "
            f"max_concurrent_requests={self._limit} of its calls were in flight all along. "
            f"Raise max_concurrent_requests (ModelScope throttles more than one or two at a "
            f"time, for hours), send fewer calls at once, or allow a longer wait through the "
            f"pool part of timeout, e.g. httpx.Timeout(300, pool=None)",
            model=model,
            limit=self._limit,
            waited=self._wait,
        )

    def _deadline(self) -> float | None:
        return None if self._wait is None else time.monotonic() + self._wait

    @contextmanager
    def hold(self, model: str | None = None) -> Iterator[None]:
        """Hold one slot of the account (and a lease, when shared) for the ``with`` body."""
        book = _book
        deadline = None if book is None else self._deadline()
        if not self._slots.acquire(self._limit, self._wait):
            raise self._timed_out(model)
        holder = None
        try:
            if book is not None:
                try:
                    holder = book.acquire(f"slots:{self._account}", self._limit, deadline)
                except TimeoutError:
                    raise self._timed_out(model) from None
            yield
        finally:
            if holder is not None and book is not None:
                book.release(holder)
            self._slots.release()

    @asynccontextmanager
    async def ahold(self, model: str | None = None) -> AsyncIterator[None]:
        """The async twin of `hold`."""
        book = _book
        deadline = None if book is None else self._deadline()
        if not await self._slots.aacquire(self._limit, self._wait):
            raise self._timed_out(model)
        holder = None
        try:
            if book is not None:
                try:
                    holder = await book.aacquire(f"slots:{self._account}", self._limit, deadline)
                except TimeoutError:
                    raise self._timed_out(model) from None
            yield
        finally:
            try:
                if holder is not None and book is not None:
                    if book.store.blocking:
                        await asyncio.to_thread(book.release, holder)
                    else:
                        book.release(holder)
            finally:
                self._slots.release()


def gate_for(
    api_key: SecretStr, base_url: str, limit: ConcurrencyLimit, wait: float | None
) -> Gate | None:
    """The gate of a client with these settings; None when it has no limit (nothing to do)."""
    resolved = resolve_limit(limit, base_url)
    if resolved is None:
        return None
    from langchain_modelscope._quota._marks import account_fingerprint

    return Gate(account_fingerprint(api_key), resolved, wait)


def in_flight(api_key: SecretStr | str) -> int:
    """Calls of this account in flight in this process (for tests and diagnostics)."""
    from langchain_modelscope._quota._marks import account_fingerprint

    with _accounts_lock:
        slots = _accounts.get(account_fingerprint(api_key))
    return 0 if slots is None else slots.in_flight
