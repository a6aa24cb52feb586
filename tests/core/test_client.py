"""The HTTP core against the emulator over real loopback HTTP.

Error answers are replayed verbatim from the facts sheet (``Fault.status``), so the client is
checked against what ModelScope says, not against the emulator's own wording.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from langchain_modelscope import errors
from langchain_modelscope._client import (
    API_KEY_ENV_VARS,
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    ModelScopeClient,
    RateLimitInfo,
    resolve_api_key,
    resolve_base_url,
)
from langchain_modelscope._pools import shared_async_pools, shared_sync_client
from langchain_modelscope.testing import Fault, ModelScopeEmulator
from tests.support import modelscope_facts as facts

MODEL = "Qwen/Qwen2.5-72B-Instruct"
CHAT = "/chat/completions"
SSE_HEADERS = {"content-type": "text/event-stream"}


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], **extra}


def make_client(
    emu: ModelScopeEmulator, *, max_retries: int = 2, **kwargs: Any
) -> ModelScopeClient:
    return ModelScopeClient(
        api_key=SecretStr(emu.token),
        base_url=emu.base_url,
        max_retries=max_retries,
        backoff_initial=0.01,
        backoff_max=0.05,
        **kwargs,
    )


def chat_calls(emu: ModelScopeEmulator) -> int:
    return len(emu.requests_for(path="/v1/chat/completions"))


def scripted_client(answer: Callable[[httpx.Request], httpx.Response]) -> ModelScopeClient:
    """A client whose calls, sync and async, all get `answer` (no socket)."""
    transport = httpx.MockTransport(answer)
    return ModelScopeClient(
        api_key=SecretStr("t"),
        base_url=DEFAULT_BASE_URL,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )


def event_stream(content: Any) -> Callable[[httpx.Request], httpx.Response]:
    """An answer with `content` (bytes, or an iterator of pieces) as an event stream."""
    return lambda request: httpx.Response(
        200, content=content() if callable(content) else content, headers=SSE_HEADERS
    )


# --- settings -------------------------------------------------------------------------------


class TestSettings:
    pytestmark = pytest.mark.disable_socket

    def test_explicit_token_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MODELSCOPE_API_KEY", "ms-env")
        secret, source = resolve_api_key("ms-explicit")
        assert (secret.get_secret_value(), source) == ("ms-explicit", "argument")

    @pytest.mark.parametrize("winner", range(len(API_KEY_ENV_VARS)))
    def test_env_vars_are_read_in_order(self, monkeypatch: pytest.MonkeyPatch, winner: int) -> None:
        for position, name in enumerate(API_KEY_ENV_VARS):
            if position >= winner:
                monkeypatch.setenv(name, f"ms-{name}")
        secret, source = resolve_api_key(None)
        assert source == API_KEY_ENV_VARS[winner]
        assert secret.get_secret_value() == f"ms-{API_KEY_ENV_VARS[winner]}"

    def test_missing_token_names_every_variable(self) -> None:
        with pytest.raises(errors.MissingAPIKeyError) as caught:
            resolve_api_key("   ")
        for name in API_KEY_ENV_VARS:
            assert name in str(caught.value)
        assert isinstance(caught.value, ValueError)

    def test_base_url_order(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert resolve_base_url(None) == DEFAULT_BASE_URL
        monkeypatch.setenv(BASE_URL_ENV_VAR, "https://api-inference.modelscope.ai/v1/")
        assert resolve_base_url(None) == "https://api-inference.modelscope.ai/v1"
        assert resolve_base_url("http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1"

    def test_bad_base_url_is_a_clear_error(self) -> None:
        with pytest.raises(ValueError, match="must start with http"):
            resolve_base_url("api-inference.modelscope.cn/v1")

    def test_client_repr_hides_the_token(self) -> None:
        client = ModelScopeClient(api_key=SecretStr("ms-secret-token"), base_url=DEFAULT_BASE_URL)
        assert "ms-secret-token" not in repr(client)
        assert "ms-secret-token" not in str(vars(client).get("base_url"))

    def test_negative_retries_are_refused(self) -> None:
        with pytest.raises(ValueError, match="max_retries"):
            ModelScopeClient(api_key=SecretStr("t"), base_url=DEFAULT_BASE_URL, max_retries=-1)

    def test_pooled_clients_are_shared(self) -> None:
        timeout = httpx.Timeout(5.0)
        assert shared_sync_client(timeout) is shared_sync_client(httpx.Timeout(5.0))
        assert shared_sync_client(timeout) is not shared_sync_client(httpx.Timeout(6.0))
        a = ModelScopeClient(api_key=SecretStr("a"), base_url=DEFAULT_BASE_URL)
        b = ModelScopeClient(api_key=SecretStr("b"), base_url="https://other.example/v1")
        assert a.sync_client is b.sync_client

    async def test_async_pool_is_per_event_loop(self) -> None:
        first = shared_async_pools(httpx.Timeout(5.0))
        assert first is shared_async_pools(httpx.Timeout(5.0))
        assert first is not shared_async_pools(httpx.Timeout(6.0))

        def in_another_loop() -> object:
            async def get() -> object:
                return shared_async_pools(httpx.Timeout(5.0))

            return asyncio.run(get())

        other = await asyncio.to_thread(in_another_loop)
        assert other is not first

    def test_user_clients_are_used(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"ok": True})

        user = httpx.Client(transport=httpx.MockTransport(handler))
        client = ModelScopeClient(
            api_key=SecretStr("ms-x"),
            base_url=DEFAULT_BASE_URL,
            http_client=user,
            default_headers={"X-Trace": "1"},
        )
        assert client.post(CHAT, {"a": 1}).data == {"ok": True}
        assert seen[0].headers["authorization"] == "Bearer ms-x"
        assert seen[0].headers["x-trace"] == "1"
        assert seen[0].content == b'{"a":1}'

    def test_ratelimit_headers_parse_and_tolerate_junk(self) -> None:
        info = RateLimitInfo.from_headers(httpx.Headers(facts.RATELIMIT_HEADERS))
        assert info == RateLimitInfo(2000, 1999, 500, 0)
        assert info.as_dict() == {
            "requests_limit": 2000,
            "requests_remaining": 1999,
            "model_requests_limit": 500,
            "model_requests_remaining": 0,
        }
        partial = RateLimitInfo.from_headers(
            httpx.Headers({"modelscope-ratelimit-requests-remaining": "12", "x": "y"})
        )
        assert partial is not None
        assert partial.as_dict() == {"requests_remaining": 12}
        assert RateLimitInfo.from_headers(httpx.Headers({})) is None
        junk = {"modelscope-ratelimit-requests-remaining": "n/a"}
        assert RateLimitInfo.from_headers(httpx.Headers(junk)) is None


# --- every error row over loopback ----------------------------------------------------------

ROWS: list[tuple[int, str, str | None, type[errors.APIError]]] = [
    (429, facts.QUOTA_DAILY, None, errors.QuotaExceededError),
    (429, facts.QUOTA_DAILY_SHORT, None, errors.QuotaExceededError),
    (429, facts.QUOTA_MONTHLY, None, errors.QuotaExceededError),
    (429, facts.REQUEST_LIMIT, None, errors.QuotaExceededError),
    (429, facts.INSUFFICIENT_QUOTA, "insufficient_quota", errors.QuotaExceededError),
    (429, facts.INSUFFICIENT_BALANCE, None, errors.QuotaExceededError),
    (401, facts.AUTH_FAILED, None, errors.AuthenticationError),
    (401, facts.UNBOUND, None, errors.AuthenticationError),
    (403, facts.UNVERIFIED, None, errors.PermissionDeniedError),
    (400, facts.INVALID_MODEL, None, errors.ModelNotFoundError),
    (400, facts.NO_PROVIDER, None, errors.ModelNotFoundError),
    (400, facts.HYBRID_THINKING_400, "invalid_parameter_error", errors.ThinkingModeError),
    (400, facts.THINKING_ONLY_400, "invalid_parameter_error", errors.ThinkingModeError),
]


@pytest.mark.parametrize(("status", "message", "code", "kind"), ROWS)
@pytest.mark.parametrize("envelope", ["errors", "error"])
def test_every_error_row_over_http_is_typed_and_sent_once(
    modelscope_emulator: ModelScopeEmulator,
    status: int,
    message: str,
    code: str | None,
    kind: type[errors.APIError],
    envelope: str,
) -> None:
    emu = modelscope_emulator
    body = (
        facts.errors_envelope(message)
        if envelope == "errors"
        else facts.error_envelope(message, code)
    )
    emu.queue_fault(Fault.status(status, body), times=5)
    client = make_client(emu, max_retries=3)
    with pytest.raises(kind) as caught:
        client.post(CHAT, chat_body(), model=MODEL)
    error = caught.value
    assert (error.status_code, error.message, error.request_id, error.model) == (
        status,
        message,
        facts.REQUEST_ID,
        MODEL,
    )
    for text in (str(error), repr(error)):
        assert emu.token not in text
    assert chat_calls(emu) == 1, "quota, auth, not-found and bad requests are never retried"


def test_emulator_native_auth_failures_are_typed(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    client = ModelScopeClient(api_key=SecretStr("ms-wrong"), base_url=emu.base_url)
    with pytest.raises(errors.AuthenticationError) as caught:
        client.post(CHAT, chat_body(), model=MODEL)
    assert "ms-wrong" not in str(caught.value)
    assert "ms-wrong" not in repr(caught.value)
    unverified = emu.add_account(state="unverified")
    client = ModelScopeClient(api_key=SecretStr(unverified), base_url=emu.base_url)
    with pytest.raises(errors.PermissionDeniedError):
        client.post(CHAT, chat_body(), model=MODEL)


def test_quota_429_is_sent_exactly_once(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.add_account(emu.token, model_limits={MODEL: 1})
    client = make_client(emu, max_retries=5)
    assert client.post(CHAT, chat_body(), model=MODEL).status_code == 200
    with pytest.raises(errors.QuotaExceededError) as caught:
        client.post(CHAT, chat_body(), model=MODEL)
    assert caught.value.scope == "model"
    assert chat_calls(emu) == 2


# --- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(503),
        Fault.server_error(500),
        Fault.connection_reset(),
        Fault.status(429, facts.errors_envelope(facts.RATE_LIMITED)),
        Fault.status(429, None),
    ],
    ids=["503", "500", "reset", "rate-limited", "bodiless-429"],
)
def test_transient_failures_are_retried_then_succeed(
    modelscope_emulator: ModelScopeEmulator, fault: Fault
) -> None:
    emu = modelscope_emulator
    emu.queue_fault(fault, times=2)
    client = make_client(emu, max_retries=2)
    started = time.monotonic()
    response = client.post(CHAT, chat_body(), model=MODEL)
    assert response.status_code == 200
    assert chat_calls(emu) == 3
    # Two backoffs of at least 0.01 s and 0.02 s (exponential) were slept.
    assert time.monotonic() - started >= 0.03


def test_retries_stop_at_max_retries(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.server_error(502), times=10)
    with pytest.raises(errors.ServerError):
        make_client(emu, max_retries=3).post(CHAT, chat_body(), model=MODEL)
    assert chat_calls(emu) == 4


def test_zero_retries_sends_once(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.server_error(503), times=10)
    with pytest.raises(errors.ServerError):
        make_client(emu, max_retries=0).post(CHAT, chat_body(), model=MODEL)
    assert chat_calls(emu) == 1


def test_connection_failure_is_typed(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.connection_reset(), times=10)
    with pytest.raises(errors.APIConnectionError):
        make_client(emu, max_retries=1).post(CHAT, chat_body(), model=MODEL)
    assert chat_calls(emu) == 2


def test_slow_first_byte_times_out(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.slow_first_byte(1.0), times=10)
    client = make_client(emu, max_retries=0, timeout=httpx.Timeout(0.2))
    with pytest.raises(errors.APITimeoutError):
        client.post(CHAT, chat_body(), model=MODEL)


def test_retry_after_is_honoured(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    # A 429 nobody can classify (a throttle waits at least its cooldown: tests/fallback).
    body = facts.errors_envelope("something passing")
    emu.queue_fault(Fault.status(429, body, headers={"Retry-After": "0.3"}), times=1)
    started = time.monotonic()
    make_client(emu, max_retries=1).post(CHAT, chat_body(), model=MODEL)
    assert time.monotonic() - started >= 0.3


def test_a_bodiless_429_that_never_passes_becomes_a_quota_error(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.status(429, None), times=10)
    with pytest.raises(errors.QuotaExceededError) as caught:
        make_client(emu, max_retries=2).post(CHAT, chat_body(), model=MODEL)
    assert caught.value.scope == "model"
    assert chat_calls(emu) == 3


def test_a_single_bodiless_429_without_retries_stays_transient(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.status(429, None), times=1)
    with pytest.raises(errors.RateLimitError):
        make_client(emu, max_retries=0).post(CHAT, chat_body(), model=MODEL)


def test_malformed_json_is_a_decode_error(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.malformed_json())
    with pytest.raises(errors.ResponseDecodeError):
        make_client(emu, max_retries=2).post(CHAT, chat_body(), model=MODEL)
    assert chat_calls(emu) == 1


async def test_async_requests_retry_and_type_errors(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.server_error(503), times=1)
    client = make_client(emu, max_retries=1)
    response = await client.apost(CHAT, chat_body(), model=MODEL)
    assert response.data["choices"][0]["message"]["content"]
    emu.queue_fault(Fault.status(429, facts.errors_envelope(facts.QUOTA_DAILY)), times=3)
    with pytest.raises(errors.QuotaExceededError):
        await client.apost(CHAT, chat_body(), model=MODEL)
    assert chat_calls(emu) == 3


# --- headers --------------------------------------------------------------------------------


def test_ratelimit_headers_come_with_every_answer(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    client = make_client(emu)
    first = client.post(CHAT, chat_body(), model=MODEL)
    second = client.post(CHAT, chat_body(), model=MODEL)
    assert first.ratelimit is not None
    assert second.ratelimit is not None
    assert second.ratelimit.requests_remaining == first.ratelimit.requests_remaining - 1
    assert second.ratelimit.model_requests_remaining == first.ratelimit.model_requests_remaining - 1
    emu.config.send_ratelimit_headers = False
    assert client.post(CHAT, chat_body(), model=MODEL).ratelimit is None


def test_headers_replayed_verbatim_are_parsed(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(
        Fault.status(200, {"object": "list", "data": []}, headers=facts.RATELIMIT_HEADERS)
    )
    response = make_client(emu).post(CHAT, chat_body(), model=MODEL)
    assert response.ratelimit == RateLimitInfo(2000, 1999, 500, 0)


# --- streams --------------------------------------------------------------------------------


def test_stream_yields_payloads_and_headers(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    client = make_client(emu)
    with client.stream(CHAT, chat_body(stream=True), model=MODEL) as stream:
        payloads = list(stream)
        assert stream.ratelimit is not None
        assert stream.finished
    assert payloads
    assert all(isinstance(p, dict) for p in payloads)
    assert emu.requests[-1].streamed


async def test_async_stream_yields_payloads(modelscope_emulator: ModelScopeEmulator) -> None:
    client = make_client(modelscope_emulator)
    async with client.astream(CHAT, chat_body(stream=True), model=MODEL) as stream:
        payloads = [p async for p in stream]
    assert payloads


def test_stream_cut_midway_is_typed(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.stream_cut(after_chunks=2))
    client = make_client(emu, max_retries=3)
    received: list[Any] = []
    with (
        pytest.raises(errors.StreamInterruptedError) as caught,
        client.stream(CHAT, chat_body(stream=True), model=MODEL) as stream,
    ):
        received.extend(stream)
    assert len(received) == 2
    assert caught.value.model == MODEL
    assert chat_calls(emu) == 1, "a stream that already produced output is not retried"


async def test_async_stream_cut_midway_is_typed(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.stream_cut(after_chunks=1))
    client = make_client(emu)
    received: list[Any] = []
    async with client.astream(CHAT, chat_body(stream=True), model=MODEL) as stream:
        with pytest.raises(errors.StreamInterruptedError):
            received.extend([payload async for payload in stream])
    assert received == []


def test_error_event_inside_a_stream_is_typed(modelscope_emulator: ModelScopeEmulator) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.stream_error_event("upstream overloaded", after_chunks=1))
    with (
        pytest.raises(errors.APIError, match="upstream overloaded"),
        make_client(emu).stream(CHAT, chat_body(stream=True), model=MODEL) as stream,
    ):
        list(stream)


def test_stream_opening_errors_are_retried_then_typed(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    emu = modelscope_emulator
    emu.queue_fault(Fault.server_error(503), times=1)
    with make_client(emu, max_retries=1).stream(CHAT, chat_body(stream=True), model=MODEL) as s:
        assert list(s)
    emu.queue_fault(Fault.status(429, facts.errors_envelope(facts.QUOTA_DAILY)), times=3)
    with (
        pytest.raises(errors.QuotaExceededError),
        make_client(emu, max_retries=2).stream(CHAT, chat_body(stream=True), model=MODEL),
    ):
        pass
    assert chat_calls(emu) == 3


def test_stream_tolerates_keepalives_and_empty_choices() -> None:
    body = (
        b": keep-alive\n\n"
        b"data: \n\n"
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b'data: {"choices":[],"usage":{"total_tokens":3}}\n\n'
        b"data: [DONE]\n\n"
    )
    client = scripted_client(event_stream(body))
    with client.stream(CHAT, chat_body(stream=True)) as stream:
        payloads = list(stream)
    assert [p.get("usage") for p in payloads] == [None, None, {"total_tokens": 3}]


def test_stream_ending_without_done_or_finish_is_interrupted() -> None:
    body = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    client = scripted_client(event_stream(body))
    with pytest.raises(errors.StreamInterruptedError), client.stream(CHAT, chat_body()) as stream:
        list(stream)


def test_json_answer_to_a_stream_request_is_handled() -> None:
    error = facts.error_envelope(facts.QUOTA_DAILY)
    client = scripted_client(lambda request: httpx.Response(200, json=error))
    with pytest.raises(errors.APIError, match="quota"), client.stream(CHAT, chat_body()) as stream:
        list(stream)


# Servers that write JSON with ensure_ascii=False put these characters in raw. They end a line
# for str.splitlines (and so for httpx's iter_lines) but not for SSE, which ends lines at CR,
# LF or CRLF only: a client that splits on them breaks the event in two.
UNICODE_LINE_BREAKS = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"


def _sse_in_pieces(*, crlf: bool) -> list[bytes]:
    """One answer in two events, cut at awkward places (inside a UTF-8 character, a CRLF)."""
    newline = "\r\n" if crlf else "\n"
    events = [
        json.dumps(
            {"choices": [{"index": 0, "delta": {"content": UNICODE_LINE_BREAKS}}]},
            ensure_ascii=False,
        ),
        json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        "[DONE]",
    ]
    raw = "".join(f"data: {event}{newline}{newline}" for event in events).encode()
    cut = raw.index("\u2028".encode()) + 1  # inside the three bytes of U+2028
    pieces = [raw[:cut], raw[cut : cut + 7]]
    rest = raw[cut + 7 :]
    if crlf:
        middle = rest.index(b"\r\n") + 1  # between CR and LF
        pieces += [rest[:middle], rest[middle:]]
    else:
        pieces.append(rest)
    return pieces


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_stream_keeps_unicode_line_breaks_inside_an_event(crlf: bool) -> None:
    client = scripted_client(event_stream(lambda: iter(_sse_in_pieces(crlf=crlf))))
    with client.stream(CHAT, chat_body(stream=True)) as stream:
        payloads = list(stream)
    assert payloads[0]["choices"][0]["delta"]["content"] == UNICODE_LINE_BREAKS
    assert len(payloads) == 2


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
async def test_async_stream_keeps_unicode_line_breaks_inside_an_event(crlf: bool) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in _sse_in_pieces(crlf=crlf):
            yield piece

    client = scripted_client(event_stream(pieces))
    async with client.astream(CHAT, chat_body(stream=True)) as stream:
        payloads = [payload async for payload in stream]
    assert payloads[0]["choices"][0]["delta"]["content"] == UNICODE_LINE_BREAKS
    assert len(payloads) == 2
