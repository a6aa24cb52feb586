"""The quota ledger: which (provider, account, model) is exhausted, and until when.

ModelScope's free quotas are daily (per account and per model) and roll over at 00:00 UTC+8.
Once a 429 says "exceeded today's quota", every further call to that model with that token is
wasted until the reset. The ledger remembers that, so a fallback model can skip the exhausted
candidate straight away instead of paying a round trip (and a retry budget) to rediscover it.

It is the only shared state of the fallback machinery, so it has to be right under concurrency:

* a mark only ever moves *later* (``until = max(old, new)``, atomically in every store), so two
  writers racing can never shorten a mark;
* a mark on the account-wide key (model ``"*"``) blocks every model of that account;
* three stores share one contract: :class:`InMemoryQuotaStore` (one process, the default),
  :class:`SQLiteQuotaStore` (several processes on one host, survives restarts) and
  :class:`RedisQuotaStore` (several hosts).

Accounts are identified by :func:`account_fingerprint`, a short salted hash: the token itself is
never stored, logged or shown. The clock is injectable, so tests can cross midnight UTC+8
without waiting. This module knows nothing of HTTP or LangChain; the reset rule lives in
:mod:`langchain_modelscope._reset`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import SecretStr

from langchain_modelscope._reset import next_daily_reset

if TYPE_CHECKING:
    import redis

__all__ = [
    "ACCOUNT_WIDE",
    "InMemoryQuotaStore",
    "QuotaEntry",
    "QuotaKey",
    "QuotaLedger",
    "QuotaStore",
    "RedisQuotaStore",
    "SQLiteQuotaStore",
    "account_fingerprint",
    "get_default_ledger",
    "set_default_ledger",
]

logger = logging.getLogger(__name__)

#: The ``model`` of a key that stands for the whole account.
ACCOUNT_WIDE = "*"

#: Longest ``reason`` kept; server messages are short, this only bounds what a store holds.
MAX_REASON_LENGTH = 500

_FINGERPRINT_NAMESPACE = b"langchain-modelscope/quota-account/v1\x00"
_FINGERPRINT_LENGTH = 12
# ModelScope tokens are "ms-" + a UUID, older ones a bare UUID: such a value is a token, not
# a fingerprint, and must never reach a store.
_TOKEN_LIKE = re.compile(
    r"^(ms-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MICROSECOND = timedelta(microseconds=1)
_T = TypeVar("_T")


# --------------------------------------------------------------------------- keys and entries


def account_fingerprint(token: str | SecretStr) -> str:
    """A short, stable, non-reversible id for the account behind ``token``.

    Quota marks are keyed by account, but a token must never be stored or shown, so the key
    holds this hash instead (12 hex digits of a namespaced SHA-256: enough to tell a user's
    accounts apart, useless for recovering the token).
    """
    if isinstance(token, SecretStr):
        token = token.get_secret_value()
    if not isinstance(token, str):
        raise TypeError(
            f"account_fingerprint() takes the API token as str or pydantic.SecretStr, "
            f"got {type(token).__name__}"
        )
    token = token.strip()
    if not token:
        raise ValueError("account_fingerprint() got an empty token: pass the ModelScope API token")
    digest = hashlib.sha256(_FINGERPRINT_NAMESPACE + token.encode("utf-8")).hexdigest()
    return digest[:_FINGERPRINT_LENGTH]


def _require_text(owner: str, field: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{owner}.{field} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{owner}.{field} must be a non-empty string")


def _as_utc(value: object, what: str) -> datetime:
    """Check that ``value`` is an aware datetime and return it in UTC."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} is a naive datetime: pass an aware one, "
            f"e.g. datetime.now(timezone.utc) or dt.replace(tzinfo=timezone.utc)"
        )
    return value.astimezone(timezone.utc)


