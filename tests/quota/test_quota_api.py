"""Keys, fingerprints, input validation and the process-wide default ledger."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from langchain_modelscope.quota import (
    ACCOUNT_WIDE,
    InMemoryQuotaStore,
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    account_fingerprint,
    get_default_ledger,
    set_default_ledger,
)

NAIVE = datetime(2030, 1, 1, 12, 0)

# ---------------------------------------------------------------------------- fingerprints


def test_fingerprints_are_short_stable_and_distinct(token: str, other_token: str) -> None:
    fingerprint = account_fingerprint(token)
    assert len(fingerprint) == 12
    assert int(fingerprint, 16) >= 0  # hex
    assert account_fingerprint(token) == fingerprint
    assert account_fingerprint(SecretStr(token)) == fingerprint
    assert account_fingerprint(f"  {token}\n") == fingerprint
    assert account_fingerprint(other_token) != fingerprint
    # Namespaced: not simply the start of the token's plain SHA-256.
    assert fingerprint != hashlib.sha256(token.encode()).hexdigest()[:12]


@pytest.mark.parametrize("bad", ["", "   ", SecretStr("")])
def test_an_empty_token_has_no_fingerprint(bad: str | SecretStr) -> None:
    with pytest.raises(ValueError, match="empty token"):
        account_fingerprint(bad)


def test_a_non_string_token_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"str or pydantic\.SecretStr"):
        account_fingerprint(123)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- keys


def test_account_wide_keys(token: str) -> None:
    key = QuotaKey.for_token(token, "Qwen/Qwen3-32B")
    wide = key.account_wide()
    assert wide == QuotaKey("modelscope", account_fingerprint(token), ACCOUNT_WIDE)
    assert wide.is_account_wide
    assert not key.is_account_wide
    assert wide.account_wide() is wide
    assert QuotaKey.for_token(SecretStr(token)) == wide
    assert QuotaKey.for_token(token, provider="mirror").provider == "mirror"
    # Keys are values: hashable and comparable.
    assert {key, wide, QuotaKey.for_token(token, "Qwen/Qwen3-32B")} == {key, wide}


@pytest.mark.parametrize("field", ["provider", "account", "model"])
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_key_parts_are_rejected(field: str, value: str) -> None:
    parts = {"provider": "modelscope", "account": "0123456789ab", "model": "m"}
    parts[field] = value
    with pytest.raises(ValueError, match=rf"QuotaKey\.{field} must be a non-empty string"):
        QuotaKey(**parts)


def test_non_string_key_parts_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"QuotaKey\.model must be a str"):
        QuotaKey("modelscope", "0123456789ab", None)  # type: ignore[arg-type]


def test_an_account_wildcard_is_rejected() -> None:
    with pytest.raises(ValueError, match="account_fingerprint"):
        QuotaKey("modelscope", ACCOUNT_WIDE, "m")


@pytest.mark.parametrize(
    "secret", ["ms-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"]
)
def test_a_token_passed_as_account_is_rejected_without_echoing_it(secret: str) -> None:
    with pytest.raises(ValueError, match=r"looks like an API token.*account_fingerprint") as info:
        QuotaKey("modelscope", secret, "m")
    assert secret not in str(info.value)
    assert secret.lower() not in str(info.value).lower()


# ---------------------------------------------------------------------------- entries


def test_entries_need_aware_times_and_are_normalised_to_utc(key: QuotaKey) -> None:
    plus8 = timezone(timedelta(hours=8))
    entry = QuotaEntry(
        key, datetime(2030, 1, 2, tzinfo=plus8), None, datetime(2030, 1, 1, tzinfo=plus8)
    )
    assert entry.until == datetime(2030, 1, 1, 16, tzinfo=timezone.utc)
    assert entry.until.tzinfo == timezone.utc
    assert entry.is_active(datetime(2030, 1, 1, 15, 59, tzinfo=timezone.utc))
    assert not entry.is_active(entry.until)

    with pytest.raises(ValueError, match=r"QuotaEntry.until is a naive datetime.*timezone.utc"):
        QuotaEntry(key, NAIVE, None, entry.recorded_at)
    with pytest.raises(TypeError, match=r"QuotaEntry\.until must be a datetime"):
        QuotaEntry(key, "2030-01-01", None, entry.recorded_at)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"QuotaEntry\.key must be a QuotaKey"):
        QuotaEntry(("a", "b", "c"), entry.until, None, entry.recorded_at)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"QuotaEntry\.reason"):
        QuotaEntry(key, entry.until, 429, entry.recorded_at)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- ledger validation


def test_naive_datetimes_are_rejected_everywhere(key: QuotaKey, clock) -> None:
    ledger = QuotaLedger(clock=clock)
    with pytest.raises(ValueError, match="until is a naive datetime"):
        ledger.mark_exhausted(key, NAIVE)
    with pytest.raises(ValueError, match="now is a naive datetime"):
        ledger.is_available(key, now=NAIVE)
    with pytest.raises(ValueError, match="now is a naive datetime"):
        ledger.blocked_until(key, now=NAIVE)
    with pytest.raises(ValueError, match="now is a naive datetime"):
        ledger.entries(now=NAIVE)
    with pytest.raises(ValueError, match="reset_at is a naive datetime"):
        ledger.record_remaining(key, 0, reset_at=NAIVE)


def test_a_naive_clock_is_rejected(key: QuotaKey) -> None:
    ledger = QuotaLedger(clock=lambda: NAIVE)
    with pytest.raises(ValueError, match="QuotaLedger clock"):
        ledger.is_available(key)


def test_the_default_clock_is_utc_now() -> None:
    before = datetime.now(timezone.utc)
    now = QuotaLedger().now()
    assert before <= now <= datetime.now(timezone.utc)
    assert now.tzinfo == timezone.utc


def test_bad_counts_are_typed_errors(key: QuotaKey) -> None:
    ledger = QuotaLedger()
    with pytest.raises(TypeError, match="remaining must be an int"):
        ledger.record_remaining(key, "0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="remaining must be an int"):
        ledger.record_remaining(key, False)
    with pytest.raises(ValueError, match="limit must not be negative"):
        ledger.record_remaining(key, 0, -1)
    assert ledger.entries() == []


def test_negative_remaining_counts_as_exhausted(key: QuotaKey, clock) -> None:
    ledger = QuotaLedger(clock=clock)
    assert ledger.record_remaining(key, -3, 500) is not None
    assert not ledger.is_available(key)


def test_bad_keys_and_stores_are_typed_errors() -> None:
    with pytest.raises(TypeError, match="expected a QuotaKey"):
        QuotaLedger().is_available(("modelscope", "abc", "m"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="QuotaLedger\\(store=\\) takes a QuotaStore"):
        QuotaLedger({})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="clock"):
        QuotaLedger(clock=datetime.now(timezone.utc))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- default ledger


@pytest.fixture
def fresh_default() -> Iterator[None]:
    set_default_ledger(None)
    yield
    set_default_ledger(None)


@pytest.mark.usefixtures("fresh_default")
def test_the_default_ledger_is_shared_and_replaceable(key: QuotaKey) -> None:
    default = get_default_ledger()
    assert isinstance(default.store, InMemoryQuotaStore)
    assert get_default_ledger() is default
    default.mark_exhausted(key)
    assert not get_default_ledger().is_available(key)

    mine = QuotaLedger(InMemoryQuotaStore())
    set_default_ledger(mine)
    assert get_default_ledger() is mine
    assert get_default_ledger().is_available(key)

    set_default_ledger(None)
    assert get_default_ledger() is not mine
    with pytest.raises(TypeError, match="set_default_ledger"):
        set_default_ledger(InMemoryQuotaStore())  # type: ignore[arg-type]
