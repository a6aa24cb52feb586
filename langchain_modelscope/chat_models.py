"""ModelScope API-Inference chat models."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams, LanguageModelInput
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from typing_extensions import Self

from langchain_modelscope._chat_answer import chat_result, final_chunk
from langchain_modelscope._chat_families import LEARNED_STREAMING, needs_streaming
from langchain_modelscope._chat_params import check_params
from langchain_modelscope._chat_request import (
    BODY_FIELDS,
    build_body,
    merge,
    move_unknown_kwargs,
    streaming_body,
)
from langchain_modelscope._chat_stream import StreamState
from langchain_modelscope._chat_structured import structured_output
from langchain_modelscope._chat_structured import tool_choice as tool_choice_for_wire
from langchain_modelscope._client import (
    DEFAULT_MAX_RETRIES,
    ModelScopeClient,
    resolve_base_url,
    to_timeout,
)
from langchain_modelscope._core_owner import CoreOwner, LangChainSerializable
from langchain_modelscope._governor import MaxConcurrentRequests
from langchain_modelscope._profiles import profile_for as _profile_for
from langchain_modelscope.errors import ThinkingModeError

if TYPE_CHECKING:
    from langchain_core.language_models import ModelProfile
    from langchain_core.tools import BaseTool

try:  # langchain-core >= 1.2; older releases do not check profile keys at all
    from langchain_core.language_models.model_profile import _warn_unknown_profile_keys
except ImportError:  # pragma: no cover

    def _warn_unknown_profile_keys(profile: ModelProfile) -> None:
        return None


logger = logging.getLogger("langchain_modelscope")

#: A non-thinking instruct model: it accepts non-streaming calls without ``enable_thinking``
#: games, calls tools well, and has been served on API-Inference from mid-2025 to late 2026
#: (modelscope-api.md §5; ModelScope's own agent framework's default). Ids churn: nothing here
#: depends on this one staying served.
DEFAULT_MODEL: Final = "Qwen/Qwen3-235B-A22B-Instruct-2507"

_PATH: Final = "chat/completions"
#: `count_tokens_approximately`'s default, for plain text too.
_CHARS_PER_TOKEN: Final = 4.0
_known_names_cache: dict[type, frozenset[str]] = {}


def _known_names(cls: type[ChatModelScope]) -> frozenset[str]:
    names = _known_names_cache.get(cls)
    if names is None:
        found: set[str] = set()
        for name, field in cls.model_fields.items():
            found.add(name)
            if field.alias:
                found.add(field.alias)
        names = _known_names_cache[cls] = frozenset(found)
    return names


class ChatModelScope(LangChainSerializable, CoreOwner, BaseChatModel):
    """Chat models of ModelScope API-Inference (``https://api-inference.modelscope.cn/v1``).

    Speaks the OpenAI-compatible chat-completions API directly over httpx (no openai SDK), and
    handles what is particular to ModelScope: thinking models that refuse non-streaming calls,
    ``reasoning_content``, zero usage placeholders on streamed deltas, the
    ``modelscope-ratelimit-*`` headers when sent, its error bodies and quotas. It never sends
    the ``developer`` role or ``max_completion_tokens``, which the service refuses.

    Setup:
        Get a token at https://modelscope.cn/my/myaccesstoken (the account must be bound to a
        real-name verified Alibaba Cloud account) and export it::

            export MODELSCOPE_API_KEY="ms-..."

        ``MODELSCOPE_SDK_TOKEN``, ``MODELSCOPE_API_TOKEN`` and ``MODELSCOPE_ACCESS_TOKEN`` are
        read too, in that order. Offline, run the emulator: ``python -m
        langchain_modelscope.testing``.

    Instantiate:
        .. code-block:: python

            from langchain_modelscope.chat_models import ChatModelScope

            llm = ChatModelScope(
                # served in late 2026; ids churn: check modelscope.cn
                model="Qwen/Qwen3-235B-A22B-Instruct-2507",
                temperature=0,
                max_tokens=512,
                max_retries=2,
            )

    Invoke:
        .. code-block:: python

            msg = llm.invoke([("system", "Translate to French."), ("human", "I love sailing.")])
            msg.content  # "J'adore la voile."
            msg.usage_metadata  # {"input_tokens": 21, "output_tokens": 6, "total_tokens": 27}

    Stream:
        .. code-block:: python

            for chunk in llm.stream("Write a haiku about rain"):
                print(chunk.text, end="", flush=True)

        Exactly one chunk carries ``usage_metadata`` and the response metadata.

    Tool calling:
        .. code-block:: python

            from pydantic import BaseModel, Field


            class GetWeather(BaseModel):
                '''Get the current weather in a given location.'''

                location: str = Field(description="City, e.g. Hangzhou")


            llm_tools = llm.bind_tools([GetWeather], tool_choice="auto")
            llm_tools.invoke("Weather in Hangzhou and Beijing?").tool_calls
            # [{"name": "GetWeather", "args": {"location": "Hangzhou"}, "id": "call_..."}, ...]

        Arguments that are not valid JSON come back in ``invalid_tool_calls``, never as an
        exception.

    Structured output:
        .. code-block:: python

            class Joke(BaseModel):
                setup: str
                punchline: str


            llm.with_structured_output(Joke).invoke("Tell me a joke about cats")
            llm.with_structured_output(Joke, method="json_mode").invoke(
                "Tell me a joke about cats, as JSON with keys setup and punchline"
            )

        ``method="json_schema"`` is sent as asked, but ModelScope has answered it with
        ``choices: null``; that raises `EmptyResponseError` naming the other two methods.

    Reasoning:
        .. code-block:: python

            thinker = ChatModelScope(model="Qwen/Qwen3-235B-A22B-Thinking-2507")
            msg = thinker.invoke("How many r's are in strawberry?")
            msg.additional_kwargs["reasoning_content"]  # the model's thinking
            [b for b in msg.content_blocks if b["type"] == "reasoning"]

        Thinking models that refuse non-streaming calls are streamed under the hood by
        ``invoke()``: at once for known families (``*-Thinking-*``, QwQ, Qwen3 hybrid models
        unless ``enable_thinking=False``), and after the first refusal for any other model.
        ``enable_thinking`` and ``thinking_budget`` are sent as top-level body fields.

    Response metadata:
        .. code-block:: python

            msg = llm.invoke("hi")
            msg.response_metadata["model_name"]  # the id that was asked for
            msg.response_metadata["served_model_name"]  # the name the service answered with
            msg.response_metadata.get("ratelimit")
            # daily-counter regime only: {"requests_limit": 2000, "requests_remaining": 1998,
            #  "model_requests_limit": 500, "model_requests_remaining": 498}; the points
            # regime (since 2026-08) sends no such headers, so the key is absent: use
            # `langchain_modelscope.points_balance()` for the points left.

    Errors are typed (`langchain_modelscope.errors`): quota, rate limit, authentication, model
    not found, ... each with the server's message, request id and model, never the token.
    """

    model_config = ConfigDict(populate_by_name=True)

    model: str = Field(default=DEFAULT_MODEL, alias="model_name", min_length=1)
    """ModelScope model id, e.g. ``Qwen/Qwen3-235B-A22B-Instruct-2507``."""
    api_key: SecretStr | None = None
    """Token; else ``MODELSCOPE_API_KEY``, ``MODELSCOPE_SDK_TOKEN``, ``MODELSCOPE_API_TOKEN``,
    ``MODELSCOPE_ACCESS_TOKEN``."""
    base_url: str | None = Field(default=None, alias="api_base")
    """API base; else ``MODELSCOPE_BASE_URL``, else ``https://api-inference.modelscope.cn/v1``."""
    timeout: float | httpx.Timeout | None = None
    """Seconds or an `httpx.Timeout`; the default allows reasoning models' slow first byte."""
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    """Retries of transient failures (connection, 5xx, passing 429s); quotas are not retried."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own httpx client (proxies, transports); a shared pooled one otherwise."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Your own async httpx client."""
    max_concurrent_requests: MaxConcurrentRequests = "auto"
    """Most calls of this token in flight at once, shared by every model of the process that
    uses it (sync and async); a call waits for a slot. ``"auto"``: 2 on the shared
    API-Inference hosts (ModelScope throttles more, for hours), no limit elsewhere; ``None``:
    no limit."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    """Most tokens of the answer, 1 or more (the ranges of every field: `_chat_params`)."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    streaming: bool = False
    """Stream under ``invoke()`` too."""
    stream_usage: bool = True
    """Report token usage on streams. ``stream_options.include_usage`` is sent either way:
    without it ModelScope sends only zero placeholders (modelscope-api.md §4)."""
    enable_thinking: bool | None = None
    """Thinking switch of hybrid models; False lets Qwen3 hybrids answer without streaming."""
    thinking_budget: int | None = None
    """Most reasoning tokens, for models that honour it."""
    extra_body: dict[str, Any] | None = None
    """Merged into every request body as is."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other body parameters (unknown constructor arguments land here, with a warning)."""

    # --- construction -----------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _move_unknown_kwargs(cls, values: Any) -> Any:
        """Unknown arguments go to ``model_kwargs`` with a warning rather than vanish."""
        if not isinstance(values, dict):
            return values
        return move_unknown_kwargs(values, _known_names(cls))

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop_string(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("timeout")
    @classmethod
    def _valid_timeout(cls, value: float | httpx.Timeout | None) -> float | httpx.Timeout | None:
        to_timeout(value)  # raises a clear ValueError for zero, negative or odd values
        return value

    @model_validator(mode="after")
    def _check_params(self) -> Self:
        """The same check as every call's keyword arguments (`_chat_params.check_params`)."""
        check_params({**self._field_params(), **self.model_kwargs}, "ChatModelScope(...)")
        return self

    @model_validator(mode="after")
    def _resolve_base_url(self) -> Self:
        """The base URL, from the argument or the environment (the token: `CoreOwner`)."""
        self.base_url = resolve_base_url(self.base_url)
        return self

    @property
    def model_name(self) -> str:
        """Same as `model` (LangChain tools look for either)."""
        return self.model

    def _resolve_model_profile(self) -> ModelProfile | None:
        return cast("ModelProfile", dict(_profile_for(self.model)))

    @model_validator(mode="after")
    def _check_profile_keys(self) -> Self:
        """Check only a profile the user gave: ours has known keys, and core's check resolves
        `ModelProfile`'s type hints on every construction (two thirds of its cost)."""
        if self.profile is not None and self.profile != _profile_for(self.model):
            _warn_unknown_profile_keys(self.profile)
        return self

    # --- serialization and token counting ---------------------------------------------------

    def get_num_tokens(self, text: str) -> int:
        """Approximate (about 4 characters a token) unless ``custom_get_token_ids`` is set:
        core's default needs ``transformers`` and a GPT-2 tokenizer, which fits no model here."""
        if self.custom_get_token_ids is not None:
            return super().get_num_tokens(text)
        return math.ceil(len(text) / _CHARS_PER_TOKEN)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """langchain-core's `count_tokens_approximately` (tools included), so that
        ``trim_messages(token_counter=llm)`` works without a tokenizer; with
        ``custom_get_token_ids`` set, each message is counted with it."""
        if self.custom_get_token_ids is not None:
            return super().get_num_tokens_from_messages(messages, tools)
        schemas: list[BaseTool | dict[str, Any]] = [convert_to_openai_tool(t) for t in tools or ()]
        return count_tokens_approximately(
            messages, chars_per_token=_CHARS_PER_TOKEN, tools=schemas or None
        )

    @property
    def _llm_type(self) -> str:
        return "chat-modelscope"

    @property
    def _default_params(self) -> dict[str, Any]:
        """Body parameters set on this instance (no model, no messages)."""
        params = {name: value for name, value in self._field_params().items() if value is not None}
        if self.model_kwargs:
            merge(params, self.model_kwargs)
        if self.extra_body:
            merge(params, self.extra_body)
        return params

    def _field_params(self) -> dict[str, Any]:
        """The body parameters that are fields of this class, set or not."""
        params = {name: getattr(self, name) for name in BODY_FIELDS}
        params["stop"] = self.stop or None
        return params

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url, **self._default_params}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="modelscope",
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        ls_stop = stop or kwargs.get("stop") or self.stop
        if ls_stop:
            params["ls_stop"] = ls_stop
        return params

    # --- requests ---------------------------------------------------------------------------

    def _request_body(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """The JSON body without streaming flags, and whether streams should report usage."""
        stream_usage = kwargs.get("stream_usage")
        body = build_body(self.model, self._default_params, messages, stop, kwargs)
        return body, self.stream_usage if stream_usage is None else bool(stream_usage)

    @staticmethod
    def _must_stream(client: ModelScopeClient, body: dict[str, Any]) -> bool:
        model = body["model"]
        return needs_streaming(model, body.get("enable_thinking")) or LEARNED_STREAMING.knows(
            client.base_url, model
        )

    @staticmethod
    def _learn_streaming(client: ModelScopeClient, error: ThinkingModeError, model: str) -> None:
        LEARNED_STREAMING.remember(client.base_url, model)
        logger.info(
            "%s refused a non-streaming call (%s); streaming it from now on", model, error.message
        )

    # --- sync -------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body, stream_usage = self._request_body(messages, stop, kwargs)
        client = self.client
        if not self._must_stream(client, body):
            try:
                response = client.post(_PATH, body, model=body["model"], run_manager=run_manager)
            except ThinkingModeError as error:
                self._learn_streaming(client, error, body["model"])
            else:
                return chat_result(response, body)
        chunks = self._stream_body(client, streaming_body(body), stream_usage, run_manager)
        return generate_from_stream(chunks)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        body, stream_usage = self._request_body(messages, stop, kwargs)
        return self._stream_body(self.client, streaming_body(body), stream_usage, run_manager)

    def _stream_body(
        self,
        client: ModelScopeClient,
        body: dict[str, Any],
        stream_usage: bool,
        run_manager: CallbackManagerForLLMRun | None,
    ) -> Iterator[ChatGenerationChunk]:
        model = body["model"]
        state = StreamState(report_usage=stream_usage)
        with client.stream(_PATH, body, model=model, run_manager=run_manager) as events:
            for payload in events:
                chunk = state.feed(payload)
                if chunk is not None:
                    if run_manager is not None:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
            final = final_chunk(state, body, events.request_id, events.ratelimit)
        if run_manager is not None:
            run_manager.on_llm_new_token("", chunk=final)
        yield final

    # --- async ------------------------------------------------------------------------------

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body, stream_usage = self._request_body(messages, stop, kwargs)
        client = self.client
        if not self._must_stream(client, body):
            try:
                response = await client.apost(
                    _PATH, body, model=body["model"], run_manager=run_manager
                )
            except ThinkingModeError as error:
                self._learn_streaming(client, error, body["model"])
            else:
                return chat_result(response, body)
        chunks = self._astream_body(client, streaming_body(body), stream_usage, run_manager)
        return await agenerate_from_stream(chunks)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        body, stream_usage = self._request_body(messages, stop, kwargs)
        streamed = streaming_body(body)
        async for chunk in self._astream_body(self.client, streamed, stream_usage, run_manager):
            yield chunk

    async def _astream_body(
        self,
        client: ModelScopeClient,
        body: dict[str, Any],
        stream_usage: bool,
        run_manager: AsyncCallbackManagerForLLMRun | None,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model = body["model"]
        state = StreamState(report_usage=stream_usage)
        async with client.astream(_PATH, body, model=model, run_manager=run_manager) as events:
            async for payload in events:
                chunk = state.feed(payload)
                if chunk is not None:
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
            final = final_chunk(state, body, events.request_id, events.ratelimit)
        if run_manager is not None:
            await run_manager.on_llm_new_token("", chunk=final)
        yield final

    # --- tools and structured output --------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, pydantic models, TypedDicts, JSON schemas).

        Args:
            tools: The tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (call some
                tool), a tool's name, or an OpenAI ``{"type": "function", ...}`` dict. ModelScope
                documents only ``"auto"`` as working everywhere; some models answered forced
                choices with an empty message.
            parallel_tool_calls: False asks for at most one call per answer.
            strict: Ask the server to hold arguments to the schema exactly (sent as is).
            kwargs: Other request parameters to bind.
        """
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = tool_choice_for_wire(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """A runnable that returns ``schema`` instances (pydantic) or dicts.

        Args:
            schema: A pydantic class, a TypedDict, or a JSON schema / OpenAI function dict.
                May be None with ``method="json_mode"`` (any JSON object).
            method: ``"function_calling"`` (default: a forced tool call, works on the models
                that call tools), ``"json_mode"`` (``response_format: json_object``; say what
                keys you want in the prompt), or ``"json_schema"`` (sent as asked; ModelScope
                has answered it with ``choices: null``, which raises `EmptyResponseError`).
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of raising on
                a parse failure.
            strict: Passed to the tool or schema definition.
            kwargs: Other request parameters to bind.
        """
        return structured_output(self, schema, method, include_raw, strict, kwargs)


__all__ = ["DEFAULT_MODEL", "ChatModelScope"]