def _to_micros(value: datetime) -> int:
    return (value - _EPOCH) // _ONE_MICROSECOND


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class QuotaKey:
    """What a quota mark applies to: one model of one account, or the whole account (``"*"``).

    ``account`` is an :func:`account_fingerprint`, never the token itself.
    """

    provider: str
    account: str
    model: str

    def __post_init__(self) -> None:
        for field in ("provider", "account", "model"):
            _require_text("QuotaKey", field, getattr(self, field))
        if self.account == ACCOUNT_WIDE:
            raise ValueError('QuotaKey.account cannot be "*": use account_fingerprint(token)')
        if _TOKEN_LIKE.match(self.account.strip()):
            # Deliberately does not echo the value: it is most likely a secret.
            raise ValueError(
                "QuotaKey.account looks like an API token; pass account_fingerprint(token) "
                "instead so that the token is never stored"
            )

    @classmethod
    def for_token(
        cls, token: str | SecretStr, model: str = ACCOUNT_WIDE, *, provider: str = "modelscope"
    ) -> QuotaKey:
        """The key for ``model`` (default: the whole account) of the account behind ``token``."""
        return cls(provider=provider, account=account_fingerprint(token), model=model)

    @property
    def is_account_wide(self) -> bool:
        """True for the key that stands for every model of the account."""
        return self.model == ACCOUNT_WIDE

    def account_wide(self) -> QuotaKey:
        """The ``"*"`` key of the same provider and account."""
        if self.is_account_wide:
            return self
        return QuotaKey(self.provider, self.account, ACCOUNT_WIDE)


@dataclass(frozen=True)
class QuotaEntry:
    """A mark: ``key`` is exhausted until ``until`` (aware, UTC), and why."""

    key: QuotaKey
    until: datetime
    reason: str | None
    recorded_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.key, QuotaKey):
            raise TypeError(f"QuotaEntry.key must be a QuotaKey, got {type(self.key).__name__}")
        object.__setattr__(self, "until", _as_utc(self.until, "QuotaEntry.until"))
        object.__setattr__(self, "recorded_at", _as_utc(self.recorded_at, "QuotaEntry.recorded_at"))
        if self.reason is not None:
            if not isinstance(self.reason, str):
                raise TypeError(
                    f"QuotaEntry.reason must be a str or None, got {type(self.reason).__name__}"
                )
            if len(self.reason) > MAX_REASON_LENGTH:
                object.__setattr__(self, "reason", self.reason[: MAX_REASON_LENGTH - 1] + "…")

    @property
    def scope(self) -> str:
        """``"account"`` for an account-wide mark, ``"model"`` otherwise."""
        return "account" if self.key.is_account_wide else "model"

    def is_active(self, now: datetime) -> bool:
        """Whether the mark is still in force at ``now`` (it lifts exactly at ``until``)."""
        return self.until > _as_utc(now, "now")


# --------------------------------------------------------------------------- stores


class QuotaStore(ABC):
    """Where marks live. Every implementation honours one contract (see the tests):

    * :meth:`extend` is atomic and only moves ``until`` later; it returns the resulting entry
      (the stored one if it was already as late or later, ``entry`` otherwise);
    * :meth:`get`, :meth:`get_many` and :meth:`entries` may return marks that have lapsed:
      deciding what is in force is the ledger's job, with its (injectable) clock;
    * :meth:`prune` drops marks whose ``until`` is not after ``now``; a store may also drop
      them on its own once they have lapsed in real time (Redis expires keys at ``until``).
    """

    #: True when operations do I/O, so async callers must run them off the event loop.
    blocking: ClassVar[bool] = True

    @abstractmethod
    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        """Atomically set ``until = max(stored, entry.until)`` and return the resulting entry."""

    @abstractmethod
    def get(self, key: QuotaKey) -> QuotaEntry | None:
        """The stored mark for exactly ``key``, if any."""

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        """The stored marks for ``keys`` (missing ones left out); override to batch I/O."""
        found = (self.get(key) for key in keys)
        return [entry for entry in found if entry is not None]

    @abstractmethod
    def delete(self, key: QuotaKey) -> None:
        """Forget the mark for exactly ``key`` (no error if there is none)."""

    @abstractmethod
    def clear(self) -> None:
        """Forget every mark this store holds (and nothing else)."""

    @abstractmethod
    def entries(self) -> list[QuotaEntry]:
        """Every stored mark, lapsed or not."""

    @abstractmethod
    def prune(self, now: datetime) -> int:
        """Drop marks with ``until <= now``; returns how many were dropped."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections, if the store holds any."""


