"""Every error this package raises, and how an answer from ModelScope becomes one.

The tree (langchain-core's own classes in brackets, so code that catches the generic
LangChain model errors keeps working with this package)::

    ModelScopeError                              base of everything raised here
    ├── MissingAPIKeyError (ValueError)          no token found; raised before any network call
    ├── APIError                                 the service (or the way to it) failed the call
    │   ├── APIStatusError                       an HTTP answer with an error status
    │   │   ├── AuthenticationError  [ModelAuthenticationError]     401: bad token, unbound account
    │   │   ├── PermissionDeniedError [ModelPermissionDeniedError]  403: not real-name verified
    │   │   ├── ModelNotFoundError   [ModelNotFoundError]           unknown or retired model id
    │   │   ├── BadRequestError      [ModelInvalidRequestError]     any other 4xx: never retried
    │   │   │   └── ThinkingModeError                               the two "must stream" 400s
    │   │   ├── RateLimitError       [ModelRateLimitError]          429 that passes: retried
    │   │   ├── QuotaExceededError   [ModelRateLimitError]          429 quota spent: not retried,
    │   │   │                                                       carries scope and reset_at
    │   │   └── ServerError          [ModelAPIError]                5xx: retried
    │   ├── APIConnectionError       [ModelConnectionError]         no answer: retried
    │   │   ├── APITimeoutError      [ModelTimeoutError]            no answer in time: retried
    │   │   └── StreamInterruptedError                              a stream cut mid-way
    │   └── APIResponseError                                        a 200 we cannot use
    │       ├── EmptyResponseError                                  ``choices: null`` and friends
    │       └── ResponseDecodeError                                 not JSON, or not the shape

Every error carries ``status_code``, the server's ``message``, ``request_id`` and ``model``, and
never the token: the token is not passed to this module at all.

`error_from_response` is the one place where a status code and a body are classified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from langchain_core import exceptions as lc_exceptions

from langchain_modelscope._reset import next_daily_reset, next_monthly_reset

QuotaScope = Literal["model", "account"]
QuotaPeriod = Literal["day", "month"]

#: Response headers that may carry a request id, most specific first.
REQUEST_ID_HEADERS = ("x-request-id", "x-modelscope-request-id", "request-id", "x-acs-request-id")

#: Where a user gets a token; named in every authentication error.
TOKEN_PAGE = "https://modelscope.cn/my/myaccesstoken"


class ModelScopeError(lc_exceptions.LangChainException):
    """Base class of every error raised by langchain-modelscope."""


class MissingAPIKeyError(ModelScopeError, ValueError):
    """No ModelScope token was given or found in the environment."""


class APIError(ModelScopeError):
    """A call to the service failed; carries what the service said, never the token."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        model: str | None = None,
        body: Any = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.model = model
        self.body = body
        self.hint = hint
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"{self.status_code} " if self.status_code is not None else ""
        parts = [f"{head}{self.message}".strip()]
        if self.hint:
            parts.append(self.hint)
        context = []
        if self.model:
            context.append(f"model={self.model}")
        if self.request_id:
            context.append(f"request_id={self.request_id}")
        if context:
            parts.append(f"({', '.join(context)})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, message={self.message!r}, "
            f"model={self.model!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not pickle by default; errors cross process pools.
        return (_rebuild_error, (type(self), self.__dict__.copy()))


def _rebuild_error(cls: type[APIError], state: dict[str, Any]) -> APIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._describe())
    return error


class APIStatusError(APIError):
    """The service answered with an error status."""


class AuthenticationError(APIStatusError, lc_exceptions.ModelAuthenticationError):
    """401: the token is wrong, or the account is not bound to Alibaba Cloud."""


class PermissionDeniedError(APIStatusError, lc_exceptions.ModelPermissionDeniedError):
    """403: the account may not use API-Inference (e.g. not real-name verified)."""


class ModelNotFoundError(APIStatusError, lc_exceptions.ModelNotFoundError):
    """The model id is unknown to the service, or no longer served."""


