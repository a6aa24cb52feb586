"""The one HTTP core every model class calls through.

It knows the wire (base URL, token, headers, error bodies) and nothing of LangChain messages:
here are the settings and the request path. How an answer is read is `_answers`'s; the
sockets are `_pools`'s, shared by every instance with the same timeout; the retry policy is
`_retry`'s, driven from here, and tells a listener (a LangChain run manager) of each retry.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from typing import TYPE_CHECKING, Any, Final

import httpx
from pydantic import SecretStr

from langchain_modelscope import _json
from langchain_modelscope._answers import (
    RATELIMIT_HEADERS,
    APIResponse,
    AsyncEventStream,
    EventStream,
    RateLimitDict,
    RateLimitInfo,
    TransportErrors,
    read_headers,
)
from langchain_modelscope._error_mapping import (
    error_from_response,
    request_id_from_headers,
    shown_message,
)
from langchain_modelscope._governor import DEFAULT_SLOT_WAIT, ConcurrencyLimit, gate_for
from langchain_modelscope._pools import shared_async_pools, shared_sync_client
from langchain_modelscope._retry import (
    THROTTLE_MAX_WAIT,
    AsyncRetryListener,
    RetryListener,
    RetryPolicy,
    backoff_wait,
    is_transient,
    no_throttle_retries,
)
from langchain_modelscope._version import __version__
from langchain_modelscope.errors import (
    APIError,
    InvalidAPIKeyError,
    MissingAPIKeyError,
    ResponseDecodeError,
)

if TYPE_CHECKING:
    # tenacity is imported on the first retry, not at import time (~7 ms): `_retry`.
    from tenacity import RetryCallState

__all__ = [
    "API_KEY_ENV_VARS",
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "RATELIMIT_HEADERS",
    "THROTTLE_MAX_WAIT",
    "USER_AGENT",
    "APIResponse",
    "AsyncEventStream",
    "AsyncRetryListener",
    "EventStream",
    "ModelScopeClient",
    "RateLimitDict",
    "RateLimitInfo",
    "RetryListener",
    "is_transient",
    "no_throttle_retries",
    "read_headers",
    "resolve_api_key",
    "resolve_base_url",
    "to_timeout",
]


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


# --- settings -------------------------------------------------------------------------------


def resolve_api_key(api_key: SecretStr | str | None = None) -> tuple[SecretStr, str]:
    """The token and where it came from ("argument" or the env var's name).

    Surrounding whitespace is stripped wherever the token comes from (a token read from a file
    ends in a newline). A token that no header can carry is refused here, before any request,
    with `InvalidAPIKeyError`: httpx would refuse it mid-call with the whole token in its text.
    """
    if api_key is not None:
        raw = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not isinstance(raw, str):
            kind = type(raw).__name__
            raise TypeError(f"api_key must be a str or pydantic.SecretStr, got {kind}")
        if token := raw.strip():
            return _checked_token(token, "the api_key argument"), "argument"
    for name in API_KEY_ENV_VARS:
        if token := os.environ.get(name, "").strip():
            return _checked_token(token, name), name
    raise MissingAPIKeyError(
        "No ModelScope token found. Pass api_key=... or set one of "
        + ", ".join(API_KEY_ENV_VARS)
        + " (checked in that order). Get a token at https://modelscope.cn/my/myaccesstoken; "
        "the account must be bound to a real-name verified Alibaba Cloud account. "
        "For offline work, run the emulator: python -m langchain_modelscope.testing"
    )


def _checked_token(token: str, source: str) -> SecretStr:
    """``token`` (already stripped) if a header can carry it (facts §1: non-empty, no
    whitespace or control characters; HTTP headers take ASCII only)."""
    for position, char in enumerate(token):
        if char.isascii() and char.isprintable() and not char.isspace():
            continue
        kind = (
            "whitespace"
            if char.isspace()
            else "a control character"
            if not char.isprintable()
            else "a non-ASCII character"
        )
        raise InvalidAPIKeyError(
            f"The ModelScope token from {source} ({token[:4]!r}..., {len(token)} characters) "
            f"has {kind} at position {position}: a token is ASCII letters, digits and "
            "punctuation only (e.g. 'ms-' and a UUID). Copy it again from "
            "https://modelscope.cn/my/myaccesstoken."
        )
    return SecretStr(token)


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
        max_concurrent_requests: ConcurrencyLimit = "auto",
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
        self._api_key = api_key
        self._headers = headers
        self._stream_headers = {**headers, "Accept": "text/event-stream"}
        # The account's concurrency slots (`_governor`); None: no limit on this host.
        self._gate = gate_for(
            api_key,
            self.base_url,
            max_concurrent_requests,
            self.timeout.pool if self._explicit_timeout else DEFAULT_SLOT_WAIT,
        )

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

    def _slot(self, model: str | None) -> AbstractContextManager[None]:
        """One slot of the account's ``max_concurrent_requests`` for one call, retries and
        stream included: the governor's one hook in the request path."""
        return nullcontext() if self._gate is None else self._gate.hold(model)

    def _aslot(self, model: str | None) -> AbstractAsyncContextManager[None]:
        return nullcontext() if self._gate is None else self._gate.ahold(model)

    def _url(self, path: str) -> str:
        return (
            path
            if path.startswith(("http://", "https://"))
            else f"{self.base_url}/{path.lstrip('/')}"
        )

    def _request_kwargs(self) -> dict[str, Any]:
        return {"timeout": self.timeout} if self._explicit_timeout else {}

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next try of a call (tests replace it to skip the waits)."""
        return backoff_wait(state, self._backoff_initial, self._backoff_max)

    def _retries(self) -> RetryPolicy:
        """The retry policy of one call, from this client's settings as they are now."""
        return RetryPolicy(self.max_retries, self._wait)

    def _scrub(self, error: APIError) -> APIError:
        """``error`` without the token, should a server have echoed it (a debugging proxy's
        page, a 5xx quoting the request): nothing the core raises may hold it. Real tokens are
        36 characters or more; a short test token ("t") is left alone, words would be cut."""
        token = self._api_key.get_secret_value()
        if len(token) >= _SCRUBBED_LENGTH and token in f"{error.message}{error.hint}{error.body!r}":
            error.message = error.message.replace(token, "***")
            error.hint = error.hint.replace(token, "***") if error.hint else error.hint
            error.body = _without(error.body, token)
            error.args = (error._describe(),)
        return error

    def _raise_for_status(self, response: httpx.Response, model: str | None) -> None:
        if response.status_code < 400:
            return
        ratelimit = RateLimitInfo.from_headers(response.headers)
        error = error_from_response(
            response.status_code,
            response.content,
            headers=response.headers,
            model=model,
            account_remaining=ratelimit.requests_remaining if ratelimit else None,
            url=str(response.request.url),
        )
        raise self._scrub(error)

    def _decode(self, response: httpx.Response, model: str | None) -> APIResponse:
        self._raise_for_status(response, model)
        read = read_headers(response.headers)
        request_id = request_id_from_headers(read)
        try:
            data = _json.loads(response.content)
        except ValueError as exc:
            text = response.content.decode("utf-8", errors="replace")
            shown = shown_message(text, response.headers.get("content-type"))
            error = ResponseDecodeError(
                f"the answer is not JSON: {shown}",
                status_code=response.status_code,
                request_id=request_id,
                model=model,
                body=text,
            )
            raise self._scrub(error) from exc
        return APIResponse(
            data=data,
            status_code=response.status_code,
            headers=response.headers,
            request_id=request_id,
            ratelimit=RateLimitInfo.from_headers(read),
        )

    def _prepare(
        self, path: str, body: Any, model: str | None
    ) -> tuple[str, bytes | None, TransportErrors]:
        """What every try of one call shares: its URL, its encoded body, its error mapping."""
        url = self._url(path)
        content = None if body is None else _dumps(body)
        return url, content, TransportErrors.of_request(url, model)

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
        url, content, transport_errors = self._prepare(path, json_body, model)

        def once() -> APIResponse:
            with transport_errors:
                response = self.sync_client.request(
                    method, url, content=content, headers=self._headers, **self._request_kwargs()
                )
            return self._decode(response, model)

        with self._slot(model):
            return self._retries().call(once, run_manager)

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        model: str | None = None,
        run_manager: AsyncRetryListener | None = None,
    ) -> APIResponse:
        url, content, transport_errors = self._prepare(path, json_body, model)

        async def once() -> APIResponse:
            with self._async_lease() as client, transport_errors:
                response = await client.request(
                    method, url, content=content, headers=self._headers, **self._request_kwargs()
                )
            return self._decode(response, model)

        async with self._aslot(model):
            return await self._retries().acall(once, run_manager)

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
        url, content, transport_errors = self._prepare(path, body, model)
        client = self.sync_client

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

        with self._slot(model):
            response = self._retries().call(open_once, run_manager)
            try:
                yield EventStream(response, model)
            except APIError as error:
                self._scrub(error)  # in place: the same error goes on
                raise
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
        url, content, transport_errors = self._prepare(path, body, model)
        async with self._aslot(model):
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

                response = await self._retries().acall(open_once, run_manager)
                try:
                    yield AsyncEventStream(response, model)
                except APIError as error:
                    self._scrub(error)  # in place: the same error goes on
                    raise
                finally:
                    await response.aclose()


#: Tokens at least this long are scrubbed out of what a server says.
_SCRUBBED_LENGTH: Final = 8


def _without(value: Any, token: str) -> Any:
    """``value`` (a body: text, bytes, JSON) with every ``token`` in it replaced."""
    if isinstance(value, str):
        return value.replace(token, "***")
    if isinstance(value, bytes):
        return value.replace(token.encode(), b"***")
    if isinstance(value, Mapping):
        return {key: _without(item, token) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without(item, token) for item in value]
    return value


def _dumps(body: Any) -> bytes:
    # Compact and UTF-8, as httpx's json= writes it, so recorded cassettes match byte for byte.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
