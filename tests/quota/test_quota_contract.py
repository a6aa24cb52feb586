"""The one contract every quota store honours, run against memory, SQLite and a real Redis.

The ``store``/``ledger`` fixtures are parametrised over the three stores (see conftest.py).
"""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from langchain_modelscope._reset import RESET_TIMEZONE, next_daily_reset, next_monthly_reset
from langchain_modelscope.quota import (
    ACCOUNT_WIDE,
    MARK_KINDS,
    RETIRED_FOR,
    THROTTLE_FIRST_COOLDOWN,
    THROTTLE_MAX_COOLDOWN,
    THROTTLE_MEMORY,
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    QuotaStore,
    account_fingerprint,
    throttle_cooldown,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
NAIVE = datetime(2030, 1, 1, 12, 0)

# ---------------------------------------------------------------------------- marking


def test_mark_defaults_to_the_next_daily_reset(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    entry = ledger.mark_exhausted(key, reason="You have exceeded today's quota")

    # The fake clock starts at 15:30 UTC (23:30 UTC+8): the reset is 16:00 UTC the same day.
    assert entry.until == next_daily_reset(clock())
    assert entry.until == clock().replace(hour=16, minute=0)
    assert entry.until.utcoffset() == timedelta(0)
    assert entry.until.astimezone(RESET_TIMEZONE).time().isoformat() == "00:00:00"
    assert entry.recorded_at == clock()
    assert entry.reason == "You have exceeded today's quota"
    assert entry.key == key
    assert entry.scope == "model"
    assert ledger.blocked_until(key) == entry
    assert not ledger.is_available(key)


def test_a_mark_made_at_the_reset_lasts_until_the_next_one(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    clock.set(clock().replace(hour=16, minute=0))  # exactly 00:00 UTC+8
    entry = ledger.mark_exhausted(key)
    assert entry.until == clock() + timedelta(days=1)


def test_until_only_moves_later(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    late = clock() + timedelta(hours=5)
    first = ledger.mark_exhausted(key, late, reason="late")

    # An earlier until never shortens the mark; the stored mark (and its reason) is returned.
    second = ledger.mark_exhausted(key, clock() + timedelta(hours=1), reason="early")
    assert second.until == late
    assert second.reason == "late"
    assert second == first
    # The default (next reset, 30 min away) is earlier too.
    assert ledger.mark_exhausted(key).until == late
    # An equal until keeps the first mark as it is.
    assert ledger.mark_exhausted(key, late, reason="same").reason == "late"

    later = late + timedelta(seconds=1)
    third = ledger.mark_exhausted(key, later, reason="later")
    assert third.until == later
    assert third.reason == "later"
    blocked = ledger.blocked_until(key)
    assert blocked is not None
    assert blocked.until == later


def test_a_model_mark_blocks_only_that_model(
    ledger: QuotaLedger, key: QuotaKey, other_token: str
) -> None:
    ledger.mark_exhausted(key)

    assert not ledger.is_available(key)
    assert ledger.is_available(QuotaKey(key.provider, key.account, "Qwen/Qwen3-8B"))
    assert ledger.is_available(key.account_wide())
    assert ledger.is_available(QuotaKey(key.provider, account_fingerprint(other_token), key.model))


def test_an_account_wide_mark_blocks_every_model_of_that_account_only(
    ledger: QuotaLedger, key: QuotaKey, other_token: str
) -> None:
    entry = ledger.mark_exhausted(key.account_wide(), reason="insufficient_quota")
    assert entry.scope == "account"

    for model in (key.model, "Qwen/Qwen3-8B", "deepseek-ai/DeepSeek-V3.2"):
        model_key = QuotaKey(key.provider, key.account, model)
        assert not ledger.is_available(model_key)
        assert ledger.blocked_until(model_key) == entry
    assert not ledger.is_available(key.account_wide())
    # Another account, or the same fingerprint with another provider, is unaffected.
    assert ledger.is_available(QuotaKey(key.provider, account_fingerprint(other_token), key.model))
    assert ledger.is_available(QuotaKey("other-provider", key.account, key.model))


def test_blocked_until_reports_the_later_of_model_and_account_marks(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    model_mark = ledger.mark_exhausted(key, clock() + timedelta(hours=2))
    account_mark = ledger.mark_exhausted(key.account_wide(), clock() + timedelta(hours=1))
    assert ledger.blocked_until(key) == model_mark
    # The account key itself only sees the account mark.
    assert ledger.blocked_until(key.account_wide()) == account_mark

    clock.advance(hours=1, minutes=30)  # the account mark has lifted, the model mark holds
    assert ledger.blocked_until(key) == model_mark
    assert ledger.blocked_until(key.account_wide()) is None
    assert ledger.is_available(QuotaKey(key.provider, key.account, "Qwen/Qwen3-8B"))

    longer = ledger.mark_exhausted(key.account_wide(), clock() + timedelta(hours=3))
    assert ledger.blocked_until(key) == longer


def test_a_mark_lifts_exactly_at_until_across_midnight_utc8(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    entry = ledger.mark_exhausted(key)
    reset = clock().replace(hour=16, minute=0)  # 00:00 UTC+8
    assert entry.until == reset

    clock.set(reset - timedelta(microseconds=1))
    assert not ledger.is_available(key)
    assert [e.key for e in ledger.entries()] == [key]

    clock.set(reset)
    assert ledger.is_available(key)
    assert ledger.blocked_until(key) is None
    assert ledger.entries() == []

    # An explicit `now` overrides the clock, in either direction, and may be in any time zone.
    before = (reset - timedelta(seconds=1)).astimezone(RESET_TIMEZONE)
    assert not ledger.is_available(key, now=before)
    assert ledger.is_available(key, now=reset.astimezone(RESET_TIMEZONE))


def test_a_mark_whose_until_has_passed_is_not_in_force(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    ledger.mark_exhausted(key, clock() - timedelta(minutes=1))
    assert ledger.is_available(key)
    assert ledger.entries() == []


def test_until_in_another_time_zone_is_stored_as_utc(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    local = (clock() + timedelta(hours=3)).astimezone(RESET_TIMEZONE)
    entry = ledger.mark_exhausted(key, local)
    assert entry.until == local
    assert entry.until.tzinfo == timezone.utc
    stored = ledger.blocked_until(key)
    assert stored is not None
    assert stored.until.tzinfo == timezone.utc


# ---------------------------------------------------------------------------- headers


def test_record_remaining_zero_marks_until_the_next_reset(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    entry = ledger.record_remaining(key, 0, 500)
    assert entry is not None
    assert entry.until == next_daily_reset(clock())
    assert entry.reason is not None
    assert "500" in entry.reason
    assert not ledger.is_available(key)


def test_record_remaining_zero_uses_reset_at_when_given(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    reset_at = clock() + timedelta(days=3)
    entry = ledger.record_remaining(key.account_wide(), 0, reset_at=reset_at)
    assert entry is not None
    assert entry.until == reset_at
    assert not ledger.is_available(key)


def test_record_remaining_positive_never_clears_a_mark(ledger: QuotaLedger, key: QuotaKey) -> None:
    mark = ledger.mark_exhausted(key, reason="429")
    assert ledger.record_remaining(key, 120, 500) is None
    assert ledger.record_remaining(key, None, 500) is None
    assert ledger.blocked_until(key) == mark


def test_record_remaining_positive_or_unknown_records_nothing(
    ledger: QuotaLedger, key: QuotaKey
) -> None:
    assert ledger.record_remaining(key, 1, 500) is None
    assert ledger.record_remaining(key, None) is None
    assert ledger.is_available(key)
    assert ledger.entries() == []
    assert ledger.store.entries() == []


# ---------------------------------------------------------------------------- listing, clearing


def test_entries_lists_marks_in_force_only_soonest_first(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    soon = ledger.mark_exhausted(key, clock() + timedelta(minutes=10))
    later = ledger.mark_exhausted(key.account_wide(), clock() + timedelta(hours=10))
    other = ledger.mark_exhausted(
        QuotaKey(key.provider, key.account, "Qwen/Qwen3-8B"), clock() + timedelta(hours=1)
    )
    assert ledger.entries() == [soon, other, later]

    clock.advance(minutes=30)
    assert ledger.entries() == [other, later]
    assert ledger.entries(now=clock() + timedelta(hours=2)) == [later]
    assert ledger.entries(now=clock() + timedelta(hours=20)) == []


def test_clear_lifts_exactly_one_key(ledger: QuotaLedger, key: QuotaKey) -> None:
    other = QuotaKey(key.provider, key.account, "Qwen/Qwen3-8B")
    ledger.mark_exhausted(key)
    ledger.mark_exhausted(other)
    ledger.mark_exhausted(key.account_wide())

    ledger.clear(key)
    assert ledger.store.get(key) is None
    assert not ledger.is_available(key)  # the account-wide mark still holds
    ledger.clear(key.account_wide())
    assert ledger.is_available(key)
    assert not ledger.is_available(other)
    ledger.clear(key)  # clearing an unmarked key is not an error

    ledger.clear_all()
    assert ledger.entries() == []
    assert ledger.is_available(other)


def test_store_prune_drops_lapsed_marks_only(store: QuotaStore, clock, key: QuotaKey) -> None:
    now = clock()
    short = QuotaEntry(key, now + timedelta(minutes=1), None, now)
    long = QuotaEntry(key.account_wide(), now + timedelta(hours=1), "r", now)
    store.extend(short)
    store.extend(long)

    assert store.prune(now) == 0
    assert store.prune(now + timedelta(minutes=1)) == 1  # until == now counts as lapsed
    assert store.entries() == [long]


def test_marks_round_trip_exactly(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    odd_models = ["Qwen/Qwen3-1.7B:DashScope", "a b/c%2Fd*?[x]", "模型/名字", ACCOUNT_WIDE]
    until = clock() + timedelta(hours=1, microseconds=123457)
    reason = "You have exceeded today's quota for model X,  please try again tomorrow ✓"
    written = [
        ledger.mark_exhausted(QuotaKey(key.provider, key.account, model), until, reason=reason)
        for model in odd_models
    ]
    for entry in written:
        assert ledger.store.get(entry.key) == entry
        assert entry.until == until
        assert entry.reason == reason
    assert sorted(e.key.model for e in ledger.entries()) == sorted(odd_models)
    none_reason = ledger.mark_exhausted(QuotaKey(key.provider, key.account, "no-reason"))
    assert none_reason.reason is None
    assert ledger.store.get(none_reason.key) == none_reason


def test_an_overlong_reason_is_truncated(ledger: QuotaLedger, key: QuotaKey) -> None:
    entry = ledger.mark_exhausted(key, reason="x" * 10_000)
    assert entry.reason is not None
    assert len(entry.reason) <= 500
    assert ledger.store.get(key) == entry


# ---------------------------------------------------------------------------- sharing, concurrency


def test_a_mark_is_visible_to_another_ledger_on_the_same_store_at_once(
    store_factory, clock, key: QuotaKey
) -> None:
    writer = QuotaLedger(store_factory(), clock=clock)
    reader = QuotaLedger(store_factory(), clock=clock)
    assert reader.is_available(key)

    entry = writer.mark_exhausted(key.account_wide(), reason="insufficient balance")
    assert not reader.is_available(key)
    assert reader.blocked_until(key) == entry
    assert reader.entries() == [entry]

    reader.clear(key.account_wide())
    assert writer.is_available(key)


def test_concurrent_marks_keep_the_latest_until(store_factory, clock, key: QuotaKey) -> None:
    base = clock()
    threads, per_thread = 12, 8
    offsets = list(range(1, threads * per_thread + 1))
    random.Random(7).shuffle(offsets)
    chunks = [offsets[i::threads] for i in range(threads)]
    start = threading.Barrier(threads)

    def worker(chunk: list[int]) -> list[tuple[datetime, QuotaEntry]]:
        ledger = QuotaLedger(store_factory(), clock=clock)
        start.wait()
        results = []
        for offset in chunk:
            until = base + timedelta(seconds=offset)
            results.append((until, ledger.mark_exhausted(key, until, reason=f"+{offset}s")))
        return results

    with ThreadPoolExecutor(threads) as pool:
        results = [r for chunk_results in pool.map(worker, chunks) for r in chunk_results]

    final = QuotaLedger(store_factory(), clock=clock).blocked_until(key)
    assert final is not None
    assert final.until == base + timedelta(seconds=max(offsets))
    assert final.reason == f"+{max(offsets)}s"
    # Every writer got back a mark at least as late as the one it asked for.
    assert all(returned.until >= asked for asked, returned in results)


def test_concurrent_marks_on_different_keys_are_all_kept(
    store_factory, clock, key: QuotaKey
) -> None:
    threads, per_thread = 8, 6
    start = threading.Barrier(threads)

    def worker(n: int) -> None:
        ledger = QuotaLedger(store_factory(), clock=clock)
        start.wait()
        for i in range(per_thread):
            ledger.mark_exhausted(QuotaKey(key.provider, key.account, f"model-{n}-{i}"))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))

    models = {e.key.model for e in QuotaLedger(store_factory(), clock=clock).entries()}
    assert models == {f"model-{n}-{i}" for n in range(threads) for i in range(per_thread)}


# ---------------------------------------------------------------------------- secrets


def test_the_token_never_appears_in_keys_entries_stores_or_ledgers(
    ledger: QuotaLedger, store: QuotaStore, token: str, other_token: str
) -> None:
    fingerprint = account_fingerprint(token)
    assert fingerprint != token
    assert token not in fingerprint
    assert fingerprint not in token
    assert fingerprint != account_fingerprint(other_token)

    key = QuotaKey.for_token(token, "Qwen/Qwen3-32B")
    assert key.account == fingerprint
    entry = ledger.mark_exhausted(key, reason="quota")
    ledger.record_remaining(key.account_wide(), 0, 2000)
    shown = [
        repr(key),
        str(key),
        repr(entry),
        repr(store),
        repr(ledger),
        repr(ledger.entries()),
        repr(store.entries()),
    ]
    for text in shown:
        assert token not in text
        assert token.removeprefix("ms-") not in text


# ---------------------------------------------------------------------------- async twins


async def test_async_twins_follow_the_same_rules(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    assert await ledger.ais_available(key)
    entry = await ledger.amark_exhausted(key, reason="429")
    assert entry.until == next_daily_reset(clock())
    assert not await ledger.ais_available(key)
    assert await ledger.ablocked_until(key) == entry
    # Only later: an earlier until is ignored.
    assert (await ledger.amark_exhausted(key, clock() + timedelta(minutes=1))).until == entry.until

    assert await ledger.arecord_remaining(key, 5, 500) is None
    assert await ledger.ablocked_until(key) == entry
    account = await ledger.arecord_remaining(key.account_wide(), 0, 2000)
    assert account is not None
    # Same until: ties are ordered by key, and "*" sorts before any model id.
    assert await ledger.aentries() == [account, entry]

    clock.set(entry.until)
    assert await ledger.ais_available(key)
    assert await ledger.ablocked_until(key) is None
    await ledger.aclear(key)
    assert ledger.store.get(key) is None


async def test_async_twins_run_concurrently(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    base = clock()
    untils = [base + timedelta(seconds=s) for s in range(1, 41)]
    random.Random(3).shuffle(untils)
    await asyncio.gather(*(ledger.amark_exhausted(key, until) for until in untils))
    blocked = await ledger.ablocked_until(key)
    assert blocked is not None
    assert blocked.until == max(untils)


async def test_async_twins_keep_io_off_the_event_loop(
    ledger: QuotaLedger, key: QuotaKey, monkeypatch
) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    store = ledger.store
    original_get_many = store.get_many
    original_extend = store.extend

    def spy_get_many(keys):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        return original_get_many(keys)

    def spy_extend(entry):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        return original_extend(entry)

    monkeypatch.setattr(store, "get_many", spy_get_many)
    monkeypatch.setattr(store, "extend", spy_extend)
    await ledger.amark_exhausted(key)
    await ledger.ais_available(key)
    await ledger.ablocked_until(key)
    await ledger.arecord_remaining(key, 0)

    assert len(seen) == 4
    if store.blocking:
        assert loop_thread not in seen
    else:  # the in-memory store is a dict behind a lock: no thread hop needed
        assert set(seen) == {loop_thread}


# ---------------------------------------------------------------------------- kinds


def test_every_kind_round_trips_with_its_fields(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    now = clock()
    for n, kind in enumerate(MARK_KINDS):
        entry = QuotaEntry(
            QuotaKey(key.provider, key.account, f"model-{kind}"),
            now + timedelta(minutes=n + 1),
            f"why {kind}",
            now,
            kind=kind,  # type: ignore[arg-type]
            strikes=n,
            keep_until=now + timedelta(hours=n + 1),
        )
        assert ledger.store.extend(entry) == entry
        assert ledger.store.get(entry.key) == entry
    assert sorted(e.kind for e in ledger.store.entries()) == sorted(MARK_KINDS)


def test_the_default_until_follows_the_kind(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    daily = ledger.mark_exhausted(key)
    assert (daily.kind, daily.until) == ("daily", next_daily_reset(clock()))
    monthly = ledger.mark_exhausted(QuotaKey(key.provider, key.account, "m"), kind="monthly")
    assert (monthly.kind, monthly.until) == ("monthly", next_monthly_reset(clock()))
    retired = ledger.mark_retired(QuotaKey(key.provider, key.account, "old"), reason="1008")
    assert (retired.kind, retired.until) == ("retired", clock() + RETIRED_FOR)
    other = ledger.mark_exhausted(QuotaKey(key.provider, key.account, "o"), clock() + HOUR)
    assert other.kind == "other"
    for kind in ("throttle", "other"):
        with pytest.raises(ValueError, match="needs an until"):
            ledger.mark_exhausted(key, kind=kind)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown mark kind 'weekly'"):
        ledger.mark_exhausted(key, kind="weekly")  # type: ignore[arg-type]


def test_a_later_mark_of_another_kind_takes_over(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    ledger.mark_throttled(key, reason="rate limit you")
    daily = ledger.mark_exhausted(key, reason="today's quota")
    assert ledger.blocked_until(key) == daily
    assert daily.kind == "daily"
    # A shorter throttle does not shorten (or relabel) the daily mark.
    assert ledger.mark_throttled(key).kind == "daily"


# ---------------------------------------------------------------------------- points


def test_a_spent_balance_blocks_the_account_until_lifted(
    ledger: QuotaLedger, clock, key: QuotaKey, other_token: str
) -> None:
    entry = ledger.mark_points_spent(key, reason="insufficient balance")
    assert entry.key == key.account_wide()
    assert (entry.kind, entry.scope, entry.has_clock) == ("points", "account", False)
    assert entry.recorded_at == clock()
    for model in (key.model, "Qwen/Qwen3-8B"):
        blocking = ledger.blocked_until(QuotaKey(key.provider, key.account, model))
        assert blocking == entry
    assert ledger.is_available(QuotaKey(key.provider, account_fingerprint(other_token), key.model))

    clock.advance(hours=30)  # no reset time: still spent the next day
    assert not ledger.is_available(key)
    ledger.lift(key)  # a balance check showed points
    assert ledger.is_available(key)
    assert ledger.entries() == []


def test_lifting_points_leaves_other_kinds_alone(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    auth = ledger.mark_exhausted(key.account_wide(), clock() + timedelta(days=30), reason="401")
    ledger.lift(key.account_wide())
    assert ledger.blocked_until(key) == auth
    ledger.lift(key.account_wide(), kind="other")
    assert ledger.is_available(key)


# ---------------------------------------------------------------------------- throttles


def test_a_repeated_throttle_escalates_to_a_cap(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    seen = []
    for _ in range(10):
        entry = ledger.mark_throttled(key, reason="We have to rate limit you")
        assert entry.kind == "throttle"
        assert not ledger.is_available(key)
        assert not ledger.probe_due(key)
        seen.append(entry.until - clock())
        clock.set(entry.until)  # the cooldown ends; the probe is due and is throttled again
        assert ledger.is_available(key)
        assert ledger.probe_due(key)
    assert seen[:4] == [THROTTLE_FIRST_COOLDOWN * f for f in (1, 2, 4, 8)]
    assert seen[-1] == THROTTLE_MAX_COOLDOWN == timedelta(hours=1)
    assert max(seen) == THROTTLE_MAX_COOLDOWN
    assert [throttle_cooldown(n) for n in (1, 2, 3)] == seen[:3]


def test_a_throttle_forgotten_after_its_memory_starts_over(
    ledger: QuotaLedger, clock, key: QuotaKey
) -> None:
    first = ledger.mark_throttled(key)
    clock.set(first.until)
    ledger.mark_throttled(key)  # strike 2
    clock.advance(seconds=60)
    clock.set(clock() + THROTTLE_MEMORY)
    assert not ledger.probe_due(key)
    again = ledger.mark_throttled(key)
    assert (again.strikes, again.until - clock()) == (1, THROTTLE_FIRST_COOLDOWN)


def test_retry_after_wins_when_longer(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    assert ledger.mark_throttled(key, retry_after=5).until == clock() + THROTTLE_FIRST_COOLDOWN
    other = QuotaKey(key.provider, key.account, "other")
    long = ledger.mark_throttled(other, retry_after=timedelta(hours=3))
    assert long.until == clock() + timedelta(hours=3)
    with pytest.raises(ValueError, match="retry_after"):
        ledger.mark_throttled(key, retry_after=-1)
    with pytest.raises(TypeError, match="retry_after"):
        ledger.mark_throttled(key, retry_after="30")  # type: ignore[arg-type]


def test_a_success_clears_a_throttle_seen_by_any_ledger(
    store_factory, clock, key: QuotaKey
) -> None:
    writer = QuotaLedger(store_factory(), clock=clock)
    prober = QuotaLedger(store_factory(), clock=clock)
    entry = writer.mark_throttled(key)
    clock.set(entry.until)
    lookup = prober.lookup(key)
    assert lookup.available
    assert lookup.probe is not None
    assert lookup.probe.strikes == 1
    assert prober.claim(key.claim_name("probe"), clock() + timedelta(minutes=1))
    assert not writer.claim(key.claim_name("probe"), clock() + timedelta(minutes=1))

    prober.record_success(key)
    assert not writer.probe_due(key)
    assert writer.store.get(key) is None
    # Escalation starts over after a success.
    assert writer.mark_throttled(key).strikes == 1


def test_a_success_never_clears_a_quota_mark(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    throttle = ledger.mark_throttled(key)
    clock.set(throttle.until)
    daily = ledger.mark_exhausted(key)
    ledger.record_success(key)
    assert ledger.blocked_until(key) == daily


def test_record_success_without_a_throttle_touches_no_store(
    ledger: QuotaLedger, key: QuotaKey, monkeypatch
) -> None:
    def no_io(*args: object) -> None:
        raise AssertionError("record_success went to the store")

    ledger.mark_exhausted(key)  # a quota mark is not a throttle
    monkeypatch.setattr(ledger.store, "delete", no_io)
    monkeypatch.setattr(ledger.store, "get_many", no_io)
    ledger.record_success(key)
    ledger.record_success(QuotaKey(key.provider, key.account, "never-marked"))


def test_a_lapsed_throttle_is_kept_by_prune_until_its_memory_ends(
    store: QuotaStore, clock, key: QuotaKey
) -> None:
    now = clock()
    entry = QuotaEntry(key, now + HOUR, None, now, kind="throttle", strikes=1, keep_until=now + DAY)
    store.extend(entry)
    assert store.prune(now + 2 * HOUR) == 0
    assert store.get(key) == entry
    assert store.prune(now + DAY) == 1
    assert store.get(key) is None


# ---------------------------------------------------------------------------- claims


def test_a_claim_holds_until_its_time_then_can_be_taken_again(
    store_factory, clock, key: QuotaKey
) -> None:
    first = QuotaLedger(store_factory(), clock=clock)
    second = QuotaLedger(store_factory(), clock=clock)
    until = clock() + timedelta(minutes=5)
    name = f"balance:{key.account}"
    assert first.claim(name, until)
    assert not first.claim(name, until)
    assert not second.claim(name, until + HOUR)
    assert second.claim("another check", until)  # names are independent
    assert second.claim(key, until)  # a key is its own name
    assert not first.claim(key, until)

    clock.set(until - timedelta(microseconds=1))
    assert not second.claim(name, until + HOUR)
    clock.set(until)
    assert second.claim(name, until + HOUR)
    assert not first.claim(name, until + HOUR)


def test_exactly_one_of_many_threads_wins_a_claim(store_factory, clock) -> None:
    threads = 16
    start = threading.Barrier(threads)
    until = clock() + timedelta(minutes=1)

    def worker(_: int) -> bool:
        ledger = QuotaLedger(store_factory(), clock=clock)
        start.wait()
        return ledger.claim("probe:Qwen/Qwen3-32B", until)

    with ThreadPoolExecutor(threads) as pool:
        wins = list(pool.map(worker, range(threads)))
    assert wins.count(True) == 1


def test_bad_claims_are_typed_errors(ledger: QuotaLedger, clock) -> None:
    with pytest.raises(ValueError, match="later than"):
        ledger.claim("x", clock())
    with pytest.raises(ValueError, match="naive"):
        ledger.claim("x", NAIVE)
    with pytest.raises(ValueError, match="non-empty"):
        ledger.claim(" ", clock() + HOUR)
    with pytest.raises(TypeError, match="must be a str"):
        ledger.claim(42, clock() + HOUR)  # type: ignore[arg-type]


async def test_async_twins_of_the_new_operations(ledger: QuotaLedger, clock, key: QuotaKey) -> None:
    entry = await ledger.amark_throttled(key, reason="rate limit you")
    assert not await ledger.ais_available(key)
    clock.set(entry.until)
    assert await ledger.aprobe_due(key)
    assert (await ledger.alookup(key)).probe == entry
    wins = await asyncio.gather(*(ledger.aclaim(key, clock() + HOUR) for _ in range(8)))
    assert wins.count(True) == 1
    await ledger.arecord_success(key)
    assert not await ledger.aprobe_due(key)

    points = await ledger.amark_points_spent(key)
    assert not await ledger.ais_available(key)
    await ledger.alift(points.key)
    retired = await ledger.amark_retired(key)
    assert (await ledger.ablocked_until(key)) == retired


# ---------------------------------------------------------------------------- concurrency slots


SLOTS = "slots:account-a"


def test_a_slot_set_holds_at_most_its_limit_and_a_release_frees_one(store_factory, clock) -> None:
    first, second = store_factory(), store_factory()
    until = clock() + timedelta(minutes=1)
    assert first.acquire_slot(SLOTS, "a", 2, until, clock())
    assert second.acquire_slot(SLOTS, "b", 2, until, clock())
    assert not first.acquire_slot(SLOTS, "c", 2, until, clock())
    assert second.acquire_slot("slots:account-b", "c", 2, until, clock())  # names apart

    second.release_slot(SLOTS, "a")  # any client of the store may end a lease
    assert first.acquire_slot(SLOTS, "c", 2, until, clock())
    assert not second.acquire_slot(SLOTS, "d", 2, until, clock())
    first.release_slot(SLOTS, "nobody")  # releasing what is not held is harmless
    first.release_slot("slots:unknown", "a")
    assert not second.acquire_slot(SLOTS, "d", 2, until, clock())


def test_a_holder_renews_its_lease_even_at_the_limit(store_factory, clock) -> None:
    store = store_factory()
    now = clock()
    assert store.acquire_slot(SLOTS, "a", 1, now + timedelta(seconds=30), now)
    assert store.acquire_slot(SLOTS, "a", 1, now + timedelta(seconds=90), now)  # renewal
    assert not store.acquire_slot(SLOTS, "b", 1, now + timedelta(seconds=30), now)
    # Renewed to 90 s: still held after the first 30 s have passed.
    later = now + timedelta(seconds=60)
    assert not store.acquire_slot(SLOTS, "b", 1, later + timedelta(seconds=30), later)


def test_a_lease_expires_so_a_killed_holder_frees_its_slot(store_factory, clock) -> None:
    store = store_factory()
    until = clock() + timedelta(seconds=30)
    assert store.acquire_slot(SLOTS, "killed", 1, until, clock())
    assert not store.acquire_slot(SLOTS, "b", 1, until + HOUR, until - timedelta(microseconds=1))
    # Nobody released it: at its end the slot is free for another holder.
    assert store_factory().acquire_slot(SLOTS, "b", 1, until + HOUR, until)
    assert not store.acquire_slot(SLOTS, "killed", 1, until + HOUR, until)


def test_exactly_limit_of_many_threads_get_a_slot(store_factory, clock) -> None:
    threads, limit = 16, 3
    start = threading.Barrier(threads)
    until = clock() + timedelta(minutes=1)

    def worker(index: int) -> bool:
        store = store_factory()
        start.wait()
        return store.acquire_slot(SLOTS, f"holder-{index}", limit, until, clock())

    with ThreadPoolExecutor(threads) as pool:
        wins = list(pool.map(worker, range(threads)))
    assert wins.count(True) == limit


def test_slots_are_not_marks_and_clear_and_prune_forget_them(
    store_factory, clock, key: QuotaKey
) -> None:
    store = store_factory()
    ledger = QuotaLedger(store, clock=clock)
    entry = ledger.mark_exhausted(key, clock() + HOUR)
    until = clock() + timedelta(minutes=1)
    assert store.acquire_slot(SLOTS, "a", 1, until, clock())
    assert store.entries() == [entry]  # a slot set is no mark
    assert store.prune(until) == 0  # lapsed leases go too, but they are not counted as marks
    assert store.acquire_slot(SLOTS, "b", 1, until + HOUR, clock())
    store.clear()
    assert store.entries() == []
    assert store.acquire_slot(SLOTS, "c", 1, until + HOUR, clock())
