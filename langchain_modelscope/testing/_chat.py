"""`POST /v1/chat/completions`: checks, the reply (scripted or default), JSON and SSE shapes."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._accounts import admit_call, success_headers
from langchain_modelscope.testing._catalogue import ModelInfo
from langchain_modelscope.testing._responder import (
    Generated,
    GeneratedCall,
    all_images,
    count_tokens,
    default_reply,
    dump_arguments,
    new_call_id,
    prompt_tokens,
    split_stream_pieces,
)
from langchain_modelscope.testing._state import EmulatorState, Exchange, empty_body, model_matches
from langchain_modelscope.testing._types import EmulatorConfig, ScriptedToolCall
from langchain_modelscope.testing._wire import Answer, Outcome, Stream, json_bytes


def _check(state: EmulatorState, ex: Exchange, info: ModelInfo) -> Answer | None:
    """The chat endpoint's own 400s, once the model is known."""
    body: dict[str, Any] = ex.body
    config = state.config
    if not info.chat:
        return state.bad_request(msg.CHOICE_NOT_CHAT.format(model=ex.model), ex)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return state.bad_request(msg.CHOICE_NO_MESSAGES, ex)
    streamed = body.get("stream") is True
    if not streamed and info.thinking == "hybrid" and body.get("enable_thinking") is not False:
        return state.bad_request(config.hybrid_thinking_message or msg.SHEET_HYBRID_NON_STREAM, ex)
    if not streamed and info.thinking == "only":
        return state.bad_request(
            config.thinking_only_message or msg.SHEET_THINKING_ONLY_NON_STREAM, ex
        )
    if not info.vision and all_images(messages):
        return state.bad_request(msg.CHOICE_NO_VISION.format(model=ex.model), ex)
    return None


def _forces_a_tool(body: dict[str, Any]) -> bool:
    choice = body.get("tool_choice")
    return bool(body.get("tools")) and choice not in (None, "auto", "none")


def chat(state: EmulatorState, ex: Exchange) -> Outcome:
    """Answer one chat call."""
    admitted = admit_call(state, ex, _check)
    if isinstance(admitted, Answer):
        return admitted
    info = admitted.info
    body: dict[str, Any] = ex.body
    config = state.config
    streamed = body.get("stream") is True
    headers = success_headers(state, admitted.quota, streamed)
    response_format = body.get("response_format")
    if (
        config.json_schema_quirk
        and isinstance(response_format, dict)
        and response_format.get("type") == "json_schema"
    ):
        return _quirk(state, ex, headers, streamed)
    enable_thinking = body.get("enable_thinking")
    reasons = info.thinking in ("only", "always_reasons") or (
        info.thinking == "hybrid" and enable_thinking is not False
    )
    generated = _scripted(state, ex.model)
    if generated is None and config.empty_on_required_tool_choice and _forces_a_tool(body):
        generated = Generated(content="")
    if generated is None:
        generated = default_reply(body, info, reasons)
    if generated.usage is None:
        generated.usage = _usage(body, generated)
    if streamed:
        events = list(
            _stream_events(
                info,
                generated,
                config,
                state.echo_model(ex.model),
                int(state.clock.now().timestamp()),
                body,
            )
        )
        return Stream(events=events, headers=headers, keepalive=config.stream_keepalive_comment)
    return Answer(200, json_bytes(_chat_body(state, ex, info, generated)), headers)


def _scripted(state: EmulatorState, model: str) -> Generated | None:
    with state.lock:
        for entry in state.replies:
            wanted, reply = entry
            if model_matches(wanted, model):
                state.replies.remove(entry)
                break
        else:
            return None
    calls = [_scripted_call(c) for c in reply.tool_calls]
    finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    return Generated(
        content=reply.content,
        reasoning=reply.reasoning,
        tool_calls=calls,
        finish_reason=finish,
        usage=copy.deepcopy(reply.usage),
        chunk_size=reply.chunk_size,
    )


