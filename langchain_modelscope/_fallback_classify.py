"""What a failed model call means for a fallback: move on, remember it, or give up.

The fallback model tries candidates from any provider, so it cannot import their SDKs. It reads
what every SDK exposes in one form or another instead: this package's own error tree, the
langchain-core error classes provider packages now raise, a ``status_code`` (on the error or on
its ``response``), an OpenAI-style error body (``code``/``type``/``message``) and the
``Retry-After`` / ``X-RateLimit-Reset`` headers. The words it matches are those of
:mod:`langchain_modelscope._wording`, which this package's own error mapping reads too; reset
times are computed on the ledger's clock (the ``now`` given), never the wall clock.

Kinds, and what the fallback does with each:

* ``quota``: a daily/monthly quota or a balance is spent. Move on at once; the ledger marks the
  (account, model) or the whole account until the reset (or for a cooldown when none is known).
* ``points``: ModelScope's points balance is spent (no clock; this package's own error only:
  another SDK's "insufficient balance" is a ``quota``). Move on; the account is marked until a
  balance check shows points again.
* ``throttle``: "We have to rate limit you". Move on at once; an escalating cooldown.
* ``retired``: the model is no longer served. Move on; parked for a day.
* ``auth``: the token is refused (401/403). Move on; the ledger marks the account for a cooldown.
* ``not_found``: the model id is unknown or retired. Move on; marked for a cooldown.
* ``transient``: rate limited, overloaded, 5xx, connection trouble. The candidate's own retry
  policy already ran; move on for this call only.
* ``failed``: an answer that candidate could not give (an empty 200, a context too long for
  that model): move on for this call only.
* ``bad_request``: the request itself is wrong and would fail everywhere: raise at once.
* ``unknown``: anything else (most likely a bug): raised unless the user opts in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from langchain_core import exceptions as lc_exceptions
from langchain_core.exceptions import OutputParserException

from langchain_modelscope import _wording
from langchain_modelscope._reset import next_reset, reset_from_headers
from langchain_modelscope._wording import QuotaPeriod
from langchain_modelscope.errors import (
    APIConnectionError,
    APIResponseError,
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    ModelRetiredError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    ThrottledError,
    parse_error_body,
)

FailureKind = Literal[
    "quota",
    "points",
    "throttle",
    "retired",
    "auth",
    "not_found",
    "transient",
    "failed",
    "bad_request",
    "unknown",
]
Scope = Literal["model", "account"]

#: Kinds after which the next candidate is tried.
MOVE_ON_KINDS: frozenset[str] = frozenset(
    {"quota", "points", "throttle", "retired", "auth", "not_found", "transient", "failed"}
)

_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 524, 529})
_TOKEN_LIKE = re.compile(
    r"(ms-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\b(sk|key|ak)-[A-Za-z0-9_\-]{12,}",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_MAX_MESSAGE = 300
_CAUSE_DEPTH = 4


@dataclass(frozen=True, slots=True)
class Failure:
    """One classified failure: what happened, and until when it holds (if anyone said)."""

    kind: FailureKind
    message: str
    error_type: str
    status_code: int | None = None
    scope: Scope = "model"
    #: when the quota comes back, from the error or a header (None: use a cooldown)
    until: datetime | None = None
    #: ``"day"`` / ``"month"`` for a ModelScope counter quota (the ledger's mark kind)
    period: QuotaPeriod | None = None
    #: a throttle's ``Retry-After`` in seconds, when the answer had one
    retry_after: float | None = None

    @property
    def moves_on(self) -> bool:
        """True when the next candidate should be tried."""
        return self.kind in MOVE_ON_KINDS


def redact(text: str) -> str:
    """Mask tokens and URL credentials, so messages can be logged and shown."""
    return _URL_CREDENTIALS.sub(r"\1***@", _TOKEN_LIKE.sub("***", text))


def short_message(error: BaseException) -> str:
    """The error's message, token-free and cut to a line's length."""
    message = getattr(error, "message", None)
    text = message if isinstance(message, str) and message else str(error)
    text = redact(" ".join(text.split()))
    if not text:
        text = type(error).__name__
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


# --- reading an error from any SDK --------------------------------------------------------


def _chain(error: BaseException) -> list[BaseException]:
    """The error and the errors it was raised from (LangChain wrappers keep the SDK's)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(seen) < _CAUSE_DEPTH and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _status_of(error: BaseException) -> int | None:
    for candidate in (error, getattr(error, "response", None)):
        if candidate is None:
            continue
        for name in ("status_code", "status", "http_status"):
            value = getattr(candidate, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
                return value
    return None


def _headers_of(error: BaseException) -> dict[str, str]:
    raw: Any = getattr(getattr(error, "response", None), "headers", None)
    if raw is None:
        raw = getattr(error, "headers", None)
    if raw is None:
        return {}
    try:
        items = raw.items()
        return {str(name).lower(): str(value) for name, value in items}
    except Exception:  # an SDK's odd header object: headers are a hint, never a must
        return {}


def _body_of(error: BaseException) -> Any:
    body = getattr(error, "body", None)
    if body is not None:
        return body
    response = getattr(error, "response", None)
    if response is None:
        return None
    try:
        return response.json()
    except Exception:  # unread stream, not JSON, no such method: no body then
        return None


def _code_and_text(error: BaseException, body: Any) -> tuple[set[str], str]:
    """Lower-cased error codes/types, and the lower-cased message text to match phrases in."""
    codes: set[str] = set()
    texts = [str(error)]
    if isinstance(body, (Mapping, str, bytes)):
        message, code, _ = parse_error_body(body)
        texts.append(message)
        if code:
            codes.add(code.lower())
        if isinstance(body, Mapping):
            inner = body.get("error", body.get("errors", body))
            if isinstance(inner, Mapping):
                for name in ("code", "type"):
                    value = inner.get(name)
                    if isinstance(value, str) and value:
                        codes.add(value.lower())
            value = body.get("type")
            if isinstance(value, str) and value and value != "error":
                codes.add(value.lower())
    for name in ("code", "type"):
        value = getattr(error, name, None)
        if isinstance(value, str) and value:
            codes.add(value.lower())
    return codes, " ".join(" ".join(texts).split()).lower()


# --- reset times ----------------------------------------------------------------------------


def modelscope_reset(error: QuotaExceededError, now: datetime) -> datetime | None:
    """The reset ``error`` waits for, on the ledger's clock ``now``.

    The error's own ``reset_at`` was computed on the wall clock when it was raised; a ledger
    may run on an injected clock (tests, replays), so the error's rule (next 00:00 UTC+8, or
    the 1st of next month) is applied to the ledger's ``now`` instead, and a mark never lies
    in the ledger's past or far future. None when the quota has no clock.
    """
    if error.period is None:  # no rule to replay: the time the error knows, if any
        return error.reset_at
    return error.next_reset(now)


# --- classification ------------------------------------------------------------------------


def _own_error(error: BaseException, now: datetime) -> Failure | None:
    """This package's errors say what they are; no guessing needed."""
    message = short_message(error)
    name = type(error).__name__
    status = getattr(error, "status_code", None)
    if isinstance(error, QuotaExceededError):
        if error.regime == "points":
            return Failure("points", message, name, status, "account")
        until = modelscope_reset(error, now)
        return Failure("quota", message, name, status, error.scope, until, error.period)
    if isinstance(error, ThrottledError):
        return Failure("throttle", message, name, status, retry_after=error.retry_after)
    if isinstance(error, RateLimitError | ServerError | APIConnectionError):
        return Failure("transient", message, name, status)
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return Failure("auth", message, name, status, "account")
    if isinstance(error, ModelRetiredError):
        return Failure("retired", message, name, status)
    if isinstance(error, ModelNotFoundError):
        return Failure("not_found", message, name, status)
    if isinstance(error, BadRequestError):
        return Failure("bad_request", message, name, status)
    if isinstance(error, APIResponseError):
        return Failure("failed", message, name, status)
    return None


def _quota_scope(codes: set[str], text: str) -> Scope:
    return "model" if _wording.is_model_scoped_quota(text, codes) else "account"


def _transient_by_type(error: BaseException) -> bool:
    if isinstance(error, TimeoutError | ConnectionError):
        return True
    names = (cls.__name__ for cls in type(error).__mro__)
    return any(n.endswith(("ConnectionError", "TimeoutError", "Timeout")) for n in names)


def classify_error(error: BaseException, now: datetime) -> Failure:
    """Classify ``error`` from any provider; ``now`` is the ledger's time, for reset headers."""
    own = _own_error(error, now)
    if own is not None:
        return own
    message = short_message(error)
    name = type(error).__name__
    if isinstance(error, lc_exceptions.ModelRefusalError | OutputParserException):
        return Failure("bad_request", message, name)

    chain = _chain(error)
    status = next((s for s in map(_status_of, chain) if s is not None), None)
    headers: dict[str, str] = {}
    for link in chain:
        headers = _headers_of(link)
        if headers:
            break
    body = next((b for b in map(_body_of, chain) if b is not None), None)
    codes, text = _code_and_text(error, body)

    if _wording.is_retired_model(text, codes):
        return Failure("retired", message, name, status)
    if _wording.is_throttle(text):
        retry = reset_from_headers(headers, now, ("retry-after",))
        wait = None if retry is None else max((retry - now).total_seconds(), 0.0)
        return Failure("throttle", message, name, status, retry_after=wait)
    if _wording.is_any_quota(text, codes):
        period = _wording.quota_period(text)
        until = reset_from_headers(headers, now) or next_reset(period, now)
        scope = _quota_scope(codes, text)
        return Failure("quota", message, name, status, scope, until, period)
    if isinstance(error, lc_exceptions.ContextOverflowError):
        return Failure("failed", message, name, status)
    if (
        status == 404
        or isinstance(error, lc_exceptions.ModelNotFoundError)
        or _wording.is_any_unknown_model(text, codes)
    ):
        return Failure("not_found", message, name, status)
    if status in (401, 403) or isinstance(
        error, lc_exceptions.ModelAuthenticationError | lc_exceptions.ModelPermissionDeniedError
    ):
        return Failure("auth", message, name, status, "account")
    if status == 402:  # Payment Required: DeepSeek's "Insufficient Balance", and others
        until = reset_from_headers(headers, now)
        return Failure("quota", message, name, status, "account", until)
    if (
        status in _TRANSIENT_STATUSES
        or (status is not None and status >= 500)
        or _wording.is_transient_code(codes)
        or isinstance(
            error,
            lc_exceptions.ModelRateLimitError
            | lc_exceptions.ModelAPIError
            | lc_exceptions.ModelConnectionError
            | lc_exceptions.ModelTimeoutError,
        )
    ):
        return Failure("transient", message, name, status)
    if (status is not None and 400 <= status < 500) or isinstance(
        error, lc_exceptions.ModelInvalidRequestError
    ):
        return Failure("bad_request", message, name, status)
    if status is None and any(map(_transient_by_type, chain)):
        return Failure("transient", message, name)
    return Failure("unknown", message, name, status)
