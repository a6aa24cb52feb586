"""The names of ModelScope's own package, so code written for it runs here unchanged.

``langchain-modelscope-integration`` (0.1.x) installs the same import name, cannot be
installed beside LangChain 1.x, and its users write ``ModelScopeChatEndpoint``,
``ModelScopeEndpoint(model_name=..., modelscope_sdk_token=...)`` and
``ModelScopeEmbeddings(model_id=...)``. Those spellings work here: each warns once (a
`LangChainDeprecationWarning`) saying what to write instead, then behaves as this package's own
class. Nothing of the old package's faults is kept (its ``gpt-3.5-turbo`` default, ignored
``timeout`` / ``max_retries``, dropped reasoning, three calls per 429).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final

from langchain_core._api import warn_deprecated
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM, LangSmithParams
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult, Generation, GenerationChunk, LLMResult
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_modelscope._client import DEFAULT_MAX_RETRIES
from langchain_modelscope._core_owner import LangChainSerializable, TokenlessPickling
from langchain_modelscope.chat_models import DEFAULT_MODEL, ChatModelScope

#: The old package's argument names that differ from this package's, per class.
#: ``None``: accepted and ignored (it has no meaning here), with a warning.
CHAT_RENAMES: Final[Mapping[str, str | None]] = {
    "modelscope_sdk_token": "api_key",
    "openai_api_key": "api_key",
    "openai_api_base": "base_url",
    "request_timeout": "timeout",
}
EMBEDDINGS_RENAMES: Final[Mapping[str, str | None]] = {"model_id": "model", "model_revision": None}

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str) -> None:
    """One `LangChainDeprecationWarning` per key and process: old code keeps working quietly."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warn_deprecated(since="0.1.0", message=message, package="langchain-modelscope-api")


def renamed(values: Any, owner: str, renames: Mapping[str, str | None]) -> Any:
    """Constructor arguments with the old package's names moved to this package's names."""
    if not isinstance(values, dict) or not any(old in values for old in renames):
        return values
    values = dict(values)
    for old, new in renames.items():
        if old not in values:
            continue
        value = values.pop(old)
        if new is None:
            warn_once(
                f"{owner}.{old}",
                f"{owner}({old}=...) is ignored: it belonged to langchain-modelscope-integration "
                "and means nothing to API-Inference. Leave it out.",
            )
            continue
        if new in values:
            raise ValueError(f"{owner}: give {new}= or {old}=, not both")
        values[new] = value
        warn_once(
            f"{owner}.{old}",
            f"{owner}({old}=...) is the old spelling of langchain-modelscope-integration; "
            f"write {owner}({new}=...) instead.",
        )
    return values


class ModelScopeChatEndpoint(ChatModelScope):
    """Deprecated spelling of `ChatModelScope`, for code written for
    ``langchain-modelscope-integration``.

    Accepts that package's arguments (``modelscope_sdk_token``, ``model`` / ``model_name``,
    ``base_url`` / ``api_base``, ``extra_body``, ``request_timeout``, ...) and is in every other
    way a `ChatModelScope`: same wire behaviour, errors and quota handling.
    """

    def __init__(self, **kwargs: Any) -> None:
        warn_once(
            "ModelScopeChatEndpoint",
            "ModelScopeChatEndpoint is the name used by langchain-modelscope-integration; "
            "write `from langchain_modelscope import ChatModelScope` and "
            "ChatModelScope(model=..., api_key=...) instead (same arguments otherwise).",
        )
        super().__init__(**kwargs)

    @model_validator(mode="before")
    @classmethod
    def _old_argument_names(cls, values: Any) -> Any:
        return renamed(values, "ChatModelScope", CHAT_RENAMES)

    @property
    def _llm_type(self) -> str:
        return "chat-modelscope"


