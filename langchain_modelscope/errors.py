"""Every error this package raises: the tree, and the classes.

The tree (langchain-core's own classes in brackets, so code that catches the generic
LangChain model errors keeps working with this package)::

    ModelScopeError                              base of everything raised here
    ├── MissingAPIKeyError (ValueError)          no token found; raised before any network call
    │   └── InvalidAPIKeyError                   a token no header can carry (inner whitespace,
    │                                            control or non-ASCII characters)
    ├── InvalidParameterError (ValueError)       a request parameter the API does not allow;
    │                                            raised before any request
    ├── InvalidImageRequestError (ValueError)    an image parameter refused before any request
    ├── ImageTaskCancelledError                  the caller stopped polling (sync ``cancel``)
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
    │   │   │   ├── ConcurrencyLimitTimeoutError                    no free slot of the account
    │   │   │   └── ImageTaskTimeoutError                           an image task not done in
    │   │   │                                                       time; keeps ``task_id``
    │   │   └── StreamInterruptedError                              a stream cut mid-way
    │   ├── APIResponseError                                        a 200 we cannot use
    │   │   ├── EmptyResponseError                                  ``choices: null`` and friends
    │   │   ├── ResponseDecodeError                                 not JSON, or not the shape
    │   │   │   └── EmbeddingResponseError                          vectors that do not fit
    │   │   └── ImageTaskFailedError                                ``task_status: FAILED``
    │   │       └── ContentRefusedError                             code 422 "inappropriate
    │   │                                                           content"
    │   └── BalanceUnavailableError                                 the points balance endpoint
    │                                                               said nothing usable
    └── AllCandidatesFailedError                 a fallback's every candidate skipped or failed

Every error carries ``status_code``, the server's ``message``, ``request_id`` and ``model``, and
never the token: the token is not passed to this module at all (the HTTP core scrubs a token a
server echoes back, and chains no httpx exception, whose request holds the header). A body too
long or too ugly for a message (a proxy's HTML page) is kept whole in ``.body``; the message
says what it was in a few hundred characters at most. The image errors carry the ``task_id``
once the service gave one.

How an answer becomes one of these is :mod:`langchain_modelscope._error_mapping`
(`error_from_response`, `parse_error_body`, ...); its public names are re-exported here, which
stays their import path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, Final, Literal

from langchain_core import exceptions as lc_exceptions

from langchain_modelscope._reset import next_reset
from langchain_modelscope._wording import QuotaPeriod

if TYPE_CHECKING:
    # The mapping's names, for the type checker; at run time `__getattr__` below loads them.
    from langchain_modelscope._error_mapping import (
        MESSAGE_LIMIT,
        REQUEST_ID_HEADERS,
        TOKEN_PAGE,
        error_from_response,
        parse_error_body,
        quota_error_from_repeated_429,
        request_id_from_headers,
        retry_after_seconds,
        shown_message,
    )

    # for the annotation only: the fallback imports this module, never the reverse
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
        return next_reset(self.period, now)

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


class BalanceUnavailableError(APIError):
    """The balance endpoint answered, but nothing usable: 404, a web page, ``success: false``
    or missing fields. ``reason`` says which; the endpoint is best-effort (modelscope-api.md
    §2a), so callers should treat this as "unknown", never as "no points"."""

    def __init__(self, message: str, *, reason: str, url: str, **kwargs: Any) -> None:
        self.reason = reason
        self.url = url
        super().__init__(message, **kwargs)


# --- image generation (modelscope-api.md §1); every one carries the task id once given ----


class InvalidImageRequestError(ModelScopeError, ValueError):
    """A parameter outside what the service accepts; raised before any request is sent."""

    def __init__(self, message: str, *, parameter: str) -> None:
        self.parameter = parameter
        super().__init__(message)


class ImageTaskFailedError(APIResponseError):
    """The task ended ``FAILED``: ``code`` and ``message`` are the service's own."""

    def __init__(
        self, message: str, *, task_id: str, code: int | str | None = None, **kwargs: Any
    ) -> None:
        self.task_id = task_id
        self.code = code
        super().__init__(message, **kwargs)

    def _describe(self) -> str:
        return f"{super()._describe()} [task {self.task_id}, code {self.code}]"


class ContentRefusedError(ImageTaskFailedError):
    """The service refused the output as inappropriate (code 422): a content refusal, not a
    server error. Retrying the same prompt will most likely be refused again."""


class ImageTaskTimeoutError(APITimeoutError):
    """The task was not done within ``task_timeout``; it may still finish on the service.

    Resume with ``generator.result(error.task_id)`` (no new points are spent by polling).
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        last_status: str | None = None,
        elapsed: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.task_id = task_id
        self.last_status = last_status
        self.elapsed = elapsed
        super().__init__(message, **kwargs)


class ImageTaskCancelledError(ModelScopeError):
    """Polling stopped because the caller set the ``cancel`` event; the task may still run."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(
            f"stopped polling image task {task_id} on request; resume with result(task_id)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.task_id,))


def __getattr__(name: str) -> Any:
    """The mapping's public names, re-exported here (their import path) on first use: the
    mapping imports the classes above, so importing it eagerly would be a cycle. They are the
    names of ``__all__`` this module does not define."""
    if name not in globals().get("__all__", ()):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module("langchain_modelscope._error_mapping"), name)
    globals()[name] = value
    return value


__all__ = [
    "MESSAGE_LIMIT",
    "POINTS_ADVICE",
    "REQUEST_ID_HEADERS",
    "TOKEN_PAGE",
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AllCandidatesFailedError",
    "AuthenticationError",
    "BadRequestError",
    "BalanceUnavailableError",
    "ConcurrencyLimitTimeoutError",
    "ContentRefusedError",
    "EmbeddingInputError",
    "EmbeddingResponseError",
    "EmptyResponseError",
    "ImageTaskCancelledError",
    "ImageTaskFailedError",
    "ImageTaskTimeoutError",
    "InvalidAPIKeyError",
    "InvalidImageRequestError",
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
    "quota_error_from_repeated_429",
    "request_id_from_headers",
    "retry_after_seconds",
    "shown_message",
]
