"""A stream's head: the chunks up to its first content, while a fallback may still switch.

Until a candidate's stream shows the user something (text, reasoning, a tool call), a failure
moves on to the next candidate; after it, the stream is that candidate's, errors and all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, TypeVar

from langchain_core.messages import AIMessageChunk

_S = TypeVar("_S")
#: An opened stream and the chunks read from it up to its first content.
Head = tuple[_S, list[AIMessageChunk]]


def has_content(chunk: Any) -> bool:
    """True once a chunk carries something the user sees: text, reasoning or a tool call."""
    if getattr(chunk, "content", None):
        return True
    if getattr(chunk, "tool_call_chunks", None) or getattr(chunk, "invalid_tool_calls", None):
        return True
    extra = getattr(chunk, "additional_kwargs", None)
    return isinstance(extra, Mapping) and any(bool(value) for value in extra.values())


def read_head(stream: Iterator[AIMessageChunk]) -> Head[Iterator[AIMessageChunk]]:
    """Read ``stream`` up to its first content chunk: until then, a failure may move on."""
    head: list[AIMessageChunk] = []
    try:
        for chunk in stream:
            head.append(chunk)
            if has_content(chunk):
                break
    except BaseException:
        close_stream(stream)
        raise
    return stream, head


async def aread_head(
    stream: AsyncIterator[AIMessageChunk],
) -> Head[AsyncIterator[AIMessageChunk]]:
    """Async :func:`read_head`."""
    head: list[AIMessageChunk] = []
    try:
        async for chunk in stream:
            head.append(chunk)
            if has_content(chunk):
                break
    except BaseException:
        await aclose_stream(stream)
        raise
    return stream, head


def close_stream(stream: Any) -> None:
    """Close a candidate's stream if it can be closed (a plain iterator cannot)."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


async def aclose_stream(stream: Any) -> None:
    """Async :func:`close_stream`."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
