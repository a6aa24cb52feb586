"""The one HTTP core every model class calls through.

It knows the wire (base URL, token, headers, SSE, error bodies) and nothing of LangChain
messages. Connections are pooled per process (and per event loop for async), so many model
instances with the same settings share sockets.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import random
import ssl
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypedDict, TypeVar

import httpx
from httpx_sse import EventSource
from pydantic import SecretStr

from langchain_modelscope import _json
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
        try:
            for sse in EventSource(self.response).iter_sse():
                payload = self._decode(sse.data)
                if payload is _DONE:
                    return
                if payload is not None:
                    yield payload
        except httpx.TransportError as exc:
            raise self._interrupted(exc) from exc
        self._check_complete()


class AsyncEventStream(_EventStreamBase):
    """The async twin of `EventStream`."""

    async def __aiter__(self) -> AsyncIterator[Any]:
        if not _is_event_stream(self.response):
            for payload in self._non_sse_payload(await self.response.aread()):
                yield payload
            return
        try:
            async for sse in EventSource(self.response).aiter_sse():
                payload = self._decode(sse.data)
                if payload is _DONE:
                    return
                if payload is not None:
                    yield payload
        except httpx.TransportError as exc:
            raise self._interrupted(exc) from exc
        self._check_complete()


# --- pooled connections ---------------------------------------------------------------------

_POOL_LIMITS: Final = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
#: Async calls fill several small pools in turn rather than share one large one: httpcore's
#: pool does work proportional to connections x idle connections on every request and release,
#: so a burst over one large warm pool costs several times the CPU of the same burst spread over
#: small ones (50 concurrent calls: 3.5 -> 2.2 ms of CPU each; bench/findings.md). A pool takes
#: new calls while it has fewer than `_ASYNC_POOL_FILL` in flight, so a sequential caller keeps
#: to the first pool and its one warm connection. At most 1,000 connections in all, as in sync.
_ASYNC_POOLS: Final = 8
_ASYNC_POOL_FILL: Final = 8
_ASYNC_POOL_LIMITS: Final = httpx.Limits(
    max_connections=1000 // _ASYNC_POOLS, max_keepalive_connections=2 * _ASYNC_POOL_FILL
)
_pool_lock = threading.Lock()
_sync_clients: dict[tuple[Any, ...], httpx.Client] = {}
_async_pools: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[Any, ...], AsyncPools]
] = weakref.WeakKeyDictionary()


_ssl_context: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~100 ms: do it once per process, not per pooled client."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing.

    The pooled clients carry the calls of every token in the process (backup accounts
    included): a cookie one account's answer sets must not ride along with another's calls,
    and a bearer-token API has no use for cookies. Skipping httpx's cookie parsing also saves
    ~45 µs per answer.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _WithoutCookies:
    """Mixed into the package's pooled clients, ahead of httpx's class: no cookie state."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the package's pooled clients keep no cookies; pass your own http_client")


class _PooledClient(_WithoutCookies, httpx.Client):
    """The package's shared sync client."""


class _PooledAsyncClient(_WithoutCookies, httpx.AsyncClient):
    """The package's shared async client (one per pool)."""


_NO_COOKIES: Final = _NoCookies()


def _timeout_key(timeout: httpx.Timeout) -> tuple[Any, ...]:
    return (timeout.connect, timeout.read, timeout.write, timeout.pool)


def shared_sync_client(timeout: httpx.Timeout) -> httpx.Client:
    """One pooled client per timeout setting, for the whole process."""
    key = _timeout_key(timeout)
    with _pool_lock:
        client = _sync_clients.get(key)
        if client is None or client.is_closed:
            client = _PooledClient(
                timeout=timeout, limits=_POOL_LIMITS, verify=_shared_ssl_context()
            )
            _sync_clients[key] = client
        return client


@atexit.register
def _close_shared_clients() -> None:
    """Close pooled sockets at exit instead of leaving them to the garbage collector."""
    with _pool_lock:
        for client in _sync_clients.values():
            client.close()
        _sync_clients.clear()


class AsyncPools:
    """One event loop's async clients for one timeout, and how many calls each has in flight.

    Each is a plain ``httpx.AsyncClient`` (proxy variables, certificates and limits apply as
    they would to one); only the event loop's own thread touches the counts.
    """

    def __init__(self, timeout: httpx.Timeout) -> None:
        self._timeout = timeout
        self._clients: list[httpx.AsyncClient] = []
        self._in_flight: list[int] = []

    @property
    def clients(self) -> tuple[httpx.AsyncClient, ...]:
        return tuple(self._clients)

    def _pick(self) -> int:
        for index, calls in enumerate(self._in_flight):
            if calls < _ASYNC_POOL_FILL:
                return index
        if len(self._clients) < _ASYNC_POOLS:
            return len(self._clients)
        return min(range(len(self._in_flight)), key=self._in_flight.__getitem__)

    @contextmanager
    def lease(self) -> Iterator[httpx.AsyncClient]:
        """A client for one call; the call counts against its pool until the block ends."""
        index = self._pick()
        if index == len(self._clients):
            self._clients.append(self._new_client())
            self._in_flight.append(0)
        elif self._clients[index].is_closed:
            self._clients[index] = self._new_client()
        self._in_flight[index] += 1
        try:
            yield self._clients[index]
        finally:
            self._in_flight[index] -= 1

    def _new_client(self) -> httpx.AsyncClient:
        return _PooledAsyncClient(
            timeout=self._timeout, limits=_ASYNC_POOL_LIMITS, verify=_shared_ssl_context()
        )


