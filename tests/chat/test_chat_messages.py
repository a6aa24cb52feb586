"""LangChain messages on the wire: roles, names, parts, images, tool calls, tool results."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_modelscope._chat_messages import message_to_wire, messages_to_wire
from tests.chat.chat_wire import PNG_BASE64, Wire, completion

pytestmark = pytest.mark.disable_socket

PNG_B64 = PNG_BASE64
IMAGE_URL = "https://example.com/cat.png"


def test_roles_names_and_plain_content() -> None:
    wire = messages_to_wire(
        [
            SystemMessage("Be brief."),
            HumanMessage("Hi", name="alice"),
            AIMessage("Hello", name="bot"),
            ChatMessage(role="developer", content="dev note"),
            ChatMessage(role="user", content="as is"),
        ]
    )
    assert wire == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "alice"},
        {"role": "assistant", "content": "Hello", "name": "bot"},
        {"role": "system", "content": "dev note"},  # never `developer` (§4)
        {"role": "user", "content": "as is"},
    ]


def test_text_only_parts_become_one_string() -> None:
    message = HumanMessage(content=["first", {"type": "text", "text": "second"}])
    assert message_to_wire(message) == {"role": "user", "content": "first\nsecond"}


@pytest.mark.parametrize(
    ("block", "url"),
    [
        (
            {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
            f"data:image/png;base64,{PNG_B64}",
        ),
        ({"type": "image", "url": IMAGE_URL}, IMAGE_URL),
        (
            {"type": "image", "source_type": "base64", "data": PNG_B64, "mime_type": "image/png"},
            f"data:image/png;base64,{PNG_B64}",
        ),
        ({"type": "image_url", "image_url": {"url": IMAGE_URL}}, IMAGE_URL),
        ({"type": "image_url", "image_url": IMAGE_URL}, IMAGE_URL),
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
            },
            f"data:image/png;base64,{PNG_B64}",
        ),
    ],
    ids=["standard-base64", "standard-url", "v0-base64", "openai-url", "openai-str", "anthropic"],
)
def test_images_become_image_url_parts(block: dict[str, Any], url: str) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "What is this?"}, block])
    assert message_to_wire(message)["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]


def test_image_url_detail_is_kept() -> None:
    block = {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}}
    content = message_to_wire(HumanMessage(content=[block]))["content"]
    assert content == [{"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}}]


def test_bad_image_blocks_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="mime_type"):
        message_to_wire(HumanMessage(content=[{"type": "image", "base64": PNG_B64}]))
    with pytest.raises(ValueError, match="no url"):
        message_to_wire(HumanMessage(content=[{"type": "image_url", "image_url": {}}]))


def test_ai_tool_calls_and_invalid_tool_calls_are_sent_back() -> None:
    message = AIMessage(
        content="",
        tool_calls=[{"name": "lookup", "args": {"city": "杭州"}, "id": "call_1"}],
        invalid_tool_calls=[
            {
                "name": "lookup",
                "args": "{city: bad",
                "id": "call_2",
                "error": "bad json",
                "type": "invalid_tool_call",
            }
        ],
    )
    wire = message_to_wire(message)
    assert wire["role"] == "assistant"
    assert wire["content"] == ""
    assert wire["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"city": "杭州"}'},
        },
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "lookup", "arguments": "{city: bad"},
        },
    ]


def test_reasoning_is_never_sent_back() -> None:
    # As returned by invoke (v0) ...
    v0 = AIMessage(
        content="42",
        additional_kwargs={"reasoning_content": "Let me think..."},
        response_metadata={"model_provider": "modelscope"},
    )
    assert message_to_wire(v0) == {"role": "assistant", "content": "42"}
    # ... and in v1 content blocks, with the tool call kept from `tool_calls`.
    v1 = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "Let me think..."},
            {"type": "text", "text": "Calling."},
            {"type": "tool_call", "name": "f", "args": {}, "id": "call_9"},
        ],
        tool_calls=[{"name": "f", "args": {}, "id": "call_9"}],
        response_metadata={"output_version": "v1", "model_provider": "modelscope"},
    )
    wire = message_to_wire(v1)
    assert wire["content"] == "Calling."
    assert [c["id"] for c in wire["tool_calls"]] == ["call_9"]
    assert "reasoning" not in json.dumps(wire)


def test_tool_message_variants() -> None:
    assert message_to_wire(ToolMessage("72F", tool_call_id="call_1", name="weather")) == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "72F",
    }
    listed = ToolMessage([{"type": "text", "text": "a"}, "b"], tool_call_id="call_2")
    assert message_to_wire(listed)["content"] == "a\nb"
    failed = ToolMessage("division by zero", tool_call_id="call_3", status="error")
    assert message_to_wire(failed)["content"] == "Error: division by zero"
    already = ToolMessage("Error: timeout", tool_call_id="call_4", status="error")
    assert message_to_wire(already)["content"] == "Error: timeout"


def test_unsupported_message_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="RemoveMessage"):
        message_to_wire(RemoveMessage(id="x"))


def test_request_body_is_compact_utf8_json() -> None:
    """Byte-exact bodies let recorded cassettes match (VCR compares request bodies)."""
    wire = Wire().json(completion("好"))
    wire.model().invoke([HumanMessage("你好")])
    body = json.loads(wire.requests[0].content)
    assert (
        wire.requests[0].content
        == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    )
    assert "你好".encode() in wire.requests[0].content