class ModelScopeEndpoint(LangChainSerializable, TokenlessPickling, BaseLLM):
    """Text completion (prompt in, text out) over ModelScope's chat completions.

    The prompt is sent as one user message to `ChatModelScope`, so everything it does applies:
    thinking models, typed errors, quotas, retries. Kept for code written for
    ``langchain-modelscope-integration``; new code uses `ChatModelScope` directly.

    Its defaults are the old package's (``temperature=0.3``, ``max_tokens=1024``) except the
    model, whose old default (``Qwen/Qwen2.5-Coder-32B-Instruct``) is no longer served.
    """

    model_config = ConfigDict(populate_by_name=True)

    model: str = Field(default=DEFAULT_MODEL, alias="model_name", min_length=1)
    """ModelScope model id."""
    api_key: SecretStr | None = None
    """Token; else ``MODELSCOPE_API_KEY``, ``MODELSCOPE_SDK_TOKEN``, ..."""
    base_url: str | None = Field(default=None, alias="api_base")
    """API base; else ``MODELSCOPE_BASE_URL``, else the public endpoint."""
    temperature: float | None = 0.3
    max_tokens: int | None = Field(default=1024, ge=1)
    timeout: float | None = None
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    extra_body: dict[str, Any] | None = None
    """Merged into every request body (e.g. ``{"enable_thinking": False}``)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other body parameters."""

    _chat: ChatModelScope = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        warn_once(
            "ModelScopeEndpoint",
            "ModelScopeEndpoint is kept for code written for langchain-modelscope-integration; "
            "new code: ChatModelScope(model=...).invoke(prompt).text gives the same text, with "
            "messages, tools and metadata besides.",
        )
        super().__init__(**kwargs)
        # Built here, not in a validator, so a missing token is a MissingAPIKeyError.
        self._chat = ChatModelScope(
            model=self.model,
            api_key=self.api_key,
            base_url=self.base_url,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
            max_retries=self.max_retries,
            extra_body=self.extra_body,
            model_kwargs=self.model_kwargs,
        )
        self.api_key = self._chat.api_key
        self.base_url = self._chat.base_url

    @model_validator(mode="before")
    @classmethod
    def _old_argument_names(cls, values: Any) -> Any:
        return renamed(values, "ModelScopeEndpoint", CHAT_RENAMES)

    @property
    def chat_model(self) -> ChatModelScope:
        """The chat model every call goes through."""
        return self._chat

    @property
    def _llm_type(self) -> str:
        return "modelscope-endpoint"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return self._chat._identifying_params

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = self._chat._get_ls_params(stop, **kwargs)
        params["ls_model_type"] = "llm"
        return params

    @staticmethod
    def _messages(prompt: str) -> list[BaseMessage]:
        return [HumanMessage(prompt)]

    def _llm_result(self, results: list[ChatResult]) -> LLMResult:
        """One chat result per prompt, as text generations (finish reason and metadata kept)."""
        generations = [
            [_generation(g.message, g.generation_info) for g in result.generations]
            for result in results
        ]
        return LLMResult(generations=generations, llm_output={"model_name": self.model})

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        return self._llm_result(
            [self._chat._generate(self._messages(p), stop, **kwargs) for p in prompts]
        )

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        return self._llm_result(
            [await self._chat._agenerate(self._messages(p), stop, **kwargs) for p in prompts]
        )

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for chunk in self._chat._stream(self._messages(prompt), stop, **kwargs):
            if chunk.text or chunk.generation_info:
                piece = GenerationChunk(text=chunk.text, generation_info=chunk.generation_info)
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece.text, chunk=piece)
                yield piece

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        async for chunk in self._chat._astream(self._messages(prompt), stop, **kwargs):
            if chunk.text or chunk.generation_info:
                piece = GenerationChunk(text=chunk.text, generation_info=chunk.generation_info)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(piece.text, chunk=piece)
                yield piece


def _generation(message: BaseMessage, info: dict[str, Any] | None) -> Generation:
    """The chat answer's text, with its finish reason and metadata kept as generation info."""
    return Generation(
        text=message.text, generation_info={**(info or {}), **message.response_metadata}
    )


__all__ = ["ModelScopeChatEndpoint", "ModelScopeEndpoint"]
