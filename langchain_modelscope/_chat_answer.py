"""What a chat call gets back: a completion read into a `ChatResult`, its response metadata,
and the diagnosis of an answer with nothing in it (modelscope-api.md §4: ``choices: null``
when ``response_format`` is ``json_schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_modelscope._chat_messages import (
    PROVIDER,
    parse_wire_tool_calls,
    reasoning_of,
    text_of,
    usage_metadata,
)
from langchain_modelscope._chat_stream import StreamState
from langchain_modelscope._client import APIResponse, RateLimitInfo
from langchain_modelscope.errors import EmptyResponseError, ResponseDecodeError

__all__ = ["chat_result", "final_chunk", "response_metadata"]


def response_metadata(
    model: str, request_id: str | None, ratelimit: RateLimitInfo | None
) -> dict[str, Any]:
    """The metadata every answer carries, streamed or not."""
    metadata: dict[str, Any] = {"model_provider": PROVIDER, "model_name": model}
    if request_id:
        metadata["request_id"] = request_id
    if ratelimit is not None:
        metadata["ratelimit"] = ratelimit.as_dict()
    return metadata


def chat_result(response: APIResponse, body: dict[str, Any]) -> ChatResult:
    """A non-streamed completion as LangChain's result; an answer with nothing in it raises."""
    model = body["model"]
    data = response.data
    if not isinstance(data, dict):
        raise ResponseDecodeError(
            f"expected a chat completion object, got {type(data).__name__}",
            status_code=response.status_code,
            request_id=response.request_id,
            model=model,
        )
    request_id = response.request_id or data.get("request_id")
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict):
        raise _empty_response(body, response.status_code, request_id)
    message = choice.get("message")
    if message is None:
        message = choice.get("delta")
    if message is None:  # `"message": null`: nothing was answered, not an empty answer
        raise _empty_response(
            body, response.status_code, request_id, "a choice whose message is null"
        )
    if not isinstance(message, dict):
        message = {}
    tool_calls, invalid_tool_calls = parse_wire_tool_calls(message.get("tool_calls"))
    additional_kwargs: dict[str, Any] = {}
    if reasoning := reasoning_of(message):
        additional_kwargs["reasoning_content"] = reasoning
    metadata = response_metadata(model, request_id, response.ratelimit)
    finish_reason = choice.get("finish_reason")
    if finish_reason:
        metadata["finish_reason"] = finish_reason
    if served := data.get("model"):
        metadata["served_model_name"] = served
    if completion_id := data.get("id"):
        metadata["id"] = completion_id
    if fingerprint := data.get("system_fingerprint"):
        metadata["system_fingerprint"] = fingerprint
    usage = usage_metadata(data.get("usage"))
    ai = AIMessage(
        content=text_of(message.get("content")),
        additional_kwargs=additional_kwargs,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid_tool_calls,
        usage_metadata=usage,
        response_metadata=metadata,
        id=completion_id if isinstance(completion_id, str) else None,
    )
    info = {"finish_reason": finish_reason} if finish_reason else None
    return ChatResult(
        generations=[ChatGeneration(message=ai, generation_info=info)],
        llm_output={"token_usage": data.get("usage") or {}, "model_name": model},
    )


def final_chunk(
    state: StreamState,
    body: Mapping[str, Any],
    request_id: str | None,
    ratelimit: RateLimitInfo | None,
) -> ChatGenerationChunk:
    """A stream's last chunk (usage, metadata); a json_schema stream with no choice raises."""
    if not state.saw_choice and _asks_json_schema(body):
        raise _empty_response(body, 200, request_id)
    return state.final_chunk(response_metadata(body["model"], request_id, ratelimit))


def _asks_json_schema(body: Mapping[str, Any]) -> bool:
    response_format = body.get("response_format")
    return isinstance(response_format, Mapping) and response_format.get("type") == "json_schema"


def _empty_response(
    body: Mapping[str, Any], status_code: int, request_id: str | None, what: str = "no choices"
) -> EmptyResponseError:
    model = str(body.get("model"))
    if _asks_json_schema(body):
        return EmptyResponseError(
            "ModelScope answered with no choices (`choices: null`). It does this when "
            "response_format is json_schema, which the served model does not support.",
            status_code=status_code,
            request_id=request_id,
            model=model,
            hint='Use with_structured_output(..., method="function_calling") or '
            'method="json_mode" instead.',
        )
    return EmptyResponseError(
        f"ModelScope answered with {what}.",
        status_code=status_code,
        request_id=request_id,
        model=model,
        hint="The service returned an empty completion; retry, or try another model.",
    )
