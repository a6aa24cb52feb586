"""Streamed chat-completion events to LangChain chunks, with as little work per event as possible.

One `StreamState` per streamed call. Every event with a delta becomes one chunk that carries
only what changed (text, reasoning, tool-call pieces) and ``model_provider``; what must appear
once (finish reason, model names, request id, rate-limit headers, usage) is held back and sent on
one final chunk, because LangChain adds string and integer metadata up across chunks.

The 2026 service puts a zero ``usage`` placeholder on every delta and the real usage on a last
``choices: []`` chunk (modelscope-api.md §4): only a usage with a non-zero count is kept, the
last one winning, so a placeholder is never reported as the answer's usage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.tool import ToolCallChunk, tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_modelscope._chat_messages import PROVIDER, new_call_id, text_of, usage_metadata

_TEXT_MESSAGE: Final = AIMessageChunk(content="", response_metadata={"model_provider": PROVIDER})
_TEXT_GENERATION: Final = ChatGenerationChunk(message=_TEXT_MESSAGE)
#: The prototypes' slots, fields-set and extras, for `text_chunk` to start from: a field that
#: langchain-core adds later keeps the default it validated to here.
_MESSAGE_SLOTS: Final = dict(_TEXT_MESSAGE.__dict__)
_MESSAGE_SET: Final = frozenset(
    {
        *_TEXT_MESSAGE.model_fields_set,
        "content",
        "additional_kwargs",
        "response_metadata",
        "tool_calls",
        "invalid_tool_calls",
        "tool_call_chunks",
    }
)
_MESSAGE_EXTRA: Final = _TEXT_MESSAGE.__pydantic_extra__
_GENERATION_SLOTS: Final = dict(_TEXT_GENERATION.__dict__)
_GENERATION_SET: Final = frozenset({*_TEXT_GENERATION.model_fields_set, "message", "text"})
_GENERATION_EXTRA: Final = _TEXT_GENERATION.__pydantic_extra__
_set_slot: Final = object.__setattr__


def text_chunk(content: str, additional_kwargs: dict[str, Any]) -> ChatGenerationChunk:
    """A text/reasoning chunk, equal to one built by the constructors at a quarter of the cost.

    Streams are mostly these; they have no tool-call pieces, so no validator has work to do.
    The fields go straight into pydantic's slots, as ``model_copy(update=...)`` of the
    validated prototypes would put them, without its copying: every mutable field is fresh.
    """
    message = AIMessageChunk.__new__(AIMessageChunk)
    slots = _MESSAGE_SLOTS.copy()
    slots["content"] = content
    slots["additional_kwargs"] = additional_kwargs
    slots["response_metadata"] = {"model_provider": PROVIDER}
    slots["tool_calls"] = []
    slots["invalid_tool_calls"] = []
    slots["tool_call_chunks"] = []
    _set_slot(message, "__dict__", slots)
    _set_slot(message, "__pydantic_fields_set__", set(_MESSAGE_SET))
    _set_slot(message, "__pydantic_extra__", None if _MESSAGE_EXTRA is None else {})
    _set_slot(message, "__pydantic_private__", None)
    generation = ChatGenerationChunk.__new__(ChatGenerationChunk)
    generation_slots = _GENERATION_SLOTS.copy()
    generation_slots["message"] = message
    generation_slots["text"] = content
    _set_slot(generation, "__dict__", generation_slots)
    _set_slot(generation, "__pydantic_fields_set__", set(_GENERATION_SET))
    _set_slot(generation, "__pydantic_extra__", None if _GENERATION_EXTRA is None else {})
    _set_slot(generation, "__pydantic_private__", None)
    return generation


class StreamState:
    """What one streamed answer said so far that is not in the chunks already yielded."""

    __slots__ = (
        "completion_id",
        "finish_reason",
        "next_index",
        "report_usage",
        "saw_choice",
        "served_model",
        "slots",
        "system_fingerprint",
        "usage",
    )

    def __init__(self, *, report_usage: bool = True) -> None:
        #: False (``stream_usage=False``): the usage is asked for but kept off the chunks
        self.report_usage = report_usage
        self.finish_reason: str | None = None
        self.served_model: str | None = None
        self.completion_id: str | None = None
        self.system_fingerprint: str | None = None
        self.usage: Any = None
        self.saw_choice = False
        #: wire index -> [LangChain index, call id, whether the id was made up here,
        #: the arguments text so far of a call that came without index (else None)]
        self.slots: dict[int, list[Any]] = {}
        self.next_index = 0

    def feed(self, payload: Any) -> ChatGenerationChunk | None:
        """The chunk for one decoded event, or None when it carries no delta."""
        if not isinstance(payload, dict):
            return None
        usage = payload.get("usage")
        if usage and isinstance(usage, dict) and _counts_tokens(usage):
            self.usage = usage
        if self.served_model is None:
            self.served_model = payload.get("model") or None
            self.completion_id = payload.get("id") or None
            self.system_fingerprint = payload.get("system_fingerprint") or None
        choices = payload.get("choices")
        if not choices or not isinstance(choices, list):
            return None  # the usage chunk, a keep-alive, or `choices: null`
        choice = choices[0]
        if not isinstance(choice, dict):
            return None
        self.saw_choice = True
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if delta is None:
            delta = choice.get("message")  # a whole answer sent to a stream request
        if not isinstance(delta, dict):
            return None
        content = delta.get("content")
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        raw_calls = delta.get("tool_calls")
        if not content and not reasoning and not raw_calls:
            return None
        if not isinstance(content, str):
            content = text_of(content)
        additional_kwargs = (
            {"reasoning_content": reasoning} if reasoning and isinstance(reasoning, str) else {}
        )
        if not raw_calls:
            return text_chunk(content, additional_kwargs)
        message = AIMessageChunk(
            content=content,
            additional_kwargs=additional_kwargs,
            tool_call_chunks=self._tool_call_chunks(raw_calls),
            response_metadata={"model_provider": PROVIDER},
        )
        return ChatGenerationChunk(message=message)

    def _tool_call_chunks(self, raw_calls: Any) -> list[ToolCallChunk]:
        """Pieces keyed by the wire index; a new id on a used index is a new call.

        Name and id go out on a call's first piece only: some servers repeat them on every
        delta, and LangChain would concatenate the names. A piece with neither ``index`` nor
        ``id`` (§4, reported) continues the call at its position, unless it names a function
        after that call's arguments are already complete JSON: then it starts the next call.
        """
        pieces: list[ToolCallChunk] = []
        if not isinstance(raw_calls, list):
            return pieces
        for position, raw in enumerate(raw_calls):
            if not isinstance(raw, Mapping):
                continue
            given = raw.get("index")
            bare = not isinstance(given, int)
            wire = given if isinstance(given, int) else position
            call_id = raw.get("id") or None
            function = raw.get("function")
            function = function if isinstance(function, Mapping) else {}
            arguments = function.get("arguments")
            if arguments is not None and not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            name = function.get("name") or None
            slot = self.slots.get(wire)
            if (
                slot is None
                or (call_id is not None and not slot[2] and slot[1] != call_id)
                or (bare and call_id is None and name is not None and _complete_json(slot[3]))
            ):
                index = wire if slot is None and wire >= self.next_index else self.next_index
                self.next_index = index + 1
                generated = call_id is None
                call_id = call_id or new_call_id()
                # Only bare calls keep their arguments text: nothing else reads it.
                self.slots[wire] = [index, call_id, generated, (arguments or "") if bare else None]
                pieces.append(tool_call_chunk(name=name, args=arguments, id=call_id, index=index))
            else:
                if arguments and slot[3] is not None:
                    slot[3] += arguments
                pieces.append(tool_call_chunk(name=None, args=arguments, id=None, index=slot[0]))
        return pieces

    def final_chunk(self, response_metadata: dict[str, Any]) -> ChatGenerationChunk:
        """The one chunk with usage and metadata; it ends the stream."""
        metadata = response_metadata
        if self.finish_reason:
            metadata["finish_reason"] = self.finish_reason
        if self.served_model:
            metadata["served_model_name"] = self.served_model
        if self.completion_id:
            metadata["id"] = self.completion_id
        if self.system_fingerprint:
            metadata["system_fingerprint"] = self.system_fingerprint
        message = AIMessageChunk(
            content="",
            usage_metadata=usage_metadata(self.usage) if self.report_usage else None,
            response_metadata=metadata,
            chunk_position="last",
        )
        info = {"finish_reason": self.finish_reason} if self.finish_reason else None
        return ChatGenerationChunk(message=message, generation_info=info)


def _counts_tokens(usage: dict[str, Any]) -> bool:
    """Whether a ``usage`` says anything: the 2026 placeholders are all zeros."""
    return bool(
        usage.get("total_tokens") or usage.get("completion_tokens") or usage.get("prompt_tokens")
    )


def _complete_json(text: str | None) -> bool:
    """Whether a call's arguments so far are a whole JSON value (the call is finished)."""
    if not text:
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
