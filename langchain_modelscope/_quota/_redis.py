"""The Redis store: marks shared by every process on every host that reaches the server."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from langchain_modelscope._quota._marks import (
    MarkKind,
    QuotaEntry,
    QuotaKey,
    as_utc,
    from_micros,
    to_micros,
)
from langchain_modelscope._quota._store import QuotaStore

if TYPE_CHECKING:
    import redis

logger = logging.getLogger("langchain_modelscope.quota")

#: Default socket connect and read timeout, seconds, of a store built from a URL. Redis on a
#: LAN answers in well under a millisecond; a quarter of a second is a hundred slow answers,
#: and it bounds what a Redis that accepts connections but never answers costs: one such
#: wait, after which the ledger works from memory for its cool-down (redis-py's default of
#: 5 s, three times over with its retries, made every call wait 15 s).
REDIS_TIMEOUT = 0.25

# KEYS[1] = the mark's key. ARGV: until_us, expire_at_ms, recorded_at_us, provider, account,
# model, has_reason ("1"/"0"), reason, kind, strikes, keep_until_us. Times travel as decimal
# strings and are compared with tonumber (exact: microseconds since 1970 stay below 2**53);
# they are never formatted by Lua.
_EXTEND_LUA = """
local current = nil
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
    current = tonumber(redis.call('HGET', KEYS[1], 'until_us'))
end
if current and current >= tonumber(ARGV[1]) then
    return redis.call('HGETALL', KEYS[1])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'until_us', ARGV[1], 'recorded_at_us', ARGV[3],
    'provider', ARGV[4], 'account', ARGV[5], 'model', ARGV[6],
    'kind', ARGV[9], 'strikes', ARGV[10], 'keep_until_us', ARGV[11])
if ARGV[7] == '1' then
    redis.call('HSET', KEYS[1], 'reason', ARGV[8])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
"""
# KEYS[1] = a mark's key, ARGV[1] = cutoff in microseconds: delete only if still lapsed, so a
# concurrent extend between SCAN and DEL is never lost. Keys that are not our hashes are left.
_PRUNE_LUA = """
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then
    return 0
end
local keep = tonumber(redis.call('HGET', KEYS[1], 'keep_until_us'))
    or tonumber(redis.call('HGET', KEYS[1], 'until_us'))
if keep and keep <= tonumber(ARGV[1]) then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
# KEYS[1] = a mark's key, ARGV[1] = the kind it must have (a mark without one is "other").
_DELETE_KIND_LUA = """
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then
    return 0
end
local kind = redis.call('HGET', KEYS[1], 'kind') or 'other'
if kind == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
# KEYS[1] = the claim's key. ARGV: until_us, now_us, expire_at_ms. Held past now: refused.
_CLAIM_LUA = """
local held = nil
if redis.call('TYPE', KEYS[1]).ok == 'string' then
    held = tonumber(redis.call('GET', KEYS[1]))
end
if held and held > tonumber(ARGV[2]) then
    return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
"""
# KEYS[1] = the slot set (a sorted set: holder -> lease end). ARGV: holder, limit, until_us,
# now_us. Lapsed leases go first; a holder already in renews; the key expires with its last lease.
_ACQUIRE_SLOT_LUA = """
if redis.call('TYPE', KEYS[1]).ok ~= 'zset' then
    redis.call('DEL', KEYS[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
        return 0
    end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.ceil(tonumber(last) / 1000)))
