"""Issue 12.1: a token is stripped where it enters, refused when no header can carry it, never
chained to an error through httpx's request, and never pickled."""

from __future__ import annotations

import pickle
import traceback
import warnings
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from langchain_modelscope import Candidate, FallbackChatModel
from langchain_modelscope._compat import ModelScopeEndpoint
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.embeddings import ModelScopeEmbeddings
from langchain_modelscope.errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidAPIKeyError,
    MissingAPIKeyError,
    StreamInterruptedError,
)
from langchain_modelscope.images import ModelScopeImageGenerator
from langchain_modelscope.quota import account_fingerprint
from tests.hardening.support import BASE_URL, HOST, Wire

pytestmark = pytest.mark.disable_socket

TOKEN = "ms-5ec2e7a0-1111-4222-8333-toKenHarden01"


@pytest.mark.parametrize(
    "given", [f"{TOKEN}\n", f"  {TOKEN}\t\r\n", SecretStr(f"{TOKEN}\n"), SecretStr(f" {TOKEN} ")]
)
def test_surrounding_whitespace_is_stripped_from_the_argument(given: str | SecretStr) -> None:
    wire = Wire()
    model = wire.chat(api_key=given)
    model.invoke("hi")
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == TOKEN
    assert wire.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("ms-5ec2 e7a0-1111-4222-8333", "whitespace"),
        ("ms-5ec2\ne7a0-1111-4222-8333", "whitespace"),
        ("ms-5ec2\x00e7a0-1111-4222-8333", "a control character"),
        ("ms-5ec2\x7fe7a0-1111-4222-8333", "a control character"),
        ("ms-5ec2é7a0-1111-4222-8333", "a non-ASCII character"),
        ("ms-5ec2\u200be7a0-1111-4222-8333", "a control character"),
    ],
)
def test_a_token_no_header_can_carry_is_refused_before_any_request(token: str, kind: str) -> None:
    wire = Wire()
    with pytest.raises(InvalidAPIKeyError) as caught:
        wire.chat(api_key=token)
    assert isinstance(caught.value, MissingAPIKeyError)  # the same mistake to handle
    text = f"{caught.value}{caught.value!r}"
    assert kind in text
    assert "'ms-5'" in text  # at most the first 4 characters
    assert token[:5] not in text
    assert token[4:] not in text
    assert wire.requests == []


def test_env_tokens_are_stripped_and_checked_like_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSCOPE_SDK_TOKEN", f"\t{TOKEN}\n")
    assert Wire().chat(api_key=None).api_key == SecretStr(TOKEN)
    monkeypatch.setenv("MODELSCOPE_API_KEY", "ms-ab cd-ef")
    with pytest.raises(InvalidAPIKeyError, match="MODELSCOPE_API_KEY"):
        Wire().chat(api_key=None)


def test_every_entry_point_strips_and_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    padded = f" {TOKEN}\n"
    fallback = FallbackChatModel.from_modelscope(
        "Qwen/Qwen3-32B", tokens=[padded, SecretStr(padded)], base_url=BASE_URL
    )
    assert [c.api_key for c in fallback.candidates] == [SecretStr(TOKEN)] * 2
    wrapped = FallbackChatModel(
        candidates=[Candidate(ChatModelScope(api_key=SecretStr(padded), base_url=BASE_URL))]
    )
    assert wrapped.candidates[0].model.api_key == SecretStr(TOKEN)
    embeddings = ModelScopeEmbeddings(api_key=padded, base_url=BASE_URL)
    images = ModelScopeImageGenerator(api_key=SecretStr(padded), base_url=BASE_URL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the old package's names say they are old, once
        endpoint = ModelScopeEndpoint(modelscope_sdk_token=padded, base_url=BASE_URL)
    for owner in (embeddings, images, endpoint):
        assert owner.api_key == SecretStr(TOKEN)
    assert account_fingerprint(padded) == account_fingerprint(TOKEN)
    for build in (
        lambda: ModelScopeEmbeddings(api_key="ms-a b", base_url=BASE_URL),
        lambda: ModelScopeImageGenerator(api_key="ms-a\x01b", base_url=BASE_URL),
        lambda: FallbackChatModel.from_modelscope("m", tokens=["ms-ä"], base_url=BASE_URL),
    ):
        with pytest.raises(InvalidAPIKeyError):
            build()


def test_points_balance_refuses_a_broken_token_before_any_request() -> None:
    from langchain_modelscope import points_balance

    with pytest.raises(InvalidAPIKeyError):
        points_balance("ms-a b c")


# --- nothing chained carries the request --------------------------------------------------


def _refuse(kind: type[httpx.TransportError]) -> Wire:
    def handler(request: httpx.Request) -> httpx.Response:
        raise kind("the peer said no", request=request)

    return Wire(handler)


def _cut_stream(request: httpx.Request) -> httpx.Response:
    def body() -> Iterator[bytes]:
        yield b'data: {"choices":[{"index":0,"delta":{"content":"he"}}]}\n\n'
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())


