"""Small fake models for the fallback's unit tests: they answer or raise what a test scripts.

They count their own calls, so a test can say "this candidate was called exactly once".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field, SecretStr


class StreamBreakError(Exception):
    """Scripted: raise ``error`` after ``after`` chunks of ``text`` were streamed."""

    def __init__(self, text: str, after: int, error: BaseException) -> None:
        super().__init__(text)
        self.text = text
        self.after = after
        self.error = error


class ScriptedChat(BaseChatModel):
    """Answers ``reply`` (or the next scripted item: a str to answer, an exception to raise).

    ``response_metadata`` of every answer gets ``extra_metadata`` (e.g. a ``ratelimit``).
    """

    model: str = "fake-model"
    api_key: SecretStr | None = None
    reply: str = "ok"
    script: list[Any] = Field(default_factory=list)
    extra_metadata: dict[str, Any] = Field(default_factory=dict)
    calls: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    def _next(self, kwargs: dict[str, Any]) -> Any:
        self.calls.append(kwargs)
        item = self.script.pop(0) if self.script else self.reply
        if isinstance(item, BaseException) and not isinstance(item, StreamBreakError):
            raise item
        return item

    def _message(self, text: str) -> AIMessage:
        return AIMessage(
            content=text,
            response_metadata={"model_name": self.model, **self.extra_metadata},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        item = self._next(kwargs)
        if isinstance(item, StreamBreakError):
            raise item.error
        return ChatResult(generations=[ChatGeneration(message=self._message(item))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        item = self._next(kwargs)
        text, after, error = (
            (item.text, item.after, item.error)
            if isinstance(item, StreamBreakError)
            else (item, -1, None)
        )
        yield ChatGenerationChunk(message=AIMessageChunk(content=""))  # a role-only head
        for index, word in enumerate(text.split(" ")):
            if index == after:
                assert error is not None
                raise error
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
        if after >= len(text.split(" ")) and error is not None:
            raise error
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={"model_name": self.model, **self.extra_metadata},
            )
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._stream(messages, stop, None, **kwargs):
            yield chunk

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        names = [getattr(t, "name", None) or getattr(t, "__name__", str(t)) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=names, **kwargs)


class NoToolsChat(ScriptedChat):
    """A chat model without tool calling (``bind_tools`` is the base's NotImplementedError)."""

    def bind_tools(self, tools: Any, *, tool_choice: str | None = None, **kwargs: Any) -> Any:
        return BaseChatModel.bind_tools(self, tools, tool_choice=tool_choice, **kwargs)


class ScriptedEmbeddings(Embeddings):
    """Embeds every text as ``[value] * 3``, or raises the next scripted error."""

    def __init__(self, value: float, *, model: str = "fake-embed", key: str | None = None):
        self.value = value
        self.model = model
        self.api_key = SecretStr(key) if key else None
        self.script: list[BaseException] = []
        self.calls = 0
        self.last_ratelimit: dict[str, int] | None = None

    def _check(self) -> None:
        self.calls += 1
        if self.script:
            raise self.script.pop(0)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self._check()
        return [[self.value] * 3 for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        self._check()
        return [self.value] * 3


class HTTPStatusError(Exception):
    """An error shaped like an SDK's: ``status_code``, ``response.headers``, ``body``."""

    def __init__(
        self,
        status_code: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        message: str = "",
    ) -> None:
        super().__init__(message or f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body
        self.response = _Response(status_code, headers or {})


class ResponseOnlyError(Exception):
    """An error with the status only on ``.response`` (as httpx.HTTPStatusError has it)."""

    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.response = _Response(status_code, headers or {})


class _Response:
    def __init__(self, status_code: int, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.headers = headers

    def json(self) -> Any:
        raise ValueError("no body")
