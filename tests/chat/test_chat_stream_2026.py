"""Streams and requests as the 2026 service sends and wants them (modelscope-api.md §4).

Scripted SSE bodies written from the facts sheet: every delta carries a zero ``usage``
placeholder and ``role``/``tool_calls``/``function_calls`` as null when unused; the real usage
comes last in a ``choices: []`` chunk, and only when ``stream_options.include_usage`` is sent.
The request side: ``system`` never ``developer``, ``max_tokens`` never ``max_completion_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import (
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)

from tests.chat.chat_wire import Wire, chunk, collect, only_usage

pytestmark = pytest.mark.disable_socket

#: The placeholder every 2026 delta carries (§4).
ZERO_USAGE: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
FINAL_USAGE: dict[str, int] = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
NULL_FIELDS: dict[str, None] = {"role": None, "tool_calls": None, "function_calls": None}


def delta_2026(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """One 2026 delta event: unused fields null, a zero usage placeholder."""
    return chunk({**NULL_FIELDS, **delta}, finish_reason, usage=dict(ZERO_USAGE))


def text_events_2026(pieces: Sequence[str], *, final_usage: bool = True) -> list[dict[str, Any]]:
    """A text answer as §4 describes the 2026 stream."""
    events = [delta_2026({"role": "assistant", "content": ""})]
    events += [delta_2026({"content": piece}) for piece in pieces]
    events.append(delta_2026({"content": ""}, "stop"))
    if final_usage:
        events.append(chunk(None, usage=dict(FINAL_USAGE)))
    return events


# --- usage ----------------------------------------------------------------------------------


def test_usage_is_the_final_usage_on_exactly_one_chunk() -> None:
    wire = Wire().sse(text_events_2026(["Hel", "lo"]))
    chunks = list(wire.model().stream("hi"))
    assert only_usage(chunks) == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
    full = collect(chunks)
    assert full.content == "Hello"
    assert full.usage_metadata == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}
    assert full.response_metadata["finish_reason"] == "stop"


async def test_usage_is_the_final_usage_async() -> None:
    wire = Wire().sse(text_events_2026(["a", "b", "c"]))
    full = collect([c async for c in wire.model().astream("hi")])
    assert full.usage_metadata == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}


def test_invoke_of_a_thinking_model_reports_the_final_usage() -> None:
    events = [
        delta_2026({"role": "assistant", "content": "", "reasoning_content": ""}),
        delta_2026({"content": "", "reasoning_content": "Rayleigh scattering."}),
        delta_2026({"content": "Blue light scatters.", "reasoning_content": ""}),
        delta_2026({"content": ""}, "stop"),
        chunk(None, usage=dict(FINAL_USAGE)),
    ]
    wire = Wire().sse(events)
    message = wire.model(model="Qwen/Qwen3-235B-A22B-Thinking-2507").invoke("Why blue?")
    assert message.content == "Blue light scatters."
    assert message.additional_kwargs["reasoning_content"] == "Rayleigh scattering."
    assert message.usage_metadata == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}


def test_a_zero_placeholder_is_never_taken_for_the_usage() -> None:
    """Without the final usage chunk, only placeholders came: no usage is known."""
    wire = Wire().sse(text_events_2026(["Hi"], final_usage=False))
    chunks = list(wire.model().stream("hi"))
    assert all(c.usage_metadata is None for c in chunks)
    assert collect(chunks).content == "Hi"


def test_a_placeholder_after_the_real_usage_does_not_replace_it() -> None:
    events = text_events_2026(["Hi"])
    events.append(delta_2026({"content": ""}))  # a stray delta after the usage chunk
    full = collect(list(Wire().sse(events).model().stream("hi")))
    assert full.usage_metadata == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}


@pytest.mark.parametrize("where", ["constructor", "call"])
def test_include_usage_is_always_sent_and_stream_usage_false_only_hides_it(where: str) -> None:
    """The service sends the real usage only when asked (§4): always ask; `stream_usage=False`
    keeps it off the chunks."""
    wire = Wire().sse(text_events_2026(["a"]))
    if where == "constructor":
        chunks = list(wire.model(stream_usage=False).stream("hi"))
    else:
        chunks = list(wire.model().stream("hi", stream_usage=False))
    assert wire.bodies[0]["stream_options"] == {"include_usage": True}
    assert all(c.usage_metadata is None for c in chunks)


def test_include_usage_is_sent_on_streamed_invoke() -> None:
    wire = Wire().sse(text_events_2026(["a"]))
    wire.model(model="Qwen/Qwen3-235B-A22B-Thinking-2507").invoke("hi")
    assert wire.bodies[0]["stream"] is True
    assert wire.bodies[0]["stream_options"] == {"include_usage": True}


def test_usage_chunk_without_choices_key_and_null_choices_are_tolerated() -> None:
    events = [
        delta_2026({"role": "assistant", "content": "ok"}),
        delta_2026({}, "stop"),
        {"id": "x", "object": "chat.completion.chunk", "choices": None, "usage": dict(ZERO_USAGE)},
        {"id": "x", "object": "chat.completion.chunk", "usage": dict(FINAL_USAGE)},
    ]
    full = collect(list(Wire().sse(events).model().stream("hi")))
    assert full.content == "ok"
    assert full.usage_metadata == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}


# --- tool-call deltas -----------------------------------------------------------------------


def test_bare_tool_call_deltas_make_one_call_with_a_generated_id() -> None:
    """Deltas without `index` or `id` (§4, reported): one call, an id made up here."""
    events = [
        delta_2026({"role": "assistant", "content": ""}),
        delta_2026(
            {
                "tool_calls": [
                    {"type": "function", "function": {"name": "get_weather", "arguments": ""}}
                ]
            }
        ),
        delta_2026({"tool_calls": [{"function": {"arguments": '{"city": '}}]}),
        delta_2026({"tool_calls": [{"function": {"arguments": '"杭州"}'}}]}),
        delta_2026({"content": ""}, "tool_calls"),
        chunk(None, usage=dict(FINAL_USAGE)),
    ]
    full = collect(list(Wire().sse(events).model().stream("weather?")))
    assert len(full.tool_calls) == 1
    call = full.tool_calls[0]
    assert call["name"] == "get_weather"
    assert call["args"] == {"city": "杭州"}
    assert str(call["id"]).startswith("call_")
    assert full.invalid_tool_calls == []
    assert full.usage_metadata == {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}


def test_bare_tool_call_deltas_with_a_null_function_piece() -> None:
    events = [
        delta_2026({"tool_calls": [{"function": {"name": "get_time", "arguments": "{}"}}]}),
        delta_2026({"tool_calls": [{"function": None}]}),
        delta_2026({"tool_calls": [None]}),
        delta_2026({}, "tool_calls"),
    ]
    full = collect(list(Wire().sse(events).model().stream("time?")))
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("get_time", {})]


def test_a_second_bare_call_after_complete_arguments_is_a_second_call() -> None:
    events = [
        delta_2026({"tool_calls": [{"function": {"name": "get_weather", "arguments": ""}}]}),
        delta_2026({"tool_calls": [{"function": {"arguments": '{"city": "A"}'}}]}),
        delta_2026({"tool_calls": [{"function": {"name": "get_weather", "arguments": ""}}]}),
        delta_2026({"tool_calls": [{"function": {"arguments": '{"city": "B"}'}}]}),
        delta_2026({}, "tool_calls"),
    ]
    full = collect(list(Wire().sse(events).model().stream("weather?")))
    assert [c["args"] for c in full.tool_calls] == [{"city": "A"}, {"city": "B"}]
    assert len({c["id"] for c in full.tool_calls}) == 2


def test_a_name_repeated_mid_arguments_stays_one_bare_call() -> None:
    events = [
        delta_2026({"tool_calls": [{"function": {"name": "get_weather", "arguments": '{"ci'}}]}),
        delta_2026({"tool_calls": [{"function": {"name": "get_weather", "arguments": 'ty": '}}]}),
        delta_2026({"tool_calls": [{"function": {"arguments": '"A"}'}}]}),
        delta_2026({}, "tool_calls"),
    ]
    full = collect(list(Wire().sse(events).model().stream("weather?")))
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("get_weather", {"city": "A"})]


# --- the request side -----------------------------------------------------------------------


def test_developer_role_is_sent_as_system() -> None:
    """The service answers 400/403 to `developer` (§4)."""
    wire = Wire().sse(text_events_2026(["ok"]))
    messages: list[BaseMessage] = [
        ChatMessage(role="developer", content="Be brief."),
        SystemMessage(
            content="Answer in French.", additional_kwargs={"__openai_role__": "developer"}
        ),
        HumanMessage(content="hi"),
    ]
    list(wire.model().stream(messages))
    sent = wire.bodies[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "system", "user"]


def test_developer_role_from_a_message_dict() -> None:
    wire = Wire().sse(text_events_2026(["ok"]))
    list(wire.model().stream([{"role": "developer", "content": "Be brief."}, ("human", "hi")]))
    assert [m["role"] for m in wire.bodies[0]["messages"]] == ["system", "user"]


@pytest.mark.parametrize(
    "how",
    ["call", "model_kwargs", "extra_body", "constructor"],
)
def test_max_completion_tokens_is_sent_as_max_tokens(how: str) -> None:
    wire = Wire().sse(text_events_2026(["ok"]))
    if how == "call":
        list(wire.model().stream("hi", max_completion_tokens=64))
    elif how == "model_kwargs":
        list(wire.model(model_kwargs={"max_completion_tokens": 64}).stream("hi"))
    elif how == "extra_body":
        list(wire.model(extra_body={"max_completion_tokens": 64}).stream("hi"))
    else:
        list(wire.model(max_completion_tokens=64).stream("hi"))
    body = wire.bodies[0]
    assert "max_completion_tokens" not in body
    assert body["max_tokens"] == 64


def test_a_per_call_max_completion_tokens_beats_the_instance_max_tokens() -> None:
    wire = Wire().sse(text_events_2026(["ok"]))
    list(wire.model(max_tokens=512).stream("hi", max_completion_tokens=64))
    assert wire.bodies[0]["max_tokens"] == 64
    assert "max_completion_tokens" not in wire.bodies[0]