def _scripted_call(call: ScriptedToolCall) -> GeneratedCall:
    arguments = (
        call.arguments if isinstance(call.arguments, str) else dump_arguments(call.arguments)
    )
    return GeneratedCall(id=call.id or new_call_id(), name=call.name, arguments=arguments)


def _quirk(state: EmulatorState, ex: Exchange, headers: dict[str, str], streamed: bool) -> Outcome:
    body = empty_body(state, ex, null_choices=True)
    if streamed:
        return Stream(
            events=[json.dumps(body, ensure_ascii=False)],
            headers=headers,
            keepalive=state.config.stream_keepalive_comment,
        )
    return Answer(200, json_bytes(body), headers)


def _chat_body(
    state: EmulatorState, ex: Exchange, info: ModelInfo, gen: Generated
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": gen.content}
    if gen.reasoning is not None or info.thinking != "none":
        message[state.config.reasoning_field] = gen.reasoning or ""
    if gen.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in gen.tool_calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(state.clock.now().timestamp()),
        "model": state.echo_model(ex.model),
        "choices": [
            {"index": 0, "message": message, "finish_reason": gen.finish_reason, "logprobs": None}
        ],
        "usage": gen.usage,
    }


def _usage(body: dict[str, Any], gen: Generated) -> dict[str, Any]:
    prompt = prompt_tokens(body)
    reasoning = count_tokens(gen.reasoning or "")
    completion = (
        count_tokens(gen.content)
        + reasoning
        + sum(count_tokens(c.arguments) + 1 for c in gen.tool_calls)
    )
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _stream_events(
    info: ModelInfo,
    gen: Generated,
    config: EmulatorConfig,
    model_name: str,
    created: int,
    body: dict[str, Any],
) -> Iterator[str]:
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
    thinking = info.thinking != "none" or gen.reasoning is not None
    field_name = config.reasoning_field

    def unused(delta: dict[str, Any], name: str) -> dict[str, Any]:
        if config.unused_delta_field == "empty":
            delta[name] = ""
        elif config.unused_delta_field == "null":
            delta[name] = None
        return delta

    nulls = config.resolved_null_delta_fields
    placeholder = (
        {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        if config.resolved_usage_placeholders
        else None
    )

    def event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        chunk: dict[str, Any] = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_name,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if delta is not None and nulls:
            for name in ("role", "tool_calls", "function_calls"):
                delta.setdefault(name, None)
        if placeholder is not None and delta is not None:
            chunk["usage"] = placeholder
        chunk.update(extra)
        return json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))

    first: dict[str, Any] = {"role": "assistant", "content": ""}
    if thinking:
        unused(first, field_name)
    yield event(first)
    for piece in split_stream_pieces(gen.reasoning or "", gen.chunk_size):
        yield event(unused({field_name: piece}, "content"))
    for piece in split_stream_pieces(gen.content, gen.chunk_size):
        delta: dict[str, Any] = {"content": piece}
        yield event(unused(delta, field_name) if thinking else delta)
    bare = config.bare_tool_call_deltas

    def call_delta(index: int, part: dict[str, Any]) -> dict[str, Any]:
        return {"tool_calls": [part if bare else {"index": index, **part}]}

    for index, tc in enumerate(gen.tool_calls):
        head: dict[str, Any] = {"type": "function", "function": {"name": tc.name, "arguments": ""}}
        yield event(call_delta(index, head if bare else {"id": tc.id, **head}))
        args = tc.arguments
        for start in range(0, len(args), 16):
            yield event(call_delta(index, {"function": {"arguments": args[start : start + 16]}}))
    options = body.get("stream_options")
    wants_usage = config.stream_usage_always or (
        config.include_usage_in_stream
        and isinstance(options, dict)
        and options.get("include_usage") is True
    )
    if wants_usage and not config.usage_chunk_empty_choices:
        yield event({}, gen.finish_reason, usage=gen.usage)
        return
    yield event({}, gen.finish_reason)
    if wants_usage:
        yield event(None, usage=gen.usage)