class BadRequestError(APIStatusError, lc_exceptions.ModelInvalidRequestError):
    """The request itself is wrong: it would fail on every account, so it is never retried."""


class ThinkingModeError(BadRequestError):
    """A thinking model refused a non-streaming call; the chat model streams instead."""


class RateLimitError(APIStatusError, lc_exceptions.ModelRateLimitError):
    """429 that passes with time (concurrency limit, or a 429 with no body): retried."""

    is_retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)

    @property
    def bodiless(self) -> bool:
        """True for a 429 that said nothing: a quota or a rate limit, nobody can tell yet."""
        return self.body is None


class QuotaExceededError(APIStatusError, lc_exceptions.ModelRateLimitError):
    """A daily (or monthly) quota is spent: retrying before ``reset_at`` only wastes calls."""

    is_retryable = False

    def __init__(
        self,
        message: str,
        *,
        scope: QuotaScope,
        reset_at: datetime,
        period: QuotaPeriod = "day",
        **kwargs: Any,
    ) -> None:
        self.scope: QuotaScope = scope
        self.reset_at = reset_at
        self.period: QuotaPeriod = period
        super().__init__(message, **kwargs)

    def next_reset(self, now: datetime) -> datetime:
        """The reset this quota waits for, seen from ``now`` (a ledger may keep its own clock)."""
        return next_monthly_reset(now) if self.period == "month" else next_daily_reset(now)

    def _describe(self) -> str:
        what = "the account" if self.scope == "account" else "this model"
        return (
            f"{super()._describe()} [quota of {what} spent until "
            f"{self.reset_at.isoformat(timespec='minutes')}]"
        )

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, scope={self.scope!r}, reset_at={self.reset_at!r})"


class ServerError(APIStatusError, lc_exceptions.ModelAPIError):
    """5xx: the service failed; retried."""


class APIConnectionError(APIError, lc_exceptions.ModelConnectionError):
    """The service could not be reached or dropped the connection; retried."""


class APITimeoutError(APIConnectionError, lc_exceptions.ModelTimeoutError):
    """The service did not answer in time; retried. Reasoning models can be slow: see timeout."""


class StreamInterruptedError(APIConnectionError):
    """A streamed answer stopped before its end; what was received is not complete."""


class APIResponseError(APIError, lc_exceptions.ModelAPIError):
    """A successful status with a body that cannot be used."""

    is_retryable = False


class EmptyResponseError(APIResponseError):
    """200 with no choices: seen from ModelScope when ``response_format`` is ``json_schema``."""


class ResponseDecodeError(APIResponseError):
    """The body is not JSON, or not the shape the API promises."""


# --- classification -----------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> tuple[str, str | None, Any]:
    """Read ``(message, code, request_id)`` out of any envelope ModelScope uses.

    Handles ``{"errors": {...}}``, ``{"error": {...}, "request_id"}``, ``{"error": "text"}``,
    a flat ``{"message", "code"}``, plain text and no body at all.
    """
    data: Any = body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        stripped = body.strip()
        if not stripped:
            return "", None, None
        try:
            data = json.loads(stripped)
        except ValueError:
            return stripped, None, None
    if not isinstance(data, Mapping):
        return ("" if data is None else str(data)), None, None

    request_id = data.get("request_id") or data.get("requestId") or data.get("RequestId")
    inner: Any = data.get("errors", data.get("error"))
    if isinstance(inner, list) and inner:
        inner = inner[0]
    code: Any = None
    if isinstance(inner, Mapping):
        message = inner.get("message") or inner.get("msg") or ""
        code = inner.get("code") or inner.get("type")
        request_id = request_id or inner.get("request_id")
    elif isinstance(inner, str):
        message = inner
    else:
        message = data.get("message") or data.get("msg") or ""
        code = data.get("code")
    return str(message), (None if code in (None, "") else str(code)), request_id


def request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (delta form only; a date form is ignored)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