def shared_async_pools(timeout: httpx.Timeout) -> AsyncPools:
    """The pools for one timeout setting in the running event loop (pools can't cross loops)."""
    loop = asyncio.get_running_loop()
    key = _timeout_key(timeout)
    with _pool_lock:
        pools = _async_pools.setdefault(loop, {})
        found = pools.get(key)
        if found is None:
            found = pools[key] = AsyncPools(timeout)
        return found


# --- retries --------------------------------------------------------------------------------


def is_transient(error: BaseException) -> bool:
    """Worth another try: connection trouble, timeouts, 5xx and the passing kind of 429."""
    if isinstance(error, StreamInterruptedError):
        return False  # part of the answer was already handed out
    return isinstance(error, (APIConnectionError, ServerError, RateLimitError))


def _map_transport_error(exc: httpx.TransportError, url: str, model: str | None) -> APIError:
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    what = "timed out" if kind is APITimeoutError else "failed"
    host = httpx.URL(url).host
    return kind(f"the connection to {host} {what}: {exc!r}", model=model)


class ModelScopeClient:
    """Sends requests to one API-Inference base URL with one token, retrying what passes."""

    def __init__(
        self,
        *,
        api_key: SecretStr,
        base_url: str,
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

    def _retrying(self) -> Retrying:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        return Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(is_transient),
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _aretrying(self) -> AsyncRetrying:
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        return AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(is_transient),
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _call(self, once: Callable[[], _T]) -> _T:
        """``once()`` under the retry policy.

        Most calls succeed, so the first try runs outside tenacity; after a passing failure
        tenacity takes over and sees that failure as its attempt 1, so waits, logs and counts
        are those of the policy.
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

        return self._retrying()(again)

    async def _acall(self, once: Callable[[], Awaitable[_T]]) -> _T:
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

        result: _T = await self._aretrying()(again)
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

    def _finish_retries(self, error: RateLimitError) -> APIError:
        if error.bodiless and self.max_retries > 0:
            return quota_error_from_repeated_429(error, self.max_retries + 1)
        return error

    # -- JSON requests --

    def request(
        self, method: str, path: str, *, json_body: Any = None, model: str | None = None
    ) -> APIResponse:
        url = self._url(path)
        content = None if json_body is None else _dumps(json_body)

        def once() -> APIResponse:
            try:
                response = self.sync_client.request(
                    method, url, content=content, headers=self._headers, **self._request_kwargs()
                )
            except httpx.TransportError as exc:
                raise _map_transport_error(exc, url, model) from exc
            return self._decode(response, model)

        try:
            return self._call(once)
        except RateLimitError as error:
            raise self._finish_retries(error) from error

    async def arequest(
        self, method: str, path: str, *, json_body: Any = None, model: str | None = None
    ) -> APIResponse:
        url = self._url(path)
        content = None if json_body is None else _dumps(json_body)

        async def once() -> APIResponse:
            with self._async_lease() as client:
                try:
                    response = await client.request(
                        method,
                        url,
                        content=content,
                        headers=self._headers,
                        **self._request_kwargs(),
                    )
                except httpx.TransportError as exc:
                    raise _map_transport_error(exc, url, model) from exc
            return self._decode(response, model)

        try:
            return await self._acall(once)
        except RateLimitError as error:
            raise self._finish_retries(error) from error

    def post(self, path: str, body: Any, *, model: str | None = None) -> APIResponse:
        return self.request("POST", path, json_body=body, model=model)

    async def apost(self, path: str, body: Any, *, model: str | None = None) -> APIResponse:
        return await self.arequest("POST", path, json_body=body, model=model)

    # -- streams --

    @contextmanager
    def stream(self, path: str, body: Any, *, model: str | None = None) -> Iterator[EventStream]:
        """Open a streamed POST; retries cover only the time before the first byte."""
        url = self._url(path)
        content = _dumps(body)
        client = self.sync_client

        def open_once() -> httpx.Response:
            request = client.build_request(
                "POST", url, content=content, headers=self._stream_headers, **self._request_kwargs()
            )
            try:
                response = client.send(request, stream=True)
            except httpx.TransportError as exc:
                raise _map_transport_error(exc, url, model) from exc
            if response.status_code >= 400:
                try:
                    response.read()
                except httpx.TransportError as exc:
                    raise _map_transport_error(exc, url, model) from exc
                finally:
                    response.close()
                self._raise_for_status(response, model)
            return response

        try:
            response = self._call(open_once)
        except RateLimitError as error:
            raise self._finish_retries(error) from error
        try:
            yield EventStream(response, model)
        finally:
            response.close()

    @asynccontextmanager
    async def astream(
        self, path: str, body: Any, *, model: str | None = None
    ) -> AsyncIterator[AsyncEventStream]:
        url = self._url(path)
        content = _dumps(body)
        with self._async_lease() as client:

            async def open_once() -> httpx.Response:
                request = client.build_request(
                    "POST",
                    url,
                    content=content,
                    headers=self._stream_headers,
                    **self._request_kwargs(),
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.TransportError as exc:
                    raise _map_transport_error(exc, url, model) from exc
                if response.status_code >= 400:
                    try:
                        await response.aread()
                    except httpx.TransportError as exc:
                        raise _map_transport_error(exc, url, model) from exc
                    finally:
                        await response.aclose()
                    self._raise_for_status(response, model)
                return response

            try:
                response = await self._acall(open_once)
            except RateLimitError as error:
                raise self._finish_retries(error) from error
            try:
                yield AsyncEventStream(response, model)
            finally:
                await response.aclose()


def _dumps(body: Any) -> bytes:
    # Compact and UTF-8, as httpx's json= writes it, so recorded cassettes match byte for byte.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
