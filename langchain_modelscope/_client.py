"""The one HTTP core every model class calls through.

It knows the wire (base URL, token, headers, SSE, error bodies) and nothing of LangChain
messages. The sockets it sends through are `_pools`'s, shared by every instance with the same
timeout; retries are told to a listener (a LangChain run manager) when one is given.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, TypedDict, TypeVar

import httpx
from httpx_sse import EventSource
from pydantic import SecretStr

from langchain_modelscope import _json
from langchain_modelscope._pools import shared_async_pools, shared_sync_client
from langchain_modelscope._version import __version__
from langchain_modelscope.errors import (
    REQUEST_ID_HEADERS,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    MissingAPIKeyError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    StreamInterruptedError,
    error_from_response,
    quota_error_from_repeated_429,
    request_id_from_headers,
)

if TYPE_CHECKING:
    # tenacity is imported on the first request, not at import time (~7 ms).
    from tenacity import AsyncRetrying, RetryCallState, Retrying

logger = logging.getLogger("langchain_modelscope")
_T = TypeVar("_T")

DEFAULT_BASE_URL: Final = "https://api-inference.modelscope.cn/v1"
BASE_URL_ENV_VAR: Final = "MODELSCOPE_BASE_URL"
#: Where a token is looked for after an explicit argument, in this order.
API_KEY_ENV_VARS: Final = (
    "MODELSCOPE_API_KEY",
    "MODELSCOPE_SDK_TOKEN",
    "MODELSCOPE_API_TOKEN",
    "MODELSCOPE_ACCESS_TOKEN",
)
#: Reasoning models can take more than a minute before their first byte.
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=60.0)
DEFAULT_MAX_RETRIES: Final = 2
USER_AGENT: Final = f"langchain-modelscope/{__version__}"

RATELIMIT_HEADERS: Final = {
    "requests_limit": "modelscope-ratelimit-requests-limit",
    "requests_remaining": "modelscope-ratelimit-requests-remaining",
    "model_requests_limit": "modelscope-ratelimit-model-requests-limit",
    "model_requests_remaining": "modelscope-ratelimit-model-requests-remaining",
}


# --- settings -------------------------------------------------------------------------------


def resolve_api_key(api_key: SecretStr | str | None = None) -> tuple[SecretStr, str]:
    """The token and where it came from ("argument" or the env var's name)."""
    if api_key is not None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if secret.get_secret_value().strip():
            return secret, "argument"
    for name in API_KEY_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return SecretStr(value), name
    raise MissingAPIKeyError(
        "No ModelScope token found. Pass api_key=... or set one of "
        + ", ".join(API_KEY_ENV_VARS)
        + " (checked in that order). Get a token at https://modelscope.cn/my/myaccesstoken; "
        "the account must be bound to a real-name verified Alibaba Cloud account. "
        "For offline work, run the emulator: python -m langchain_modelscope.testing"
    )


def resolve_base_url(base_url: str | None = None) -> str:
    """Argument, else ``MODELSCOPE_BASE_URL``, else the public endpoint; no trailing slash."""
    url = base_url or os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(
            f"base_url must start with http:// or https://, got {url!r}; e.g. "
            f"{DEFAULT_BASE_URL!r} or a dedicated deployment's URL ending in /v1"
        )
    return url


def to_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, (int, float)) and timeout > 0:
        return httpx.Timeout(float(timeout), connect=min(float(timeout), 10.0))
    raise ValueError(
        f"timeout must be a positive number of seconds or httpx.Timeout, got {timeout!r}"
    )


# --- rate-limit headers ---------------------------------------------------------------------


class RateLimitDict(TypedDict, total=False):
    """The ``modelscope-ratelimit-*`` headers of one answer: calls per day, and calls left."""

    requests_limit: int
    requests_remaining: int
    model_requests_limit: int
    model_requests_remaining: int


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """Parsed ``modelscope-ratelimit-*`` headers; a field is None when its header was absent."""

    requests_limit: int | None = None
    requests_remaining: int | None = None
    model_requests_limit: int | None = None
    model_requests_remaining: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        values: dict[str, int] = {}
        for field, header in RATELIMIT_HEADERS.items():
            raw = headers.get(header)
            if raw is None:
                continue
            try:
                values[field] = int(raw.strip())
            except ValueError:
                continue
        return cls(**values) if values else None

    def as_dict(self) -> RateLimitDict:
        out: dict[str, int] = {}
        for field in RATELIMIT_HEADERS:
            value = getattr(self, field)
            if value is not None:
                out[field] = value
        return out  # type: ignore[return-value]


