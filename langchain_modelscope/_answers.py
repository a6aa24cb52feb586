"""What an answer says and how it is read: rate-limit headers, JSON answers, event streams.

Also where httpx's transport failures become the package's errors (`TransportErrors`), since a
stream can fail in the middle of its reading as a request can before its first byte.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Final, TypedDict

import httpx
from httpx_sse import EventSource

from langchain_modelscope import _json
from langchain_modelscope.errors import (
    REQUEST_ID_HEADERS,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ResponseDecodeError,
    StreamInterruptedError,
    error_from_response,
    request_id_from_headers,
)

RATELIMIT_HEADERS: Final = {
    "requests_limit": "modelscope-ratelimit-requests-limit",
    "requests_remaining": "modelscope-ratelimit-requests-remaining",
    "model_requests_limit": "modelscope-ratelimit-model-requests-limit",
    "model_requests_remaining": "modelscope-ratelimit-model-requests-remaining",
}


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


#: httpx puts a refused header's value in its text (``Illegal header value b'Bearer ...'``).
_BEARER: Final = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")


def transport_detail(exc: BaseException) -> str:
    """What httpx said, short, with any bearer value cut out: kept in the package's message."""
    text = _BEARER.sub(r"\1***", str(exc))
    return text if len(text) <= 200 else f"{text[:200]}..."


def _map_transport_error(exc: httpx.TransportError, url: str, model: str | None) -> APIError:
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    what = "timed out" if kind is APITimeoutError else "failed"
    host = httpx.URL(url).host
    name = type(exc).__name__
    detail = transport_detail(exc)
    return kind(
        f"the connection to {host} {what}: {name}" + (f" ({detail})" if detail else ""),
        model=model,
        transport_error=name,
        host=host,
    )


class TransportErrors:
    """A ``with`` block that turns httpx's transport failures into the package's errors.

    The part httpx's own ``map_exceptions`` plays inside httpx, written once for every send,
    read and stream. A class, not a ``@contextmanager``: it is entered on every request, and
    a generator-based one costs several times as much. It holds no state, so one serves every
    try of a call, sync or async.

    The package's error chains nothing: httpx's exception holds the request, and the request
    the ``Authorization`` header. Its facts (httpx's exception type, the host) are kept on
    the package's error instead (``transport_error``, ``host``).
    """

    __slots__ = ("_convert",)

    def __init__(self, convert: Callable[[httpx.TransportError], Exception]) -> None:
        self._convert = convert

    @classmethod
    def of_request(cls, url: str, model: str | None) -> TransportErrors:
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
            error = self._convert(exc)
            try:
                raise error from None
            except type(error):
                # Raised inside httpx's exception's handling, so Python set it as the
                # context; a bare re-raise does not set it again.
                error.__context__ = None
                raise


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
        name = type(exc).__name__ if exc is not None else None
        reason = f": {name} ({transport_detail(exc)})" if exc is not None else ""
        return StreamInterruptedError(
            f"the stream stopped after {self.events} events, before its end{reason}",
            status_code=self.status_code,
            request_id=self.request_id,
            model=self.model,
            transport_error=name,
            host=_host_of(self.response),
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


def _host_of(response: httpx.Response) -> str | None:
    try:
        return response.request.url.host
    except RuntimeError:  # a response built by hand has no request
        return None


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
        with TransportErrors(self._interrupted):
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
        with TransportErrors(self._interrupted):
            async for sse in EventSource(self.response).aiter_sse():
                payload = self._decode(sse.data)
                if payload is _DONE:
                    return
                if payload is not None:
                    yield payload
        self._check_complete()
