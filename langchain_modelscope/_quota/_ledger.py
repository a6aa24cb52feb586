"""The ledger: the rules every store shares, and process memory when the store is sick."""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from langchain_modelscope._quota._marks import (
    TOKEN_LIKE,
    MarkKind,
    QuotaEntry,
    QuotaKey,
    as_utc,
    check_kind,
    require_text,
)
from langchain_modelscope._quota._store import InMemoryQuotaStore, QuotaStore
from langchain_modelscope._reset import next_daily_reset, next_monthly_reset

logger = logging.getLogger("langchain_modelscope.quota")
_T = TypeVar("_T")

#: Ledgers holding writes their sick store has not taken yet: flushed once at exit, so a
#: short-lived process that marked a quota during a store outage does not lose the mark.
_UNFLUSHED: weakref.WeakSet[QuotaLedger] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for ledger in list(_UNFLUSHED):
        ledger.flush()


#: How long the ledger works from process memory after its store failed, before trying the
#: store again. Long enough that a dead store costs one timeout per half-minute rather than
#: one per call; short enough that processes agree again soon after the store comes back.
STORE_COOLDOWN = timedelta(seconds=30)

#: The first throttle cooldown, and its cap. ModelScope's "We have to rate limit you" windows
#: have lasted hours in 2026, and every refused call may cost points, so a throttled model is
#: left alone instead of retried: 30 s first (a one-off burst clears in that time), doubling
#: while the throttle repeats (30 s, 1, 2, 4 … min), capped at an hour: after seven strikes a
#: window of hours costs one probe an hour, and a model that recovers waits at most an hour.
THROTTLE_FIRST_COOLDOWN = timedelta(seconds=30)
THROTTLE_MAX_COOLDOWN = timedelta(hours=1)
#: How long a lapsed throttle is remembered, so a failed probe escalates instead of restarting.
THROTTLE_MEMORY = timedelta(hours=1)

#: A points mark has no clock; this is only the horizon after which a store may forget a mark
#: nobody lifted (a deployment that stopped checking), not a time the points come back.
POINTS_HORIZON = timedelta(days=7)

#: How long a retired (unserved) model is parked by default: long enough to stop paying for
#: its refusals, short enough to notice when it is served again.
RETIRED_FOR = timedelta(days=1)

# Credentials in URLs and ModelScope tokens, scrubbed from the store-failure WARNING.
_URL_PASSWORD = re.compile(r"(\w+://[^/\s:@]*:)[^@\s/]*@")


def _scrub(text: str) -> str:
    return TOKEN_LIKE.sub("***", _URL_PASSWORD.sub(r"\1***@", text))


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _check_key(key: object) -> QuotaKey:
    if not isinstance(key, QuotaKey):
        raise TypeError(f"expected a QuotaKey, got {type(key).__name__}")
    return key


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int or None, got {type(value).__name__}")
    return value


def _as_duration(value: object, what: str) -> timedelta:
    """Seconds (int/float) or a timedelta, positive, as a timedelta."""
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    else:
        raise TypeError(f"{what} takes seconds (int or float) or a timedelta")
    if duration <= timedelta(0):
        raise ValueError(f"{what} must be positive, got {value!r}")
    return duration


def _claim_name(name_or_key: object) -> str:
    if isinstance(name_or_key, QuotaKey):
        return name_or_key.claim_name("claim")
    require_text("QuotaLedger.claim", "name", name_or_key)
    assert isinstance(name_or_key, str)
    return name_or_key


def throttle_cooldown(strikes: int) -> timedelta:
    """The cooldown after ``strikes`` throttles in a row: 30 s doubling, capped at an hour."""
    doubled: timedelta = THROTTLE_FIRST_COOLDOWN * (1 << min(max(strikes, 1) - 1, 32))
    return min(doubled, THROTTLE_MAX_COOLDOWN)


@dataclass(frozen=True)
class QuotaLookup:
    """What one read of the ledger says about a key.

    ``blocking``: the mark in force on the key or its account (the later one), or None.
    ``probe``: the key's throttle mark whose cooldown has ended but that no success has cleared
    yet: one call may probe the model, after winning :meth:`QuotaLedger.claim` for it.
    """

    blocking: QuotaEntry | None
    probe: QuotaEntry | None

    @property
    def available(self) -> bool:
        """No mark in force (a due probe still wants a claim first)."""
        return self.blocking is None


