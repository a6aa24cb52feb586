"""One home for ModelScope's wording: the error mapping and the fallback's classifier read it.

A phrase changed in ``_wording`` changes both readers at once, so they cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from langchain_modelscope import _wording
from langchain_modelscope._fallback_classify import classify_error
from langchain_modelscope._reset import next_daily_reset, next_monthly_reset
from langchain_modelscope.errors import (
    ModelNotFoundError,
    QuotaExceededError,
    RateLimitError,
    error_from_response,
)
from tests.fallback.fakes import HTTPStatusError
from tests.support import modelscope_facts as facts

pytestmark = pytest.mark.disable_socket

NOW = datetime(2031, 3, 10, 8, 0, tzinfo=timezone.utc)
#: A wording the service does not use (yet): nobody classifies it until _wording says so.
NEW_DAILY = "you have used up the allowance of the day for model m"


def both_readers(status: int, message: str) -> tuple[object, str, datetime | None]:
    """(this package's error, the fallback's kind for a foreign client, its reset)."""
    own = error_from_response(status, facts.errors_envelope(message), now=NOW)
    foreign = classify_error(HTTPStatusError(status, {"error": {"message": message}}), NOW)
    return own, foreign.kind, foreign.until


def test_a_new_daily_phrase_in_wording_changes_both_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own, kind, _ = both_readers(429, NEW_DAILY)
    assert isinstance(own, RateLimitError)
    assert kind == "transient"

    monkeypatch.setattr(
        _wording, "DAILY_QUOTA_PHRASES", (*_wording.DAILY_QUOTA_PHRASES, "allowance of the day")
    )
    own, kind, until = both_readers(429, NEW_DAILY)
    assert isinstance(own, QuotaExceededError)
    assert (own.scope, own.period, own.reset_at) == ("model", "day", next_daily_reset(NOW))
    assert (kind, until) == ("quota", next_daily_reset(NOW))


def test_a_removed_monthly_phrase_leaves_both_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    own, kind, until = both_readers(429, facts.QUOTA_MONTHLY)
    assert isinstance(own, QuotaExceededError)
    assert own.period == "month"
    assert (kind, until) == ("quota", next_monthly_reset(NOW))

    monkeypatch.setattr(_wording, "MONTHLY_QUOTA_PHRASES", ())
    own, kind, until = both_readers(429, facts.QUOTA_MONTHLY)
    assert not (isinstance(own, QuotaExceededError) and own.period == "month")
    assert until != next_monthly_reset(NOW)


def test_unknown_model_wording_is_read_by_both(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "no such model around here: m"
    own, kind, _ = both_readers(400, text)
    assert not isinstance(own, ModelNotFoundError)
    assert kind == "bad_request"

    monkeypatch.setattr(_wording, "UNKNOWN_MODEL_PHRASES", ("no such model",))
    own, kind, _ = both_readers(400, text)
    assert isinstance(own, ModelNotFoundError)
    assert kind == "not_found"


def test_every_phrase_is_lower_case() -> None:
    """Readers lower-case the text first; an upper-case phrase would never match."""
    for name in dir(_wording):
        value = getattr(_wording, name)
        if name.isupper() and isinstance(value, tuple):
            assert all(phrase == phrase.lower() for phrase in value), name