# --- transport failures ---------------------------------------------------------------------


def _map_transport_error(exc: httpx.TransportError, url: str, model: str | None) -> APIError:
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    what = "timed out" if kind is APITimeoutError else "failed"
    host = httpx.URL(url).host
    return kind(f"the connection to {host} {what}: {exc!r}", model=model)


class _TransportErrors:
    """A ``with`` block that turns httpx's transport failures into the package's errors.

    The part httpx's own ``map_exceptions`` plays inside httpx, written once for every send,
    read and stream. A class, not a ``@contextmanager``: it is entered on every request, and
    a generator-based one costs several times as much. It holds no state, so one serves every
    try of a call, sync or async.
    """

    __slots__ = ("_convert",)

    def __init__(self, convert: Callable[[httpx.TransportError], Exception]) -> None:
        self._convert = convert

    @classmethod
    def of_request(cls, url: str, model: str | None) -> _TransportErrors:
        return cls(partial(_map_transport_error, url=url, model=model))

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, httpx.TransportError):
            raise self._convert(exc) from exc


# --- answers --------------------------------------------------------------------------------

#: The headers the package reads off every answer, by their lowercased raw name.
_READ_HEADERS: Final = {
    name.encode("ascii"): name for name in (*REQUEST_ID_HEADERS, *RATELIMIT_HEADERS.values())
}


def read_headers(headers: httpx.Headers) -> dict[str, str]:
    """The request-id and rate-limit headers of an answer, in one pass over the raw list.

    Each ``httpx.Headers.get`` decodes and scans every header again; eight of them per call
    cost more than the rest of the answer's handling. A repeated header keeps its first value.
    """
    found: dict[str, str] = {}
    wanted = _READ_HEADERS
    for raw_name, raw_value in headers.raw:
        name = wanted.get(raw_name.lower())
        if name is not None and name not in found:
            found[name] = raw_value.decode("latin-1")
    return found


@dataclass(slots=True)
class APIResponse:
    """A decoded JSON answer with what its headers said."""

    data: Any
    status_code: int
    headers: httpx.Headers
    request_id: str | None
    ratelimit: RateLimitInfo | None


class _Done:
    """Marker for ``data: [DONE]``."""


_DONE: Final = _Done()


class _EventStreamBase:
    """What sync and async streams share: headers, counting, and decoding one event."""

    def __init__(self, response: httpx.Response, model: str | None) -> None:
        self.response = response
        self.model = model
        self.headers = response.headers
        self.status_code = response.status_code
        read = read_headers(response.headers)
        self.request_id = request_id_from_headers(read)
        self.ratelimit = RateLimitInfo.from_headers(read)
        self.events = 0
        self.finished = False
        self._saw_finish_reason = False

    def _decode(self, data: str) -> Any:
        text = data.strip()
        if not text:
            return None  # keep-alive
        if text == "[DONE]":
            self.finished = True
            return _DONE
        try:
            payload = _json.loads(data)
        except ValueError as exc:
            raise ResponseDecodeError(
                f"a streamed event is not JSON: {data[:200]!r}",
                status_code=self.status_code,
                request_id=self.request_id,
                model=self.model,
            ) from exc
        if isinstance(payload, dict):
            if (payload.get("error") or payload.get("errors")) and not payload.get("choices"):
                raise _error_from_event(payload, self)
            choices = payload.get("choices")
            if choices and isinstance(choices, list):
                first = choices[-1]
                if isinstance(first, dict) and first.get("finish_reason"):
                    self._saw_finish_reason = True
        self.events += 1
        return payload

    def _interrupted(self, exc: BaseException | None) -> StreamInterruptedError:
        reason = f": {exc}" if exc else ""
        return StreamInterruptedError(
            f"the stream stopped after {self.events} events, before its end{reason}",
            status_code=self.status_code,
            request_id=self.request_id,
            model=self.model,
        )

    def _check_complete(self) -> None:
        # Servers end with [DONE]; a finish_reason is accepted from those that forget it.
        if not self.finished and not self._saw_finish_reason:
            raise self._interrupted(None)

    def _non_sse_payload(self, body: bytes) -> Iterator[Any]:
        """A server may answer a stream request with plain JSON: an error, or a whole reply."""
        status = self.status_code
        try:
            payload = _json.loads(body)
        except ValueError as exc:
            raise ResponseDecodeError(
                f"expected an event stream, got {self.headers.get('content-type')!r}: "
                f"{body[:200]!r}",
                status_code=status,
                request_id=self.request_id,
                model=self.model,
            ) from exc
        if isinstance(payload, dict) and (payload.get("error") or payload.get("errors")):
            raise _error_from_event(payload, self)
        self.finished = True
        yield payload


