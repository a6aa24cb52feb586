"""LangChain messages to ModelScope's OpenAI wire format and back.

Content parts are converted with langchain-core's own helpers (`convert_to_openai_data_block`
for standard image/file/audio blocks); this module adds what core lacks for ModelScope:
invalid tool calls are sent back, reasoning blocks are not, tool results are plain strings where
possible, ``reasoning_content``/``reasoning`` are read from answers, and v1 content blocks of
streamed tool calls get their own indexes (the "v1 index trap", see `_translate_chunk`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
    is_data_content_block,
)
from langchain_core.messages import content as types
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.block_translators import register_translator
from langchain_core.messages.block_translators.openai import convert_to_openai_data_block
from langchain_core.messages.tool import invalid_tool_call as make_invalid_call
from langchain_core.messages.tool import tool_call as make_tool_call

#: ``response_metadata["model_provider"]``: selects this module's content-block translator.
PROVIDER: Final = "modelscope"

#: Assistant content blocks that are not text the model said: never sent back as content.
_NOT_CONTENT: Final = frozenset(
    {
        "reasoning",
        "thinking",
        "redacted_thinking",
        "reasoning_content",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "tool_use",
        "server_tool_call",
        "server_tool_call_chunk",
        "server_tool_result",
        "function_call",
    }
)


# --- LangChain -> wire ----------------------------------------------------------------------

#: Roles ModelScope refuses, and what to send instead: it answers 400/403 to ``developer``
#: (modelscope-api.md §4). `SystemMessage` goes out as ``system`` whatever its
#: ``__openai_role__`` says.
_WIRE_ROLES: Final = {"developer": "system"}


def _convert_part(block: Any) -> dict[str, Any] | None:
    """One content part in OpenAI chat-completions form; None to drop it."""
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, Mapping):
        raise TypeError(f"content parts must be str or dict, got {type(block).__name__}")
    kind = block.get("type")
    if kind == "text":
        if "text" not in block:
            raise ValueError(f"a text content block has no 'text' key: {dict(block)!r}")
        return {"type": "text", "text": block["text"]}
    if kind == "image_url":
        image = block.get("image_url")
        if isinstance(image, str):
            image = {"url": image}
        if not isinstance(image, Mapping) or not image.get("url"):
            raise ValueError(f"an image_url content block has no url: {dict(block)!r}")
        return {"type": "image_url", "image_url": dict(image)}
    if kind in _NOT_CONTENT:
        return None
    if kind == "non_standard" and isinstance(block.get("value"), Mapping):
        return _convert_part(block["value"])
    part: dict[str, Any] = dict(block)
    if is_data_content_block(part):
        return convert_to_openai_data_block(part)
    if kind == "image" and isinstance(source := block.get("source"), Mapping):
        # Anthropic-style image blocks.
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        elif source.get("type") == "url":
            url = str(source.get("url"))
        else:
            raise ValueError(f"unsupported image source {dict(source)!r}; use base64 or url")
        return {"type": "image_url", "image_url": {"url": url}}
    return part  # anything else (input_audio, video_url, ...) is the server's to judge


def _content(content: str | list[str | dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Wire content: a string, or parts; text-only part lists become one string."""
    if isinstance(content, str):
        return content
    parts = [p for p in (_convert_part(b) for b in content) if p is not None]
    if all(p.get("type") == "text" for p in parts):
        return "\n".join(str(p["text"]) for p in parts)
    return parts


def _wire_tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.get("id") or new_call_id(),
        "type": "function",
        "function": {"name": call["name"], "arguments": _tool_arguments(call)},
    }