def _assert_unchained(error: BaseException, transport_error: str) -> None:
    assert error.__cause__ is None
    assert error.__context__ is None
    assert error.transport_error == transport_error  # type: ignore[attr-defined]
    assert error.host == HOST  # type: ignore[attr-defined]
    assert TOKEN not in "".join(traceback.format_exception(error))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (httpx.ConnectError, APIConnectionError),
        (httpx.ReadError, APIConnectionError),
        (httpx.ReadTimeout, APITimeoutError),
        (httpx.ConnectTimeout, APITimeoutError),
        (httpx.RemoteProtocolError, APIConnectionError),
    ],
)
def test_transport_errors_chain_nothing_that_holds_the_header(
    kind: type[httpx.TransportError], expected: type[APIConnectionError]
) -> None:
    model = _refuse(kind).chat(api_key=TOKEN, max_retries=1)
    with pytest.raises(expected) as caught:
        model.invoke("hi")
    _assert_unchained(caught.value, kind.__name__)
    with pytest.raises(expected) as streamed:
        list(model.stream("hi"))
    _assert_unchained(streamed.value, kind.__name__)


async def test_async_transport_errors_chain_nothing() -> None:
    model = _refuse(httpx.ReadTimeout).chat(api_key=TOKEN)
    with pytest.raises(APITimeoutError) as caught:
        await model.ainvoke("hi")
    _assert_unchained(caught.value, "ReadTimeout")


def test_a_cut_stream_chains_nothing() -> None:
    model = Wire(_cut_stream).chat(api_key=TOKEN)
    with pytest.raises(StreamInterruptedError) as caught:
        list(model.stream("hi"))
    _assert_unchained(caught.value, "RemoteProtocolError")


async def test_a_cut_async_stream_chains_nothing() -> None:
    async def body() -> Iterator[bytes]:  # type: ignore[misc]
        yield b'data: {"choices":[{"index":0,"delta":{"content":"he"}}]}\n\n'
        raise httpx.RemoteProtocolError("peer closed connection")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    model = Wire(handler).chat(api_key=TOKEN)
    with pytest.raises(StreamInterruptedError) as caught:
        async for _ in model.astream("hi"):
            pass
    _assert_unchained(caught.value, "RemoteProtocolError")


# --- pickling -----------------------------------------------------------------------------


def test_pickling_drops_the_token_and_the_core_and_resolves_it_again_on_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ChatModelScope(api_key=TOKEN, base_url=BASE_URL, temperature=0.5)
    assert model.client is not None  # the cached core holds the Authorization header
    data = pickle.dumps(model)
    assert TOKEN.encode() not in data
    with pytest.raises(MissingAPIKeyError, match="not pickled"):
        pickle.loads(data)
    monkeypatch.setenv("MODELSCOPE_API_KEY", "ms-from-the-workers-env")
    copy = pickle.loads(data)
    assert copy.api_key == SecretStr("ms-from-the-workers-env")
    assert copy.temperature == 0.5
    assert copy.client._headers["Authorization"] == "Bearer ms-from-the-workers-env"
    assert model.api_key == SecretStr(TOKEN)  # the original keeps its own


def test_every_model_class_pickles_without_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        endpoint = ModelScopeEndpoint(api_key=TOKEN, base_url=BASE_URL)
    owners = [
        ModelScopeEmbeddings(api_key=TOKEN, base_url=BASE_URL),
        ModelScopeImageGenerator(api_key=TOKEN, base_url=BASE_URL),
        endpoint,
    ]
    monkeypatch.setenv("MODELSCOPE_API_KEY", "ms-env")
    for owner in owners:
        data = pickle.dumps(owner)
        assert TOKEN.encode() not in data, type(owner).__name__
        assert pickle.loads(data).api_key == SecretStr("ms-env")
    images = pickle.loads(pickle.dumps(owners[1]))
    assert images._submit_client._headers["Authorization"] == "Bearer ms-env"


def test_copies_keep_the_token() -> None:
    import copy

    model = ChatModelScope(api_key=TOKEN, base_url=BASE_URL)
    assert copy.deepcopy(model).api_key == SecretStr(TOKEN)
    assert model.model_copy(update={"temperature": 1.0}).api_key == SecretStr(TOKEN)
