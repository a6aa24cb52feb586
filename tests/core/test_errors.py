"""Every row of the facts sheet's error table maps to its type, in both envelopes."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from typing import Any

import pytest
from langchain_core import exceptions as lc

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
        NEXT_DAY,
    ),
    (429, facts.INSUFFICIENT_BALANCE, None, errors.QuotaExceededError, "account", NEXT_DAY),
    (429, facts.RATE_LIMITED, None, errors.RateLimitError, None, None),
    (401, facts.AUTH_FAILED, None, errors.AuthenticationError, None, None),
    (401, facts.UNBOUND, None, errors.AuthenticationError, None, None),
    (403, facts.UNVERIFIED, None, errors.PermissionDeniedError, None, None),
    (400, facts.INVALID_MODEL, None, errors.ModelNotFoundError, None, None),
    (400, facts.NO_PROVIDER, None, errors.ModelNotFoundError, None, None),
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


def test_every_public_error_is_drawn_in_the_tree_and_old_paths_still_import() -> None:
    from langchain_modelscope import embeddings, fallback

    assert fallback.AllCandidatesFailedError is errors.AllCandidatesFailedError
    assert embeddings.EmbeddingInputError is errors.EmbeddingInputError
    assert embeddings.EmbeddingResponseError is errors.EmbeddingResponseError
    tree = errors.__doc__ or ""
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert name in tree, f"{name} is not drawn in the errors.py tree"


def test_retry_after_reads_the_date_form_through_the_one_parser() -> None:
    now = datetime(2031, 3, 10, 8, 0, tzinfo=timezone.utc)
    assert errors.retry_after_seconds({"retry-after": "7"}, now) == 7.0
    date = "Mon, 10 Mar 2031 08:00:30 GMT"
    assert errors.retry_after_seconds({"retry-after": date}, now) == 30.0
    assert errors.retry_after_seconds({"retry-after": "soon"}, now) is None
    assert errors.retry_after_seconds({}, now) is None
