"""Every row of the facts sheet's error table maps to its type, in both envelopes."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import re
from datetime import datetime, timezone
from types import ModuleType
from typing import Any

import pytest
from langchain_core import exceptions as lc

import langchain_modelscope
from langchain_modelscope import errors
from langchain_modelscope.errors import error_from_response, parse_error_body
from tests.support import modelscope_facts as facts

pytestmark = pytest.mark.disable_socket

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)  # 18:00 UTC+8
NEXT_DAY = datetime(2026, 11, 27, 16, 0, tzinfo=timezone.utc)  # 00:00 UTC+8, 28 Nov
NEXT_MONTH = datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)  # 00:00 UTC+8, 1 Dec

# (status, message, code, expected type, quota scope or None, reset)
ROWS: list[tuple[int, str, str | None, type[errors.APIStatusError], str | None, Any]] = [
    (429, facts.QUOTA_DAILY, None, errors.QuotaExceededError, "model", NEXT_DAY),
    (429, facts.QUOTA_DAILY_SHORT, None, errors.QuotaExceededError, "model", NEXT_DAY),
    (429, facts.QUOTA_MONTHLY, None, errors.QuotaExceededError, "model", NEXT_MONTH),
    (429, facts.REQUEST_LIMIT, None, errors.QuotaExceededError, "model", NEXT_DAY),
    (
        429,
        facts.INSUFFICIENT_QUOTA,
        "insufficient_quota",
        errors.QuotaExceededError,
        "account",
        None,  # no regime shown (no counter headers): no reset is invented
    ),
    (429, facts.QUOTA_DAILY_ONE_SPACE, None, errors.QuotaExceededError, "model", NEXT_DAY),
    (429, facts.INSUFFICIENT_BALANCE, None, errors.QuotaExceededError, "account", None),
    (429, facts.UPSTREAM_CAP, None, errors.QuotaExceededError, "model", None),
    (429, facts.UPSTREAM_CAP, facts.UPSTREAM_CAP_CODE, errors.QuotaExceededError, "model", None),
    (429, facts.FREE_ALLOCATED, None, errors.QuotaExceededError, "model", None),
    (429, facts.RETIRED_BALANCE, None, errors.ModelRetiredError, None, None),
    (
        429,
        facts.RETIRED_BALANCE,
        facts.RETIRED_BALANCE_TYPE,
        errors.ModelRetiredError,
        None,
        None,
    ),
    (429, facts.RATE_LIMITED, None, errors.ThrottledError, None, None),
    (401, facts.AUTH_FAILED, None, errors.AuthenticationError, None, None),
    (401, facts.UNBOUND, None, errors.AuthenticationError, None, None),
    (403, facts.UNVERIFIED, None, errors.PermissionDeniedError, None, None),
    (400, facts.INVALID_MODEL, None, errors.ModelNotFoundError, None, None),
    (400, facts.NO_PROVIDER, None, errors.ModelRetiredError, None, None),
    (400, facts.NO_PROVIDER_2026, None, errors.ModelRetiredError, None, None),
    (403, facts.UNVERIFIED_2026, None, errors.PermissionDeniedError, None, None),
    (400, facts.INVALID_TEMPERATURE, None, errors.BadRequestError, None, None),
    (
        400,
        facts.HYBRID_THINKING_400,
        "invalid_parameter_error",
        errors.ThinkingModeError,
        None,
        None,
    ),
    (400, facts.THINKING_ONLY_400, "invalid_parameter_error", errors.ThinkingModeError, None, None),
    (400, facts.ENCODING_FORMAT_400, None, errors.BadRequestError, None, None),
    (500, "internal error", None, errors.ServerError, None, None),
    (503, "service unavailable", None, errors.ServerError, None, None),
]


def _envelopes(message: str, code: str | None) -> list[dict[str, Any]]:
    return [facts.errors_envelope(message), facts.error_envelope(message, code)]


@pytest.mark.parametrize(("status", "message", "code", "kind", "scope", "reset"), ROWS)
@pytest.mark.parametrize("envelope", ["errors", "error"])
def test_every_row_maps_to_its_type(
    status: int,
    message: str,
    code: str | None,
    kind: type[errors.APIStatusError],
    scope: str | None,
    reset: datetime | None,
    envelope: str,
) -> None:
    body = _envelopes(message, code)[0 if envelope == "errors" else 1]
    error = error_from_response(status, body, model=facts.MODEL, now=NOW)
    assert type(error) is kind
    assert error.status_code == status
    assert error.message == message
    assert error.request_id == facts.REQUEST_ID
    assert error.model == facts.MODEL
    assert message in str(error)
    if scope is not None:
        assert isinstance(error, errors.QuotaExceededError)
        assert error.scope == scope
        assert error.reset_at == reset
        assert error.is_retryable is False


@pytest.mark.parametrize("envelope", ["errors", "error"])
@pytest.mark.parametrize(
    ("message", "code", "regime", "period"),
    [
        (facts.QUOTA_DAILY, None, "daily", "day"),
        (facts.QUOTA_DAILY_ONE_SPACE, None, "daily", "day"),
        (facts.QUOTA_MONTHLY, None, "daily", "month"),
        (facts.REQUEST_LIMIT, None, "daily", "day"),
        (facts.INSUFFICIENT_BALANCE, None, "points", None),
        (facts.INSUFFICIENT_BALANCE.upper(), None, "points", None),
        (facts.INSUFFICIENT_QUOTA, "insufficient_quota", None, None),
        (facts.UPSTREAM_CAP, facts.UPSTREAM_CAP_CODE, None, None),
        (facts.FREE_ALLOCATED, None, None, None),
    ],
)
def test_quota_errors_know_their_regime(
    message: str, code: str | None, regime: str | None, period: str | None, envelope: str
) -> None:
    body = _envelopes(message, code)[0 if envelope == "errors" else 1]
    error = error_from_response(429, body, model=facts.MODEL, now=NOW)
    assert isinstance(error, errors.QuotaExceededError)
    assert (error.regime, error.period) == (regime, period)
    assert (error.reset_at is None) == (regime != "daily")
    # The 00:00 UTC+8 reset is claimed only where the answer showed the daily regime.
    assert ("until" in str(error)) == (regime == "daily")


@pytest.mark.parametrize("envelope", ["errors", "error"])
def test_spent_points_name_the_account_and_the_remedy(envelope: str) -> None:
    body = _envelopes(facts.INSUFFICIENT_BALANCE, None)[0 if envelope == "errors" else 1]
    error = error_from_response(429, body, model=facts.MODEL, now=NOW)
    assert isinstance(error, errors.QuotaExceededError)
    assert error.scope == "account"
    assert error.reset_at is None
    assert error.next_reset(NOW) is None
    assert errors.POINTS_ADVICE in str(error)
    assert "log in at modelscope.cn" in str(error)
    assert "00:00" not in str(error)
    assert "until" not in str(error)
    assert "reset_at=None" in repr(error)


def test_insufficient_quota_resets_at_midnight_only_when_the_counters_showed() -> None:
    body = facts.error_envelope(facts.INSUFFICIENT_QUOTA, "insufficient_quota")
    error = error_from_response(429, body, account_remaining=0, now=NOW)
    assert isinstance(error, errors.QuotaExceededError)
    assert (error.scope, error.regime, error.reset_at) == ("account", "daily", NEXT_DAY)


@pytest.mark.parametrize(
    "body",
    [
        facts.retired_balance_body(),
        facts.errors_envelope(facts.RETIRED_BALANCE),
        facts.error_envelope(facts.NO_PROVIDER_2026),
        facts.errors_envelope(facts.NO_PROVIDER_2026),
    ],
)
def test_retired_models_are_model_not_found_and_say_so(body: dict[str, Any]) -> None:
    status = 429 if "1008" in str(body) else 400
    error = error_from_response(status, body, model=facts.MODEL, now=NOW)
    assert isinstance(error, errors.ModelRetiredError)
    assert isinstance(error, errors.ModelNotFoundError)
    assert isinstance(error, lc.ModelNotFoundError)
    assert "no longer served" in str(error)
    assert not isinstance(error, errors.QuotaExceededError)


def test_the_upstream_cap_body_is_a_model_quota_of_unknown_length() -> None:
    error = error_from_response(429, facts.upstream_cap_body(), model=facts.MODEL, now=NOW)
    assert isinstance(error, errors.QuotaExceededError)
    assert (error.scope, error.regime, error.reset_at) == ("model", None, None)
    assert not error.is_retryable
    assert "another model" in str(error)


@pytest.mark.parametrize("envelope", ["errors", "error"])
def test_the_fixed_temperature_400_names_the_fix(envelope: str) -> None:
    body = _envelopes(facts.INVALID_TEMPERATURE, None)[0 if envelope == "errors" else 1]
    error = error_from_response(400, body, model="moonshotai/Kimi-K2.5")
    assert type(error) is errors.BadRequestError
    assert "temperature=1" in str(error)


@pytest.mark.parametrize("envelope", ["errors", "error"])
def test_the_403_with_a_url_keeps_its_advice(envelope: str) -> None:
    body = _envelopes(facts.UNVERIFIED_2026, None)[0 if envelope == "errors" else 1]
    error = error_from_response(403, body)
    assert isinstance(error, errors.PermissionDeniedError)
    assert "Real-name verify" in str(error)


@pytest.mark.parametrize("envelope", ["errors", "error"])
def test_the_throttle_is_its_own_rate_limit(envelope: str) -> None:
    body = _envelopes(facts.RATE_LIMITED, None)[0 if envelope == "errors" else 1]
    error = error_from_response(429, body, headers={"retry-after": "120"})
    assert isinstance(error, errors.ThrottledError)
    assert isinstance(error, lc.ModelRateLimitError)
    assert error.retry_after == 120.0
    assert error.unexplained is False
    assert error.retry_at is None


@pytest.mark.parametrize("envelope", ["errors", "error"])
def test_a_429_whose_text_matches_nothing_is_treated_like_a_bodiless_one(envelope: str) -> None:
    body = _envelopes("something new the service says", None)[0 if envelope == "errors" else 1]
    error = error_from_response(429, body)
    assert type(error) is errors.RateLimitError
    assert error.unexplained
    assert error.unexplained == error_from_response(429, b"").unexplained
    assert error.message == "something new the service says"


def test_request_limit_is_account_wide_when_the_account_headers_say_so() -> None:
    error = error_from_response(
        429, facts.errors_envelope(facts.REQUEST_LIMIT), account_remaining=0, now=NOW
    )
    assert isinstance(error, errors.QuotaExceededError)
    assert error.scope == "account"


def test_bodiless_429_is_a_transient_rate_limit() -> None:
    error = error_from_response(429, b"", model=facts.MODEL)
    assert isinstance(error, errors.RateLimitError)
    assert error.bodiless
    assert error.unexplained
    assert error.is_retryable


def test_retry_after_is_read_from_headers() -> None:
    error = error_from_response(
        429, facts.errors_envelope(facts.RATE_LIMITED), headers={"retry-after": "7"}
    )
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 7.0


def test_request_id_falls_back_to_the_header() -> None:
    error = error_from_response(500, b"oops", headers={"x-request-id": "rid-1"})
    assert error.request_id == "rid-1"
    assert error.message == "oops"


def test_advice_is_given_for_account_problems() -> None:
    unbound = error_from_response(401, facts.errors_envelope(facts.UNBOUND))
    assert "Alibaba Cloud" in str(unbound)
    unverified = error_from_response(403, facts.errors_envelope(facts.UNVERIFIED))
    assert "Real-name verify" in str(unverified)
    bad_token = error_from_response(401, facts.errors_envelope(facts.AUTH_FAILED))
    assert "token" in str(bad_token).lower()


def test_errors_are_langchain_core_errors() -> None:
    quota = error_from_response(429, facts.errors_envelope(facts.QUOTA_DAILY))
    assert isinstance(quota, lc.ModelRateLimitError)
    assert not quota.is_retryable
    auth = error_from_response(401, facts.errors_envelope(facts.AUTH_FAILED))
    assert isinstance(auth, lc.ModelAuthenticationError)
    assert isinstance(error_from_response(403, {}), lc.ModelPermissionDeniedError)
    assert isinstance(
        error_from_response(400, facts.errors_envelope(facts.INVALID_MODEL)), lc.ModelNotFoundError
    )
    assert isinstance(error_from_response(400, {}), lc.ModelInvalidRequestError)
    assert isinstance(error_from_response(502, {}), lc.ModelAPIError)
    assert isinstance(error_from_response(502, {}), errors.ModelScopeError)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, ("", None, None)),
        (b"", ("", None, None)),
        (b"plain text", ("plain text", None, None)),
        ({"error": "just a string"}, ("just a string", None, None)),
        ({"message": "flat", "code": "X"}, ("flat", "X", None)),
        ({"errors": {"message": "m", "request_id": "r"}}, ("m", None, "r")),
        ({"error": {"message": "m", "code": "c"}, "request_id": "r"}, ("m", "c", "r")),
        (b'{"errors": {"message": "m"}}', ("m", None, None)),
        (b"[1, 2]", ("[1, 2]", None, None)),
    ],
)
def test_parse_error_body_reads_every_envelope(body: Any, expected: tuple[Any, ...]) -> None:
    assert parse_error_body(body) == expected


def test_errors_pickle_with_their_fields() -> None:
    error = error_from_response(429, facts.errors_envelope(facts.QUOTA_DAILY), model="m", now=NOW)
    clone = pickle.loads(pickle.dumps(error))
    assert isinstance(clone, errors.QuotaExceededError)
    assert (clone.scope, clone.reset_at, clone.model) == ("model", NEXT_DAY, "m")
    assert str(clone) == str(error)


def _client_modules() -> list[ModuleType]:
    """Every module of the package but the emulator (which may import nothing from the client
    side, so its own `EmulatorRemoteError` cannot join the tree)."""
    modules = [langchain_modelscope]
    for info in pkgutil.walk_packages(langchain_modelscope.__path__, "langchain_modelscope."):
        if info.name == "langchain_modelscope.testing" or info.name.startswith(
            "langchain_modelscope.testing."
        ):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    return list(names) if names is not None else [n for n in vars(module) if n[:1] != "_"]


def _public_errors() -> dict[str, type[BaseException]]:
    """Every exception class the package exports: the public names of every module (those it
    defines, not langchain-core's it imports), plus every public `ModelScopeError` subclass."""
    found: dict[str, type[BaseException]] = {}
    for module in _client_modules():
        for name in _public_names(module):
            value = getattr(module, name)
            ours = getattr(value, "__module__", "").startswith("langchain_modelscope")
            if ours and isinstance(value, type) and issubclass(value, BaseException):
                found[f"{module.__name__}.{name}"] = value
    pending: list[type[BaseException]] = [errors.ModelScopeError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__name__.startswith("_"):
            found.setdefault(f"{cls.__module__}.{cls.__name__}", cls)
    return found


def test_every_public_error_is_defined_and_drawn_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    exported = _public_errors()
    for where, cls in exported.items():
        if cls.__module__.startswith("langchain_modelscope._cli"):
            continue  # the command line's own exit signal, never raised to a caller
        assert cls.__module__ == "langchain_modelscope.errors", f"{where} is defined elsewhere"
        assert getattr(errors, cls.__name__) is cls, f"{where} is not exported by errors"
        assert cls.__name__ in errors.__all__, f"{where} is not in errors.__all__"
        drawn = re.search(rf"^ *(?:[│ ]*[├└]── )?{cls.__name__}\b", tree, re.MULTILINE)
        assert drawn, f"{where} is not drawn in the errors.py tree"


def test_old_import_paths_still_give_the_same_classes() -> None:
    from langchain_modelscope import _balance, embeddings, fallback, images

    assert fallback.AllCandidatesFailedError is errors.AllCandidatesFailedError
    assert embeddings.EmbeddingInputError is errors.EmbeddingInputError
    assert embeddings.EmbeddingResponseError is errors.EmbeddingResponseError
    assert _balance.BalanceUnavailableError is errors.BalanceUnavailableError
    assert langchain_modelscope.BalanceUnavailableError is errors.BalanceUnavailableError
    for name in (
        "ContentRefusedError",
        "ImageTaskCancelledError",
        "ImageTaskFailedError",
        "ImageTaskTimeoutError",
        "InvalidImageRequestError",
    ):
        assert getattr(images, name) is getattr(errors, name)


def test_the_mapping_keeps_its_errors_import_path() -> None:
    from langchain_modelscope import _error_mapping

    for name in _error_mapping.__all__:
        assert getattr(errors, name) is getattr(_error_mapping, name)
    with pytest.raises(AttributeError):
        errors.no_such_name  # noqa: B018


def test_retry_after_reads_the_date_form_through_the_one_parser() -> None:
    now = datetime(2031, 3, 10, 8, 0, tzinfo=timezone.utc)
    assert errors.retry_after_seconds({"retry-after": "7"}, now) == 7.0
    date = "Mon, 10 Mar 2031 08:00:30 GMT"
    assert errors.retry_after_seconds({"retry-after": date}, now) == 30.0
    assert errors.retry_after_seconds({"retry-after": "soon"}, now) is None
    assert errors.retry_after_seconds({}, now) is None
