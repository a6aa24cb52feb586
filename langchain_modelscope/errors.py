"""Every error this package raises, and how an answer from ModelScope becomes one.

The tree (langchain-core's own classes in brackets, so code that catches the generic
LangChain model errors keeps working with this package)::

    ModelScopeError                              base of everything raised here
    ├── MissingAPIKeyError (ValueError)          no token found; raised before any network call
    │   └── InvalidAPIKeyError                   a token no header can carry (inner whitespace,
    │                                            control or non-ASCII characters)
    ├── InvalidParameterError (ValueError)       a request parameter the API does not allow;
    │                                            raised before any request
    ├── APIError                                 the service (or the way to it) failed the call
    │   ├── APIStatusError                       an HTTP answer with an error status
    │   │   ├── AuthenticationError  [ModelAuthenticationError]     401: bad token, unbound account
    │   │   ├── PermissionDeniedError [ModelPermissionDeniedError]  403: not real-name verified
    │   │   ├── ModelNotFoundError   [ModelNotFoundError]           unknown or retired model id
    │   │   │   └── ModelRetiredError                               no longer served (400 or 429)
    │   │   ├── BadRequestError      [ModelInvalidRequestError]     any other 4xx: never retried
    │   │   │   ├── ThinkingModeError                               the two "must stream" 400s
    │   │   │   └── EmbeddingInputError (ValueError)                a text that cannot be embedded
    │   │   ├── RateLimitError       [ModelRateLimitError]          429 that passes: retried
    │   │   │   └── ThrottledError                                  "We have to rate limit you":
    │   │   │                                                       retried only after a cooldown
    │   │   ├── QuotaExceededError   [ModelRateLimitError]          429 quota spent: not retried,
    │   │   │                                                       carries scope, regime, reset_at
    │   │   └── ServerError          [ModelAPIError]                5xx: retried
    │   ├── APIConnectionError       [ModelConnectionError]         no answer: retried
    │   │   ├── APITimeoutError      [ModelTimeoutError]            no answer in time: retried
    │   │   │   └── ConcurrencyLimitTimeoutError                    no free slot of the account
    │   │   └── StreamInterruptedError                              a stream cut mid-way
    │   └── APIResponseError                                        a 200 we cannot use
    │       ├── EmptyResponseError                                  ``choices: null`` and friends
    │       └── ResponseDecodeError                                 not JSON, or not the shape
    │           └── EmbeddingResponseError                          vectors that do not fit
    └── AllCandidatesFailedError                 a fallback's every candidate skipped or failed

Every error carries ``status_code``, the server's ``message``, ``request_id`` and ``model``, and
never the token: the token is not passed to this module at all (the HTTP core scrubs a token a
server echoes back, and chains no httpx exception, whose request holds the header). A body too
long or too ugly for a message (a proxy's HTML page) is kept whole in ``.body``; the message
says what it was in a few hundred characters at most.

`error_from_response` is the one place where a status code and a body are classified; the
words it looks for live in :mod:`langchain_modelscope._wording`, which the fallback's classifier
reads too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, Literal

from langchain_core import exceptions as lc_exceptions

from langchain_modelscope import _wording
from langchain_modelscope._reset import next_daily_reset, next_monthly_reset, reset_from_headers
from langchain_modelscope._wording import QuotaPeriod

if TYPE_CHECKING:  # for the annotation only: the fallback imports this module, never the reverse
    from langchain_modelscope._fallback_trace import Attempt

QuotaScope = Literal["model", "account"]
QuotaRegime = Literal["points", "daily"]
"""Which free tier an answer showed (modelscope-api.md §2): ``"points"`` (since 2026-08: a
balance with no reset time) or ``"daily"`` (the counters that reset at 00:00 UTC+8, monthly
ones included). ``None`` on an error when the answer did not show either."""

#: What a user out of points can do (§2a): points come from activity on the website.
POINTS_ADVICE: Final = (
    "log in at modelscope.cn to receive today's points, or use another account or provider"
)

#: Response headers that may carry a request id, most specific first.
REQUEST_ID_HEADERS = ("x-request-id", "x-modelscope-request-id", "request-id", "x-acs-request-id")

#: Where a user gets a token; named in every authentication error.
TOKEN_PAGE = "https://modelscope.cn/my/myaccesstoken"


class ModelScopeError(lc_exceptions.LangChainException):
    """Base class of every error raised by langchain-modelscope."""


class MissingAPIKeyError(ModelScopeError, ValueError):
    """No ModelScope token was given or found in the environment."""


class InvalidAPIKeyError(MissingAPIKeyError):
    """A token that no HTTP header can carry, refused before any request.

    A subclass of `MissingAPIKeyError` because it is the same mistake to handle (no usable
    token); its message shows at most the token's first 4 characters.
    """


class InvalidParameterError(ModelScopeError, ValueError):
    """A request parameter out of its range or of the wrong type, refused before any request.

    ``name``, ``value`` and ``allowed`` say which, what was given, and what the API takes.
    """

    def __init__(self, message: str, *, name: str, value: Any, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_plain, (type(self), self.args, self.__dict__.copy()))


def _rebuild_plain(
    cls: type[ModelScopeError], args: tuple[Any, ...], state: dict[str, Any]
) -> ModelScopeError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


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


class ModelRetiredError(ModelNotFoundError):
    """The service no longer serves this model: the 400 ``has no provider supported`` or the
    429 ``insufficient balance (1008)`` (its upstream balance, not your points). A fallback
    parks it for a day; retrying or waiting for a reset does not help."""


class BadRequestError(APIStatusError, lc_exceptions.ModelInvalidRequestError):
    """The request itself is wrong: it would fail on every account, so it is never retried."""


class ThinkingModeError(BadRequestError):
    """A thinking model refused a non-streaming call; the chat model streams instead."""


class RateLimitError(APIStatusError, lc_exceptions.ModelRateLimitError):
    """429 that passes with time (a throttle, or a 429 with no body or an unknown text)."""

    is_retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        unexplained: bool = False,
        **kwargs: Any,
    ) -> None:
        self.retry_after = retry_after
        #: True when the 429 said nothing known (no body, or a text matching no §3 row): a
        #: quota or a rate limit, nobody can tell yet; one that repeats is taken as a quota.
        self.unexplained = unexplained
        super().__init__(message, **kwargs)

    @property
    def bodiless(self) -> bool:
        """True for a 429 that said nothing: a quota or a rate limit, nobody can tell yet."""
        return self.body is None


class ThrottledError(RateLimitError):
    """ModelScope's concurrency throttle, "We have to rate limit you for model …".

    Its windows last hours in 2026 and refused calls may cost points (§2a), so it is never
    retried at once: a fallback moves on and cools the (account, model) down; a bare model
    retries only after the cooldown, and raises at once when that is longer than the client
    will wait. ``retry_at`` (aware, UTC) is then the earliest sensible retry.
    """

    def __init__(self, message: str, *, retry_at: datetime | None = None, **kwargs: Any) -> None:
        self.retry_at = retry_at
        super().__init__(message, **kwargs)

    def _describe(self) -> str:
        when = (
            f" [throttled: retry no sooner than {self.retry_at.isoformat(timespec='seconds')}]"
            if self.retry_at is not None
            else " [throttled: send fewer calls at once, or use another model or provider]"
        )
        return super()._describe() + when


class QuotaExceededError(APIStatusError, lc_exceptions.ModelRateLimitError):
    """A quota or the points balance is spent: retrying soon only wastes calls (and points).

    * ``scope``: ``"account"`` (every model of the token) or ``"model"``;
    * ``regime``: what the answer showed (:data:`QuotaRegime`): ``"points"`` for a spent
      balance, ``"daily"`` for the counters, None when it showed neither (a provider's cap);
    * ``period``: ``"day"`` / ``"month"`` for a counter quota, None otherwise;
    * ``reset_at``: when it comes back, only when the answer's regime has a clock (the next
      00:00 UTC+8, the 1st); None for points (they come back when granted) and unknown caps.
    """

    is_retryable = False

    def __init__(
        self,
        message: str,
        *,
        scope: QuotaScope,
        reset_at: datetime | None,
        period: QuotaPeriod | None = None,
        regime: QuotaRegime | None = None,
        **kwargs: Any,
    ) -> None:
        self.scope: QuotaScope = scope
        self.reset_at = reset_at
        self.period: QuotaPeriod | None = period
        self.regime: QuotaRegime | None = regime
        super().__init__(message, **kwargs)

    def next_reset(self, now: datetime) -> datetime | None:
        """The reset this quota waits for, seen from ``now`` (a ledger may keep its own clock);
        None when it has no clock (points, an unknown cap)."""
        if self.period == "month":
            return next_monthly_reset(now)
        if self.period == "day":
            return next_daily_reset(now)
        return None

    def _advice(self) -> str:
        what = "the account's" if self.scope == "account" else "this model's"
        if self.regime == "points":
            return f"the account's points balance is spent, with no fixed reset: {POINTS_ADVICE}"
        if self.reset_at is not None:
            period = {"day": "daily ", "month": "monthly "}.get(self.period or "", "")
            return (
                f"{what} {period}quota is spent until "
                f"{self.reset_at.isoformat(timespec='minutes')}; use another "
                f"{'account' if self.scope == 'account' else 'model or account'} meanwhile"
            )
        other = "another account or provider" if self.scope == "account" else "another model"
        return f"{what} quota is spent, for a time nobody said: use {other}"

    def _describe(self) -> str:
        return f"{super()._describe()} [{self._advice()}]"

    def __repr__(self) -> str:
        return (
            f"{super().__repr__()[:-1]}, scope={self.scope!r}, regime={self.regime!r}, "
            f"reset_at={self.reset_at!r})"
        )


class ServerError(APIStatusError, lc_exceptions.ModelAPIError):
    """5xx: the service failed; retried."""


class APIConnectionError(APIError, lc_exceptions.ModelConnectionError):
    """The service could not be reached or dropped the connection; retried.

    Chains no httpx exception (its request carries the ``Authorization`` header): what it said
    is kept instead, ``transport_error`` (its type name, e.g. ``"ReadTimeout"``) and ``host``.
    """

    def __init__(
        self,
        message: str,
        *,
        transport_error: str | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.transport_error = transport_error
        self.host = host
        super().__init__(message, **kwargs)


class APITimeoutError(APIConnectionError, lc_exceptions.ModelTimeoutError):
    """The service did not answer in time; retried. Reasoning models can be slow: see timeout."""


class ConcurrencyLimitTimeoutError(APITimeoutError):
    """No slot of the account's ``max_concurrent_requests`` came free in time; nothing was
    sent. Carries ``limit`` and ``waited`` (seconds)."""

    def __init__(
        self, message: str, *, model: str | None = None, limit: int, waited: float | None
    ) -> None:
        self.limit = limit
        self.waited = waited
        super().__init__(message, model=model)


class StreamInterruptedError(APIConnectionError):
    """A streamed answer stopped before its end; what was received is not complete."""


class APIResponseError(APIError, lc_exceptions.ModelAPIError):
    """A successful status with a body that cannot be used."""

    is_retryable = False


class EmptyResponseError(APIResponseError):
    """200 with no choices: seen from ModelScope when ``response_format`` is ``json_schema``."""


class ResponseDecodeError(APIResponseError):
    """The body is not JSON, or not the shape the API promises."""


class EmbeddingInputError(BadRequestError, ValueError):
    """A text that cannot be embedded; ``index`` is its position in the list given.

    Raised before any request for an empty or whitespace-only text (``status_code`` is None
    then), and after the service rejected a text on its own (too long for the model).
    """

    def __init__(self, message: str, *, index: int, **kwargs: Any) -> None:
        self.index = index
        super().__init__(message, **kwargs)


class EmbeddingResponseError(ResponseDecodeError):
    """A 200 whose vectors cannot be matched to the texts: wrong count, bad or repeated
    indexes, mixed dimensions, or not the dimensions asked for."""


class AllCandidatesFailedError(ModelScopeError):
    """Every candidate was skipped or failed; says why for each, and when one comes back.

    Usage::

        try:
            model.invoke("hi")
        except AllCandidatesFailedError as error:
            print(error.earliest_reset, [a.describe() for a in error.attempts])
    """

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        self.attempts: tuple[Attempt, ...] = tuple(attempts)
        untils = [a.until for a in self.attempts if a.until is not None]
        #: the earliest time a skipped or failed candidate may be tried again (None if unknown)
        self.earliest_reset: datetime | None = min(untils) if untils else None
        super().__init__(self._describe())

    def _describe(self) -> str:
        when = (
            f"; the earliest comes back at {self.earliest_reset.isoformat(timespec='minutes')}"
            if self.earliest_reset is not None
            else ""
        )
        lines = "".join(f"\n  - {attempt.describe()}" for attempt in self.attempts)
        return f"all {len(self.attempts)} fallback candidates are out{when}:{lines}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.attempts,))


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
        reset = next_monthly_reset(now) if period == "month" else next_daily_reset(now)
        return QuotaExceededError(
            message, scope="model", reset_at=reset, period=period, regime="daily", **common
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


__all__ = [
    "POINTS_ADVICE",
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AllCandidatesFailedError",
    "AuthenticationError",
    "BadRequestError",
    "ConcurrencyLimitTimeoutError",
    "EmbeddingInputError",
    "EmbeddingResponseError",
    "EmptyResponseError",
    "InvalidAPIKeyError",
    "InvalidParameterError",
    "MissingAPIKeyError",
    "ModelNotFoundError",
    "ModelRetiredError",
    "ModelScopeError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "QuotaPeriod",
    "QuotaRegime",
    "QuotaScope",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "StreamInterruptedError",
    "ThinkingModeError",
    "ThrottledError",
    "error_from_response",
    "parse_error_body",
]
