"""Quota-aware fallback: one chat model (or embeddings) made of ranked candidates.

ModelScope's free tier runs out (HTTP 429): a points balance that comes back when points are
granted (2026), or daily counters that reset at 00:00 UTC+8 (before). LangChain's
``with_fallbacks`` has no memory, so it calls the dead candidate first on every request (and the
openai SDK retries ``insufficient_quota`` twice on top); it is also not a chat model, so it has
no ``bind_tools`` and ``create_agent`` rejects it. :class:`FallbackChatModel` fixes both:

* it is a ``BaseChatModel``: invoke, ainvoke, stream, astream, batch, ``bind_tools`` (bound on
  every candidate through that candidate's own ``bind_tools``) and ``with_structured_output``
  (each candidate's own), so it drops into ``create_agent``;
* every decision to skip or try a candidate reads the :mod:`quota ledger
  <langchain_modelscope.quota>`, and every quota failure, refused token, unknown model or
  ``remaining: 0`` rate-limit header writes to it. The ledger is the only state: the fallback
  keeps no counters, so processes sharing a SQLite or Redis ledger agree, and a candidate comes
  back by itself when its mark lifts: a daily quota at the next 00:00 UTC+8, a spent points
  balance when one balance check per ``balance_check_interval`` (one caller across processes)
  sees points again, a throttle ("We have to rate limit you") after an escalating cooldown
  and one claimed probe, a retired model after a day;
* a throttled candidate is never retried inside the call: the walk moves on at once (this
  package's own candidates skip their retry loop for a throttle while the fallback calls them);
* failures are classified for any provider without importing its SDK
  (:mod:`langchain_modelscope._fallback_classify`): quota, auth and model-not-found move on at
  once; transient ones move on after the candidate's own retries; a bad request is raised at
  once, since it would fail everywhere;
* a stream switches candidates only before its first content chunk;
* the answer's ``response_metadata["fallback"]`` names the candidate that served and why the
  others did not; each switch logs one WARNING; when nothing is left, one
  :class:`AllCandidatesFailedError` lists every candidate and the earliest reset.

Candidates are known to the ledger as (provider, account fingerprint, model): the account is a
hash of the candidate's key (never the key itself), or a label you give with :class:`Candidate`.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from typing_extensions import Self

from langchain_modelscope._fallback_callbacks import candidate_config
from langchain_modelscope._fallback_candidates import (
    DEFAULT_ACCOUNT,
    Candidate,
    CandidateInfo,
    Order,
    Slot,
    modelscope_grid,
)
from langchain_modelscope._fallback_head import (
    Head,
    aclose_stream,
    aread_head,
    close_stream,
    read_head,
)
from langchain_modelscope._fallback_step import (
    DEFAULT_BALANCE_CHECK_INTERVAL,
    DEFAULT_COOLDOWN,
    Rules,
    message_ratelimit,
)
from langchain_modelscope._fallback_structured import StructuredFallback
from langchain_modelscope._fallback_trace import Attempt, first_chunks, with_report
from langchain_modelscope._fallback_walk import Walk
from langchain_modelscope.errors import AllCandidatesFailedError
from langchain_modelscope.quota import QuotaLedger, get_default_ledger

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "DEFAULT_ACCOUNT",
    "AllCandidatesFailedError",
    "Attempt",
    "Candidate",
    "CandidateInfo",
    "FallbackChatModel",
    "FallbackEmbeddings",
]

#: ``ls_model_name`` of a fallback's own run; ``response_metadata`` names who served.
FALLBACK_MODEL_NAME = "fallback"


class _FallbackSettings(BaseModel):
    """Settings, and the resolved candidates, shared by the chat and embeddings fallbacks."""

    ledger: QuotaLedger | None = Field(default=None, exclude=True)
    """Where exhaustion is remembered; None: the process-wide default ledger (in memory,
    unless :func:`~langchain_modelscope.quota.set_default_ledger` replaced it)."""
    quota_cooldown: timedelta = DEFAULT_COOLDOWN
    """How long a spent quota is skipped when neither the error nor a header says when it
    resets (other providers; ModelScope's quotas reset at 00:00 UTC+8)."""
    auth_cooldown: timedelta = DEFAULT_COOLDOWN
    """How long an account whose token was refused (401/403) is skipped."""
    not_found_cooldown: timedelta = DEFAULT_COOLDOWN
    """How long a model the provider does not know is skipped."""
    fallback_on_unknown_errors: bool = False
    """Move on after an error that cannot be classified (default: raise it, it is most
    likely a bug that every candidate would hit)."""
    balance_check_interval: timedelta = DEFAULT_BALANCE_CHECK_INTERVAL
    """How often (seconds or a timedelta; default 5 minutes) an account whose points ran out
    is checked again. A spent balance has no reset time: points come back when the user is
    active on modelscope.cn. Once per interval exactly one caller across every process sharing
    the ledger asks the free balance endpoint; points above zero bring the account back in
    that same call. Where the endpoint is unusable, one call per interval probes instead."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @field_validator("balance_check_interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
            raise TypeError(
                "balance_check_interval takes seconds (int or float) or a timedelta, "
                f"got {type(value).__name__}"
            )
        interval = value if isinstance(value, timedelta) else timedelta(seconds=value)
        if interval <= timedelta(0):
            raise ValueError(f"balance_check_interval must be positive, got {value!r}")
        return interval

    _slots: tuple[Slot, ...] = PrivateAttr(default=())

    def _resolve(self, candidates: list[Any], kind: type) -> None:
        if not candidates:
            raise ValueError(f"{type(self).__name__} needs at least one candidate")
        self._slots = tuple(
            Slot.of(index, spec, kind, refuse=(_FallbackSettings,))
            for index, spec in enumerate(candidates)
        )

    @property
    def candidate_infos(self) -> list[CandidateInfo]:
        """Each candidate's identity in the ledger, best first."""
        return [slot.info for slot in self._slots]

    def _walk(self, slots: Sequence[Slot] | None = None) -> Walk:
        """A fresh walk for one call (over ``slots``, default the candidates themselves)."""
        ledger = self.ledger if self.ledger is not None else get_default_ledger()
        rules = Rules(
            quota_cooldown=self.quota_cooldown,
            auth_cooldown=self.auth_cooldown,
            not_found_cooldown=self.not_found_cooldown,
            fallback_on_unknown_errors=self.fallback_on_unknown_errors,
            balance_check_interval=self.balance_check_interval,
        )
        return Walk(ledger, rules, self._slots if slots is None else slots)


_SETTING_NAMES = frozenset(_FallbackSettings.model_fields)


def _split_settings(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fallback settings, model arguments) out of one ``**kwargs``."""
    settings = {k: v for k, v in kwargs.items() if k in _SETTING_NAMES}
    return settings, {k: v for k, v in kwargs.items() if k not in _SETTING_NAMES}


# --------------------------------------------------------------------------- chat


def _message_ratelimits(_: Slot, message: Any) -> tuple[Any]:
    return (message_ratelimit(message),)


def _head_ratelimits(_: Slot, opened: Head[Any]) -> Iterable[Any]:
    return [message_ratelimit(chunk) for chunk in opened[1]]


class FallbackChatModel(_FallbackSettings, BaseChatModel):
    """A chat model made of ranked candidates that skips the ones whose quota is spent.

    Usage::

        from langchain_modelscope.fallback import FallbackChatModel
        from langchain_modelscope.quota import QuotaLedger, SQLiteQuotaStore

        model = FallbackChatModel.from_modelscope(
            ["Qwen/Qwen3-235B-A22B-Instruct-2507", "deepseek-ai/DeepSeek-V4-Flash"],  # ids churn
            tokens=[main_token, backup_token],
            then=[ChatOpenAI(model="qwen-plus", base_url=DASHSCOPE_URL)],
            order="models_first",
            ledger=QuotaLedger(SQLiteQuotaStore("~/.cache/modelscope-quota.sqlite3")),
            max_retries=1,  # any other keyword goes to each ChatModelScope
        )
        model.invoke("hello").response_metadata["fallback"]["served_by"]
        agent = create_agent(model, tools=[...])  # a real BaseChatModel, unlike with_fallbacks

    or ``FallbackChatModel(candidates=[model_a, model_b, Candidate(model_c, provider="x")])``.
    """

    candidates: list[Any]
    """Chat models (or :class:`Candidate` around one), best first."""

    @model_validator(mode="after")
    def _resolve_candidates(self) -> Self:
        self._resolve(self.candidates, BaseChatModel)
        return self

    @classmethod
    def from_modelscope(
        cls,
        models: str | Sequence[str],
        *,
        tokens: Sequence[str | SecretStr | None] | None = None,
        then: Sequence[BaseChatModel | Candidate] = (),
        order: Order = "models_first",
        **kwargs: Any,
    ) -> FallbackChatModel:
        """The usual grid: ModelScope ``models`` × ``tokens`` (accounts), then ``then``.

        ``order="models_first"`` tries every model on the first account before the next
        account (stays on your main account longest); ``"accounts_first"`` tries the first model
        on every account before the next model (stays on your preferred model longest).
        ``tokens=None`` uses the token from the environment. Keyword arguments that are
        settings of this class (``ledger``, ``quota_cooldown``, ...) configure the fallback;
        the rest go to every ``ChatModelScope`` (``base_url``, ``max_retries``, ...).
        """
        from langchain_modelscope.chat_models import ChatModelScope

        settings, model_kwargs = _split_settings(kwargs)
        grid = modelscope_grid(ChatModelScope, models, tokens, order, model_kwargs)
        return cls(candidates=[*grid, *then], **settings)

    @property
    def _llm_type(self) -> str:
        return "modelscope-fallback"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"candidates": [slot.info.label for slot in self._slots]}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # The run starts before anyone knows who serves it: the run says "fallback", the
        # answer's metadata (and the serving candidate's own nested run) names the candidate.
        params = LangSmithParams(
            ls_provider="modelscope-fallback",
            ls_model_name=FALLBACK_MODEL_NAME,
            ls_model_type="chat",
        )
        if stop:
            params["ls_stop"] = stop
        return params

    # -- calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def call(slot: Slot) -> BaseMessage:
            config = candidate_config(run_manager, slot.info.index)
            return cast(BaseMessage, slot.target.invoke(messages, config, stop=stop, **kwargs))

        walk = self._walk()
        message, slot = walk.run(call, _message_ratelimits)
        message = with_report(message, walk.trace.report(slot))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def call(slot: Slot) -> Awaitable[BaseMessage]:
            config = candidate_config(run_manager, slot.info.index)
            return cast(
                Awaitable[BaseMessage],
                slot.target.ainvoke(messages, config, stop=stop, **kwargs),
            )

        walk = self._walk()
        message, slot = await walk.arun(call, _message_ratelimits)
        message = with_report(message, walk.trace.report(slot))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        def call(slot: Slot) -> Head[Iterator[AIMessageChunk]]:
            config = candidate_config(run_manager, slot.info.index)
            return read_head(iter(slot.target.stream(messages, config, stop=stop, **kwargs)))

        walk = self._walk()
        (rest, head), slot = walk.run(call, _head_ratelimits)
        try:
            # Served: from here on the stream is this candidate's, errors and all.
            yield from first_chunks(head, walk.trace.report(slot))
            try:
                for chunk in rest:
                    walk.learn(slot, message_ratelimit(chunk))
                    yield ChatGenerationChunk(message=chunk)
            except Exception as error:
                walk.fail_started(slot, error)
                raise
        finally:
            close_stream(rest)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        def call(slot: Slot) -> Awaitable[Head[AsyncIterator[AIMessageChunk]]]:
            config = candidate_config(run_manager, slot.info.index)
            return aread_head(slot.target.astream(messages, config, stop=stop, **kwargs))

        walk = self._walk()
        (rest, head), slot = await walk.arun(call, _head_ratelimits)
        try:
            for generation in first_chunks(head, walk.trace.report(slot)):
                yield generation
            try:
                async for chunk in rest:
                    await walk.alearn(slot, message_ratelimit(chunk))
                    yield ChatGenerationChunk(message=chunk)
            except Exception as error:
                await walk.afail_started(slot, error)
                raise
        finally:
            await aclose_stream(rest)

    # -- declarative methods

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> FallbackChatModel:
        """Bind ``tools`` on every candidate through its own ``bind_tools``.

        Each provider formats tools (and ``tool_choice``) its own way. The result is again a
        ``FallbackChatModel``, so ``create_agent`` and ``with_structured_output`` accept it.
        """
        if tool_choice is not None:
            kwargs = {**kwargs, "tool_choice": tool_choice}
        bound = []
        for slot in self._slots:
            try:
                target = slot.model.bind_tools(tools, **kwargs)
            except NotImplementedError as error:
                raise NotImplementedError(
                    f"fallback candidate {slot.info.label} ({type(slot.model).__name__}) cannot "
                    f"bind tools; leave it out of a model that calls tools"
                ) from error
            bound.append(replace(slot, target=target))
        clone = self.model_copy()
        clone._slots = tuple(bound)
        return clone

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Structured output through each candidate's own ``with_structured_output``.

        ``kwargs`` (e.g. ``method=``) go to every candidate. With ``include_raw=True`` the raw
        message carries ``response_metadata["fallback"]`` like any answer.
        """
        slots = [
            replace(
                slot,
                target=slot.model.with_structured_output(schema, include_raw=True, **kwargs),
            )
            for slot in self._slots
        ]
        return StructuredFallback(walk=self._walk, slots=tuple(slots), include_raw=include_raw)


# --------------------------------------------------------------------------- embeddings


def _embeddings_ratelimits(slot: Slot, _: Any) -> tuple[Any]:
    return (getattr(slot.model, "last_ratelimit", None),)


class FallbackEmbeddings(_FallbackSettings, Embeddings):
    """Embeddings made of ranked candidates, sharing the quota ledger with the chat fallback.

    Usage::

        embeddings = FallbackEmbeddings.from_modelscope(
            "Qwen/Qwen3-Embedding-8B", tokens=[main_token, backup_token]
        )
        vectors = embeddings.embed_documents(["a", "b"])

    Vectors of different models cannot be compared: list the same model on several accounts,
    or make sure every candidate returns vectors of one space (a warning says when the model
    names differ).
    """

    candidates: list[Any]
    """Embeddings models (or :class:`Candidate` around one), best first."""

    @model_validator(mode="after")
    def _resolve_candidates(self) -> Self:
        self._resolve(self.candidates, Embeddings)
        names = {slot.info.model for slot in self._slots}
        if len(names) > 1:
            warnings.warn(
                f"FallbackEmbeddings candidates use different models ({', '.join(sorted(names))}):"
                f" their vectors are not comparable, so do not mix them in one index",
                stacklevel=2,
            )
        return self

    @classmethod
    def from_modelscope(
        cls,
        models: str | Sequence[str],
        *,
        tokens: Sequence[str | SecretStr | None] | None = None,
        then: Sequence[Embeddings | Candidate] = (),
        order: Order = "accounts_first",
        **kwargs: Any,
    ) -> FallbackEmbeddings:
        """ModelScope ``models`` × ``tokens``, then ``then``; see
        :meth:`FallbackChatModel.from_modelscope` (here ``accounts_first`` is the default, as
        vectors of one model stay comparable)."""
        from langchain_modelscope.embeddings import ModelScopeEmbeddings

        settings, model_kwargs = _split_settings(kwargs)
        grid = modelscope_grid(ModelScopeEmbeddings, models, tokens, order, model_kwargs)
        return cls(candidates=[*grid, *then], **settings)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` with the first candidate that can."""
        vectors, _ = self._walk().run(
            lambda s: s.model.embed_documents(texts), _embeddings_ratelimits
        )
        return cast(list[list[float]], vectors)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query with the first candidate that can."""
        vector, _ = self._walk().run(lambda s: s.model.embed_query(text), _embeddings_ratelimits)
        return cast(list[float], vector)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`."""
        vectors, _ = await self._walk().arun(
            lambda s: s.model.aembed_documents(texts), _embeddings_ratelimits
        )
        return cast(list[list[float]], vectors)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        vector, _ = await self._walk().arun(
            lambda s: s.model.aembed_query(text), _embeddings_ratelimits
        )
        return cast(list[float], vector)
