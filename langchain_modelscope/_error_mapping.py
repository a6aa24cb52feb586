"""How an answer from ModelScope becomes one of the errors of :mod:`langchain_modelscope.errors`.

`error_from_response` is the one place where a status code and a body are classified; the
words it looks for live in :mod:`langchain_modelscope._wording`, which the fallback's classifier
reads too. Kept apart from the tree so `errors.py` is only the classes; every public name here
is re-exported there, which stays its import path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from langchain_modelscope import _wording
from langchain_modelscope._reset import next_daily_reset, next_reset, reset_from_headers
from langchain_modelscope.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    ModelRetiredError,
    PermissionDeniedError,
    QuotaExceededError,
    QuotaScope,
    RateLimitError,
    ServerError,
    ThinkingModeError,
    ThrottledError,
)

__all__ = [
    "MESSAGE_LIMIT",
    "REQUEST_ID_HEADERS",
    "TOKEN_PAGE",
    "error_from_response",
    "parse_error_body",
    "quota_error_from_repeated_429",
    "request_id_from_headers",
    "retry_after_seconds",
    "shown_message",
]

#: Response headers that may carry a request id, most specific first.
REQUEST_ID_HEADERS = ("x-request-id", "x-modelscope-request-id", "request-id", "x-acs-request-id")

#: Where a user gets a token; named in every authentication error.
TOKEN_PAGE = "https://modelscope.cn/my/myaccesstoken"

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


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds from ``now`` (any form :mod:`~langchain_modelscope._reset`
    reads: seconds, a date, a duration), for the client's own wait before a retry."""
    at = datetime.now(timezone.utc) if now is None else now
    moment = reset_from_headers(headers, at, ("retry-after",))
    return None if moment is None else max((moment - at).total_seconds(), 0.0)


def _normalise(message: str) -> str:
    return _SPACES.sub(" ", message).strip().lower()


#: The most of a server's text an error message shows; the whole of it stays in ``.body``.
MESSAGE_LIMIT = 300
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def shown_message(message: str, content_type: str | None = None) -> str:
    """The server's text as an error message shows it: short, and an HTML page named as one.

    A proxy's 502 page can be 60 KiB of HTML; it would fill every log line and retry WARNING.
    """
    looks_html = "html" in (content_type or "").lower() or message.lstrip()[:1] == "<"
    if looks_html and _TAGS.search(message):
        title_match = _TITLE.search(message)
        title = _SPACES.sub(" ", _TAGS.sub("", title_match.group(1))).strip() if title_match else ""
        titled = f' titled "{title[:120]}"' if title else ""
        return (
            f"an HTML page, probably from a proxy{titled} ({len(message)} characters; "
            "the whole page is in the error's .body)"
        )
    if len(message) > MESSAGE_LIMIT:
        return (
            f"{message[:MESSAGE_LIMIT]}... ({len(message)} characters; "
            "the whole text is in the error's .body)"
        )
    return message


def _not_found_hint(url: str | None) -> str:
    """A 404 that names no model: the path is wrong, and so most likely the base URL."""
    if url is None:
        return "The endpoint was not found: check base_url (it usually ends with /v1)."
    path = url.split("://", 1)[-1].partition("/")[2]
    base = url[: len(url) - len(path)].rstrip("/") if path else url
    if "v1/" not in f"{path}/".lower():
        return (
            f"The base URL is probably wrong: {url} does not exist. API-Inference's base URL "
            "ends with /v1 (https://api-inference.modelscope.cn/v1, or a dedicated "
            f"deployment's https://ms-ens-<id>.api-inference.modelscope.cn/v1), not {base!r}."
        )
    return (
        f"The base URL is probably wrong: {url} does not exist. It usually is "
        "https://api-inference.modelscope.cn/v1 (or a dedicated deployment's, ending with /v1)."
    )