def _error_from_event(payload: Mapping[str, Any], stream: _EventStreamBase) -> APIStatusError:
    inner = payload.get("error") or payload.get("errors")
    code = inner.get("code") if isinstance(inner, Mapping) else None
    status = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else 0
    if not 400 <= status < 600:
        status = 500
    error = error_from_response(status, payload, headers=stream.headers, model=stream.model)
    error.request_id = error.request_id or stream.request_id
    return error


def _is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


class EventStream(_EventStreamBase):
    """Decoded payloads of a streamed answer; ``[DONE]`` ends it, keep-alives are skipped."""

    def __iter__(self) -> Iterator[Any]:
        if not _is_event_stream(self.response):
            yield from self._non_sse_payload(self.response.read())
            return
        with _TransportErrors(self._interrupted):
            for sse in EventSource(self.response).iter_sse():
                payload = self._decode(sse.data)
                if payload is _DONE:
                    return
                if payload is not None:
                    yield payload
        self._check_complete()


class AsyncEventStream(_EventStreamBase):
    """The async twin of `EventStream`."""

    async def __aiter__(self) -> AsyncIterator[Any]:
        if not _is_event_stream(self.response):
            for payload in self._non_sse_payload(await self.response.aread()):
                yield payload
            return
        with _TransportErrors(self._interrupted):
            async for sse in EventSource(self.response).aiter_sse():
                payload = self._decode(sse.data)
                if payload is _DONE:
                    return
                if payload is not None:
                    yield payload
        self._check_complete()


# --- retries --------------------------------------------------------------------------------


class RetryListener(Protocol):
    """Told of each retry before its wait: LangChain's ``CallbackManagerForLLMRun`` is one, so
    a LangSmith trace shows the retries of a call."""

    def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> None: ...


class AsyncRetryListener(Protocol):
    """The async twin of `RetryListener` (``AsyncCallbackManagerForLLMRun``)."""

    def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> Awaitable[None]: ...


def is_transient(error: BaseException) -> bool:
    """Worth another try: connection trouble, timeouts, 5xx and the passing kind of 429."""
    if isinstance(error, StreamInterruptedError):
        return False  # part of the answer was already handed out
    return isinstance(error, (APIConnectionError, ServerError, RateLimitError))


