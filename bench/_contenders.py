"""The contenders of the chat benchmarks, built the way a user would build them.

Besides this package and ChatOpenAI there is the floor, in two halves measured apart:

* `BareHttpx`: the same request over a plain httpx client, reading the same answer (for
  streams: splitting the SSE lines and json-decoding every chunk, as any client must);
* `NullChatModel`: a ``BaseChatModel`` that does nothing but hand back precomputed results or
  chunks, so ``invoke``/``stream`` cost exactly langchain-core's own share.

What a LangChain chat model over HTTP cannot avoid is the sum of the two.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from bench._server import CHAT_MODEL, SHORT_ANSWER

PROMPT: Final = "Say hello in one short sentence."
PACKAGE = "ChatModelScope"
OPENAI = "ChatOpenAI"
BARE = "bare httpx"
CORE = "langchain-core cost"
FLOOR = "floor (httpx + core)"
CORE_BUILT = "core cost + building chunks (reference)"
FLOOR_BUILT = "floor with chunks built (reference)"

#: The body ChatModelScope sends for PROMPT (compact JSON, as httpx's json= writes it).
INVOKE_BODY: Final[dict[str, Any]] = {
    "model": CHAT_MODEL,
    "messages": [{"role": "user", "content": PROMPT}],
}
STREAM_BODY: Final[dict[str, Any]] = {
    **INVOKE_BODY,
    "stream": True,
    "stream_options": {"include_usage": True},
}
#: Same limits as the package's and the openai SDK's pools, so no contender queues for sockets.
POOL_LIMITS: Final = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- the floor, HTTP


class BareHttpx:
    """The least any client must do: build the request, send it, decode the answer."""

    def __init__(self, base_url: str, token: str) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.stream_headers = {**self.headers, "Accept": "text/event-stream"}
        self.client = httpx.Client(limits=POOL_LIMITS)
        self._aclient: httpx.AsyncClient | None = None

    def invoke(self) -> str:
        response = self.client.post(self.url, content=_dumps(INVOKE_BODY), headers=self.headers)
        response.raise_for_status()
        data = json.loads(response.content)
        return str(data["choices"][0]["message"]["content"])

    def stream(self) -> int:
        """Read every SSE event and decode its JSON; returns how many chunks came."""
        count = 0
        with self.client.stream(
            "POST", self.url, content=_dumps(STREAM_BODY), headers=self.stream_headers
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                json.loads(data)
                count += 1
        return count

    async def ainvoke(self) -> str:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(limits=POOL_LIMITS)
        response = await self._aclient.post(
            self.url, content=_dumps(INVOKE_BODY), headers=self.headers
        )
        response.raise_for_status()
        data = json.loads(response.content)
        return str(data["choices"][0]["message"]["content"])

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None


# --------------------------------------------------------------------------- the floor, core


def make_result() -> ChatResult:
    """What a chat model hands core for the short answer (usage and metadata included)."""
    message = AIMessage(
        content=SHORT_ANSWER,
        id="chatcmpl-bench",
        response_metadata={"model_name": CHAT_MODEL, "finish_reason": "stop"},
        usage_metadata={"input_tokens": 14, "output_tokens": 9, "total_tokens": 23},
    )
    return ChatResult(generations=[ChatGeneration(message=message)])


def make_chunks(count: int) -> list[ChatGenerationChunk]:
    """`count` content chunks and a final one with usage and metadata, as a model yields."""
    chunks = [
        ChatGenerationChunk(message=AIMessageChunk(content=f"w{index % 100} "))
        for index in range(count)
    ]
    chunks.append(
        ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={"model_name": CHAT_MODEL, "finish_reason": "stop"},
                usage_metadata={
                    "input_tokens": 14,
                    "output_tokens": count,
                    "total_tokens": 14 + count,
                },
            )
        )
    )
    return chunks


class NullChatModel(BaseChatModel):
    """A chat model that returns precomputed answers: what remains is langchain-core's cost.

    Call `prepare` before a timed block so building the answers is not timed; core mutates
    messages (ids), so each call gets objects of its own.
    """

    chunk_count: int = 1000
    _results: deque[ChatResult] = PrivateAttr(default_factory=deque)
    _streams: deque[list[ChatGenerationChunk]] = PrivateAttr(default_factory=deque)

    @property
    def _llm_type(self) -> str:
        return "bench-null"

    def prepare(self, results: int = 0, streams: int = 0) -> None:
        self._results.extend(make_result() for _ in range(results))
        self._streams.extend(make_chunks(self.chunk_count) for _ in range(streams))

    def _next_result(self) -> ChatResult:
        return self._results.popleft() if self._results else make_result()

    def _next_chunks(self) -> list[ChatGenerationChunk]:
        return self._streams.popleft() if self._streams else make_chunks(self.chunk_count)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._next_result()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Core's default would run _generate in a thread: not a cost a native async model pays.
        return self._next_result()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._next_chunks():
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._next_chunks():
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


# --------------------------------------------------------------------------- the real models


def package_chat(base_url: str, token: str, model: str = CHAT_MODEL, **kwargs: Any) -> Any:
    """ChatModelScope as the README builds it (retries at their default)."""
    from langchain_modelscope.chat_models import ChatModelScope

    return ChatModelScope(model=model, api_key=token, base_url=base_url, **kwargs)


def openai_chat(base_url: str, token: str, model: str = CHAT_MODEL, **kwargs: Any) -> Any:
    """ChatOpenAI pointed at the same server, everything else at its defaults."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model, api_key=token, base_url=base_url, **kwargs)
