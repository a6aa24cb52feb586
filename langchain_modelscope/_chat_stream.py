"""Streamed chat-completion events to LangChain chunks, with as little work per event as possible.

One `StreamState` per streamed call. Every event with a delta becomes one chunk that carries
only what changed (text, reasoning, tool-call pieces) and ``model_provider``; what must appear
once (finish reason, model names, request id, rate-limit headers, usage) is held back and sent on
one final chunk, because LangChain adds string and integer metadata up across chunks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.tool import ToolCallChunk, tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_modelscope._chat_messages import PROVIDER, text_of, usage_metadata

_TEXT_MESSAGE: Final = AIMessageChunk(content="", response_metadata={"model_provider": PROVIDER})
_TEXT_GENERATION: Final = ChatGenerationChunk(message=_TEXT_MESSAGE)


def text_chunk(content: str, additional_kwargs: dict[str, Any]) -> ChatGenerationChunk:
    """A text/reasoning chunk, equal to one built by the constructors at a third of the cost.

    Streams are mostly these; they have no tool-call pieces, so no validator has work to do.
    Copies of validated prototypes, with every mutable field fresh.
    """
    message = _TEXT_MESSAGE.model_copy(
        update={
            "content": content,
            "additional_kwargs": additional_kwargs,
            "response_metadata": {"model_provider": PROVIDER},
            "tool_calls": [],
            "invalid_tool_calls": [],
            "tool_call_chunks": [],
        }
    )
    return _TEXT_GENERATION.model_copy(update={"message": message, "text": content})


class StreamState:
    """What one streamed answer said so far that is not in the chunks already yielded."""

    __slots__ = (
        "completion_id",
        "finish_reason",
        "next_index",
        "saw_choice",
        "served_model",
        "slots",
        "system_fingerprint",
        "usage",
    )

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.served_model: str | None = None
        self.completion_id: str | None = None
        self.system_fingerprint: str | None = None
        self.usage: Any = None
        self.saw_choice = False
        #: wire index -> [LangChain index, call id, whether the id was made up here]
        self.slots: dict[int, list[Any]] = {}
        self.next_index = 0

    def feed(self, payload: Any) -> ChatGenerationChunk | None:
        """The chunk for one decoded event, or None when it carries no delta."""
        if not isinstance(payload, dict):
            return None
        if payload.get("usage"):
            self.usage = payload["usage"]
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
        delta, and LangChain would concatenate the names.
        """
        pieces: list[ToolCallChunk] = []
        if not isinstance(raw_calls, list):
            return pieces
        for position, raw in enumerate(raw_calls):
            if not isinstance(raw, Mapping):
                continue
            wire = raw.get("index")
            if not isinstance(wire, int):
                wire = position
            call_id = raw.get("id") or None
            function = raw.get("function")
            function = function if isinstance(function, Mapping) else {}
            arguments = function.get("arguments")
            if arguments is not None and not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            slot = self.slots.get(wire)
            if slot is None or (call_id is not None and not slot[2] and slot[1] != call_id):
                index = wire if slot is None and wire >= self.next_index else self.next_index
                self.next_index = index + 1
                generated = call_id is None
                call_id = call_id or f"call_{uuid.uuid4().hex[:24]}"
                self.slots[wire] = [index, call_id, generated]
                name = function.get("name") or None
                pieces.append(tool_call_chunk(name=name, args=arguments, id=call_id, index=index))
            else:
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
            usage_metadata=usage_metadata(self.usage),
            response_metadata=metadata,
            chunk_position="last",
        )
        info = {"finish_reason": self.finish_reason} if self.finish_reason else None
        return ChatGenerationChunk(message=message, generation_info=info)
