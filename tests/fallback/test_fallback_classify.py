"""Failure classification for any provider, without their SDKs (and with openai's, if present)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from langchain_core import exceptions as lc_exceptions
from langchain_core.exceptions import OutputParserException

from langchain_modelscope._fallback_classify import (
    classify_error,
    modelscope_reset,
    redact,
    short_message,
)
from langchain_modelscope._reset import next_daily_reset, next_monthly_reset, parse_reset_header
from langchain_modelscope.errors import (
    APIConnectionError,
    EmptyResponseError,
    QuotaExceededError,
    RateLimitError,
    error_from_response,
)
from tests.fallback.fakes import HTTPStatusError, ResponseOnlyError
from tests.support import modelscope_facts as facts

pytestmark = pytest.mark.disable_socket

NOW = datetime(2031, 3, 10, 8, 0, tzinfo=timezone.utc)


def kind_of(error: BaseException) -> str:
    return classify_error(error, NOW).kind


# --- this package's errors, built from the facts sheet's verbatim bodies --------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "scope"),
    [
        (429, facts.errors_envelope(facts.QUOTA_DAILY), "quota", "model"),
        (429, facts.errors_envelope(facts.QUOTA_DAILY_SHORT), "quota", "model"),
        (429, facts.errors_envelope(facts.QUOTA_MONTHLY), "quota", "model"),
        (429, facts.errors_envelope(facts.REQUEST_LIMIT), "quota", "model"),
        (
            429,
            facts.error_envelope(facts.INSUFFICIENT_QUOTA, "insufficient_quota"),
            "quota",
            "account",
        ),
        (429, facts.errors_envelope(facts.INSUFFICIENT_BALANCE), "points", "account"),
        (429, facts.error_envelope(facts.INSUFFICIENT_BALANCE), "points", "account"),
        (429, facts.retired_balance_body(), "retired", None),
        (429, facts.errors_envelope(facts.RETIRED_BALANCE), "retired", None),
        (429, facts.upstream_cap_body(), "quota", "model"),
        (429, facts.errors_envelope(facts.UPSTREAM_CAP), "quota", "model"),
        (429, facts.error_envelope(facts.FREE_ALLOCATED), "quota", "model"),
        (429, facts.errors_envelope(facts.QUOTA_DAILY_ONE_SPACE), "quota", "model"),
        (429, facts.errors_envelope(facts.RATE_LIMITED), "throttle", None),
        (429, facts.error_envelope(facts.RATE_LIMITED), "throttle", None),
        (429, facts.error_envelope("a text nobody has seen"), "transient", None),
        (429, None, "transient", None),
        (401, facts.errors_envelope(facts.AUTH_FAILED), "auth", "account"),
        (401, facts.errors_envelope(facts.UNBOUND), "auth", "account"),
        (403, facts.errors_envelope(facts.UNVERIFIED), "auth", "account"),
        (400, facts.errors_envelope(facts.INVALID_MODEL), "not_found", None),
        (400, facts.errors_envelope(facts.NO_PROVIDER), "retired", None),
        (400, facts.error_envelope(facts.NO_PROVIDER_2026), "retired", None),
        (400, facts.errors_envelope(facts.NO_PROVIDER_2026), "retired", None),
        (403, facts.error_envelope(facts.UNVERIFIED_2026), "auth", "account"),
        (400, facts.error_envelope(facts.INVALID_TEMPERATURE), "bad_request", None),
        (400, facts.errors_envelope(facts.ENCODING_FORMAT_400), "bad_request", None),
        (400, facts.errors_envelope(facts.HYBRID_THINKING_400), "bad_request", None),
        (500, facts.errors_envelope("boom"), "transient", None),
    ],
)
def test_own_errors(status: int, body: Any, kind: str, scope: str | None) -> None:
    error = error_from_response(status, body, model=facts.MODEL)
    failure = classify_error(error, datetime.now(timezone.utc))
    assert failure.kind == kind
    if scope is not None:
        assert failure.scope == scope
    assert failure.moves_on is (kind != "bad_request")


def test_quota_reset_follows_the_ledger_clock() -> None:
    """An injected ledger clock far from the wall clock gets the same rule on its own time."""
    daily = error_from_response(429, facts.errors_envelope(facts.QUOTA_DAILY))
    monthly = error_from_response(429, facts.errors_envelope(facts.QUOTA_MONTHLY))
    assert isinstance(daily, QuotaExceededError)
    assert isinstance(monthly, QuotaExceededError)
    assert classify_error(daily, NOW).until == next_daily_reset(NOW)
    assert classify_error(monthly, NOW).until == next_monthly_reset(NOW)
    # On the wall clock the error's own reset_at is used as is.
    wall = datetime.now(timezone.utc)
    assert modelscope_reset(daily, wall) == daily.reset_at


def test_connection_and_empty_answers_move_on_for_this_call_only() -> None:
    assert kind_of(APIConnectionError("refused")) == "transient"
    assert kind_of(RateLimitError("busy", status_code=429)) == "transient"
    assert kind_of(EmptyResponseError("choices: null", status_code=200)) == "failed"


# --- other providers: status codes, OpenAI-style bodies, headers ------------------------------


def openai_body(code: str, message: str, type_: str | None = None) -> dict[str, Any]:
    # The openai SDK keeps the inner ``error`` object as ``.body``.
    return {"message": message, "type": type_ or code, "code": code, "param": None}


def test_openai_insufficient_quota_is_quota_of_the_account() -> None:
    error = HTTPStatusError(429, openai_body("insufficient_quota", facts.INSUFFICIENT_QUOTA))
    failure = classify_error(error, NOW)
    assert (failure.kind, failure.scope, failure.until) == ("quota", "account", None)


def test_openai_rate_limit_exceeded_is_transient() -> None:
    error = HTTPStatusError(429, openai_body("rate_limit_exceeded", "Rate limit reached"))
    assert kind_of(error) == "transient"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "120"}, NOW + timedelta(seconds=120)),
        ({"retry-after": "Wed, 10 Mar 2031 09:00:00 GMT"}, NOW + timedelta(hours=1)),
        ({"X-RateLimit-Reset": str(int((NOW + timedelta(hours=2)).timestamp()))}, None),
        ({"x-ratelimit-reset": "6m0s"}, NOW + timedelta(minutes=6)),
        ({"x-ratelimit-reset": "2031-03-10T12:00:00Z"}, NOW + timedelta(hours=4)),
    ],
)
def test_reset_headers_bound_a_quota_mark(
    headers: dict[str, str], expected: datetime | None
) -> None:
    error = HTTPStatusError(
        429, openai_body("insufficient_quota", facts.INSUFFICIENT_QUOTA), headers
    )
    failure = classify_error(error, NOW)
    assert failure.kind == "quota"
    assert failure.until == (expected or NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"message": "Incorrect API key provided"}, "auth"),
        (403, {"message": "forbidden"}, "auth"),
        (404, openai_body("model_not_found", "The model `x` does not exist"), "not_found"),
        (402, {"error": {"message": "Insufficient Balance"}}, "quota"),  # DeepSeek
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "Your credit balance is too low to access the Anthropic API.",
                },
            },
            "quota",
        ),
        (
            403,
            {
                "code": "AllocationQuota.FreeTierOnly",
                "message": "The free tier of the model has been exhausted.",
            },
            "quota",
        ),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "transient",
        ),
        (503, None, "transient"),
        (408, None, "transient"),
        (400, openai_body("invalid_value", "messages: bad role"), "bad_request"),
        (422, {"detail": "unprocessable"}, "bad_request"),
    ],
)
def test_status_codes_and_bodies(status: int, body: Any, kind: str) -> None:
    assert kind_of(HTTPStatusError(status, body)) == kind


def test_modelscope_wording_through_another_client_resets_at_midnight_utc8() -> None:
    """ChatOpenAI pointed at ModelScope: no typed error, but the wording says when it resets."""
    daily = HTTPStatusError(429, facts.errors_envelope(facts.QUOTA_DAILY))
    monthly = HTTPStatusError(429, facts.errors_envelope(facts.QUOTA_MONTHLY))
    assert classify_error(daily, NOW).until == next_daily_reset(NOW)
    assert classify_error(daily, NOW).scope == "model"
    assert classify_error(monthly, NOW).until == next_monthly_reset(NOW)


def test_free_tier_quota_is_scoped_to_the_model() -> None:
    body = {"code": "AllocationQuota.FreeTierOnly", "message": "The free tier of the model..."}
    assert classify_error(HTTPStatusError(403, body), NOW).scope == "model"


def test_status_on_the_response_only() -> None:
    assert kind_of(ResponseOnlyError(401)) == "auth"
    assert kind_of(ResponseOnlyError(502)) == "transient"


def test_status_found_on_the_cause() -> None:
    """LangChain wrappers raise their own error from the SDK's; the SDK's still counts."""
    outer = RuntimeError("wrapped")
    outer.__cause__ = HTTPStatusError(429, openai_body("insufficient_quota", "quota"))
    assert kind_of(outer) == "quota"
    outer.__cause__ = ResponseOnlyError(401)
    assert kind_of(outer) == "auth"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (lc_exceptions.ModelAuthenticationError("no"), "auth"),
        (lc_exceptions.ModelPermissionDeniedError("no"), "auth"),
        (lc_exceptions.ModelNotFoundError("no"), "not_found"),
        (lc_exceptions.ModelRateLimitError("slow down"), "transient"),
        (lc_exceptions.ModelAPIError("5xx"), "transient"),
        (lc_exceptions.ModelConnectionError("down"), "transient"),
        (lc_exceptions.ModelTimeoutError("slow"), "transient"),
        (lc_exceptions.ModelInvalidRequestError("bad"), "bad_request"),
        (lc_exceptions.ContextOverflowError("too long for this model"), "failed"),
        (lc_exceptions.ModelRefusalError(), "bad_request"),
        (OutputParserException("bad json"), "bad_request"),
        (TimeoutError(), "transient"),
        (ConnectionResetError(), "transient"),
        (ValueError("a bug"), "unknown"),
    ],
)
def test_langchain_core_error_classes(error: BaseException, kind: str) -> None:
    assert kind_of(error) == kind


def test_real_openai_sdk_errors() -> None:
    """The openai SDK's own classes (a dev dependency here, never imported by the package)."""
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    request = client._client.build_request("POST", "http://127.0.0.1:9/v1/chat/completions")
    http = sys.modules[type(request).__module__.split(".")[0]]  # httpx, or the SDK's fork
    quota = client._make_status_error(
        "Error code: 429",
        body={"error": openai_body("insufficient_quota", facts.INSUFFICIENT_QUOTA)},
        response=http.Response(429, request=request, headers={"retry-after": "30"}),
    )
    limited = client._make_status_error(
        "Error code: 429",
        body={"error": openai_body("rate_limit_exceeded", "Rate limit reached for requests")},
        response=http.Response(429, request=request),
    )
    failure = classify_error(quota, NOW)
    assert (failure.kind, failure.scope, failure.until) == (
        "quota",
        "account",
        NOW + timedelta(seconds=30),
    )
    assert kind_of(limited) == "transient"


def test_reset_header_parsing_edge_cases() -> None:
    assert parse_reset_header("", NOW) is None
    assert parse_reset_header("soon", NOW) is None
    assert parse_reset_header("-5", NOW) is None
    assert parse_reset_header("1.5", NOW) == NOW + timedelta(seconds=1.5)
    millis = int((NOW + timedelta(minutes=1)).timestamp() * 1000)
    assert parse_reset_header(str(millis), NOW) == NOW + timedelta(minutes=1)
    assert parse_reset_header("1h2m3s", NOW) == NOW + timedelta(hours=1, minutes=2, seconds=3)
    assert parse_reset_header("250ms", NOW) == NOW + timedelta(milliseconds=250)


def test_messages_never_carry_a_token() -> None:
    token = "ms-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert token not in redact(f"bad token {token} given")
    assert "sk-abcdefghijklmnopqrstu" not in redact("Incorrect API key sk-abcdefghijklmnopqrstu")
    assert redact("redis://user:pw@host:6379/0 down") == "redis://***@host:6379/0 down"
    long_text = "x" * 1000
    assert len(short_message(ValueError(long_text))) <= 300