class InMemoryQuotaStore(QuotaStore):
    """Marks in a dict guarded by a lock: one process, lost on exit. The default store."""

    blocking: ClassVar[bool] = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[QuotaKey, QuotaEntry] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(entries={len(self._entries)})"

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        with self._lock:
            current = self._entries.get(entry.key)
            if current is not None and current.until >= entry.until:
                return current
            self._entries[entry.key] = entry
            return entry

    def get(self, key: QuotaKey) -> QuotaEntry | None:
        with self._lock:
            return self._entries.get(key)

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        with self._lock:
            found = (self._entries.get(key) for key in keys)
            return [entry for entry in found if entry is not None]

    def delete(self, key: QuotaKey) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self) -> list[QuotaEntry]:
        with self._lock:
            return list(self._entries.values())

    def prune(self, now: datetime) -> int:
        now = _as_utc(now, "now")
        with self._lock:
            lapsed = [key for key, entry in self._entries.items() if entry.until <= now]
            for key in lapsed:
                del self._entries[key]
            return len(lapsed)


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_marks (
    provider       TEXT    NOT NULL,
    account        TEXT    NOT NULL,
    model          TEXT    NOT NULL,
    until_us       INTEGER NOT NULL,
    reason         TEXT,
    recorded_at_us INTEGER NOT NULL,
    PRIMARY KEY (provider, account, model)
)
"""
# "Only move later" in one statement: the update is skipped unless the new mark is later.
_SQLITE_EXTEND = """
INSERT INTO quota_marks (provider, account, model, until_us, reason, recorded_at_us)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (provider, account, model) DO UPDATE SET
    until_us = excluded.until_us,
    reason = excluded.reason,
    recorded_at_us = excluded.recorded_at_us