class ModelScopeClient:
    """Sends requests to one API-Inference base URL with one token, retrying what passes."""

    def __init__(
        self,
        *,
        api_key: SecretStr,
        base_url: str | None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.base_url = resolve_base_url(base_url)
        self.timeout = to_timeout(timeout)
        self._explicit_timeout = timeout is not None
        self.max_retries = max_retries
        self._http_client = http_client
        self._http_async_client = http_async_client
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        headers.update(default_headers or {})
        headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        self._headers = headers
        self._stream_headers = {**headers, "Accept": "text/event-stream"}

    def __repr__(self) -> str:
        return f"ModelScopeClient(base_url={self.base_url!r}, max_retries={self.max_retries})"

    # -- plumbing --

    @property
    def sync_client(self) -> httpx.Client:
        return self._http_client or shared_sync_client(self.timeout)

    @contextmanager
    def _async_lease(self) -> Iterator[httpx.AsyncClient]:
        """The user's async client, else a pooled one for the length of one call."""
        if self._http_async_client is not None:
            yield self._http_async_client
            return
        with shared_async_pools(self.timeout).lease() as client:
            yield client

    def _url(self, path: str) -> str:
        return (
            path
            if path.startswith(("http://", "https://"))
            else f"{self.base_url}/{path.lstrip('/')}"
        )

    def _request_kwargs(self) -> dict[str, Any]:
        return {"timeout": self.timeout} if self._explicit_timeout else {}

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return min(error.retry_after, 60.0)
        # Exponential backoff with jitter: initial, 2x, 4x, ... capped, plus up to `initial`.
        delay: float = self._backoff_initial * 2.0 ** (state.attempt_number - 1)
        return min(delay, self._backoff_max) + random.uniform(0, self._backoff_initial)

    def _before_sleep(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "ModelScope call failed (%s), retry %d of %d in %.2fs",
            error,
            state.attempt_number,
            self.max_retries,
            delay,
        )

    def _policy(self) -> dict[str, Any]:
        """The retry policy, as tenacity's ``Retrying`` and ``AsyncRetrying`` both take it."""
        from tenacity import retry_if_exception, stop_after_attempt

        return {
            "stop": stop_after_attempt(self.max_retries + 1),
            "wait": self._wait,
            "retry": retry_if_exception(is_transient),
            "reraise": True,
        }

    def _retrying(self, listener: RetryListener | None) -> Retrying:
        from tenacity import Retrying

        def before_sleep(state: RetryCallState) -> None:
            self._before_sleep(state)
            if listener is not None:
                listener.on_retry(state)

        return Retrying(before_sleep=before_sleep, **self._policy())

    def _aretrying(self, listener: AsyncRetryListener | None) -> AsyncRetrying:
        from tenacity import AsyncRetrying

        if listener is None:
            return AsyncRetrying(before_sleep=self._before_sleep, **self._policy())
        # tenacity before 9 calls before_sleep without awaiting it, but awaits its sleep in
        # every version: the listener is told there, before the wait, of the state as
        # before_sleep saw it (tenacity has moved it on to the next attempt by then).
        told: list[RetryCallState] = []

        def before_sleep(state: RetryCallState) -> None:
            self._before_sleep(state)
            told.append(copy.copy(state))

        async def sleep(seconds: float) -> None:
            while told:
                await listener.on_retry(told.pop())
            await asyncio.sleep(seconds)

        return AsyncRetrying(before_sleep=before_sleep, sleep=sleep, **self._policy())

    def _finish_retries(self, error: RateLimitError) -> APIError:
        if error.bodiless and self.max_retries > 0:
            return quota_error_from_repeated_429(error, self.max_retries + 1)
        return error

    def _call(self, once: Callable[[], _T], listener: RetryListener | None) -> _T:
        """``once()`` under the retry policy.

        Most calls succeed, so the first try runs outside tenacity; after a passing failure
        tenacity takes over and sees that failure as its attempt 1, so waits, logs, counts and
        the listener's ``on_retry`` are those of the policy.
        """
        try:
            return once()
        except Exception as error:
            if self.max_retries == 0 or not is_transient(error):
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
            raise self._finish_retries(error) from error

    async def _acall(
        self, once: Callable[[], Awaitable[_T]], listener: AsyncRetryListener | None
    ) -> _T:
        """The async twin of `_call`."""
        try:
            return await once()
        except Exception as error:
            if self.max_retries == 0 or not is_transient(error):
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
            raise self._finish_retries(error) from error
        return result

    def _raise_for_status(self, response: httpx.Response, model: str | None) -> None:
        if response.status_code < 400:
            return
        ratelimit = RateLimitInfo.from_headers(response.headers)
        raise error_from_response(
            response.status_code,
            response.content,
            headers=response.headers,
            model=model,
            account_remaining=ratelimit.requests_remaining if ratelimit else None,
        )

    def _decode(self, response: httpx.Response, model: str | None) -> APIResponse:
        self._raise_for_status(response, model)
        read = read_headers(response.headers)
        request_id = request_id_from_headers(read)
        try:
            data = _json.loads(response.content)
        except ValueError as exc:
            raise ResponseDecodeError(
                f"the answer is not JSON: {response.content[:200]!r}",
                status_code=response.status_code,
                request_id=request_id,
                model=model,
            ) from exc
        return APIResponse(
            data=data,
            status_code=response.status_code,
            headers=response.headers,
            request_id=request_id,
            ratelimit=RateLimitInfo.from_headers(read),
        )

    # -- JSON requests --

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        model: str | None = None,
        run_manager: RetryListener | None = None,
    ) -> APIResponse:
        url = self._url(path)
        content = None if json_body is None else _dumps(json_body)
        transport_errors = _TransportErrors.of_request(url, model)

        def once() -> APIResponse:
            with transport_errors:
                response = self.sync_client.request(
                    method, url, content=content, headers=self._headers, **self._request_kwargs()
                )
            return self._decode(response, model)

        return self._call(once, run_manager)

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        model: str | None = None,
        run_manager: AsyncRetryListener | None = None,
    ) -> APIResponse:
        url = self._url(path)
        content = None if json_body is None else _dumps(json_body)
        transport_errors = _TransportErrors.of_request(url, model)

        async def once() -> APIResponse:
            with self._async_lease() as client, transport_errors:
                response = await client.request(
                    method, url, content=content, headers=self._headers, **self._request_kwargs()
                )
            return self._decode(response, model)

        return await self._acall(once, run_manager)

    def post(
        self,
        path: str,
        body: Any,
        *,
        model: str | None = None,
        run_manager: RetryListener | None = None,
    ) -> APIResponse:
        return self.request("POST", path, json_body=body, model=model, run_manager=run_manager)

    async def apost(
        self,
        path: str,
        body: Any,
        *,
        model: str | None = None,
        run_manager: AsyncRetryListener | None = None,
    ) -> APIResponse:
        return await self.arequest(
            "POST", path, json_body=body, model=model, run_manager=run_manager
        )

    # -- streams --

    @contextmanager
    def stream(
        self,
        path: str,
        body: Any,
        *,
        model: str | None = None,
        run_manager: RetryListener | None = None,
    ) -> Iterator[EventStream]:
        """Open a streamed POST; retries cover only the time before the first byte."""
        url = self._url(path)
        content = _dumps(body)
        client = self.sync_client
        transport_errors = _TransportErrors.of_request(url, model)

        def open_once() -> httpx.Response:
            request = client.build_request(
                "POST", url, content=content, headers=self._stream_headers, **self._request_kwargs()
            )
            with transport_errors:
                response = client.send(request, stream=True)
            if response.status_code >= 400:
                try:
                    with transport_errors:
                        response.read()
                finally:
                    response.close()
                self._raise_for_status(response, model)
            return response

        response = self._call(open_once, run_manager)
        try:
            yield EventStream(response, model)
        finally:
            response.close()

    @asynccontextmanager
    async def astream(
        self,
        path: str,
        body: Any,
        *,
        model: str | None = None,
        run_manager: AsyncRetryListener | None = None,
    ) -> AsyncIterator[AsyncEventStream]:
        url = self._url(path)
        content = _dumps(body)
        transport_errors = _TransportErrors.of_request(url, model)
        with self._async_lease() as client:

            async def open_once() -> httpx.Response:
                request = client.build_request(
                    "POST",
                    url,
                    content=content,
                    headers=self._stream_headers,
                    **self._request_kwargs(),
                )
                with transport_errors:
                    response = await client.send(request, stream=True)
                if response.status_code >= 400:
                    try:
                        with transport_errors:
                            await response.aread()
                    finally:
                        await response.aclose()
                    self._raise_for_status(response, model)
                return response

            response = await self._acall(open_once, run_manager)
            try:
                yield AsyncEventStream(response, model)
            finally:
                await response.aclose()


def _dumps(body: Any) -> bytes:
    # Compact and UTF-8, as httpx's json= writes it, so recorded cassettes match byte for byte.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