def _tool_arguments(call: ToolCall) -> str:
    """A tool call's arguments as the wire's JSON text; an argument JSON cannot carry (a
    datetime, a set, an object) is named in a `TypeError` before any request."""
    args = call["args"]
    try:
        return json.dumps(args, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        items = args.items() if isinstance(args, Mapping) else [("(all)", args)]
        for name, value in items:
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise TypeError(
                    f"argument {name!r} of the {call['name']!r} tool call is not "
                    f"JSON-serializable ({type(value).__name__}: {_short(value)}); tool "
                    "arguments go on the wire as JSON: pass str, numbers, bools, None, "
                    "lists or dicts of them (e.g. a datetime as its isoformat())"
                ) from None
        raise TypeError(f"the {call['name']!r} tool call's arguments are not JSON: {exc}") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _wire_invalid_tool_call(call: InvalidToolCall) -> dict[str, Any]:
    # Sent back as the model wrote it, so the model sees its own mistake in the history.
    return {
        "id": call.get("id") or new_call_id(),
        "type": "function",
        "function": {"name": call.get("name") or "", "arguments": call.get("args") or ""},
    }


def _assistant_tool_calls(message: AIMessage) -> list[dict[str, Any]]:
    calls = [_wire_tool_call(c) for c in message.tool_calls]
    calls += [_wire_invalid_tool_call(c) for c in message.invalid_tool_calls]
    if calls:
        return calls
    legacy = message.additional_kwargs.get("tool_calls")
    if isinstance(legacy, list):
        return [
            {k: v for k, v in c.items() if k in ("id", "type", "function")}
            for c in legacy
            if isinstance(c, Mapping)
        ]
    return []


def _tool_content(message: ToolMessage) -> str | list[dict[str, Any]]:
    content = _content(message.content)
    # The wire has no error flag: say it in the text, once.
    if (
        message.status == "error"
        and isinstance(content, str)
        and not content.lstrip().lower().startswith("error")
    ):
        content = f"Error: {content}" if content else "Error"
    return content


def message_to_wire(message: BaseMessage) -> dict[str, Any]:
    """One LangChain message as an OpenAI chat-completions message dict."""
    if isinstance(message, HumanMessage):
        wire: dict[str, Any] = {"role": "user", "content": _content(message.content)}
    elif isinstance(message, AIMessage):
        wire = {"role": "assistant", "content": _content(message.content)}
        if calls := _assistant_tool_calls(message):
            wire["tool_calls"] = calls
    elif isinstance(message, SystemMessage):
        wire = {"role": "system", "content": _content(message.content)}
    elif isinstance(message, ToolMessage):
        # The tool role takes no name on the OpenAI wire.
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _tool_content(message),
        }
    elif isinstance(message, ChatMessage):
        role = _WIRE_ROLES.get(message.role, message.role)
        wire = {"role": role, "content": _content(message.content)}
    elif isinstance(message, FunctionMessage):
        wire = {"role": "function", "content": _content(message.content)}
    else:
        raise TypeError(
            f"ChatModelScope cannot send a {type(message).__name__}; use system, human, AI, "
            "tool or chat messages"
        )
    name = message.name or message.additional_kwargs.get("name")
    if name:
        wire["name"] = name
    return wire


