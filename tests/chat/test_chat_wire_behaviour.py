"""Behaviour on answers written by hand from the facts sheet (no emulator, no socket).

Reasoning (both field names), streamed and parallel tool calls, invalid tool-call JSON,
thinking models that must stream, the empty (`choices: null`) answer, rate-limit metadata,
the error envelopes, and what lands on which streamed chunk.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import (
    AuthenticationError,
    EmptyResponseError,
    ModelNotFoundError,
    QuotaExceededError,
    ServerError,
    StreamInterruptedError,
)
from tests.chat.chat_wire import TOKEN, Wire, chunk, collect, completion, text_stream
from tests.support import modelscope_facts as facts

pytestmark = pytest.mark.disable_socket


@tool
def get_weather(city: str) -> str:
    """Current weather of a city."""
    return f"sunny in {city}"


@tool
def get_time(city: str) -> str:
    """Local time of a city."""
    return f"noon in {city}"


# --- reasoning ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_on_invoke(field: str) -> None:
    wire = Wire().json(
        completion("There are 3.", reasoning="Count r: s-t-r-a-w-b-e-r-r-y", reasoning_field=field)
    )
    message = wire.model().invoke("How many r's in strawberry?")
    assert message.content == "There are 3."
    assert message.additional_kwargs["reasoning_content"] == "Count r: s-t-r-a-w-b-e-r-r-y"
    assert message.content_blocks == [
        {"type": "reasoning", "reasoning": "Count r: s-t-r-a-w-b-e-r-r-y"},
        {"type": "text", "text": "There are 3."},
    ]
    assert message.response_metadata["model_provider"] == "modelscope"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_in_stream(field: str) -> None:
    events = list(text_stream(["There ", "are 3."], reasoning=["Count ", "them."], field=field))
    wire = Wire().sse(events)
    chunks = list(wire.model().stream("How many?"))
    full = collect(chunks)
    assert full.content == "There are 3."
    assert full.additional_kwargs["reasoning_content"] == "Count them."
    assert [b["type"] for b in full.content_blocks] == ["reasoning", "text"]
    # the "" of the unused field adds no empty reasoning to content chunks
    text_chunks = [c for c in chunks if c.content]
    assert all("reasoning_content" not in c.additional_kwargs for c in text_chunks)


def test_reasoning_in_v1_stream_blocks_stay_apart() -> None:
    events = list(text_stream(["Paris."], reasoning=["The capital ", "is Paris."]))
    wire = Wire().sse(events)
    chunks = list(wire.model(output_version="v1").stream("Capital of France?"))
    full = collect(chunks)
    assert full.content == [
        {"type": "reasoning", "reasoning": "The capital is Paris.", "index": 0},
        {"type": "text", "text": "Paris.", "index": 1},
    ]


# --- tools ----------------------------------------------------------------------------------


def _call_delta(
    index: int, *, id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if id is not None:
        call["id"] = id
        call["type"] = "function"
    if name is not None:
        call["function"]["name"] = name
    return {"tool_calls": [call]}


def _parallel_events(field: str = "reasoning_content") -> list[dict[str, Any]]:
    """Two calls whose argument pieces interleave, after some reasoning."""
    return [
        chunk({"role": "assistant", "content": "", field: ""}),
        chunk({"content": "", field: "Two cities, two calls."}),
        chunk(_call_delta(0, id="call_a", name="get_weather")),
        chunk(_call_delta(1, id="call_b", name="get_weather")),
        chunk(_call_delta(0, args='{"city": ')),
        chunk(_call_delta(1, args='{"city": ')),
        chunk(_call_delta(0, args='"杭州"}')),
        chunk(_call_delta(1, args='"\\u5317\\u4eac"}')),
        chunk({}, "tool_calls"),
        chunk(None, usage={"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}),
    ]


def test_parallel_streamed_tool_calls_stay_apart() -> None:
    wire = Wire().sse(_parallel_events())
    llm = wire.model().bind_tools([get_weather])
    chunks = cast("list[AIMessageChunk]", list(llm.stream("Weather in Hangzhou and Beijing?")))
    indexes = [tc["index"] for c in chunks for tc in c.tool_call_chunks]
    assert set(indexes) == {0, 1}
    full = collect(chunks)
    assert full.tool_calls == [
        {"name": "get_weather", "args": {"city": "杭州"}, "id": "call_a", "type": "tool_call"},
        {"name": "get_weather", "args": {"city": "北京"}, "id": "call_b", "type": "tool_call"},
    ]
    assert full.invalid_tool_calls == []
    assert wire.bodies[0]["stream"] is True


async def test_parallel_streamed_tool_calls_in_v1_blocks() -> None:
    wire = Wire().sse(_parallel_events())
    llm = wire.model(output_version="v1").bind_tools([get_weather])
    chunks = [c async for c in llm.astream("Weather in Hangzhou and Beijing?")]
    blocks_seen = [b for c in chunks for b in cast("list[dict[str, Any]]", c.content)]
    call_pieces = [b for b in blocks_seen if b["type"] == "tool_call_chunk"]
    assert {b["index"] for b in call_pieces} == {"lc_tc_0", "lc_tc_1"}
    full = collect(chunks)
    blocks = full.content
    assert isinstance(blocks, list)
    assert [b["type"] for b in blocks] == ["reasoning", "tool_call", "tool_call"]  # type: ignore[index]
    assert blocks[0]["reasoning"] == "Two cities, two calls."  # type: ignore[index]
    assert [(b["id"], b["args"]) for b in blocks[1:]] == [  # type: ignore[index]
        ("call_a", {"city": "杭州"}),
        ("call_b", {"city": "北京"}),
    ]
    assert [tc["id"] for tc in full.tool_calls] == ["call_a", "call_b"]


def test_calls_sharing_a_wire_index_but_not_an_id_stay_apart() -> None:
    """Some OpenAI-compatible servers send every parallel call at index 0."""
    events = [
        chunk(_call_delta(0, id="call_a", name="get_weather", args='{"city": "A"}')),
        chunk(_call_delta(0, id="call_b", name="get_time", args='{"city": ')),
        chunk(_call_delta(0, args='"B"}')),
        chunk({}, "tool_calls"),
    ]
    full = collect(list(Wire().sse(events).model().stream("go")))
    assert [(c["name"], c["args"], c["id"]) for c in full.tool_calls] == [
        ("get_weather", {"city": "A"}, "call_a"),
        ("get_time", {"city": "B"}, "call_b"),
    ]


def test_repeated_name_and_id_are_not_concatenated() -> None:
    events = [
        chunk(_call_delta(0, id="call_a", name="get_weather", args='{"city"')),
        chunk(_call_delta(0, id="call_a", name="get_weather", args=': "Xi\'an"}')),
        chunk({}, "tool_calls"),
    ]
    full = collect(list(Wire().sse(events).model().stream("go")))
    assert full.tool_calls == [
        {"name": "get_weather", "args": {"city": "Xi'an"}, "id": "call_a", "type": "tool_call"}
    ]


def test_missing_tool_call_ids_are_filled_in() -> None:
    raw = [{"type": "function", "function": {"name": "get_time", "arguments": '{"city": "A"}'}}]
    message = (
        Wire().json(completion("", tool_calls=raw, finish_reason="tool_calls")).model().invoke("t")
    )
    assert message.tool_calls[0]["id"]
    events = [
        chunk({"tool_calls": [{"index": 0, "function": {"name": "get_time", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ]
    streamed = collect(list(Wire().sse(events).model().stream("t")))
    assert streamed.tool_calls[0]["id"]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ('{"city": "Hangzhou"', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ("city=Hangzhou", "not valid JSON"),
    ],
)
def test_invalid_tool_call_json_on_invoke(arguments: str, error: str) -> None:
    raw = [
        {
            "id": "call_x",
            "type": "function",
            "function": {"name": "get_weather", "arguments": arguments},
        }
    ]
    wire = Wire().json(completion(None, tool_calls=raw, finish_reason="tool_calls"))
    message = wire.model().bind_tools([get_weather]).invoke("Weather?")
    assert message.tool_calls == []
    assert len(message.invalid_tool_calls) == 1
    bad = message.invalid_tool_calls[0]
    assert (bad["name"], bad["args"], bad["id"]) == ("get_weather", arguments, "call_x")
    assert error in (bad["error"] or "")
    assert [b["type"] for b in message.content_blocks] == ["invalid_tool_call"]


def test_invalid_tool_call_json_in_stream() -> None:
    events = [
        chunk(_call_delta(0, id="call_ok", name="get_weather", args='{"city": "A"}')),
        chunk(_call_delta(1, id="call_bad", name="get_weather", args="{city: B}")),
        chunk(_call_delta(2, id="call_list", name="get_weather", args="[1, 2]")),
        chunk({}, "tool_calls"),
    ]
    full = collect(list(Wire().sse(events).model().stream("go")))
    assert [c["id"] for c in full.tool_calls] == ["call_ok"]
    assert [c["id"] for c in full.invalid_tool_calls] == ["call_bad", "call_list"]


def test_unicode_arguments_come_back_unescaped() -> None:
    raw = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "\\u4f60\\u597d"}'},
        },
        {
            "id": "c2",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "こんにちは"}'},
        },
    ]
    message = Wire().json(completion("", tool_calls=raw)).model().invoke("t")
    assert [c["args"]["city"] for c in message.tool_calls] == ["你好", "こんにちは"]


def test_arguments_sent_as_an_object_are_accepted() -> None:
    raw = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "A"}},
        }
    ]
    message = Wire().json(completion("", tool_calls=raw)).model().invoke("t")
    assert message.tool_calls[0]["args"] == {"city": "A"}


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("get_time", {"type": "function", "function": {"name": "get_time"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_on_the_wire(choice: Any, sent: Any) -> None:
    wire = Wire().json(completion())
    wire.model().bind_tools(
        [get_weather, get_time], tool_choice=choice, parallel_tool_calls=False
    ).invoke("t")
    body = wire.bodies[0]
    assert body["tool_choice"] == sent
    assert body["parallel_tool_calls"] is False
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]


def test_tool_choice_none_or_false_sends_nothing_and_strict_is_passed() -> None:
    wire = Wire().json(completion()).json(completion())
    llm = wire.model()
    llm.bind_tools([get_weather]).invoke("t")
    llm.bind_tools([get_weather], tool_choice=False, strict=True).invoke("t")
    assert "tool_choice" not in wire.bodies[0]
    assert "tool_choice" not in wire.bodies[1]
    assert wire.bodies[1]["tools"][0]["function"]["strict"] is True


def test_bad_tool_choice_is_a_clear_error() -> None:
    llm = Wire().model()
    with pytest.raises(ValueError, match="get_weather"):
        llm.bind_tools([get_weather], tool_choice="get_wether")
    with pytest.raises(TypeError, match="tool_choice"):
        llm.bind_tools([get_weather], tool_choice=3)  # type: ignore[arg-type]


# --- structured output ----------------------------------------------------------------------


class Joke(BaseModel):
    setup: str
    punchline: str


JOKE = {"setup": "Why?", "punchline": "Because."}


def test_structured_output_methods_on_the_wire() -> None:
    call = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "Joke", "arguments": json.dumps(JOKE)},
        }
    ]
    wire = Wire().json(completion("", tool_calls=call)).json(completion(json.dumps(JOKE)))
    llm = wire.model()
    assert llm.with_structured_output(Joke).invoke("joke") == Joke(**JOKE)
    assert llm.with_structured_output(Joke, method="json_mode").invoke("joke as JSON") == Joke(
        **JOKE
    )
    tools_body, json_body = wire.bodies
    assert tools_body["tool_choice"] == {"type": "function", "function": {"name": "Joke"}}
    assert tools_body["parallel_tool_calls"] is False
    assert "ls_structured_output_format" not in tools_body
    assert json_body["response_format"] == {"type": "json_object"}


def test_structured_output_include_raw_keeps_parse_errors() -> None:
    wire = Wire().json(completion("not json at all"))
    result = (
        wire.model().with_structured_output(Joke, method="json_mode", include_raw=True).invoke("j")
    )
    assert isinstance(result, dict)
    assert isinstance(result["raw"], AIMessage)
    assert result["parsed"] is None
    assert result["parsing_error"] is not None


def test_json_schema_choices_null_is_a_clear_empty_response_error() -> None:
    wire = Wire().json(facts.CHOICES_NULL_BODY, headers={"x-request-id": facts.REQUEST_ID})
    structured = wire.model().with_structured_output(Joke, method="json_schema")
    with pytest.raises(EmptyResponseError) as info:
        structured.invoke("Tell me a joke")
    error = info.value
    assert "json_schema" in str(error)
    assert 'method="function_calling"' in str(error)
    assert 'method="json_mode"' in str(error)
    assert error.request_id == facts.REQUEST_ID
    assert error.model == "Qwen/Qwen3-235B-A22B-Instruct-2507"
    body = wire.bodies[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Joke"


def test_json_schema_choices_null_in_a_stream() -> None:
    wire = Wire().sse([facts.CHOICES_NULL_BODY])
    structured = wire.model().with_structured_output(Joke, method="json_schema")
    with pytest.raises(EmptyResponseError, match="json_schema"):
        list(structured.stream("Tell me a joke"))


def test_empty_choices_without_json_schema_is_still_typed() -> None:
    with pytest.raises(EmptyResponseError, match="no choices"):
        Wire().json({**facts.CHOICES_NULL_BODY, "choices": []}).model().invoke("hi")


def test_empty_content_answer_is_returned_as_is() -> None:
    message = Wire().json(completion("", finish_reason="stop")).model().invoke("hi")
    assert message.content == ""
    assert message.response_metadata["finish_reason"] == "stop"


# --- thinking models ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "Qwen/QwQ-32B",
        "Qwen/Qwen3-235B-A22B-Thinking-2507",
        "Qwen/Qwen3-32B",
        "Qwen/Qwen3-8B:DashScope",
    ],
)
def test_known_thinking_models_stream_under_invoke_in_one_request(model: str) -> None:
    events = list(text_stream(["4"], reasoning=["2+2 ", "is 4"]))
    wire = Wire().sse([{**e, "model": model} for e in events])
    message = wire.model(model=model).invoke("2+2?")
    assert len(wire.requests) == 1
    assert wire.bodies[0]["stream"] is True
    assert wire.bodies[0]["stream_options"] == {"include_usage": True}
    assert isinstance(message, AIMessage)
    assert message.content == "4"
    assert message.additional_kwargs["reasoning_content"] == "2+2 is 4"
    assert message.usage_metadata == {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    assert message.response_metadata["model_name"] == model
    assert message.response_metadata["finish_reason"] == "stop"


async def test_known_thinking_model_ainvoke_streams_in_one_request() -> None:
    wire = Wire().sse(list(text_stream(["4"], reasoning=["think"])))
    message = await wire.model(model="Qwen/QwQ-32B").ainvoke("2+2?")
    assert len(wire.requests) == 1
    assert wire.bodies[0]["stream"] is True
    assert message.content == "4"


def test_hybrid_model_with_thinking_off_is_not_streamed() -> None:
    wire = Wire().json(completion("4", model="Qwen/Qwen3-32B"))
    llm = wire.model(model="Qwen/Qwen3-32B", enable_thinking=False, thinking_budget=256)
    llm.invoke("2+2?")
    body = wire.bodies[0]
    assert "stream" not in body
    assert body["enable_thinking"] is False  # top level, not inside extra_body
    assert body["thinking_budget"] == 256


def test_thinking_switch_per_call() -> None:
    wire = Wire().json(completion("4"))
    wire.model(model="Qwen/Qwen3-32B").invoke("2+2?", enable_thinking=False)
    assert wire.bodies[0]["enable_thinking"] is False
    assert "stream" not in wire.bodies[0]


@pytest.mark.parametrize(
    "body",
    [
        facts.error_envelope(facts.THINKING_ONLY_400, code="invalid_parameter_error"),
        facts.error_envelope(facts.HYBRID_THINKING_400, code="invalid_parameter_error"),
        facts.errors_envelope(facts.THINKING_ONLY_400),
    ],
    ids=["thinking-only", "hybrid", "errors-envelope"],
)
def test_unknown_model_that_refuses_non_streaming_is_learned(body: dict[str, Any]) -> None:
    model = "SomeOrg/Brand-New-Reasoner"
    wire = Wire().json(body, status=400).sse(list(text_stream(["ok"], reasoning=["hm"])))
    wire.sse(list(text_stream(["again"])))
    llm = wire.model(model=model)
    first = llm.invoke("hi")
    assert first.content == "ok"
    assert first.additional_kwargs["reasoning_content"] == "hm"
    assert [b.get("stream") for b in wire.bodies] == [None, True]
    # Learned for the process: a second instance streams at once, with no failed request.
    second = wire.model(model=model).invoke("hi")
    assert second.content == "again"
    assert [b.get("stream") for b in wire.bodies] == [None, True, True]


async def test_learned_streaming_async() -> None:
    model = "SomeOrg/Async-Reasoner"
    body = facts.error_envelope(facts.THINKING_ONLY_400, code="invalid_parameter_error")
    wire = Wire().json(body, status=400).sse(list(text_stream(["ok"])))
    assert (await wire.model(model=model).ainvoke("hi")).content == "ok"
    assert [b.get("stream") for b in wire.bodies] == [None, True]


def test_learning_is_per_base_url() -> None:
    model = "SomeOrg/Reasoner"
    body = facts.error_envelope(facts.THINKING_ONLY_400, code="invalid_parameter_error")
    wire = Wire().json(body, status=400).sse(list(text_stream(["ok"]))).json(completion("plain"))
    wire.model(model=model).invoke("hi")
    other_host = wire.model(model=model, base_url="https://ms-ens-1.api-inference.modelscope.cn/v1")
    assert other_host.invoke("hi").content == "plain"
    assert "stream" not in wire.bodies[-1]


def test_thinking_model_invoke_reports_tokens_to_callbacks() -> None:
    class Tokens(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []
            self.chunks: list[Any] = []

        def on_llm_new_token(
            self, token: str | list[str | dict[str, Any]], *, chunk: Any = None, **kwargs: Any
        ) -> None:
            self.tokens.append(str(token))
            self.chunks.append(chunk)

    handler = Tokens()
    wire = Wire().sse(list(text_stream(["Hel", "lo"], reasoning=["hm"])))
    wire.model(model="Qwen/QwQ-32B").invoke("hi", config={"callbacks": [handler]})
    assert "".join(handler.tokens) == "Hello"
    assert all(isinstance(c, ChatGenerationChunk) for c in handler.chunks)


# --- metadata -------------------------------------------------------------------------------


def test_invoke_metadata() -> None:
    wire = Wire().json(
        completion("hi", model="qwen2.5-coder-32b-instruct"),
        headers={**facts.RATELIMIT_HEADERS, "x-request-id": facts.REQUEST_ID},
    )
    message = wire.model(model="Qwen/Qwen2.5-Coder-32B-Instruct").invoke("hi")
    metadata = message.response_metadata
    assert metadata["model_name"] == "Qwen/Qwen2.5-Coder-32B-Instruct"  # the requested id
    assert metadata["served_model_name"] == "qwen2.5-coder-32b-instruct"
    assert metadata["finish_reason"] == "stop"
    assert metadata["request_id"] == facts.REQUEST_ID
    assert metadata["model_provider"] == "modelscope"
    assert metadata["ratelimit"] == {
        "requests_limit": 2000,
        "requests_remaining": 1999,
        "model_requests_limit": 500,
        "model_requests_remaining": 0,
    }
    assert message.usage_metadata == {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}


def test_no_ratelimit_key_without_headers() -> None:
    message = Wire().json(completion()).model().invoke("hi")
    assert "ratelimit" not in message.response_metadata


def test_usage_details() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 15},
    }
    message = Wire().json(completion(usage=usage)).model().invoke("hi")
    assert message.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 20,
        "total_tokens": 30,
        "input_token_details": {"cache_read": 4},
        "output_token_details": {"reasoning": 15},
    }


@pytest.mark.parametrize("usage_on_finish_chunk", [False, True])
def test_stream_metadata_on_exactly_one_chunk(usage_on_finish_chunk: bool) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    events = [chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"})]
    if usage_on_finish_chunk:
        events.append(chunk({}, "stop", usage=usage))
    else:
        events += [chunk({}, "stop"), chunk(None, usage=usage)]
    wire = Wire().sse(events, headers={**facts.RATELIMIT_HEADERS, "x-request-id": "rid-7"})
    chunks = list(wire.model().stream("hi"))
    assert wire.bodies[0]["stream_options"] == {"include_usage": True}
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    for key in ("model_name", "served_model_name", "finish_reason", "request_id", "ratelimit"):
        assert sum(key in c.response_metadata for c in chunks) == 1, key
    full = collect(chunks)
    assert full.content == "Hello"
    assert full.usage_metadata == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert full.response_metadata["model_name"] == "Qwen/Qwen3-235B-A22B-Instruct-2507"
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["request_id"] == "rid-7"
    assert full.response_metadata["ratelimit"]["model_requests_remaining"] == 0
    assert full.response_metadata["model_provider"] == "modelscope"
    assert chunks[-1].chunk_position == "last"


def test_stream_usage_can_be_turned_off() -> None:
    """Off means not reported: the usage is still asked for (§4, see test_chat_stream_2026)."""
    wire = Wire().sse(list(text_stream(["a"]))).sse(list(text_stream(["b"])))
    first = list(wire.model(stream_usage=False).stream("hi"))
    second = list(wire.model().stream("hi", stream_usage=False))
    assert all(c.usage_metadata is None for c in first + second)
    assert all(b["stream_options"] == {"include_usage": True} for b in wire.bodies)


def test_model_override_per_call() -> None:
    wire = Wire().json(completion()).sse(list(text_stream(["x"])))
    llm = wire.model()
    assert llm.invoke("hi", model="Qwen/Qwen2.5-72B-Instruct").response_metadata["model_name"] == (
        "Qwen/Qwen2.5-72B-Instruct"
    )
    full = collect(list(llm.stream("hi", model="deepseek-ai/DeepSeek-V3.2")))
    assert full.response_metadata["model_name"] == "deepseek-ai/DeepSeek-V3.2"
    assert [b["model"] for b in wire.bodies] == [
        "Qwen/Qwen2.5-72B-Instruct",
        "deepseek-ai/DeepSeek-V3.2",
    ]


def test_body_parameters() -> None:
    wire = Wire().json(completion()).json(completion())
    llm = wire.model(
        temperature=0,
        top_p=0.5,
        max_tokens=10,
        seed=7,
        stop=["END"],
        presence_penalty=0.1,
        frequency_penalty=0.2,
        extra_body={"top_k": 20},
    )
    llm.invoke("hi")
    llm.invoke("hi", stop=["STOP"], temperature=1.0)
    first, second = wire.bodies
    assert {
        k: first[k]
        for k in (
            "temperature",
            "top_p",
            "max_tokens",
            "seed",
            "stop",
            "presence_penalty",
            "frequency_penalty",
            "top_k",
        )
    } == {
        "temperature": 0,
        "top_p": 0.5,
        "max_tokens": 10,
        "seed": 7,
        "stop": ["END"],
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "top_k": 20,
    }
    assert (second["stop"], second["temperature"]) == (["STOP"], 1.0)
    assert "stream" not in first
    assert first["messages"] == [{"role": "user", "content": "hi"}]


def test_callbacks_get_every_chunk() -> None:
    seen: list[BaseMessageChunk] = []

    class Handler(BaseCallbackHandler):
        def on_llm_new_token(
            self, token: str | list[str | dict[str, Any]], *, chunk: Any = None, **kwargs: Any
        ) -> None:
            seen.append(chunk.message)

    wire = Wire().sse(list(text_stream(["a", "b", "c"])))
    chunks = list(wire.model().stream("hi", config={"callbacks": [Handler()]}))
    assert [m.content for m in seen] == [c.content for c in chunks]


# --- errors ---------------------------------------------------------------------------------


def test_errors_envelope_becomes_typed_errors_with_request_id_and_model() -> None:
    wire = Wire().json(facts.errors_envelope(facts.AUTH_FAILED), status=401)
    with pytest.raises(AuthenticationError) as info:
        wire.model(model="Qwen/Qwen3-32B", enable_thinking=False).invoke("hi")
    assert info.value.request_id == facts.REQUEST_ID
    assert info.value.model == "Qwen/Qwen3-32B"
    assert info.value.status_code == 401
    assert facts.AUTH_FAILED in str(info.value)
    assert TOKEN not in str(info.value)


def test_quota_429_is_not_retried() -> None:
    wire = Wire().json(facts.errors_envelope(facts.QUOTA_DAILY), status=429)
    with pytest.raises(QuotaExceededError) as info:
        wire.model(model=facts.MODEL, max_retries=2, enable_thinking=False).invoke("hi")
    assert info.value.scope == "model"
    assert info.value.model == facts.MODEL
    assert len(wire.requests) == 1


def test_errors_on_a_stream_request() -> None:
    wire = Wire().json(
        facts.error_envelope(facts.INVALID_MODEL, code="invalid_parameter_error"), status=400
    )
    with pytest.raises(ModelNotFoundError) as info:
        list(wire.model(model=facts.MODEL).stream("hi"))
    assert info.value.request_id == facts.REQUEST_ID
    assert info.value.model == facts.MODEL


def test_error_event_mid_stream() -> None:
    events: list[dict[str, Any] | str] = [
        chunk({"content": "par"}),
        {"error": {"message": "upstream failed", "code": 500}, "request_id": "rid-9"},
    ]
    received: list[AIMessageChunk] = []
    stream = Wire().sse(events, done=False).model().stream("hi")
    with pytest.raises(ServerError, match="upstream failed"):
        received.extend(stream)
    assert [c.content for c in received] == ["par"]


def test_stream_ending_without_done_or_finish_is_interrupted() -> None:
    events: list[dict[str, Any] | str] = [chunk({"content": "half an ans"})]
    received: list[AIMessageChunk] = []
    stream = Wire().sse(events, done=False).model().stream("hi")
    with pytest.raises(StreamInterruptedError) as info:
        received.extend(stream)
    assert received[0].content == "half an ans"
    assert info.value.model == "Qwen/Qwen3-235B-A22B-Instruct-2507"


def test_non_streaming_answer_to_a_stream_request_is_accepted() -> None:
    """A proxy may answer `stream: true` with one JSON body."""
    wire = Wire().json(completion("whole", reasoning="r"))
    full = collect(list(wire.model().stream("hi")))
    assert full.content == "whole"
    assert full.additional_kwargs["reasoning_content"] == "r"
    assert full.usage_metadata is not None


def test_model_is_a_chat_model_usable_with_a_bare_string() -> None:
    assert isinstance(Wire().json(completion("ok")).model(), ChatModelScope)


def test_fast_text_chunks_equal_constructed_ones() -> None:
    from langchain_core.outputs import ChatGenerationChunk

    from langchain_modelscope._chat_stream import text_chunk

    fast = text_chunk("hi", {"reasoning_content": "r"})
    built = ChatGenerationChunk(
        message=AIMessageChunk(
            content="hi",
            additional_kwargs={"reasoning_content": "r"},
            response_metadata={"model_provider": "modelscope"},
        )
    )
    assert fast == built
    assert fast.text == "hi"
    other = text_chunk("x", {})
    assert (
        cast(AIMessageChunk, other.message).tool_calls
        is not cast(AIMessageChunk, fast.message).tool_calls
    )  # nothing shared
    assert other.message.response_metadata is not fast.message.response_metadata


def test_json_mode_without_schema_and_typed_dict_schema() -> None:
    from typing_extensions import TypedDict

    class JokeDict(TypedDict):
        setup: str
        punchline: str

    call = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "JokeDict", "arguments": json.dumps(JOKE)},
        }
    ]
    wire = Wire().json(completion(json.dumps(JOKE))).json(completion("", tool_calls=call))
    llm = wire.model()
    assert llm.with_structured_output(None, method="json_mode").invoke("JSON joke") == JOKE
    assert llm.with_structured_output(JokeDict).invoke("joke") == JOKE
    with pytest.raises(ValueError, match="needs a schema"):
        llm.with_structured_output(None)
    with pytest.raises(ValueError, match="method must be"):
        llm.with_structured_output(Joke, method="xml")  # type: ignore[arg-type]
