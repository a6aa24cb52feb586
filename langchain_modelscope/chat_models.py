"""ModelScope API-Inference chat models."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
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
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_function, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator
from typing_extensions import Self

from langchain_modelscope._chat_families import LEARNED_STREAMING, needs_streaming
from langchain_modelscope._chat_messages import (
    PROVIDER,
    messages_to_wire,
    parse_wire_tool_calls,
    reasoning_of,
    text_of,
    usage_metadata,
)
from langchain_modelscope._chat_params import check_params, warn_unknown_call_params
from langchain_modelscope._chat_stream import StreamState
from langchain_modelscope._client import (
    DEFAULT_MAX_RETRIES,
    APIResponse,
    ModelScopeClient,
    RateLimitInfo,
    resolve_base_url,
    to_timeout,
)
from langchain_modelscope._core_owner import CoreOwner
from langchain_modelscope._governor import MaxConcurrentRequests
from langchain_modelscope._profiles import profile_for as _profile_for
from langchain_modelscope.errors import EmptyResponseError, ResponseDecodeError, ThinkingModeError

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
#: Call keyword arguments that steer this class and are never sent.
_LOCAL_KWARGS: Final = frozenset(
    {"stream", "stream_usage", "ls_structured_output_format", "structured_output_format"}
)
#: `count_tokens_approximately`'s default, for plain text too.
_CHARS_PER_TOKEN: Final = 4.0
_TOOL_CHOICE_WORDS: Final = frozenset({"auto", "none", "required"})
#: Fields sent as body parameters of the same name (``stop`` aside: an empty list is unset).
_BODY_FIELDS: Final = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "enable_thinking",
    "thinking_budget",
)
#: Body keys ModelScope does not take, and the ones it takes instead (modelscope-api.md §4).
_WIRE_NAMES: Final = {"max_completion_tokens": "max_tokens"}
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


class ChatModelScope(CoreOwner, BaseChatModel):
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
        values = _constructor_wire_names(values)
        known = _known_names(cls)
        model_kwargs = values.get("model_kwargs")
        if isinstance(model_kwargs, Mapping):
            clash = sorted(k for k in model_kwargs if k in known)
            if clash:
                raise ValueError(
                    f"{', '.join(clash)} must be passed to ChatModelScope directly, "
                    "not inside model_kwargs"
                )
        unknown = [k for k in values if k not in known]
        if not unknown:
            return values
        values = dict(values)
        extra = dict(model_kwargs or {})
        for name in unknown:
            if name in extra:
                raise ValueError(f"{name} was given both directly and in model_kwargs")
            warnings.warn(
                f"{name!r} is not a ChatModelScope parameter: it is sent in the request body "
                f"as model_kwargs[{name!r}]. Pass it in model_kwargs (or extra_body) to say "
                "so explicitly.",
                UserWarning,
                stacklevel=4,
            )
            extra[name] = values.pop(name)
        values["model_kwargs"] = extra
        return values

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

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """``dumpd`` / ``loads`` round trip, the token replaced by a secret reference."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """Where ``loads`` finds the class: pass ``valid_namespaces=["langchain_modelscope"]``."""
        return cls.__module__.split(".")

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "MODELSCOPE_API_KEY"}

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
            _merge(params, self.model_kwargs)
        if self.extra_body:
            _merge(params, self.extra_body)
        return params

    def _field_params(self) -> dict[str, Any]:
        """The body parameters that are fields of this class, set or not."""
        params = {name: getattr(self, name) for name in _BODY_FIELDS}
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
        if not messages:
            raise ValueError(
                "no messages to send: give at least one message (a str, or a list with a "
                "human message)"
            )
        body: dict[str, Any] = {"model": self.model, **self._default_params}
        call: dict[str, Any] = {}
        _merge(call, {key: value for key, value in kwargs.items() if key not in _LOCAL_KWARGS})
        if stop:
            call["stop"] = stop
        if call:
            check_params(call, "at call time")
            warn_unknown_call_params(call, _LOCAL_KWARGS, stacklevel=2)
            body.update(call)
        if not body.get("model") or not isinstance(body["model"], str):
            raise ValueError(
                f"model must be a non-empty ModelScope model id, got {body['model']!r}"
            )
        body["messages"] = messages_to_wire(messages)
        body.pop("stream", None)
        body.pop("stream_options", None)
        return body, self.stream_usage if stream_usage is None else bool(stream_usage)

    @staticmethod
    def _streamed(body: dict[str, Any]) -> dict[str, Any]:
        """Always asks for the usage: without it the service sends only zero placeholders
        (§4); ``stream_usage=False`` keeps it off the chunks instead (`StreamState`)."""
        return {**body, "stream": True, "stream_options": {"include_usage": True}}

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

    @staticmethod
    def _metadata(
        model: str, request_id: str | None, ratelimit: RateLimitInfo | None
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {"model_provider": PROVIDER, "model_name": model}
        if request_id:
            metadata["request_id"] = request_id
        if ratelimit is not None:
            metadata["ratelimit"] = ratelimit.as_dict()
        return metadata

    def _chat_result(self, response: APIResponse, body: dict[str, Any]) -> ChatResult:
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
        metadata = self._metadata(model, request_id, response.ratelimit)
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
                return self._chat_result(response, body)
        chunks = self._stream_body(client, self._streamed(body), stream_usage, run_manager)
        return generate_from_stream(chunks)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        body, stream_usage = self._request_body(messages, stop, kwargs)
        return self._stream_body(self.client, self._streamed(body), stream_usage, run_manager)

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
            final = self._final_chunk(state, body, events.request_id, events.ratelimit)
        if run_manager is not None:
            run_manager.on_llm_new_token("", chunk=final)
        yield final

    def _final_chunk(
        self,
        state: StreamState,
        body: dict[str, Any],
        request_id: str | None,
        ratelimit: RateLimitInfo | None,
    ) -> ChatGenerationChunk:
        if not state.saw_choice and _asks_json_schema(body):
            raise _empty_response(body, 200, request_id)
        return state.final_chunk(self._metadata(body["model"], request_id, ratelimit))

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
                return self._chat_result(response, body)
        chunks = self._astream_body(client, self._streamed(body), stream_usage, run_manager)
        return await agenerate_from_stream(chunks)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        body, stream_usage = self._request_body(messages, stop, kwargs)
        streamed = self._streamed(body)
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
            final = self._final_chunk(state, body, events.request_id, events.ratelimit)
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
            kwargs["tool_choice"] = _tool_choice(tool_choice, formatted)
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
        if method not in ("function_calling", "json_mode", "json_schema"):
            raise ValueError(
                f"method must be 'function_calling', 'json_mode' or 'json_schema', got {method!r}"
            )
        if schema is None and method != "json_mode":
            raise ValueError(f"method={method!r} needs a schema; only json_mode works without")
        # Imported here: the parsers (and the tools module they pull in) cost ~8 ms at import
        # time, for a method most programs never call (bench/findings.md, import benchmark).
        from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
        from langchain_core.output_parsers.openai_tools import (
            JsonOutputKeyToolsParser,
            PydanticToolsParser,
        )

        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        ls_format: dict[str, Any] = {"kwargs": {"method": method}, "schema": schema}
        parser: Runnable[Any, Any]
        if method == "function_calling":
            ls_format["kwargs"]["strict"] = strict
            tool_name = convert_to_openai_tool(schema)["function"]["name"]  # type: ignore[arg-type]
            llm = self.bind_tools(
                [schema],  # type: ignore[list-item]
                tool_choice=tool_name,
                parallel_tool_calls=False,
                strict=strict,
                ls_structured_output_format=ls_format,
                **kwargs,
            )
            if is_pydantic:
                parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
            else:
                parser = JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
        else:
            if method == "json_mode":
                response_format: dict[str, Any] = {"type": "json_object"}
            else:
                ls_format["kwargs"]["strict"] = strict
                response_format = _json_schema_format(schema, strict)
            llm = self.bind(
                response_format=response_format, ls_structured_output_format=ls_format, **kwargs
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        keep_raw = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks(
            [keep_raw], exception_key="parsing_error"
        )


def _constructor_wire_names(values: dict[str, Any]) -> dict[str, Any]:
    """``max_completion_tokens=`` (OpenAI's newer name) sets ``max_tokens``, the one sent."""
    if "max_completion_tokens" not in values:
        return values
    values = dict(values)
    value = values.pop("max_completion_tokens")
    other = values.get("max_tokens")
    if other is not None and other != value:
        raise ValueError(
            f"max_completion_tokens={value!r} and max_tokens={other!r} disagree; ModelScope "
            "takes max_tokens only: pass that one"
        )
    values["max_tokens"] = value
    return values


def _merge(params: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """``params.update(extra)``, with OpenAI names ModelScope does not take renamed."""
    for key, value in extra.items():
        params[_WIRE_NAMES.get(key, key)] = value


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


def _tool_choice(choice: dict[str, Any] | str | bool, tools: list[dict[str, Any]]) -> Any:
    names = [t["function"]["name"] for t in tools if isinstance(t.get("function"), dict)]
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, str):
        if choice in _TOOL_CHOICE_WORDS:
            return choice
        if choice in names:
            return {"type": "function", "function": {"name": choice}}
        raise ValueError(
            f"tool_choice={choice!r} is neither 'auto', 'none', 'any', 'required' nor the name "
            f"of a bound tool ({', '.join(names) or 'no tools bound'})"
        )
    if isinstance(choice, dict):
        return choice
    raise TypeError(f"tool_choice must be a str, bool or dict, got {type(choice).__name__}")


def _json_schema_format(
    schema: dict[str, Any] | type | None, strict: bool | None
) -> dict[str, Any]:
    if isinstance(schema, dict) and schema.get("type") == "json_schema":
        return schema
    function = convert_to_openai_function(schema)  # type: ignore[arg-type]
    spec: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


__all__ = ["DEFAULT_MODEL", "ChatModelScope"]