def messages_to_wire(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """The ``messages`` array of a request."""
    return [message_to_wire(m) for m in messages]


# --- wire -> LangChain ----------------------------------------------------------------------


def new_call_id() -> str:
    """An id for a tool call the server sent without one (OpenAI's ``call_`` + 24 hex)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def parse_wire_tool_calls(
    raw_calls: Any,
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Tool calls of an answer; arguments that are not a JSON object become invalid calls."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    if not isinstance(raw_calls, list):
        return calls, invalid
    for raw in raw_calls:
        if not isinstance(raw, Mapping):
            continue
        function = raw.get("function")
        function = function if isinstance(function, Mapping) else {}
        name = function.get("name") or ""
        call_id = raw.get("id") or new_call_id()
        arguments = function.get("arguments")
        if isinstance(arguments, Mapping):
            calls.append(make_tool_call(name=name, args=dict(arguments), id=call_id))
            continue
        if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
            calls.append(make_tool_call(name=name, args={}, id=call_id))
            continue
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        try:
            args = json.loads(text, strict=False)
        except ValueError as exc:
            invalid.append(
                make_invalid_call(
                    name=name, args=text, id=call_id, error=f"arguments are not valid JSON: {exc}"
                )
            )
            continue
        if isinstance(args, dict):
            calls.append(make_tool_call(name=name, args=args, id=call_id))
        else:
            invalid.append(
                make_invalid_call(
                    name=name,
                    args=text,
                    id=call_id,
                    error=f"arguments must be a JSON object, got {type(args).__name__}",
                )
            )
    return calls, invalid


def reasoning_of(message: Mapping[str, Any]) -> str | None:
    """``reasoning_content`` or, from some deployments, ``reasoning``; "" counts as none."""
    value = message.get("reasoning_content") or message.get("reasoning")
    return value if isinstance(value, str) and value else None


def text_of(value: Any) -> str:
    """Answer content as text (null and part lists tolerated)."""
    if isinstance(value, str):
        return value
    if not value:
        return ""
    if isinstance(value, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text") or "")
            for p in value
            if isinstance(p, (str, Mapping))
        )
    return str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_metadata(usage: Any) -> UsageMetadata | None:
    """OpenAI ``usage`` as LangChain `UsageMetadata` (None when absent or empty)."""
    if not isinstance(usage, Mapping):
        return None
    input_tokens = _int(usage.get("prompt_tokens")) or 0
    output_tokens = _int(usage.get("completion_tokens")) or 0
    total = _int(usage.get("total_tokens"))
    # Built as a plain dict: mypy targets 3.10, where core's `typing.NotRequired` is unknown.
    result = cast(
        UsageMetadata,
        {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": total if total is not None else input_tokens + output_tokens,
        },
    )
    prompt_details = usage.get("prompt_tokens_details")
    if isinstance(prompt_details, Mapping):
        cached = _int(prompt_details.get("cached_tokens"))
        if cached is not None:
            result["input_token_details"] = InputTokenDetails(cache_read=cached)
    completion_details = usage.get("completion_tokens_details")
    if isinstance(completion_details, Mapping):
        reasoning = _int(completion_details.get("reasoning_tokens"))
        if reasoning is not None:
            result["output_token_details"] = OutputTokenDetails(reasoning=reasoning)
    return result


# --- v1 content blocks ----------------------------------------------------------------------


def _head_blocks(message: AIMessage) -> list[dict[str, Any]]:
    """Reasoning, then text: the order ModelScope streams them in."""
    blocks: list[dict[str, Any]] = []
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "reasoning", "reasoning": reasoning})
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    return blocks


def _call_blocks(message: AIMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "tool_call", "name": c["name"], "args": c["args"], "id": c.get("id")}
        for c in message.tool_calls
    ]
    blocks.extend(
        {
            "type": "invalid_tool_call",
            "name": bad.get("name"),
            "args": bad.get("args"),
            "id": bad.get("id"),
            "error": bad.get("error"),
        }
        for bad in message.invalid_tool_calls
    )
    return blocks


def _translate(message: AIMessage) -> list[types.ContentBlock]:
    """Blocks of a whole answer: reasoning, text, tool calls, invalid tool calls."""
    if not isinstance(message.content, str):
        raise NotImplementedError  # lists are left to core's best-effort parsing
    return cast("list[types.ContentBlock]", _head_blocks(message) + _call_blocks(message))


def _translate_chunk(chunk: AIMessageChunk) -> list[types.ContentBlock]:
    """Blocks of a streamed chunk.

    Core numbers streamed v1 blocks 0, 1, ... as their type changes, but keeps an index that
    a block already has; tool-call chunks carry the wire index (0 for the first call), which
    would merge the first call into the reasoning block. String indexes (``lc_tc_<n>``) keep
    every call apart from each other and from text and reasoning.
    """
    if not isinstance(chunk.content, str):
        raise NotImplementedError
    blocks = _head_blocks(chunk)
    if chunk.chunk_position == "last":
        blocks += _call_blocks(chunk)
    else:
        for piece in chunk.tool_call_chunks:
            block: dict[str, Any] = {
                "type": "tool_call_chunk",
                "id": piece.get("id"),
                "name": piece.get("name"),
                "args": piece.get("args"),
            }
            index = piece.get("index")
            if index is not None:
                block["index"] = f"lc_tc_{index}"
            blocks.append(block)
    return cast("list[types.ContentBlock]", blocks)


register_translator(PROVIDER, _translate, cast(Any, _translate_chunk))