WHERE excluded.until_us > quota_marks.until_us
"""
_SQLITE_COLUMNS = "provider, account, model, until_us, reason, recorded_at_us"
_SQLITE_SELECT_ONE = (
    f"SELECT {_SQLITE_COLUMNS} FROM quota_marks WHERE provider = ? AND account = ? AND model = ?"
)


def _entry_from_row(row: tuple[Any, ...]) -> QuotaEntry:
    provider, account, model, until_us, reason, recorded_at_us = row
    return QuotaEntry(
        key=QuotaKey(provider, account, model),
        until=_from_micros(int(until_us)),
        reason=reason,
        recorded_at=_from_micros(int(recorded_at_us)),
    )


class SQLiteQuotaStore(QuotaStore):
    """Marks in a SQLite file: shared by every process on one host, and kept across restarts.

    The file runs in WAL mode with a busy timeout, and every operation opens its own short-lived
    connection, so the store is safe to share between threads, forked processes and spawned
    ones. Writers take the lock up front (``BEGIN IMMEDIATE``) and the "only move later" rule
    is one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` statement. Do not put the file on a
    network filesystem: SQLite's locking (and WAL) needs a local one.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"SQLiteQuotaStore(path) takes a file path (str or os.PathLike), "
                f"got {type(path).__name__}"
            )
        raw = os.fspath(path)
        if not raw or raw == ":memory:" or raw.startswith("file:"):
            raise ValueError(
                f"SQLiteQuotaStore(path) needs a file on disk, got {raw!r}: for marks that "
                f"live in one process only, use InMemoryQuotaStore()"
            )
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, (int, float)):
            raise TypeError("SQLiteQuotaStore(busy_timeout=) takes a number of seconds")
        if busy_timeout <= 0:
            raise ValueError("SQLiteQuotaStore(busy_timeout=) must be a positive number of seconds")
        resolved = Path(raw).expanduser().resolve()
        if resolved.is_dir():
            raise ValueError(
                f"SQLiteQuotaStore(path) got a directory ({resolved}): pass a file path "
                f"inside it, e.g. {resolved / 'modelscope-quota.sqlite3'}"
            )
        resolved.parent.mkdir(parents=True, exist_ok=True)
        self._path = resolved
        self._busy_timeout = float(busy_timeout)
        self._initialise()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self._path)!r})"

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; the writers below say BEGIN IMMEDIATE.
        connection = sqlite3.connect(
            self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=True
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = self._connect()
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _initialise(self) -> None:
        # Several processes may create the same fresh file at once; switching a new file to WAL
        # can report "locked" without consulting the busy handler, so retry for a while.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                with self._connection() as connection:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.execute(_SQLITE_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
            except sqlite3.DatabaseError as exc:
                raise ValueError(
                    f"SQLiteQuotaStore(path): {self._path} exists but is not a usable SQLite "
                    f"database ({exc}); pass a new file path or delete that file"
                ) from exc

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        key = entry.key
        with self._write() as connection:
            connection.execute(
                _SQLITE_EXTEND,
                (
                    key.provider,
                    key.account,
                    key.model,
                    _to_micros(entry.until),
                    entry.reason,
                    _to_micros(entry.recorded_at),
                ),
            )
            row = connection.execute(
                _SQLITE_SELECT_ONE, (key.provider, key.account, key.model)
            ).fetchone()
        return _entry_from_row(row)

    def get(self, key: QuotaKey) -> QuotaEntry | None:
        with self._connection() as connection:
            row = connection.execute(
                _SQLITE_SELECT_ONE, (key.provider, key.account, key.model)
            ).fetchone()
        return None if row is None else _entry_from_row(row)

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        found: list[QuotaEntry] = []
        with self._connection() as connection:
            for key in keys:
                row = connection.execute(
                    _SQLITE_SELECT_ONE, (key.provider, key.account, key.model)
                ).fetchone()
                if row is not None:
                    found.append(_entry_from_row(row))
        return found

    def delete(self, key: QuotaKey) -> None:
        with self._write() as connection:
            connection.execute(
                "DELETE FROM quota_marks WHERE provider = ? AND account = ? AND model = ?",
                (key.provider, key.account, key.model),
            )

    def clear(self) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM quota_marks")

    def entries(self) -> list[QuotaEntry]:
        with self._connection() as connection:
            rows = connection.execute(f"SELECT {_SQLITE_COLUMNS} FROM quota_marks").fetchall()
        return [_entry_from_row(row) for row in rows]

    def prune(self, now: datetime) -> int:
        cutoff = _to_micros(_as_utc(now, "now"))
        with self._write() as connection:
            cursor = connection.execute("DELETE FROM quota_marks WHERE until_us <= ?", (cutoff,))
            return cursor.rowcount


# KEYS[1] = the mark's key. ARGV: until_us, expire_at_ms, recorded_at_us, provider, account,
# model, has_reason ("1"/"0"), reason. Times travel as decimal strings and are compared with
# tonumber (exact: microseconds since 1970 stay below 2**53); they are never formatted by Lua.
_REDIS_EXTEND_LUA = """
local current = nil
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
    current = tonumber(redis.call('HGET', KEYS[1], 'until_us'))
end
if current and current >= tonumber(ARGV[1]) then
    return redis.call('HGETALL', KEYS[1])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'until_us', ARGV[1], 'recorded_at_us', ARGV[3],
    'provider', ARGV[4], 'account', ARGV[5], 'model', ARGV[6])
if ARGV[7] == '1' then
    redis.call('HSET', KEYS[1], 'reason', ARGV[8])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
"""
# KEYS[1] = a mark's key, ARGV[1] = cutoff in microseconds: delete only if still lapsed, so a
# concurrent extend between SCAN and DEL is never lost. Keys that are not our hashes are left.
_REDIS_PRUNE_LUA = """
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then
    return 0
end
local current = tonumber(redis.call('HGET', KEYS[1], 'until_us'))
if current and current <= tonumber(ARGV[1]) then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
_REDIS_DEFAULT_URL = "redis://localhost:6379/0"
_REDIS_INSTALL_HINT = (
    'RedisQuotaStore needs the redis package: pip install "langchain-modelscope-api[redis]"'
)


def _import_redis() -> Any:
    try:
        import redis as redis_module
    except ImportError as exc:
        raise ImportError(_REDIS_INSTALL_HINT) from exc
    return redis_module


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _redact_url(url: str) -> str:
    """The URL without its password, for reprs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _escape_glob(text: str) -> str:
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)


class RedisQuotaStore(QuotaStore):
    """Marks in Redis: shared by every process on every host that reaches the server.

    One hash per key, written by a Lua script that keeps ``until = max(old, new)`` atomically
    and sets ``PEXPIREAT until``, so lapsed marks disappear on their own (by the Redis server's
    clock: a ledger whose clock runs far ahead of real time will see marks it thinks lapsed
    still stored, and ``prune`` removes them; one far behind real time sees them vanish early).
    Only keys under ``prefix`` are ever read or deleted.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        prefix: str = "langchain_modelscope:quota:",
    ) -> None:
        if url is not None and client is not None:
            raise ValueError("RedisQuotaStore takes either url= or client=, not both")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("RedisQuotaStore(prefix=) must be a non-empty string")
        redis_module = _import_redis()
        if client is None:
            url = _REDIS_DEFAULT_URL if url is None else url
            if not isinstance(url, str) or not url.strip():
                raise ValueError(
                    "RedisQuotaStore(url) must be a redis URL such as redis://localhost:6379/0"
                )
            client = redis_module.Redis.from_url(url)
            self._label = _redact_url(url)
        else:
            async_redis = getattr(getattr(redis_module, "asyncio", None), "Redis", None)
            if async_redis is not None and isinstance(client, async_redis):
                raise TypeError(
                    "RedisQuotaStore(client=) takes a synchronous redis.Redis; the ledger runs "
                    "it off the event loop itself for the async methods"
                )
            self._label = "<client>"
        self._client: Any = client
        self._prefix = prefix
        self._extend_script: Any = self._client.register_script(_REDIS_EXTEND_LUA)
        self._prune_script: Any = self._client.register_script(_REDIS_PRUNE_LUA)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._label!r}, prefix={self._prefix!r})"

    @property
    def prefix(self) -> str:
        """The namespace of this store's keys."""
        return self._prefix

    def _redis_key(self, key: QuotaKey) -> str:
        parts = (quote(part, safe="") for part in (key.provider, key.account, key.model))
        return self._prefix + ":".join(parts)

    def _scan(self) -> Iterable[Any]:
        names: Iterable[Any] = self._client.scan_iter(
            match=_escape_glob(self._prefix) + "*", count=500
        )
        return names

    @staticmethod
    def _decode(raw: Any) -> QuotaEntry | None:
        if not raw or isinstance(raw, Exception):  # e.g. WRONGTYPE for a foreign key
            return None
        if isinstance(raw, (list, tuple)):  # HGETALL from Lua: a flat [field, value, ...]
            raw = dict(zip(raw[::2], raw[1::2], strict=False))
        fields = {_text(name): _text(value) for name, value in raw.items()}
        try:
            return QuotaEntry(
                key=QuotaKey(fields["provider"], fields["account"], fields["model"]),
                until=_from_micros(int(fields["until_us"])),
                reason=fields.get("reason"),
                recorded_at=_from_micros(int(fields["recorded_at_us"])),
            )
        except (KeyError, ValueError, TypeError):
            logger.warning("ignoring a malformed quota mark in Redis")
            return None

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        key = entry.key
        until_us = _to_micros(entry.until)
        expire_at_ms = -(-until_us // 1000)
        raw = self._extend_script(
            keys=[self._redis_key(key)],
            args=[
                str(until_us),
                str(expire_at_ms),
                str(_to_micros(entry.recorded_at)),
                key.provider,
                key.account,
                key.model,
                "0" if entry.reason is None else "1",
                entry.reason or "",
            ],
        )
        # A mark already past (by the server's clock) is expired at once and reads back empty.
        return self._decode(raw) or entry

    def get(self, key: QuotaKey) -> QuotaEntry | None:
        return self._decode(self._client.hgetall(self._redis_key(key)))

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        pipeline = self._client.pipeline(transaction=False)
        for key in keys:
            pipeline.hgetall(self._redis_key(key))
        decoded = (self._decode(raw) for raw in pipeline.execute(raise_on_error=False))
        return [entry for entry in decoded if entry is not None]

    def delete(self, key: QuotaKey) -> None:
        self._client.delete(self._redis_key(key))

    def clear(self) -> None:
        names = list(self._scan())
        for start in range(0, len(names), 500):
            self._client.delete(*names[start : start + 500])

    def entries(self) -> list[QuotaEntry]:
        names = list(self._scan())
        if not names:
            return []
        pipeline = self._client.pipeline(transaction=False)
        for name in names:
            pipeline.hgetall(name)
        decoded = (self._decode(raw) for raw in pipeline.execute(raise_on_error=False))
        return [entry for entry in decoded if entry is not None]

    def prune(self, now: datetime) -> int:
        cutoff = str(_to_micros(_as_utc(now, "now")))
        names = list(self._scan())
        if not names:
            return 0
        # One round trip for the lot; each deletion is still its own atomic check-and-delete.
        pipeline = self._client.pipeline(transaction=False)
        for name in names:
            self._prune_script(keys=[name], args=[cutoff], client=pipeline)
        results = pipeline.execute(raise_on_error=False)
        return sum(1 for result in results if result == 1)

    def close(self) -> None:
        self._client.close()


# --------------------------------------------------------------------------- the ledger


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


class QuotaLedger:
    """What is exhausted until when: the API the fallback model reads and writes.

    Reads answer "may I call this key now?"; writes come from 429s (:meth:`mark_exhausted`)
    and from rate-limit headers (:meth:`record_remaining`). The ledger adds the rules that are
    the same for every store: default ``until`` is the next 00:00 UTC+8, an account-wide mark
    blocks every model, a mark lifts exactly at ``until`` by the ledger's clock.
    """

    def __init__(
        self,
        store: QuotaStore | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self._store!r})"

    @property
    def store(self) -> QuotaStore:
        """Where the marks live."""
        return self._store

    def now(self) -> datetime:
        """The ledger's current time (aware, UTC), from the injectable clock."""
        return _as_utc(self._clock(), "the QuotaLedger clock's value")

    def _resolve_now(self, now: datetime | None) -> datetime:
        return self.now() if now is None else _as_utc(now, "now")

    # -- writes

    def mark_exhausted(
        self, key: QuotaKey, until: datetime | None = None, *, reason: str | None = None
    ) -> QuotaEntry:
        """Record that ``key`` is exhausted until ``until`` (default: the next daily reset).

        Only ever moves a mark later: an earlier ``until`` leaves the stored mark as it is.
        Returns the mark now in the store.
        """
        key = _check_key(key)
        now = self.now()
        resolved = next_daily_reset(now) if until is None else _as_utc(until, "until")
        result = self._store.extend(
            QuotaEntry(key=key, until=resolved, reason=reason, recorded_at=now)
        )
        # Marks are written rarely (on a 429 or an empty header), so tidying here is cheap.
        self._store.prune(now)
        logger.debug(
            "quota mark: %s/%s/%s exhausted until %s",
            key.provider,
            key.account,
            key.model,
            result.until.isoformat(),
        )
        return result

    def record_remaining(
        self,
        key: QuotaKey,
        remaining: int | None,
        limit: int | None = None,
        *,
        reset_at: datetime | None = None,
    ) -> QuotaEntry | None:
        """Learn from rate-limit headers: ``remaining == 0`` marks ``key`` until the reset.

        ``reset_at`` defaults to the next daily reset. A positive ``remaining`` never clears a
        mark (a 429 is the truth; headers can be stale or cached). Returns the mark written, or
        None when nothing was recorded.
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
            reset_at = _as_utc(reset_at, "reset_at")
        if remaining > 0:
            return None
        of_limit = "" if limit is None else f" of {limit}"
        reason = f"rate-limit headers: 0{of_limit} calls remaining"
        return self.mark_exhausted(key, reset_at, reason=reason)

    def clear(self, key: QuotaKey) -> None:
        """Lift the mark on exactly ``key`` (an account-wide mark is a separate key)."""
        self._store.delete(_check_key(key))

    def clear_all(self) -> None:
        """Lift every mark in the store."""
        self._store.clear()

    # -- reads

    def blocked_until(self, key: QuotaKey, now: datetime | None = None) -> QuotaEntry | None:
        """The mark that blocks ``key`` at ``now``: its own or its account's, the later one."""
        key = _check_key(key)
        at = self._resolve_now(now)
        keys = [key] if key.is_account_wide else [key, key.account_wide()]
        active = [entry for entry in self._store.get_many(keys) if entry.until > at]
        return max(active, key=lambda entry: entry.until, default=None)

    def is_available(self, key: QuotaKey, now: datetime | None = None) -> bool:
        """False while ``key`` or its account-wide key is marked exhausted."""
        return self.blocked_until(key, now) is None

    def entries(self, now: datetime | None = None) -> list[QuotaEntry]:
        """The marks in force at ``now``, soonest to lift first (for snapshots and metrics)."""
        at = self._resolve_now(now)
        active = [entry for entry in self._store.entries() if entry.until > at]
        return sorted(
            active,
            key=lambda e: (e.until, e.key.provider, e.key.account, e.key.model),
        )

    # -- async twins: never block the event loop

    async def _run(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._store.blocking:
            return await asyncio.to_thread(function, *args, **kwargs)
        return function(*args, **kwargs)

    async def amark_exhausted(
        self, key: QuotaKey, until: datetime | None = None, *, reason: str | None = None
    ) -> QuotaEntry:
        """Async :meth:`mark_exhausted`."""
        return await self._run(self.mark_exhausted, key, until, reason=reason)

    async def arecord_remaining(
        self,
        key: QuotaKey,
        remaining: int | None,
        limit: int | None = None,
        *,
        reset_at: datetime | None = None,
    ) -> QuotaEntry | None:
        """Async :meth:`record_remaining`."""
        return await self._run(self.record_remaining, key, remaining, limit, reset_at=reset_at)

    async def ablocked_until(self, key: QuotaKey, now: datetime | None = None) -> QuotaEntry | None:
        """Async :meth:`blocked_until`."""
        return await self._run(self.blocked_until, key, now)

    async def ais_available(self, key: QuotaKey, now: datetime | None = None) -> bool:
        """Async :meth:`is_available`."""
        return await self._run(self.is_available, key, now)

    async def aclear(self, key: QuotaKey) -> None:
        """Async :meth:`clear`."""
        await self._run(self.clear, key)

    async def aentries(self, now: datetime | None = None) -> list[QuotaEntry]:
        """Async :meth:`entries`."""
        return await self._run(self.entries, now)


# --------------------------------------------------------------------------- default ledger

_default_lock = threading.Lock()
_default_ledger: QuotaLedger | None = None


def get_default_ledger() -> QuotaLedger:
    """The process-wide ledger that models share unless given their own (in-memory by default)."""
    global _default_ledger
    with _default_lock:
        if _default_ledger is None:
            _default_ledger = QuotaLedger()
        return _default_ledger


def set_default_ledger(ledger: QuotaLedger | None) -> None:
    """Replace the process-wide ledger, e.g. with one on SQLite or Redis; None resets it."""
    global _default_ledger
    if ledger is not None and not isinstance(ledger, QuotaLedger):
        raise TypeError(
            f"set_default_ledger() takes a QuotaLedger or None, got {type(ledger).__name__}"
        )
    with _default_lock:
        _default_ledger = ledger