class QuotaLedger:
    """What is exhausted until when: the API the fallback model reads and writes.

    Reads answer "may I call this key now?"; writes come from 429s (:meth:`mark_exhausted`,
    :meth:`mark_points_spent`, :meth:`mark_throttled`, :meth:`mark_retired`) and from
    rate-limit headers (:meth:`record_remaining`). The ledger adds the rules that are the
    same for every store: default ``until`` by kind, an account-wide mark blocks every model,
    a mark lifts exactly at ``until`` by the ledger's clock.

    The store is a saving, never a gate: when it raises (down, hanging past its timeout,
    damaged), the ledger logs one WARNING and works from process memory for
    ``store_cooldown`` (default 30 s) by its clock, then tries the store again, first
    replaying the writes made meanwhile. Every write also goes to that memory, so marks this
    process made keep stopping wasted calls while the store is away.
    """

    def __init__(
        self,
        store: QuotaStore | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        store_cooldown: float | timedelta = STORE_COOLDOWN,
    ) -> None:
        if store is not None and not isinstance(store, QuotaStore):
            raise TypeError(
                f"QuotaLedger(store=) takes a QuotaStore (InMemoryQuotaStore, SQLiteQuotaStore, "
                f"RedisQuotaStore), got {type(store).__name__}"
            )
        if clock is not None and not callable(clock):
            raise TypeError("QuotaLedger(clock=) takes a callable returning an aware datetime")
        self._store: QuotaStore = InMemoryQuotaStore() if store is None else store
        self._clock: Callable[[], datetime] = _utc_now if clock is None else clock
        self._store_cooldown = _as_duration(store_cooldown, "QuotaLedger(store_cooldown=)")
        # Process memory: a copy of this process's writes, and the whole ledger while the
        # store is down. Not needed when the store is the plain in-memory one.
        plain = type(self._store) is InMemoryQuotaStore
        self._local: QuotaStore | None = None if plain else InMemoryQuotaStore()
        self._state_lock = threading.Lock()
        self._down_until: datetime | None = None
        self._pending: list[Callable[[QuotaStore], object]] = []
        # Keys on which this ledger has seen a throttle mark: record_success is a set lookup
        # for every other key (it runs after every successful call).
        self._throttled: set[QuotaKey] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self._store!r})"

    @property
    def store(self) -> QuotaStore:
        """Where the marks live."""
        return self._store

    @property
    def store_is_down(self) -> bool:
        """True while the ledger works from process memory after a store failure."""
        down = self._down_until
        return down is not None and self.now() < down

    def now(self) -> datetime:
        """The ledger's current time (aware, UTC), from the injectable clock."""
        return as_utc(self._clock(), "the QuotaLedger clock's value")

    def _resolve_now(self, now: datetime | None) -> datetime:
        return self.now() if now is None else as_utc(now, "now")

    # -- the store, or memory while it is sick

    def _use(self, op: Callable[[QuotaStore], _T], *, write: bool = False) -> _T:
        """Run ``op`` on the store; on failure, on process memory (and replay writes later)."""
        local = self._local
        if local is None:
            return op(self._store)
        down = self._down_until
        if down is not None:
            if self.now() < down:
                return self._on_local(op, local, write)
            if not self._recover():
                return self._on_local(op, local, write)
        try:
            result = op(self._store)
        except Exception as error:  # any failure of the store: it must not fail the call
            self._went_down(error)
            return self._on_local(op, local, write)
        if write:
            op(local)
        return result

    def _on_local(self, op: Callable[[QuotaStore], _T], local: QuotaStore, write: bool) -> _T:
        if write:
            with self._state_lock:
                self._pending.append(op)
            _UNFLUSHED.add(self)
        return op(local)

    def flush(self) -> bool:
        """Write to the store, now, what was marked while it was down (also run at exit).

        True when nothing is left unwritten; False when the store still fails (one WARNING,
        and the cool-down starts again).
        """
        with self._state_lock:
            if not self._pending:
                return True
        return self._recover()

    async def aflush(self) -> bool:
        """Async :meth:`flush` (off the event loop: it talks to the store)."""
        if self._store.blocking:
            return await asyncio.to_thread(self.flush)
        return self.flush()

    def _went_down(self, error: Exception) -> None:
        with self._state_lock:
            already = self._down_until is not None and self.now() < self._down_until
            self._down_until = self.now() + self._store_cooldown
        if not already:
            logger.warning(
                "quota ledger: %s failed (%s: %s); working from process memory for %g s, "
                "then trying it again",
                _scrub(repr(self._store)),
                type(error).__name__,
                _scrub(str(error)),
                self._store_cooldown.total_seconds(),
            )

    def _recover(self) -> bool:
        """After the cool-down: replay the writes made meanwhile; False if the store still fails."""
        with self._state_lock:
            pending, self._pending = self._pending, []
        done = 0
        try:
            for op in pending:
                op(self._store)
                done += 1
        except Exception as error:
            with self._state_lock:
                self._pending[:0] = pending[done:]
            self._went_down(error)
            return False
        with self._state_lock:
            self._down_until = None
        _UNFLUSHED.discard(self)
        logger.info(
            "quota ledger: %s answers again; %d writes replayed",
            _scrub(repr(self._store)),
            len(pending),
        )
        return True

    # -- writes

    def _write(self, entry: QuotaEntry, *, prune: bool = True) -> QuotaEntry:
        def extend(store: QuotaStore) -> QuotaEntry:
            result = store.extend(entry)
            if prune:  # marks are written rarely (on a 429 or an empty header): tidy here
                store.prune(entry.recorded_at)
            return result

        result = self._use(extend, write=True)
        if result.kind == "throttle":
            self._throttled.add(result.key)
        logger.debug(
            "quota mark: %s/%s/%s %s until %s",
            entry.key.provider,
            entry.key.account,
            entry.key.model,
            result.kind,
            result.until.isoformat(),
        )
        return result

    def mark_exhausted(
        self,
        key: QuotaKey,
        until: datetime | None = None,
        *,
        reason: str | None = None,
        kind: MarkKind | None = None,
    ) -> QuotaEntry:
        """Record that ``key`` is exhausted until ``until``, and what kind of mark it is.

        ``kind`` defaults to ``"daily"`` without an ``until`` (which is then the next 00:00
        UTC+8) and to ``"other"`` with one. Without ``until``, ``"monthly"`` lasts until the
        1st, ``"retired"`` a day, ``"points"`` until lifted; ``"throttle"`` and ``"other"``
        need an ``until`` (or use :meth:`mark_throttled`). Only ever moves a mark later: an
        earlier ``until`` leaves the stored mark (and its kind) as it is. Returns the mark now
        in the store.
        """
        key = _check_key(key)
        now = self.now()
        if kind is None:
            kind = "daily" if until is None else "other"
        kind = check_kind(kind)
        if kind == "points":
            key = key.account_wide()
        resolved = self._default_until(kind, now) if until is None else as_utc(until, "until")
        return self._write(
            QuotaEntry(key=key, until=resolved, reason=reason, recorded_at=now, kind=kind)
        )

    @staticmethod
    def _default_until(kind: MarkKind, now: datetime) -> datetime:
        if kind == "daily":
            return next_daily_reset(now)
        if kind == "monthly":
            return next_monthly_reset(now)
        if kind == "retired":
            return now + RETIRED_FOR
        if kind == "points":
            return now + POINTS_HORIZON
        raise ValueError(
            f"a {kind!r} mark needs an until: pass until=, or use mark_throttled() for throttles"
        )

    def mark_points_spent(self, account_key: QuotaKey, *, reason: str | None = None) -> QuotaEntry:
        """Record that the account's points balance is spent: every model of it is blocked.

        The mark has no clock (:attr:`QuotaEntry.has_clock` is False): it ends when
        :meth:`lift` removes it after a balance check shows points again. Its ``until`` is
        only :data:`POINTS_HORIZON`, after which a store may forget an abandoned mark.
        """
        return self.mark_exhausted(_check_key(account_key), reason=reason, kind="points")

    def mark_retired(
        self, key: QuotaKey, *, reason: str | None = None, until: datetime | None = None
    ) -> QuotaEntry:
        """Park a model the service no longer serves, until ``until`` (default: a day)."""
        return self.mark_exhausted(_check_key(key), until, reason=reason, kind="retired")

    def mark_throttled(
        self,
        key: QuotaKey,
        *,
        reason: str | None = None,
        retry_after: float | timedelta | None = None,
    ) -> QuotaEntry:
        """Record a throttle ("We have to rate limit you") on ``key``: an escalating cooldown.

        The cooldown is :func:`throttle_cooldown` of the throttles in a row (30 s, doubling,
        capped at an hour; a lapsed throttle is remembered for :data:`THROTTLE_MEMORY` so a
        failed probe escalates); ``retry_after`` (seconds or a timedelta) wins when longer.
        :meth:`record_success` clears it. Two processes throttled at the same moment may both
        count the same strike: the cooldown is then not doubled twice, which errs on probing.
        """
        key = _check_key(key)
        wait = None if retry_after is None else _as_duration(retry_after, "retry_after")
        now = self.now()
        current = self._use(lambda store: store.get(key))
        strikes = 1
        if current is not None and current.kind == "throttle" and current.forget_at > now:
            strikes = current.strikes + 1
        cooldown = throttle_cooldown(strikes)
        if wait is not None and wait > cooldown:
            cooldown = wait
        until = now + cooldown
        entry = QuotaEntry(
            key=key,
            until=until,
            reason=reason,
            recorded_at=now,
            kind="throttle",
            strikes=strikes,
            keep_until=until + THROTTLE_MEMORY,
        )
        return self._write(entry)

    def record_success(self, key: QuotaKey) -> None:
        """A call to ``key`` succeeded: clear its throttle mark, if this ledger has seen one.

        On the hot path of every successful call, so without a throttle seen on ``key`` it
        is a set lookup and touches no store.
        """
        if key not in self._throttled:
            return
        self._throttled.discard(key)
        self._use(lambda store: store.delete(key, "throttle"), write=True)

    def lift(self, key: QuotaKey, *, kind: MarkKind = "points") -> None:
        """Remove the ``kind`` mark on ``key`` (a points mark: on its account), if it is one.

        For a balance check that shows points again; a mark of another kind (e.g. a later
        daily one) is left in place.
        """
        key = _check_key(key)
        kind = check_kind(kind)
        if kind == "points":
            key = key.account_wide()
        self._use(lambda store: store.delete(key, kind), write=True)

    def claim(self, name_or_key: str | QuotaKey, until: datetime) -> bool:
        """Atomically take ``name_or_key`` until ``until``: True for exactly one caller.

        Every ledger sharing the store (threads, processes, hosts) agrees: until ``until``
        passes by the ledgers' clock, every other claim of the same name is refused. Use it
        for "I will check the balance" or "I will probe this model" (e.g. with
        ``key.claim_name("probe")``); a QuotaKey is its own name. While the store is down the
        claim holds in this process only.
        """
        name = _claim_name(name_or_key)
        until = as_utc(until, "until")
        now = self.now()
        if until <= now:
            raise ValueError("QuotaLedger.claim(until=) must be later than the ledger's now")
        won = self._use(lambda store: store.claim(name, until, now))
        if won and self._local is not None and not self.store_is_down:
            self._local.claim(name, until, now)
        return won

    def record_remaining(
        self,
        key: QuotaKey,
        remaining: int | None,
        limit: int | None = None,
        *,
        reset_at: datetime | None = None,
        kind: MarkKind = "daily",
    ) -> QuotaEntry | None:
        """Learn from rate-limit headers: ``remaining == 0`` marks ``key`` until the reset.

        ``reset_at`` defaults to the next reset of ``kind`` (daily: 00:00 UTC+8). A positive
        ``remaining`` never clears a mark (a 429 is the truth; headers can be stale or
        cached). Returns the mark written, or None when nothing was recorded.
        """
        key = _check_key(key)
        if remaining is None:
            return None
        remaining = _check_count(remaining, "remaining")
        if limit is not None:
            limit = _check_count(limit, "limit")
            if limit < 0:
                raise ValueError(f"limit must not be negative, got {limit}")
        if reset_at is not None:
            reset_at = as_utc(reset_at, "reset_at")
        kind = check_kind(kind)
        if remaining > 0:
            return None
        of_limit = "" if limit is None else f" of {limit}"
        reason = f"rate-limit headers: 0{of_limit} calls remaining"
        return self.mark_exhausted(key, reset_at, reason=reason, kind=kind)

    def clear(self, key: QuotaKey) -> None:
        """Lift the mark on exactly ``key`` (an account-wide mark is a separate key)."""
        key = _check_key(key)
        self._use(lambda store: store.delete(key), write=True)

    def clear_all(self) -> None:
        """Lift every mark in the store."""
        self._throttled.clear()
        self._use(lambda store: store.clear(), write=True)

    # -- reads

    def lookup(self, key: QuotaKey, now: datetime | None = None) -> QuotaLookup:
        """The mark in force on ``key`` and whether a throttle probe is due, in one read."""
        key = _check_key(key)
        at = self._resolve_now(now)
        keys = [key] if key.is_account_wide else [key, key.account_wide()]
        # A mark past its keep_until is gone even if no prune has dropped it yet.
        found = [e for e in self._use(lambda store: store.get_many(keys)) if e.forget_at > at]
        active = [entry for entry in found if entry.until > at]
        probe = None
        for entry in found:
            if entry.kind == "throttle":
                self._throttled.add(entry.key)
                if entry.key == key and entry.until <= at:
                    probe = entry
        blocking = max(active, key=lambda entry: entry.until, default=None)
        return QuotaLookup(blocking=blocking, probe=None if blocking is not None else probe)

    def blocked_until(self, key: QuotaKey, now: datetime | None = None) -> QuotaEntry | None:
        """The mark that blocks ``key`` at ``now``: its own or its account's, the later one."""
        return self.lookup(key, now).blocking

    def is_available(self, key: QuotaKey, now: datetime | None = None) -> bool:
        """False while ``key`` or its account-wide key is marked exhausted."""
        return self.lookup(key, now).blocking is None

    def probe_due(self, key: QuotaKey, now: datetime | None = None) -> bool:
        """True when ``key``'s throttle cooldown has ended and no success has cleared it yet."""
        return self.lookup(key, now).probe is not None

    def entries(self, now: datetime | None = None) -> list[QuotaEntry]:
        """The marks in force at ``now``, soonest to lift first (for snapshots and metrics)."""
        at = self._resolve_now(now)
        active = [entry for entry in self._use(lambda store: store.entries()) if entry.until > at]
        return sorted(
            active,
            key=lambda e: (e.until, e.key.provider, e.key.account, e.key.model),
        )

    # -- async twins: never block the event loop

    async def _run(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._store.blocking and not self.store_is_down:
            return await asyncio.to_thread(function, *args, **kwargs)
        return function(*args, **kwargs)

    async def amark_exhausted(
        self,
        key: QuotaKey,
        until: datetime | None = None,
        *,
        reason: str | None = None,
        kind: MarkKind | None = None,
    ) -> QuotaEntry:
        """Async :meth:`mark_exhausted`."""
        return await self._run(self.mark_exhausted, key, until, reason=reason, kind=kind)

    async def amark_points_spent(
        self, account_key: QuotaKey, *, reason: str | None = None
    ) -> QuotaEntry:
        """Async :meth:`mark_points_spent`."""
        return await self._run(self.mark_points_spent, account_key, reason=reason)

    async def amark_retired(
        self, key: QuotaKey, *, reason: str | None = None, until: datetime | None = None
    ) -> QuotaEntry:
        """Async :meth:`mark_retired`."""
        return await self._run(self.mark_retired, key, reason=reason, until=until)

    async def amark_throttled(
        self,
        key: QuotaKey,
        *,
        reason: str | None = None,
        retry_after: float | timedelta | None = None,
    ) -> QuotaEntry:
        """Async :meth:`mark_throttled`."""
        return await self._run(self.mark_throttled, key, reason=reason, retry_after=retry_after)

    async def arecord_success(self, key: QuotaKey) -> None:
        """Async :meth:`record_success` (no thread hop when there is nothing to clear)."""
        if key in self._throttled:
            await self._run(self.record_success, key)

    async def alift(self, key: QuotaKey, *, kind: MarkKind = "points") -> None:
        """Async :meth:`lift`."""
        await self._run(self.lift, key, kind=kind)

    async def aclaim(self, name_or_key: str | QuotaKey, until: datetime) -> bool:
        """Async :meth:`claim`."""
        return await self._run(self.claim, name_or_key, until)

    async def arecord_remaining(
        self,
        key: QuotaKey,
        remaining: int | None,
        limit: int | None = None,
        *,
        reset_at: datetime | None = None,
        kind: MarkKind = "daily",
    ) -> QuotaEntry | None:
        """Async :meth:`record_remaining`."""
        return await self._run(
            self.record_remaining, key, remaining, limit, reset_at=reset_at, kind=kind
        )

    async def alookup(self, key: QuotaKey, now: datetime | None = None) -> QuotaLookup:
        """Async :meth:`lookup`."""
        return await self._run(self.lookup, key, now)

    async def ablocked_until(self, key: QuotaKey, now: datetime | None = None) -> QuotaEntry | None:
        """Async :meth:`blocked_until`."""
        return await self._run(self.blocked_until, key, now)

    async def ais_available(self, key: QuotaKey, now: datetime | None = None) -> bool:
        """Async :meth:`is_available`."""
        return await self._run(self.is_available, key, now)

    async def aprobe_due(self, key: QuotaKey, now: datetime | None = None) -> bool:
        """Async :meth:`probe_due`."""
        return await self._run(self.probe_due, key, now)

    async def aclear(self, key: QuotaKey) -> None:
        """Async :meth:`clear`."""
        await self._run(self.clear, key)

    async def aentries(self, now: datetime | None = None) -> list[QuotaEntry]:
        """Async :meth:`entries`."""
        return await self._run(self.entries, now)
