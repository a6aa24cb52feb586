"""The package's pooled httpx clients: one sync client per timeout for the process, and small
async pools per event loop.

Many model instances with the same settings share sockets this way; the clients keep no cookies,
since they carry the calls of every token in the process. Nothing here knows the wire format.
"""

from __future__ import annotations

import asyncio
import atexit
import ssl
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import httpx

__all__ = ["AsyncPools", "shared_async_pools", "shared_sync_client"]

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
