"""Code written for langchain-modelscope-integration 0.1.x runs here: its names and arguments."""

from __future__ import annotations

import warnings

import pytest
from langchain_core._api import LangChainDeprecationWarning

from langchain_modelscope import (
    ChatModelScope,
    ModelScopeChatEndpoint,
    ModelScopeEmbeddings,
    ModelScopeEndpoint,
    _compat,
)
from langchain_modelscope.testing import ModelScopeEmulator, ScriptedReply

OLD_TOKEN = "ms-old-package-token"


@pytest.fixture(autouse=True)
def fresh_warnings() -> None:
    """Each test sees the once-per-process warnings as a new process would."""
    _compat._warned.clear()


def test_chat_endpoint_takes_the_old_arguments(modelscope_emulator: ModelScopeEmulator) -> None:
    with pytest.warns(LangChainDeprecationWarning, match="write .*ChatModelScope"):
        llm = ModelScopeChatEndpoint(
            model="Qwen/Qwen3-32B",
            modelscope_sdk_token=modelscope_emulator.token,
            base_url=modelscope_emulator.base_url,
            extra_body={"enable_thinking": False},
            temperature=0.5,
            max_tokens=64,
            request_timeout=30,
        )
    assert isinstance(llm, ChatModelScope)
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == modelscope_emulator.token
    assert llm.timeout == 30
    assert llm.model_kwargs == {}  # nothing fell into the request body by mistake
    modelscope_emulator.queue_reply(ScriptedReply(content="a joke"))
    assert llm.invoke("Tell me a joke.").content == "a joke"
    (request,) = modelscope_emulator.requests
    assert request.body["enable_thinking"] is False
    assert request.body["temperature"] == 0.5


def test_chat_endpoint_takes_model_name_api_base_and_the_env_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSCOPE_SDK_TOKEN", OLD_TOKEN)
    for name in ("MODELSCOPE_API_KEY",):
        monkeypatch.delenv(name, raising=False)
    with pytest.warns(LangChainDeprecationWarning):
        llm = ModelScopeChatEndpoint(model_name="Qwen/Qwen3-32B", api_base="https://x.test/v1")
    assert (llm.model, llm.base_url) == ("Qwen/Qwen3-32B", "https://x.test/v1")
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == OLD_TOKEN
    assert OLD_TOKEN not in repr(llm)


def test_each_old_name_warns_once_with_what_to_write() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            ModelScopeChatEndpoint(modelscope_sdk_token=OLD_TOKEN)
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(messages) == 2, messages  # the class name once, the argument name once
    assert any("ChatModelScope(api_key=...)" in m for m in messages)


def test_both_spellings_at_once_is_a_clear_error() -> None:
    with (
        pytest.warns(LangChainDeprecationWarning),
        pytest.raises(ValueError, match="api_key= or modelscope_sdk_token="),
    ):
        ModelScopeChatEndpoint(modelscope_sdk_token=OLD_TOKEN, api_key=OLD_TOKEN)


def test_endpoint_is_a_text_llm_over_chat(modelscope_emulator: ModelScopeEmulator) -> None:
    with pytest.warns(LangChainDeprecationWarning, match="ModelScopeEndpoint"):
        llm = ModelScopeEndpoint(
            model_name="Qwen/Qwen3-235B-A22B-Instruct-2507",
            modelscope_sdk_token=modelscope_emulator.token,
            base_url=modelscope_emulator.base_url,
        )
    modelscope_emulator.queue_reply(ScriptedReply(content="def quick_sort(xs): ..."))
    text = llm.invoke("write a quick sort in python")
    assert text == "def quick_sort(xs): ..."
    (request,) = modelscope_emulator.requests
    assert request.body["messages"] == [{"role": "user", "content": "write a quick sort in python"}]
    # the old package's defaults
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.3, 1024)


def test_endpoint_streams_text(modelscope_emulator: ModelScopeEmulator) -> None:
    with pytest.warns(LangChainDeprecationWarning):
        llm = ModelScopeEndpoint(
            model="Qwen/Qwen3-235B-A22B-Instruct-2507",
            api_key=modelscope_emulator.token,
            base_url=modelscope_emulator.base_url,
        )
    modelscope_emulator.queue_reply(ScriptedReply(content="one two three"))
    chunks = list(llm.stream("count"))
    assert all(isinstance(c, str) for c in chunks)
    assert "".join(chunks) == "one two three"
    assert modelscope_emulator.requests[0].body["stream"] is True


async def test_endpoint_async(modelscope_emulator: ModelScopeEmulator) -> None:
    with pytest.warns(LangChainDeprecationWarning):
        llm = ModelScopeEndpoint(
            api_key=modelscope_emulator.token, base_url=modelscope_emulator.base_url
        )
    modelscope_emulator.queue_reply(ScriptedReply(content="async text"))
    assert await llm.ainvoke("hi") == "async text"
    modelscope_emulator.queue_reply(ScriptedReply(content="a b"))
    assert "".join([c async for c in llm.astream("hi")]) == "a b"


def test_embeddings_take_model_id_and_ignore_model_revision() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embeddings = ModelScopeEmbeddings(
            model_id="Qwen/Qwen3-Embedding-0.6B", model_revision="v1.0.0", api_key=OLD_TOKEN
        )
    assert embeddings.model == "Qwen/Qwen3-Embedding-0.6B"
    messages = " | ".join(str(w.message) for w in caught)
    assert "ModelScopeEmbeddings(model=...)" in messages
    assert "model_revision" in messages
