"""Behaviour over real loopback HTTP against the emulator: streams cut mid-way, thinking models,
quotas, batches, events, the rate limiter."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.rate_limiters import InMemoryRateLimiter

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import QuotaExceededError, StreamInterruptedError
from langchain_modelscope.testing import (
    Fault,
    ModelScopeEmulator,
    ScriptedReply,
    ScriptedToolCall,
)
from tests.chat.chat_wire import PNG_BASE64, collect, only_usage


def make(emulator: ModelScopeEmulator, **kwargs: Any) -> ChatModelScope:
    params: dict[str, Any] = {
        "api_key": emulator.token,
        "base_url": emulator.base_url,
        "max_retries": 0,
    }
    params.update(kwargs)
    return ChatModelScope(**params)


def test_stream_cut_mid_way_raises_a_typed_error(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.queue_reply(ScriptedReply(content="one two three four five six"))
    modelscope_emulator.queue_fault(Fault.stream_cut(after_chunks=3))
    received: list[AIMessageChunk] = []
    stream = make(modelscope_emulator, max_retries=2).stream("count")
    with pytest.raises(StreamInterruptedError) as info:
        received.extend(stream)
    assert 0 < len(received) < 6
    assert info.value.model == "Qwen/Qwen3-235B-A22B-Instruct-2507"
    # part of the answer was handed out: no retry
    assert len(modelscope_emulator.requests) == 1


async def test_stream_cut_mid_way_async(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.queue_reply(ScriptedReply(content="one two three four five six"))
    modelscope_emulator.queue_fault(Fault.stream_cut(after_chunks=2))
    with pytest.raises(StreamInterruptedError):
        async for _ in make(modelscope_emulator).astream("count"):
            pass


def test_stream_cut_under_auto_streamed_invoke(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.queue_fault(Fault.stream_cut(after_chunks=2))
    with pytest.raises(StreamInterruptedError):
        make(modelscope_emulator, model="Qwen/QwQ-32B").invoke("hi")


THINKING_MODELS = ["Qwen/QwQ-32B", "Qwen/Qwen3-235B-A22B-Thinking-2507", "Qwen/Qwen3-32B"]


def _thinking_invoke(emulator: ModelScopeEmulator, model: str) -> AIMessage:
    message = make(emulator, model=model).invoke("Why is the sky blue?")
    requests = emulator.requests_for(model=model)
    assert len(requests) == 1
    assert requests[0].streamed
    assert requests[0].status == 200
    assert requests[0].body["stream_options"] == {"include_usage": True}
    assert message.content
    assert message.additional_kwargs["reasoning_content"]
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    return message


@pytest.mark.parametrize("model", THINKING_MODELS)
def test_thinking_model_invoke_is_one_streamed_request(
    modelscope_emulator: ModelScopeEmulator, model: str
) -> None:
    """The points regime (the service now): no rate-limit headers, so no `ratelimit` key."""
    message = _thinking_invoke(modelscope_emulator, model)
    assert "ratelimit" not in message.response_metadata


@pytest.mark.parametrize("model", THINKING_MODELS)
def test_thinking_model_invoke_in_the_daily_regime(
    daily_emulator: ModelScopeEmulator, model: str
) -> None:
    message = _thinking_invoke(daily_emulator, model)
    assert message.response_metadata["ratelimit"]["model_requests_remaining"] >= 0


def test_reasoning_field_variant(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.config.reasoning_field = "reasoning"
    llm = make(modelscope_emulator, model="deepseek-ai/DeepSeek-R1-0528")
    invoked = llm.invoke("2+2?")
    assert invoked.additional_kwargs["reasoning_content"]
    streamed: AIMessageChunk | None = None
    for piece in llm.stream("2+2?"):
        streamed = piece if streamed is None else streamed + piece
    assert streamed is not None
    assert streamed.additional_kwargs["reasoning_content"]


def test_points_spent_raises_an_account_quota_error(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    modelscope_emulator.set_balance(modelscope_emulator.token, 0)
    with pytest.raises(QuotaExceededError) as info:
        make(modelscope_emulator, max_retries=2).invoke("hi")
    assert info.value.scope == "account"
    assert len(modelscope_emulator.requests) == 1


def test_daily_quota_spent_raises_quota_error(daily_emulator: ModelScopeEmulator) -> None:
    model = "Qwen/Qwen3-32B"
    daily_emulator.set_usage(daily_emulator.token, model, 10_000)
    with pytest.raises(QuotaExceededError) as info:
        make(daily_emulator, model=model, max_retries=2).invoke("hi")
    assert info.value.scope == "model"
    assert info.value.model == model
    assert len(daily_emulator.requests) == 1


def test_ratelimit_metadata_counts_down(daily_emulator: ModelScopeEmulator) -> None:
    llm = make(daily_emulator)
    first = llm.invoke("hi").response_metadata["ratelimit"]
    second = llm.invoke("hi").response_metadata["ratelimit"]
    assert second["requests_remaining"] == first["requests_remaining"] - 1
    assert second["model_requests_remaining"] == first["model_requests_remaining"] - 1


def test_no_ratelimit_metadata_in_the_points_regime(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    llm = make(modelscope_emulator)
    assert "ratelimit" not in llm.invoke("hi").response_metadata
    streamed = list(llm.stream("hi"))
    assert all("ratelimit" not in c.response_metadata for c in streamed)


def test_batch_and_abatch(modelscope_emulator: ModelScopeEmulator) -> None:
    llm = make(modelscope_emulator)
    answers = llm.batch(["hi", "How are you?"])
    assert all(isinstance(a, AIMessage) and a.content for a in answers)


async def test_abatch(modelscope_emulator: ModelScopeEmulator) -> None:
    answers = await make(modelscope_emulator).abatch(["hi", "Tell me a joke"])
    assert all(isinstance(a, AIMessage) and a.content for a in answers)


async def test_astream_events(modelscope_emulator: ModelScopeEmulator) -> None:
    llm = make(modelscope_emulator)
    kinds: list[str] = []
    text = ""
    async for event in llm.astream_events("Tell me a joke", version="v2"):
        kinds.append(event["event"])
        if event["event"] == "on_chat_model_stream":
            text += event["data"]["chunk"].text
    assert kinds[0] == "on_chat_model_start"
    assert kinds[-1] == "on_chat_model_end"
    assert text


def test_rate_limiter_is_used(modelscope_emulator: ModelScopeEmulator) -> None:
    class Counting(InMemoryRateLimiter):
        calls = 0

        def acquire(self, *, blocking: bool = True) -> bool:
            type(self).calls += 1
            return super().acquire(blocking=blocking)

    limiter = Counting(requests_per_second=1000, max_bucket_size=10)
    llm = make(modelscope_emulator, rate_limiter=limiter)
    llm.invoke("hi")
    list(llm.stream("hi"))
    assert Counting.calls == 2


def test_scripted_parallel_tool_calls_over_http(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.queue_reply(
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall("get_weather", {"city": "杭州"}),
                ScriptedToolCall("get_weather", {"city": "北京"}),
            ]
        )
    )
    full: AIMessageChunk | None = None
    for piece in make(modelscope_emulator, output_version="v1").stream("weather"):
        full = piece if full is None else full + piece
    assert full is not None
    assert [c["args"]["city"] for c in full.tool_calls] == ["杭州", "北京"]
    assert [b["type"] for b in full.content_blocks] == ["tool_call", "tool_call"]


def test_invalid_arguments_over_http(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.queue_reply(
        ScriptedReply(tool_calls=[ScriptedToolCall("get_weather", '{"city": Hangzhou}')])
    )
    message = make(modelscope_emulator).invoke("weather")
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["args"] == '{"city": Hangzhou}'


def test_vision_model_gets_image_parts(modelscope_emulator: ModelScopeEmulator) -> None:
    llm = make(modelscope_emulator, model="Qwen/Qwen2.5-VL-72B-Instruct")
    message = HumanMessage(
        content=[
            {"type": "text", "text": "What is this?"},
            {"type": "image", "base64": PNG_BASE64, "mime_type": "image/png"},
            {"type": "image", "url": "https://example.com/cat.jpg"},
        ]
    )
    assert llm.invoke([message]).content
    sent = modelscope_emulator.requests[-1].body["messages"][0]["content"]
    assert [part["type"] for part in sent] == ["text", "image_url", "image_url"]
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert sent[2]["image_url"]["url"] == "https://example.com/cat.jpg"


# --- the 2026 stream (points regime: zero-usage placeholders, null delta fields) ------------

SCRIPTED_USAGE = {"prompt_tokens": 21, "completion_tokens": 8, "total_tokens": 29}


def test_stream_usage_is_the_final_usage_on_exactly_one_chunk(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    modelscope_emulator.queue_reply(
        ScriptedReply(content="one two three", usage=dict(SCRIPTED_USAGE))
    )
    chunks = list(make(modelscope_emulator).stream("count"))
    assert modelscope_emulator.requests[-1].body["stream_options"] == {"include_usage": True}
    assert only_usage(chunks) == {"input_tokens": 21, "output_tokens": 8, "total_tokens": 29}
    assert collect(chunks).content == "one two three"


async def test_astream_usage_is_the_final_usage(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.queue_reply(ScriptedReply(content="a b", usage=dict(SCRIPTED_USAGE)))
    chunks = [c async for c in make(modelscope_emulator).astream("count")]
    assert only_usage(chunks) == {"input_tokens": 21, "output_tokens": 8, "total_tokens": 29}


def test_bare_tool_call_deltas_over_http(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.config.bare_tool_call_deltas = True
    modelscope_emulator.queue_reply(
        ScriptedReply(tool_calls=[ScriptedToolCall("get_weather", {"city": "杭州"})])
    )
    full: AIMessageChunk | None = None
    for piece in make(modelscope_emulator).stream("weather"):
        full = piece if full is None else full + piece
    assert full is not None
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("get_weather", {"city": "杭州"})]
    assert str(full.tool_calls[0]["id"]).startswith("call_")
    assert full.invalid_tool_calls == []


def test_bare_tool_call_deltas_under_invoke(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.config.bare_tool_call_deltas = True
    modelscope_emulator.queue_reply(
        ScriptedReply(tool_calls=[ScriptedToolCall("get_time", {})], usage=dict(SCRIPTED_USAGE))
    )
    message = make(modelscope_emulator, model="Qwen/Qwen3-32B").invoke("time?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_time", {})]
    assert message.usage_metadata == {"input_tokens": 21, "output_tokens": 8, "total_tokens": 29}


def test_two_bare_tool_calls_stay_apart_over_http(modelscope_emulator: ModelScopeEmulator) -> None:
    """Without index or id, a named piece after complete arguments starts the next call."""
    modelscope_emulator.config.bare_tool_call_deltas = True
    modelscope_emulator.queue_reply(
        ScriptedReply(
            tool_calls=[
                ScriptedToolCall("get_weather", {"city": "杭州"}),
                ScriptedToolCall("get_weather", {"city": "北京"}),
            ]
        )
    )
    full = collect(list(make(modelscope_emulator).stream("weather")))
    assert [c["args"]["city"] for c in full.tool_calls] == ["杭州", "北京"]
    assert len({c["id"] for c in full.tool_calls}) == 2