return 1
"""
_DEFAULT_URL = "redis://localhost:6379/0"
_INSTALL_HINT = (
    'RedisQuotaStore needs the redis package: pip install "langchain-modelscope-api[redis]"'
)
# '!' is escaped by quote(safe=""), so no mark key (quoted parts) can start like a claim key.
_CLAIM_TAG = "!claim:"
_SLOTS_TAG = "!slots:"


def _import_redis() -> Any:
    try:
        import redis as redis_module
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis_module


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def redact_url(url: str) -> str:
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


def _micros(value: datetime) -> str:
    return str(to_micros(value))


def _expire_ms(value: datetime) -> str:
    return str(-(-to_micros(value) // 1000))


def _check_timeout(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"RedisQuotaStore({what}=) takes a number of seconds")
    if value <= 0:
        raise ValueError(f"RedisQuotaStore({what}=) must be a positive number of seconds")
    return float(value)


class RedisQuotaStore(QuotaStore):
    """Marks in Redis: shared by every process on every host that reaches the server.

    One hash per key, written by a Lua script that keeps ``until = max(old, new)`` atomically
    and sets ``PEXPIREAT keep_until``, so lapsed marks disappear on their own (by the Redis
    server's clock: a ledger whose clock runs far ahead of real time will see marks it thinks
    lapsed still stored, and ``prune`` removes them; one far behind real time sees them vanish
    early). Claims are plain keys set by a Lua script. Only keys under ``prefix`` are ever read
    or deleted. A store built from ``url`` uses short timeouts (:data:`REDIS_TIMEOUT`) and no
    retries; one given a ``client=`` keeps that client's own settings.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        prefix: str = "langchain_modelscope:quota:",
        socket_timeout: float = REDIS_TIMEOUT,
        connect_timeout: float = REDIS_TIMEOUT,
    ) -> None:
        if url is not None and client is not None:
            raise ValueError("RedisQuotaStore takes either url= or client=, not both")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("RedisQuotaStore(prefix=) must be a non-empty string")
        socket_timeout = _check_timeout(socket_timeout, "socket_timeout")
        connect_timeout = _check_timeout(connect_timeout, "connect_timeout")
        redis_module = _import_redis()
        if client is None:
            url = _DEFAULT_URL if url is None else url
            if not isinstance(url, str) or not url.strip():
                raise ValueError(
                    "RedisQuotaStore(url) must be a redis URL such as redis://localhost:6379/0"
                )
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            client = redis_module.Redis.from_url(
                url,
                socket_timeout=socket_timeout,
                socket_connect_timeout=connect_timeout,
                retry=Retry(NoBackoff(), 0),
            )
            self._label = redact_url(url)
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
        self._extend_script: Any = self._client.register_script(_EXTEND_LUA)
        self._prune_script: Any = self._client.register_script(_PRUNE_LUA)
        self._delete_kind_script: Any = self._client.register_script(_DELETE_KIND_LUA)
        self._claim_script: Any = self._client.register_script(_CLAIM_LUA)
        self._acquire_slot_script: Any = self._client.register_script(_ACQUIRE_SLOT_LUA)

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

    def _mark_names(self) -> list[Any]:
        own = self._prefix + "!"  # claims and slot sets: no mark key starts like that
        return [name for name in self._scan() if not _text(name).startswith(own)]

    @staticmethod
    def _decode(raw: Any) -> QuotaEntry | None:
        if not raw or isinstance(raw, Exception):  # e.g. WRONGTYPE for a foreign key
            return None
        if isinstance(raw, (list, tuple)):  # HGETALL from Lua: a flat [field, value, ...]
            raw = dict(zip(raw[::2], raw[1::2], strict=False))
        fields = {_text(name): _text(value) for name, value in raw.items()}
        try:
            keep = fields.get("keep_until_us")
            return QuotaEntry(
                key=QuotaKey(fields["provider"], fields["account"], fields["model"]),
                until=from_micros(int(fields["until_us"])),
                reason=fields.get("reason"),
                recorded_at=from_micros(int(fields["recorded_at_us"])),
                # A mark written before marks had kinds reads back as "other".
                kind=fields.get("kind", "other"),  # type: ignore[arg-type]  # checked by QuotaEntry
                strikes=int(fields.get("strikes", "0")),
                keep_until=None if keep is None else from_micros(int(keep)),
            )
        except (KeyError, ValueError, TypeError):
            logger.warning("ignoring a malformed quota mark in Redis")
            return None

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        key = entry.key
        raw = self._extend_script(
            keys=[self._redis_key(key)],
            args=[
                _micros(entry.until),
                _expire_ms(entry.forget_at),
                _micros(entry.recorded_at),
                key.provider,
                key.account,
                key.model,
                "0" if entry.reason is None else "1",
                entry.reason or "",
                entry.kind,
                str(entry.strikes),
                _micros(entry.forget_at),
            ],
        )
        # A mark already past (by the server's clock) is expired at once and reads back empty.
        return self._decode(raw) or entry

    def get(self, key: QuotaKey) -> QuotaEntry | None:
        return self._decode(self._client.hgetall(self._redis_key(key)))

    def _read_marks(self, names: Iterable[Any]) -> list[QuotaEntry]:
        """The marks under ``names``, in one round trip (missing or foreign ones left out)."""
        pipeline = self._client.pipeline(transaction=False)
        for name in names:
            pipeline.hgetall(name)
        decoded = (self._decode(raw) for raw in pipeline.execute(raise_on_error=False))
        return [entry for entry in decoded if entry is not None]

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        return self._read_marks(self._redis_key(key) for key in keys)

    def delete(self, key: QuotaKey, kind: MarkKind | None = None) -> None:
        if kind is None:
            self._client.delete(self._redis_key(key))
        else:
            self._delete_kind_script(keys=[self._redis_key(key)], args=[kind])

    def claim(self, name: str, until: datetime, now: datetime) -> bool:
        claim_key = self._prefix + _CLAIM_TAG + quote(name, safe="")
        won = self._claim_script(
            keys=[claim_key], args=[_micros(until), _micros(now), _expire_ms(until)]
        )
        return bool(int(won))

    def _slots_key(self, name: str) -> str:
        return self._prefix + _SLOTS_TAG + quote(name, safe="")

    def acquire_slot(
        self, name: str, holder: str, limit: int, until: datetime, now: datetime
    ) -> bool:
        won = self._acquire_slot_script(
            keys=[self._slots_key(name)], args=[holder, str(limit), _micros(until), _micros(now)]
        )
        return bool(int(won))

    def release_slot(self, name: str, holder: str) -> None:
        self._client.zrem(self._slots_key(name), holder)

    def clear(self) -> None:
        names = list(self._scan())
        for start in range(0, len(names), 500):
            self._client.delete(*names[start : start + 500])

    def entries(self) -> list[QuotaEntry]:
        names = self._mark_names()
        return self._read_marks(names) if names else []

    def prune(self, now: datetime) -> int:
        cutoff = _micros(as_utc(now, "now"))
        slots = self._prefix + _SLOTS_TAG
        own = self._prefix + "!"
        names = list(self._scan())
        marks = [name for name in names if not _text(name).startswith(own)]
        slot_sets = [name for name in names if _text(name).startswith(slots)]
        if not marks and not slot_sets:
            return 0
        # One round trip for the lot; each deletion is still its own atomic check-and-delete.
        pipeline = self._client.pipeline(transaction=False)
        for name in marks:
            self._prune_script(keys=[name], args=[cutoff], client=pipeline)
        for name in slot_sets:  # lapsed leases, as the other stores drop them
            pipeline.zremrangebyscore(name, "-inf", cutoff)
        results = pipeline.execute(raise_on_error=False)
        return sum(1 for result in results[: len(marks)] if result == 1)

    def close(self) -> None:
        self._client.close()
