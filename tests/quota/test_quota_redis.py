"""What only the Redis store promises: several clients agree, keys expire, one namespace."""

from __future__ import annotations

import builtins
import itertools
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from langchain_modelscope.quota import QuotaEntry, QuotaKey, QuotaLedger, RedisQuotaStore

redis = pytest.importorskip("redis")

KEY = QuotaKey("modelscope", "0123456789ab", "Qwen/Qwen3-32B")
_prefixes = itertools.count()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"redis-test:{next(_prefixes)}:"
    yield name
    RedisQuotaStore(redis_url, prefix=name).clear()


def test_two_clients_agree(redis_url: str, prefix: str, clock) -> None:
    first = QuotaLedger(RedisQuotaStore(redis_url, prefix=prefix), clock=clock)
    second = QuotaLedger(
        RedisQuotaStore(client=redis.Redis.from_url(redis_url), prefix=prefix), clock=clock
    )
    assert first.store is not second.store

    entry = first.mark_exhausted(KEY, reason="today's quota")
    assert not second.is_available(KEY)
    assert second.blocked_until(KEY) == entry

    # The second client moves it later; the first sees that, and cannot move it back.
    later = second.mark_exhausted(KEY, entry.until + timedelta(hours=1))
    assert first.blocked_until(KEY) == later
    assert first.mark_exhausted(KEY, entry.until) == later
    assert second.entries() == first.entries() == [later]


def test_keys_expire_at_until(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisQuotaStore(client=client, prefix=prefix)
    now = datetime.now(timezone.utc)
    until = now + timedelta(hours=2)
    store.extend(QuotaEntry(KEY, until, None, now))

    (name,) = list(client.scan_iter(match=prefix + "*"))
    expire_at_ms = client.pexpiretime(name)
    assert abs(expire_at_ms - until.timestamp() * 1000) <= 1

    # A mark already past by the server's clock is not kept at all.
    past_key = QuotaKey("modelscope", "0123456789ab", "old")
    store.extend(QuotaEntry(past_key, now - timedelta(seconds=1), None, now))
    assert store.get(past_key) is None


def test_clear_and_prune_touch_only_this_prefix(redis_url: str, prefix: str, clock) -> None:
    client = redis.Redis.from_url(redis_url)
    neighbour_prefix = prefix + "neighbour:"  # shares our prefix as a string prefix
    foreign = prefix.rstrip(":") + "X:unrelated"
    client.set(foreign, "keep me")
    try:
        ours = QuotaLedger(RedisQuotaStore(redis_url, prefix=prefix), clock=clock)
        theirs = QuotaLedger(RedisQuotaStore(redis_url, prefix="other:" + prefix), clock=clock)
        ours.mark_exhausted(KEY)
        theirs.mark_exhausted(KEY)

        assert theirs.store.prune(clock() + timedelta(days=2)) == 1
        assert ours.entries() != []
        theirs.mark_exhausted(KEY)
        ours.clear_all()
        assert ours.entries() == []
        assert theirs.entries() != []
        assert client.get(foreign) == b"keep me"
        theirs.clear_all()
    finally:
        client.delete(foreign)
        RedisQuotaStore(redis_url, prefix=neighbour_prefix).clear()


def test_a_prefix_with_glob_characters_is_matched_literally(redis_url: str, clock) -> None:
    odd = RedisQuotaStore(redis_url, prefix="glob*[q]?:")
    plain = RedisQuotaStore(redis_url, prefix="globXqY:")
    try:
        QuotaLedger(plain, clock=clock).mark_exhausted(KEY)
        assert odd.entries() == []
        QuotaLedger(odd, clock=clock).mark_exhausted(KEY)
        odd.clear()
        assert len(plain.entries()) == 1
    finally:
        odd.clear()
        plain.clear()


def test_a_decoding_client_works_too(redis_url: str, prefix: str, clock) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    ledger = QuotaLedger(RedisQuotaStore(client=client, prefix=prefix), clock=clock)
    entry = ledger.mark_exhausted(KEY, reason="原因")
    assert ledger.blocked_until(KEY) == entry
    assert ledger.entries() == [entry]


def test_malformed_hashes_under_the_prefix_are_ignored(redis_url: str, prefix: str, clock) -> None:
    client = redis.Redis.from_url(redis_url)
    client.hset(prefix + "junk", mapping={"until_us": "not a number"})
    client.set(prefix + "a-string", "not a hash")
    ledger = QuotaLedger(RedisQuotaStore(redis_url, prefix=prefix), clock=clock)
    entry = ledger.mark_exhausted(KEY)
    assert ledger.entries() == [entry]


def test_the_password_never_shows_in_the_repr(redis_url: str) -> None:
    store = RedisQuotaStore("redis://user:s3cret-pw@127.0.0.1:1/0")
    assert "s3cret-pw" not in repr(store)
    assert "127.0.0.1:1" in repr(store)
    store.close()


def test_url_and_client_together_are_rejected(redis_url: str) -> None:
    with pytest.raises(ValueError, match="either url= or client="):
        RedisQuotaStore(redis_url, client=redis.Redis.from_url(redis_url))


def test_an_async_client_is_rejected_with_a_hint(redis_url: str) -> None:
    import redis.asyncio

    with pytest.raises(TypeError, match=r"synchronous redis\.Redis"):
        RedisQuotaStore(client=redis.asyncio.Redis.from_url(redis_url))  # type: ignore[arg-type]


def test_without_the_redis_package_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_redis(name: str, *args: object, **kwargs: object) -> object:
        if name == "redis" or name.startswith("redis."):
            raise ImportError("No module named 'redis'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "redis", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_redis)
    with pytest.raises(ImportError, match=r'pip install "langchain-modelscope-api\[redis\]"'):
        RedisQuotaStore("redis://127.0.0.1:6379/0")


def test_an_old_hash_without_a_kind_reads_as_other(redis_url: str, prefix: str, clock) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisQuotaStore(client=client, prefix=prefix)
    until = clock() + timedelta(hours=1)
    store.extend(QuotaEntry(KEY, until, "old", clock()))
    name = store._redis_key(KEY)
    client.hdel(name, "kind", "strikes", "keep_until_us")  # as the first release wrote it
    ledger = QuotaLedger(store, clock=clock)
    entry = ledger.blocked_until(KEY)
    assert entry is not None
    assert (entry.until, entry.kind, entry.strikes, entry.keep_until) == (until, "other", 0, until)
    ledger.lift(KEY, kind="other")
    assert ledger.is_available(KEY)


def test_claims_are_not_listed_as_marks(redis_url: str, prefix: str, clock) -> None:
    ledger = QuotaLedger(RedisQuotaStore(redis_url, prefix=prefix), clock=clock)
    assert ledger.claim("probe", clock() + timedelta(minutes=1))
    assert ledger.entries() == []
    assert ledger.store.prune(clock() + timedelta(days=1)) == 0
    ledger.clear_all()
    assert ledger.claim("probe", clock() + timedelta(minutes=1))
