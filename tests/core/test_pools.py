"""Connection pools, the headers read off every answer, and JSON decoding.

These are the hot path's shortcuts (see bench/findings.md); each test pins the behaviour the
shortcut must keep: proxies still apply, a sequential caller keeps one warm pool, a repeated
header is not misread, and a document decodes to what ``json.loads`` gives.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from langchain_modelscope import _json
from langchain_modelscope._client import ModelScopeClient, RateLimitInfo, read_headers
from langchain_modelscope._pools import (
    _ASYNC_POOL_FILL,
    _ASYNC_POOLS,
    AsyncPools,
    shared_async_pools,
)
from langchain_modelscope.errors import request_id_from_headers
from langchain_modelscope.testing import ModelScopeEmulator

MODEL = "Qwen/Qwen2.5-72B-Instruct"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]}


# --- async pools ------------------------------------------------------------------------------


class TestAsyncPools:
    def test_a_sequential_caller_keeps_to_one_pool(self) -> None:
        pools = AsyncPools(httpx.Timeout(5.0))
        with pools.lease() as first:
            pass
        for _ in range(5):
            with pools.lease() as client:
                assert client is first
        assert pools.clients == (first,)

    def test_calls_fill_pools_in_order_then_go_to_the_least_busy(self) -> None:
        pools = AsyncPools(httpx.Timeout(5.0))
        with ExitStack() as held:
            leased = [held.enter_context(pools.lease()) for _ in range(_ASYNC_POOL_FILL)]
            assert len(set(leased)) == 1
            overflow = held.enter_context(pools.lease())
            assert overflow is not leased[0]
            for _ in range(_ASYNC_POOL_FILL * (_ASYNC_POOLS - 1) - 1):
                held.enter_context(pools.lease())
            assert len(pools.clients) == _ASYNC_POOLS
            # Every pool is full: the next call goes to the least busy, and no pool is added.
            extra = held.enter_context(pools.lease())
            assert extra is pools.clients[0]
            assert len(pools.clients) == _ASYNC_POOLS

    def test_a_pool_with_room_again_takes_calls_again(self) -> None:
        pools = AsyncPools(httpx.Timeout(5.0))
        leases = [ExitStack() for _ in range(_ASYNC_POOL_FILL * 2)]
        for lease in leases:
            lease.enter_context(pools.lease())
        assert len(pools.clients) == 2
        leases[0].close()  # one call of the first pool ends
        with pools.lease() as client:
            assert client is pools.clients[0]
        for lease in leases:
            lease.close()
        assert pools._in_flight == [0, 0]

    def test_a_failed_call_gives_its_place_back(self) -> None:
        pools = AsyncPools(httpx.Timeout(5.0))
        for _ in range(_ASYNC_POOL_FILL * 2):
            with pytest.raises(RuntimeError), pools.lease():
                raise RuntimeError("boom")
        assert len(pools.clients) == 1

    async def test_a_closed_client_is_replaced(self) -> None:
        pools = AsyncPools(httpx.Timeout(5.0))
        with pools.lease() as first:
            pass
        await first.aclose()
        with pools.lease() as second:
            assert second is not first
            assert not second.is_closed

    async def test_concurrent_calls_spread_over_pools(self, emu: ModelScopeEmulator) -> None:
        timeout = httpx.Timeout(31.5)  # a setting no other test uses: pools of its own
        client = ModelScopeClient(
            api_key=SecretStr(emu.token), base_url=emu.base_url, timeout=timeout
        )
        calls = _ASYNC_POOL_FILL * 2 + 5
        answers = await asyncio.gather(
            *(client.apost("/chat/completions", BODY, model=MODEL) for _ in range(calls))
        )
        assert all(answer.status_code == 200 for answer in answers)
        assert len(shared_async_pools(timeout).clients) == 3
        # And each later sequential call reuses the first pool.
        await client.apost("/chat/completions", BODY, model=MODEL)
        assert len(shared_async_pools(timeout).clients) == 3

    async def test_streams_hold_their_place_until_closed(self, emu: ModelScopeEmulator) -> None:
        timeout = httpx.Timeout(32.5)
        client = ModelScopeClient(
            api_key=SecretStr(emu.token), base_url=emu.base_url, timeout=timeout
        )
        pools = shared_async_pools(timeout)
        async with client.astream(
            "/chat/completions", {**BODY, "stream": True}, model=MODEL
        ) as events:
            async for _ in events:
                pass
            assert pools._in_flight == [1]
        assert pools._in_flight == [0]


# --- proxies ----------------------------------------------------------------------------------


class _LoopbackHandler(BaseHTTPRequestHandler):
    """A one-route server for these tests: notes something of each call, answers JSON."""

    seen: list[Any]

    def answer(self, body: bytes, *headers: tuple[str, str]) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[_LoopbackHandler], seen: list[Any]) -> Iterator[int]:
    """`handler` on a free loopback port, in a thread; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (handler,), {"seen": seen}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _RecordingProxy(_LoopbackHandler):
    """A forward proxy that answers every call itself, and notes the target it was asked for."""

    def do_POST(self) -> None:
        self.seen.append(self.path)
        message = {"role": "assistant", "content": "via proxy"}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        self.answer(
            json.dumps({"id": "chatcmpl-proxy", "model": MODEL, "choices": [choice]}).encode()
        )


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A proxy on loopback, named in HTTP_PROXY as a user behind one would set it."""
    seen: list[str] = []
    with serving(_RecordingProxy, seen) as port:
        for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        yield seen


class TestProxies:
    """The pooled clients honour proxy variables, sync and async (a sharded pool must too)."""

    BASE_URL = "http://api-inference.modelscope.invalid/v1"

    def test_sync_calls_go_through_the_proxy(self, proxy: list[str]) -> None:
        client = ModelScopeClient(
            api_key=SecretStr("ms-proxy"), base_url=self.BASE_URL, timeout=33.5, max_retries=0
        )
        answer = client.post("/chat/completions", BODY, model=MODEL)
        assert answer.data["choices"][0]["message"]["content"] == "via proxy"
        assert proxy == [f"{self.BASE_URL}/chat/completions"]

    async def test_async_calls_go_through_the_proxy(self, proxy: list[str]) -> None:
        client = ModelScopeClient(
            api_key=SecretStr("ms-proxy"), base_url=self.BASE_URL, timeout=34.5, max_retries=0
        )
        answers = await asyncio.gather(
            *(
                client.apost("/chat/completions", BODY, model=MODEL)
                for _ in range(_ASYNC_POOL_FILL + 2)
            )
        )
        assert {a.data["choices"][0]["message"]["content"] for a in answers} == {"via proxy"}
        assert proxy == [f"{self.BASE_URL}/chat/completions"] * (_ASYNC_POOL_FILL + 2)
        assert len(shared_async_pools(httpx.Timeout(34.5, connect=10.0)).clients) == 2


# --- cookies ----------------------------------------------------------------------------------


class _CookieSettingServer(_LoopbackHandler):
    """Answers every call and sets a cookie, as a cloud load balancer may; notes Cookie headers."""

    def do_POST(self) -> None:
        self.seen.append(self.headers.get("cookie"))
        self.answer(b'{"ok": true}', ("set-cookie", "acw_tc=first-account; Path=/"))


@pytest.fixture
def cookie_server() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []
    with serving(_CookieSettingServer, seen) as port:
        yield f"http://127.0.0.1:{port}/v1", seen


class TestCookies:
    """The pooled clients serve every token in the process: no cookie passes between them."""

    def test_sync_pool_sends_no_cookie_back(
        self, cookie_server: tuple[str, list[str | None]]
    ) -> None:
        url, seen = cookie_server
        for token in ("ms-first-account", "ms-second-account"):
            client = ModelScopeClient(api_key=SecretStr(token), base_url=url, max_retries=0)
            client.post("/chat/completions", BODY, model=MODEL)
        assert seen == [None, None]

    async def test_async_pools_send_no_cookie_back(
        self, cookie_server: tuple[str, list[str | None]]
    ) -> None:
        url, seen = cookie_server
        for token in ("ms-first-account", "ms-second-account"):
            client = ModelScopeClient(api_key=SecretStr(token), base_url=url, max_retries=0)
            await client.apost("/chat/completions", BODY, model=MODEL)
        assert seen == [None, None]

    def test_a_users_own_client_keeps_its_cookies(
        self, cookie_server: tuple[str, list[str | None]]
    ) -> None:
        url, seen = cookie_server
        with httpx.Client() as own:
            client = ModelScopeClient(
                api_key=SecretStr("ms-own"), base_url=url, max_retries=0, http_client=own
            )
            client.post("/chat/completions", BODY, model=MODEL)
            client.post("/chat/completions", BODY, model=MODEL)
        assert seen == [None, "acw_tc=first-account"]


# --- headers ----------------------------------------------------------------------------------


class TestReadHeaders:
    def test_reads_request_id_and_rate_limits_whatever_their_case(self) -> None:
        headers = httpx.Headers(
            [
                ("Content-Type", "application/json"),
                ("X-Request-Id", "req-1"),
                ("ModelScope-RateLimit-Requests-Limit", "2000"),
                ("modelscope-ratelimit-requests-remaining", " 1999 "),
                ("MODELSCOPE-RATELIMIT-MODEL-REQUESTS-LIMIT", "500"),
                ("modelscope-ratelimit-model-requests-remaining", "499"),
            ]
        )
        found = read_headers(headers)
        assert request_id_from_headers(found) == "req-1"
        assert RateLimitInfo.from_headers(found) == RateLimitInfo(2000, 1999, 500, 499)

    def test_a_repeated_header_keeps_its_first_value(self) -> None:
        headers = httpx.Headers(
            [
                ("x-request-id", "first"),
                ("x-request-id", "second"),
                ("modelscope-ratelimit-requests-remaining", "7"),
                ("modelscope-ratelimit-requests-remaining", "6"),
            ]
        )
        found = read_headers(headers)
        assert found["x-request-id"] == "first"
        info = RateLimitInfo.from_headers(found)
        assert info is not None
        assert info.requests_remaining == 7

    def test_other_request_id_headers_still_count(self) -> None:
        found = read_headers(httpx.Headers({"x-acs-request-id": "acs-9"}))
        assert request_id_from_headers(found) == "acs-9"
        assert RateLimitInfo.from_headers(found) is None

    def test_answers_without_them_read_as_nothing(self) -> None:
        assert read_headers(httpx.Headers({"content-type": "application/json"})) == {}


# --- JSON -------------------------------------------------------------------------------------

SAME_EITHER_WAY = [
    b'{"object":"list","data":[{"index":0,"embedding":[0.0123456789,-1e-7,3,2.5E+2]}]}',
    '{"choices":[{"delta":{"content":"\u4f60\u597d \u2028 line"}}]}',
    b'{"a":1,"a":2}',
    b"-0.0",
    b"[1.7976931348623157e308, 5e-324]",
    b'{"escaped":"\\u00e9\\n\\"q\\""}',
    b"18446744073709551615",
]
ONLY_THE_STANDARD_LIBRARY_TAKES = [
    b"NaN",
    b"[Infinity, -Infinity]",
    b"1e400",
    b'"\\ud800"',
    b'\xef\xbb\xbf{"a":1}',
]


class TestJSON:
    @pytest.mark.parametrize("document", SAME_EITHER_WAY)
    def test_decodes_as_the_standard_library_does(self, document: bytes | str) -> None:
        assert repr(_json.loads(document)) == repr(json.loads(document))

    @pytest.mark.parametrize("document", ONLY_THE_STANDARD_LIBRARY_TAKES)
    def test_what_orjson_refuses_the_standard_library_decides(self, document: bytes) -> None:
        expected = json.loads(document)
        got = _json.loads(document)
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(got)
        else:
            assert repr(got) == repr(expected)

    @pytest.mark.parametrize("document", [b"", b"{", b'{"a":}', b"[1,]", b"\xff\xfe"])
    def test_invalid_documents_raise_value_error(self, document: bytes) -> None:
        # The type is the contract: callers turn ValueError into ResponseDecodeError.
        with pytest.raises(ValueError):  # noqa: PT011
            _json.loads(document)

    def test_memoryview_and_bytearray(self) -> None:
        assert _json.loads(memoryview(b'{"a":[1.5]}')) == {"a": [1.5]}
        assert _json.loads(bytearray(b"[true,null]")) == [True, None]

    def test_without_orjson(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_json, "_fast_loads", None)
        for document in (*SAME_EITHER_WAY, b"NaN"):
            assert repr(_json.loads(document)) == repr(json.loads(document))
        assert _json.loads(memoryview(b"[2]")) == [2]
        with pytest.raises(ValueError):  # noqa: PT011 (the type is the contract)
            _json.loads(b"{")

    def test_the_fast_parser_is_in_use_where_installed(self) -> None:
        orjson = pytest.importorskip("orjson")
        assert _json._fast_loads is orjson.loads
