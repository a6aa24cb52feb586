"""The HTTP core's retry policy: what is retried, how long to wait, and who is told.

One policy drives both tenacity's ``Retrying`` and ``AsyncRetrying``; tenacity is imported on
the first retry, never at import time (~7 ms), because most calls succeed at once: the first
try runs outside tenacity, which takes over only after a passing failure and sees that failure
as its attempt 1. A throttle ("We have to rate limit you") is retried only after the ledger's
cooldown, never within `no_throttle_retries` (a fallback moves on instead).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from langchain_modelscope._error_mapping import quota_error_from_repeated_429
from langchain_modelscope._quota._ledger import throttle_cooldown
from langchain_modelscope.errors import (
    APIConnectionError,
    APIError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    ThrottledError,
)

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState, Retrying

__all__ = [
    "THROTTLE_MAX_WAIT",
    "AsyncRetryListener",
    "RetryListener",
    "RetryPolicy",
    "backoff_wait",
    "is_transient",
    "no_throttle_retries",
]

logger = logging.getLogger("langchain_modelscope")
_T = TypeVar("_T")


class RetryListener(Protocol):
    """Told of each retry before its wait: LangChain's ``CallbackManagerForLLMRun`` is one, so
    a LangSmith trace shows the retries of a call."""

    def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> None: ...


class AsyncRetryListener(Protocol):
    """The async twin of `RetryListener` (``AsyncCallbackManagerForLLMRun``)."""

    def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> Awaitable[None]: ...


#: The longest a client waits before retrying a throttled model ("We have to rate limit you").
#: It never retries sooner than the ledger's cooldown rule (30 s, doubling: see
#: :func:`~langchain_modelscope.quota.throttle_cooldown`) or ``Retry-After``; a wait longer
#: than a minute is not a retry but a stall, so the `ThrottledError` is raised at once with
#: ``retry_at`` set. With the default ``max_retries=2`` that is three calls over 90 s at most.
THROTTLE_MAX_WAIT: Final = 60.0

_THROTTLE_RETRIES: ContextVar[bool] = ContextVar("modelscope_throttle_retries", default=True)


@contextmanager
def no_throttle_retries() -> Iterator[None]:
    """Within this block a throttle is never retried: a fallback moves to its next candidate
    at once instead (set by the fallback around each candidate call, sync or async)."""
    token = _THROTTLE_RETRIES.set(False)
    try:
        yield
    finally:
        _THROTTLE_RETRIES.reset(token)


def is_transient(error: BaseException) -> bool:
    """Worth another try: connection trouble, timeouts, 5xx and the passing kind of 429."""
    if isinstance(error, StreamInterruptedError):
        return False  # part of the answer was already handed out
    return isinstance(error, (APIConnectionError, ServerError, RateLimitError))


def _throttle_wait(error: ThrottledError, attempt: int) -> float:
    """Seconds before retrying after the ``attempt``-th throttle of a call."""
    cooldown = throttle_cooldown(attempt).total_seconds()
    return max(cooldown, error.retry_after or 0.0)


def _retryable(error: BaseException, attempt: int) -> bool:
    """`is_transient`, except a throttle whose cooldown is too long (or that no one may wait
    out): that one is stamped with ``retry_at`` and raised."""
    if not is_transient(error):
        return False
    if isinstance(error, ThrottledError):
        wait = _throttle_wait(error, attempt)
        if not _THROTTLE_RETRIES.get() or wait > THROTTLE_MAX_WAIT:
            _stamp(error, wait)
            return False
    return True


def _stamp(error: ThrottledError, wait: float) -> None:
    if error.retry_at is None:
        error.retry_at = datetime.now(timezone.utc) + timedelta(seconds=wait)
        error.args = (error._describe(),)


def backoff_wait(state: RetryCallState, initial: float, maximum: float) -> float:
    """Seconds before the next try: a throttle's cooldown, a 429's ``Retry-After`` (a minute at
    most), else exponential backoff with jitter: initial, 2x, 4x, ... capped, plus up to
    ``initial``."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, ThrottledError):
        return _throttle_wait(error, state.attempt_number)
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        return min(error.retry_after, 60.0)
    delay: float = initial * 2.0 ** (state.attempt_number - 1)
    return min(delay, maximum) + random.uniform(0, initial)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_retries`` retries of what passes, waiting ``wait(state)`` before each one.

    Made by the client for each call (so a test's or a copy's settings are the ones used) and
    driven from its sync and async request paths alike.
    """

    max_retries: int
    wait: Callable[[RetryCallState], float]

    def call(self, once: Callable[[], _T], listener: RetryListener | None) -> _T:
        """``once()`` under the policy: the first try outside tenacity (see the module)."""
        try:
            return once()
        except Exception as error:
            if not self._retries_first(error):
                raise
            first: BaseException | None = error

        def again() -> _T:
            nonlocal first
            if first is not None:
                error, first = first, None
                raise error
            return once()

        try:
            return self._retrying(listener)(again)
        except RateLimitError as error:
            raise self._finish(error) from error

    async def acall(
        self, once: Callable[[], Awaitable[_T]], listener: AsyncRetryListener | None
    ) -> _T:
        """The async twin of `call`."""
        try:
            return await once()
        except Exception as error:
            if not self._retries_first(error):
                raise
            first: BaseException | None = error

        async def again() -> _T:
            nonlocal first
            if first is not None:
                error, first = first, None
                raise error
            return await once()

        try:
            result: _T = await self._aretrying(listener)(again)
        except RateLimitError as error:
            raise self._finish(error) from error
        return result

    def _retries_first(self, error: Exception) -> bool:
        """Whether a first failure is retried; a throttle that is not gets its ``retry_at``."""
        if _retryable(error, 1) and self.max_retries > 0:
            return True
        if isinstance(error, ThrottledError):
            _stamp(error, _throttle_wait(error, 1))
        return False

    def _finish(self, error: RateLimitError) -> APIError:
        """The error that ends a call whose retries ran out on a 429."""
        if isinstance(error, ThrottledError):
            _stamp(error, _throttle_wait(error, self.max_retries + 1))
        elif error.unexplained and self.max_retries > 0:
            return quota_error_from_repeated_429(error, self.max_retries + 1)
        return error

    def _log(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "ModelScope call failed (%s), retry %d of %d in %.2fs",
            error,
            state.attempt_number,
            self.max_retries,
            delay,
        )

    def _tenacity_args(self) -> dict[str, Any]:
        """The policy, as tenacity's ``Retrying`` and ``AsyncRetrying`` both take it."""
        from tenacity import stop_after_attempt

        def retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            return error is not None and _retryable(error, state.attempt_number)

        return {
            "stop": stop_after_attempt(self.max_retries + 1),
            "wait": self.wait,
            "retry": retry,
            "reraise": True,
        }

    def _retrying(self, listener: RetryListener | None) -> Retrying:
        from tenacity import Retrying

        def before_sleep(state: RetryCallState) -> None:
            self._log(state)
            if listener is not None:
                listener.on_retry(state)

        return Retrying(before_sleep=before_sleep, **self._tenacity_args())

    def _aretrying(self, listener: AsyncRetryListener | None) -> AsyncRetrying:
        from tenacity import AsyncRetrying

        if listener is None:
            return AsyncRetrying(before_sleep=self._log, **self._tenacity_args())
        # tenacity before 9 calls before_sleep without awaiting it, but awaits its sleep in
        # every version: the listener is told there, before the wait, of the state as
        # before_sleep saw it (tenacity has moved it on to the next attempt by then).
        told: list[RetryCallState] = []

        def before_sleep(state: RetryCallState) -> None:
            self._log(state)
            told.append(copy.copy(state))

        async def sleep(seconds: float) -> None:
            while told:
                await listener.on_retry(told.pop())
            await asyncio.sleep(seconds)

        return AsyncRetrying(before_sleep=before_sleep, sleep=sleep, **self._tenacity_args())
