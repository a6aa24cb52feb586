"""``python -m bench --patch NAME``: measure a proposed hot-path change before it is merged.

Each patch here is the runtime equivalent of a diff proposed in ``bench/findings.md``, applied
by monkeypatching this process only (the package files are not touched), so the before/after
of a proposal can be measured in one sitting on the same machine. Once a change is merged,
its patch refuses to apply and should be deleted. Subprocess benchmarks (import) ignore them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

PatchFn = Callable[[], None]


class PatchError(RuntimeError):
    """The package no longer has the code a patch replaces (merged, or renamed)."""


# --------------------------------------------------------------------------- sse-lines


def _sse_lines() -> None:
    """Read SSE with httpx's own line iterator instead of httpx-sse's text re-splitting.

    Only ``data:`` fields matter to this client (event names, ids and retry hints are unused);
    a blank line dispatches, multi-line data is joined with newlines, comments are skipped.
    """
    import httpx

    from langchain_modelscope import _client

    stream_cls = _client.EventStream
    astream_cls = _client.AsyncEventStream
    if "iter_sse" not in stream_cls.__iter__.__code__.co_names:
        raise PatchError("sse-lines: EventStream no longer uses httpx-sse; is it merged?")
    is_event_stream = _client._is_event_stream
    done = _client._DONE

    def data_of(line: str) -> str | None:
        if line.startswith("data:"):
            value = line[5:]
            return value[1:] if value.startswith(" ") else value
        return "" if line == "data" else None

    def iter_events(self: Any) -> Iterator[Any]:
        if not is_event_stream(self.response):
            yield from self._non_sse_payload(self.response.read())
            return
        lines: list[str] = []
        try:
            for line in self.response.iter_lines():
                if line:
                    value = data_of(line)
                    if value is not None:
                        lines.append(value)
                    continue
                if not lines:
                    continue
                data = lines[0] if len(lines) == 1 else "\n".join(lines)
                lines = []
                payload = self._decode(data)
                if payload is done:
                    return
                if payload is not None:
                    yield payload
        except httpx.TransportError as exc:
            raise self._interrupted(exc) from exc
        self._check_complete()

    async def aiter_events(self: Any) -> AsyncIterator[Any]:
        if not is_event_stream(self.response):
            for payload in self._non_sse_payload(await self.response.aread()):
                yield payload
            return
        lines: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line:
                    value = data_of(line)
                    if value is not None:
                        lines.append(value)
                    continue
                if not lines:
                    continue
                data = lines[0] if len(lines) == 1 else "\n".join(lines)
                lines = []
                payload = self._decode(data)
                if payload is done:
                    return
                if payload is not None:
                    yield payload
        except httpx.TransportError as exc:
            raise self._interrupted(exc) from exc
        self._check_complete()

    stream_cls.__iter__ = iter_events  # type: ignore[method-assign]
    astream_cls.__aiter__ = aiter_events  # type: ignore[method-assign]


# --------------------------------------------------------------------------- embeddings


def _embeddings_base64() -> None:
    """Ask for ``encoding_format: base64`` by default (the openai SDK's default) and decode
    float32s, instead of parsing ten-digit decimal floats out of JSON."""
    from langchain_modelscope import embeddings

    cls = embeddings.ModelScopeEmbeddings
    field = cls.model_fields.get("encoding_format")
    if field is not None and field.default == "base64":
        raise PatchError("embeddings-base64: base64 is already the default; drop this patch")
    original = cls._body

    def body(self: Any, texts: Any) -> dict[str, Any]:
        out: dict[str, Any] = original(self, texts)
        out["encoding_format"] = "base64"
        return out

    cls._body = body  # type: ignore[method-assign]


# --------------------------------------------------------------------------- sharded-pool

SHARDS = 8


def _sharded_pool() -> None:
    """Spread async requests over `SHARDS` small connection pools, one after another.

    httpcore's pool does work proportional to connections × idle connections on every request
    and release (its keep-alive trim counts all connections for each idle one, and it polls
    each idle socket), so a burst of calls over many warm connections costs several times more
    CPU per call than over few. Mirrors proposal C of findings.md: one shared client per
    (loop, timeout) as before, with a transport that rotates over small pools.
    """
    import asyncio
    import ssl

    import httpx

    from langchain_modelscope import _client

    if not hasattr(_client, "_POOL_LIMITS") or hasattr(_client, "_ASYNC_SHARDS"):
        raise PatchError("sharded-pool: the async pool changed; is the proposal merged?")
    limits = httpx.Limits(max_connections=1000 // SHARDS, max_keepalive_connections=100 // SHARDS)
    verify: Callable[[], ssl.SSLContext | bool] = getattr(
        _client, "_shared_ssl_context", lambda: True
    )

    class ShardedTransport(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            context = verify()
            self._pools = [
                httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(SHARDS)
            ]
            self._turn = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self._turn = (self._turn + 1) % SHARDS
            return await self._pools[self._turn].handle_async_request(request)

        async def aclose(self) -> None:
            for pool in self._pools:
                await pool.aclose()

    def shared_async_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        key = _client._timeout_key(timeout)
        with _client._pool_lock:
            clients = _client._async_clients.setdefault(loop, {})
            client = clients.get(key)
            if client is None or client.is_closed:
                client = httpx.AsyncClient(timeout=timeout, transport=ShardedTransport())
                clients[key] = client
            return client

    _client.shared_async_client = shared_async_client


PATCHES: dict[str, PatchFn] = {
    "sharded-pool": _sharded_pool,
    "sse-lines": _sse_lines,
    "embeddings-base64": _embeddings_base64,
}


def apply(names: list[str]) -> list[str]:
    """Apply the named patches in order; returns their names (for the report)."""
    unknown = [name for name in names if name not in PATCHES]
    if unknown:
        raise PatchError(f"unknown patch(es) {unknown}; known: {', '.join(PATCHES)}")
    for name in names:
        PATCHES[name]()
    return names