def _normalise(message: str) -> str:
    return _SPACES.sub(" ", message).strip().lower()


def error_from_response(
    status_code: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
    account_remaining: int | None = None,
    now: datetime | None = None,
) -> APIStatusError:
    """Classify one error answer. ``headers`` should be case-insensitive (httpx's are)."""
    headers = headers or {}
    message, code, body_request_id = parse_error_body(body)
    request_id = body_request_id or request_id_from_headers(headers)
    text = _normalise(message)
    common: dict[str, Any] = {
        "status_code": status_code,
        "request_id": request_id,
        "model": model,
        "body": body if isinstance(body, Mapping) else (message or None),
    }

    if status_code == 429:
        return _classify_429(text, code, message, headers, account_remaining, now, common)
    hint: str | None
    if status_code == 401:
        hint = (
            "Bind an Alibaba Cloud account to your ModelScope account (ModelScope account "
            "settings), then retry."
            if "bind" in text
            else f"Check the token (get one at {TOKEN_PAGE}); it is read from the api_key "
            "argument or MODELSCOPE_API_KEY."
        )
        return AuthenticationError(message or "authentication failed", hint=hint, **common)
    if status_code == 403:
        hint = (
            "Real-name verify the Alibaba Cloud account bound to your ModelScope account."
            if "real-name" in text or "verified" in text
            else None
        )
        return PermissionDeniedError(message or "permission denied", hint=hint, **common)
    if status_code == 404 or "invalid model id" in text or "has no provider supported" in text:
        return ModelNotFoundError(
            message or "model not found",
            hint="Check the model id (owner/name, case-sensitive) on modelscope.cn; "
            "ids of API-Inference models change over time.",
            **common,
        )
    if status_code >= 500:
        return ServerError(message or "server error", **common)
    if "enable_thinking must be set to false" in text or (
        "enable thinking" in text and "stream=false" in text
    ):
        return ThinkingModeError(message, **common)
    return BadRequestError(message or f"request rejected with status {status_code}", **common)


def _classify_429(
    text: str,
    code: str | None,
    message: str,
    headers: Mapping[str, str],
    account_remaining: int | None,
    now: datetime | None,
    common: dict[str, Any],
) -> APIStatusError:
    if "month's quota" in text or "monthly quota" in text:
        return QuotaExceededError(
            message, scope="model", reset_at=next_monthly_reset(now), period="month", **common
        )
    if "today's quota" in text:
        return QuotaExceededError(message, scope="model", reset_at=next_daily_reset(now), **common)
    if (
        code == "insufficient_quota"
        or "exceeded your current quota" in text
        or "insufficient balance" in text
        or "insufficient_balance" in text
    ):
        return QuotaExceededError(
            message, scope="account", reset_at=next_daily_reset(now), **common
        )
    if "request limit exceeded" in text:
        scope: QuotaScope = "account" if account_remaining == 0 else "model"
        return QuotaExceededError(message, scope=scope, reset_at=next_daily_reset(now), **common)
    retry_after = retry_after_seconds(headers)
    if not text:
        return RateLimitError(
            "429 with no body (rate limited, or a quota spent)",
            retry_after=retry_after,
            **common,
        )
    return RateLimitError(message, retry_after=retry_after, **common)


def quota_error_from_repeated_429(error: RateLimitError, attempts: int) -> QuotaExceededError:
    """A bodiless 429 that survives every retry is taken as the model's daily quota."""
    return QuotaExceededError(
        f"429 with no body on {attempts} attempts in a row; treated as this model's daily quota",
        scope="model",
        reset_at=next_daily_reset(),
        status_code=error.status_code,
        request_id=error.request_id,
        model=error.model,
        body=None,
    )


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "EmptyResponseError",
    "MissingAPIKeyError",
    "ModelNotFoundError",
    "ModelScopeError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "QuotaPeriod",
    "QuotaScope",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "StreamInterruptedError",
    "ThinkingModeError",
    "error_from_response",
    "parse_error_body",
]