def error_from_response(
    status_code: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
    account_remaining: int | None = None,
    now: datetime | None = None,
    url: str | None = None,
) -> APIStatusError:
    """Classify one error answer. ``headers`` should be case-insensitive (httpx's are).

    ``url`` (the request's) lets a 404 that names no model say which base URL is wrong.
    """
    headers = headers or {}
    message, code, body_request_id = parse_error_body(body)
    request_id = body_request_id or request_id_from_headers(headers)
    text = _normalise(message)  # the whole text classifies; a short one is shown
    shown = shown_message(message, headers.get("content-type"))
    common: dict[str, Any] = {
        "status_code": status_code,
        "request_id": request_id,
        "model": model,
        "body": body if isinstance(body, Mapping) else (message or None),
    }

    if status_code == 429:
        return _classify_429(text, code, shown, headers, account_remaining, now, common)
    hint: str | None
    if status_code == 401:
        hint = (
            "Bind an Alibaba Cloud account to your ModelScope account (ModelScope account "
            "settings), then retry."
            if _wording.has_any(text, _wording.UNBOUND_ACCOUNT_PHRASES)
            else f"Check the token (get one at {TOKEN_PAGE}); it is read from the api_key "
            "argument or MODELSCOPE_API_KEY."
        )
        return AuthenticationError(shown or "authentication failed", hint=hint, **common)
    if status_code == 403:
        hint = (
            "Real-name verify the Alibaba Cloud account bound to your ModelScope account."
            if _wording.has_any(text, _wording.UNVERIFIED_ACCOUNT_PHRASES)
            else None
        )
        return PermissionDeniedError(shown or "permission denied", hint=hint, **common)
    codes = () if code is None else (code.lower(),)
    if _wording.is_retired_model(text, codes):
        return _retired(shown, common)
    if _wording.names_unknown_model(text):
        return ModelNotFoundError(
            shown or "model not found",
            hint="Check the model id (owner/name, case-sensitive) on modelscope.cn; "
            "ids of API-Inference models change over time.",
            **common,
        )
    if status_code == 404:
        return ModelNotFoundError(shown or "not found", hint=_not_found_hint(url), **common)
    if status_code >= 500:
        return ServerError(shown or "server error", **common)
    if _wording.needs_streaming(text):
        return ThinkingModeError(shown, **common)
    if _wording.needs_temperature_one(text):
        return BadRequestError(
            shown, hint="This model accepts only temperature=1: set temperature=1.", **common
        )
    return BadRequestError(shown or f"request rejected with status {status_code}", **common)


def _retired(message: str, common: dict[str, Any]) -> ModelRetiredError:
    return ModelRetiredError(
        message or "model no longer served",
        hint="This model is no longer served by ModelScope API-Inference (retired); "
        "use a current model id (see modelscope.cn).",
        **common,
    )


def _classify_429(
    text: str,
    code: str | None,
    message: str,
    headers: Mapping[str, str],
    account_remaining: int | None,
    now: datetime | None,
    common: dict[str, Any],
) -> APIStatusError:
    """A 429, by its text (§3): which quota, which regime, or a throttle, or unknown.

    The daily-counter regime is only claimed when the answer showed it: a daily or monthly
    text, "Request limit exceeded." (a counter's words), or the account counter headers.
    """
    codes = () if code is None else (code.lower(),)
    counters_seen = account_remaining is not None
    period = _wording.quota_period(text)
    if period is not None:
        return QuotaExceededError(
            message,
            scope="model",
            reset_at=next_reset(period, now),
            period=period,
            regime="daily",
            **common,
        )
    if _wording.is_retired_model(text, codes):
        return _retired(message, common)
    if _wording.is_points_spent(text, codes):
        return QuotaExceededError(
            message, scope="account", reset_at=None, regime="points", **common
        )
    if _wording.is_upstream_quota(text, codes):
        return QuotaExceededError(message, scope="model", reset_at=None, **common)
    if _wording.is_request_limit(text) or _wording.is_account_quota(text, code):
        limited = _wording.is_request_limit(text)
        scope: QuotaScope = "account" if account_remaining == 0 or not limited else "model"
        if limited or counters_seen:
            return QuotaExceededError(
                message,
                scope=scope,
                reset_at=next_daily_reset(now),
                period="day",
                regime="daily",
                **common,
            )
        return QuotaExceededError(message, scope=scope, reset_at=None, **common)
    retry_after = retry_after_seconds(headers)
    if _wording.is_throttle(text):
        return ThrottledError(message, retry_after=retry_after, **common)
    return RateLimitError(
        message or "429 with no body",
        hint="(rate limited, or a quota spent: nobody can tell yet)",
        retry_after=retry_after,
        unexplained=True,
        **common,
    )


def quota_error_from_repeated_429(error: RateLimitError, attempts: int) -> QuotaExceededError:
    """An unexplained 429 that survives every retry is taken as the model's quota (§3).

    Its length is unknown (no regime was shown), so ``reset_at`` is None: a fallback cools the
    model down for its ``quota_cooldown``.
    """
    said = "no body" if error.bodiless else "a text matching no known quota"
    return QuotaExceededError(
        f"429 with {said} on {attempts} attempts in a row; treated as this model's quota",
        scope="model",
        reset_at=None,
        status_code=error.status_code,
        request_id=error.request_id,
        model=error.model,
        body=None,
    )
