"""Quota-aware fallback: one chat model (or embeddings) made of ranked candidates.

ModelScope's free quotas run out daily (HTTP 429) and come back at 00:00 UTC+8. LangChain's
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
  back by itself when its mark lifts (ModelScope: the next 00:00 UTC+8);
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

import logging
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing, closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForChainRun,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    CallbackManager,
    CallbackManagerForChainRun,
    CallbackManagerForLLMRun,
)
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import patch_config
from langchain_core.tracers.base import AsyncBaseTracer, BaseTracer
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from langchain_modelscope._fallback_classify import Failure, classify_error, redact
from langchain_modelscope.errors import ModelScopeError
from langchain_modelscope.quota import (
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    account_fingerprint,
    get_default_ledger,
)

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = [
    "AllCandidatesFailedError",
    "Attempt",
    "Candidate",
    "CandidateInfo",
    "FallbackChatModel",
    "FallbackEmbeddings",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
Order = Literal["models_first", "accounts_first"]
Outcome = Literal["skipped", "failed"]

#: Account label of a candidate whose key could not be found (it uses its SDK's default).
DEFAULT_ACCOUNT = "default"
_DEFAULT_COOLDOWN = timedelta(hours=1)


# --------------------------------------------------------------------------- identity


@dataclass(frozen=True, slots=True)
class CandidateInfo:
    """How a candidate is known to the ledger and in reports: never its token."""

    index: int
    provider: str
    account: str
    model: str

    @property
    def key(self) -> QuotaKey:
        """The ledger key of this (provider, account, model)."""
        return QuotaKey(self.provider, self.account, self.model)

    @property
    def label(self) -> str:
        """``provider:model@account``, for logs and messages."""
        return f"{self.provider}:{self.model}@{self.account}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as shown in ``response_metadata["fallback"]``."""
        return {
            "index": self.index,
            "provider": self.provider,
            "model": self.model,
            "account": self.account,
        }


class Candidate:
    """A candidate model with an explicit identity, when the derived one is not what you want.

    Usage::

        Candidate(ChatOpenAI(model="qwen-plus", base_url=DASHSCOPE_URL), provider="dashscope")
        Candidate(my_model, account="team-b", model_name="my-model")

    ``account`` is a label (not a token); by default it is a fingerprint of the model's key.
    """

    __slots__ = ("account", "model", "model_name", "provider")

    def __init__(
        self,
        model: Any,
        *,
        provider: str | None = None,
        account: str | None = None,
        model_name: str | None = None,
    ) -> None:
        self.model = model
        self.provider = provider
        self.account = account
        self.model_name = model_name

    def __repr__(self) -> str:
        return (
            f"Candidate({type(self.model).__name__}, provider={self.provider!r}, "
            f"account={self.account!r}, model_name={self.model_name!r})"
        )


def _is_modelscope(model: Any) -> bool:
    names = {cls.__name__ for cls in type(model).__mro__}
    return bool(names & {"ChatModelScope", "ModelScopeEmbeddings"})


def _secret_of(model: Any) -> SecretStr | None:
    """The model's API key, wherever its class keeps it (a SecretStr named like a key)."""
    fields = getattr(type(model), "model_fields", None)
    names = list(fields) if isinstance(fields, Mapping) else list(vars(model))
    for name in names:
        lowered = name.lower()
        if "key" not in lowered and "token" not in lowered:
            continue
        value = getattr(model, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value().strip():
            return value
    return None


def _ls_params(model: Any) -> Mapping[str, Any]:
    getter = getattr(model, "_get_ls_params", None)
    if getter is None:
        return {}
    try:
        params = getter()
    except Exception:  # a model's tracing hook must not stop it from being a candidate
        return {}
    return params if isinstance(params, Mapping) else {}


def _default_provider(model: Any) -> str:
    if _is_modelscope(model):
        return "modelscope"
    provider = _ls_params(model).get("ls_provider")
    if isinstance(provider, str) and provider.strip():
        return provider
    name = type(model).__name__
    for affix in ("Chat", "Embeddings"):
        name = name.removeprefix(affix).removesuffix(affix)
    return (name or type(model).__name__).lower()


def _default_model_name(model: Any) -> str:
    name = _ls_params(model).get("ls_model_name")
    if isinstance(name, str) and name.strip():
        return name
    for attribute in ("model", "model_name", "model_id", "deployment_name"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value.strip():
            return value
    return type(model).__name__


def _identify(index: int, spec: Any, kind: type[Any]) -> tuple[CandidateInfo, Any]:
    """Resolve one entry of ``candidates`` into its identity and the model to call."""
    overrides = spec if isinstance(spec, Candidate) else Candidate(spec)
    model = overrides.model
    if isinstance(model, FallbackChatModel | FallbackEmbeddings):
        raise TypeError(
            f"candidate {index} is itself a fallback model: list its candidates instead, so "
            f"that the ledger sees each one"
        )
    if not isinstance(model, kind):
        raise TypeError(
            f"candidate {index} must be a {kind.__name__} (or Candidate(model, ...) around one), "
            f"got {type(model).__name__}"
        )
    secret = _secret_of(model)
    info = CandidateInfo(
        index=index,
        provider=overrides.provider or _default_provider(model),
        account=overrides.account
        or (account_fingerprint(secret) if secret is not None else DEFAULT_ACCOUNT),
        model=overrides.model_name or _default_model_name(model),
    )
    return info, model


@dataclass(frozen=True, slots=True)
class _Slot:
    """A resolved candidate: its identity, the model, and what to call (maybe tool-bound)."""

    info: CandidateInfo
    key: QuotaKey
    model: Any
    target: Any

    @classmethod
    def of(cls, index: int, spec: Any, kind: type[Any]) -> _Slot:
        info, model = _identify(index, spec, kind)
        return cls(info, info.key, model, model)


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True)
class Attempt:
    """A candidate that did not serve a call: skipped (the ledger said so) or failed."""

    candidate: CandidateInfo
    outcome: Outcome
    #: ``exhausted`` for a skip; the failure's kind (quota, auth, transient, ...) otherwise
    kind: str
    message: str
    #: when the candidate may be tried again (None: at once, for a failure of this call only)
    until: datetime | None = None
    status_code: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as shown in ``response_metadata["fallback"]["attempts"]``."""
        return {
            **self.candidate.as_dict(),
            "outcome": self.outcome,
            "kind": self.kind,
            "message": self.message,
            "until": None if self.until is None else self.until.isoformat(),
            "status_code": self.status_code,
        }

    def describe(self) -> str:
        """One line for logs and errors."""
        when = "" if self.until is None else f", until {self.until.isoformat(timespec='minutes')}"
        return f"{self.candidate.label}: {self.outcome} ({self.kind}{when}): {self.message}"


class AllCandidatesFailedError(ModelScopeError):
    """Every candidate was skipped or failed; says why for each, and when one comes back.

    Usage::

        try:
            model.invoke("hi")
        except AllCandidatesFailedError as error:
            print(error.earliest_reset, [a.describe() for a in error.attempts])
    """

    def __init__(self, attempts: Sequence[Attempt]) -> None:
        self.attempts: tuple[Attempt, ...] = tuple(attempts)
        untils = [a.until for a in self.attempts if a.until is not None]
        #: the earliest time a skipped or failed candidate may be tried again (None if unknown)
        self.earliest_reset: datetime | None = min(untils) if untils else None
        super().__init__(self._describe())

    def _describe(self) -> str:
        when = (
            f"; the earliest comes back at {self.earliest_reset.isoformat(timespec='minutes')}"
            if self.earliest_reset is not None
            else ""
        )
        lines = "".join(f"\n  - {attempt.describe()}" for attempt in self.attempts)
        return f"all {len(self.attempts)} fallback candidates are out{when}:{lines}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.attempts,))


# --------------------------------------------------------------------------- the ledger side


@dataclass(frozen=True, slots=True)
class _Policy:
    ledger: QuotaLedger
    quota_cooldown: timedelta
    auth_cooldown: timedelta
    not_found_cooldown: timedelta
    fallback_on_unknown_errors: bool


def _ratelimit_marks(slot: _Slot, ratelimit: Any) -> list[tuple[QuotaKey, int, int | None]]:
    """Keys a ``remaining: 0`` in ``response_metadata["ratelimit"]`` says are spent."""
    if ratelimit is None:
        return []

    def field(name: str) -> Any:
        if isinstance(ratelimit, Mapping):
            return ratelimit.get(name)
        return getattr(ratelimit, name, None)

    marks = []
    for remaining_name, limit_name, account_wide in (
        ("model_requests_remaining", "model_requests_limit", False),
        ("requests_remaining", "requests_limit", True),
    ):
        remaining = field(remaining_name)
        if isinstance(remaining, int) and not isinstance(remaining, bool) and remaining <= 0:
            limit = field(limit_name)
            key = slot.key.account_wide() if account_wide else slot.key
            marks.append((key, 0, limit if isinstance(limit, int) else None))
    return marks


def _message_ratelimit(message: Any) -> Any:
    metadata = getattr(message, "response_metadata", None)
    return metadata.get("ratelimit") if isinstance(metadata, Mapping) else None


def _later(first: datetime | None, second: datetime) -> datetime:
    return second if first is None or second > first else first


def _ledger_down(what: str, slot: _Slot, error: BaseException) -> bool:
    """The ledger is a saving, not a gate: when its store fails, calls go on without it."""
    logger.warning(
        "fallback: could not %s the quota ledger for %s (%s: %s); going on without it",
        what,
        slot.info.label,
        type(error).__name__,
        redact(str(error)),
    )
    return True


class _Trace:
    """One call's walk down the candidate list: reads and writes the ledger, keeps the report.

    Lives for one call only; everything that outlives the call is in the ledger.
    """

    __slots__ = ("attempts", "pending", "policy", "slots")

    def __init__(self, policy: _Policy, slots: Sequence[_Slot]) -> None:
        self.policy = policy
        self.slots = slots
        self.attempts: list[Attempt] = []
        self.pending: tuple[_Slot, Failure] | None = None

    # -- before a call

    def _skip(self, slot: _Slot, entry: QuotaEntry | None) -> bool:
        if entry is None:
            return True
        reason = entry.reason or f"{entry.scope} exhausted"
        logger.debug("fallback: skipping %s until %s", slot.info.label, entry.until.isoformat())
        self.attempts.append(Attempt(slot.info, "skipped", "exhausted", reason, entry.until))
        return False

    def available(self, slot: _Slot) -> bool:
        """True when the ledger lets ``slot`` be called; a skip is recorded otherwise."""
        try:
            entry = self.policy.ledger.blocked_until(slot.key)
        except Exception as error:
            return _ledger_down("read", slot, error)
        return self._skip(slot, entry)

    async def aavailable(self, slot: _Slot) -> bool:
        """Async :meth:`available`."""
        try:
            entry = await self.policy.ledger.ablocked_until(slot.key)
        except Exception as error:
            return _ledger_down("read", slot, error)
        return self._skip(slot, entry)

    def begin(self, slot: _Slot) -> None:
        """About to call ``slot``: if an earlier candidate failed, this is a switch; log it."""
        if self.pending is None:
            return
        failed, failure = self.pending
        self.pending = None
        skipped = [a.candidate.label for a in self.attempts if a.outcome == "skipped"]
        logger.warning(
            "fallback: switching from %s (%s: %s) to %s%s",
            failed.info.label,
            failure.kind,
            failure.message,
            slot.info.label,
            f" (skipped as exhausted: {', '.join(skipped)})" if skipped else "",
        )

    # -- after a failure

    def _classify(self, error: BaseException) -> Failure:
        failure = classify_error(error, self.policy.ledger.now())
        if failure.kind == "unknown" and self.policy.fallback_on_unknown_errors:
            failure = replace(failure, kind="failed")
        return failure

    def _marks(self, slot: _Slot, failure: Failure) -> list[tuple[QuotaKey, datetime]]:
        """Ledger marks a failure calls for (none for one that holds for this call only)."""
        policy = self.policy
        if failure.kind == "quota":
            until = failure.until or policy.ledger.now() + policy.quota_cooldown
            key = slot.key.account_wide() if failure.scope == "account" else slot.key
            return [(key, until)]
        if failure.kind == "auth":
            return [(slot.key.account_wide(), policy.ledger.now() + policy.auth_cooldown)]
        if failure.kind == "not_found":
            # An unknown model is unknown on every account of that provider.
            until = policy.ledger.now() + policy.not_found_cooldown
            same = {
                s.key
                for s in self.slots
                if s.info.provider == slot.info.provider and s.info.model == slot.info.model
            }
            return [(key, until) for key in sorted(same, key=lambda k: k.account)]
        return []

    def _record(self, slot: _Slot, failure: Failure, until: datetime | None) -> None:
        self.attempts.append(
            Attempt(slot.info, "failed", failure.kind, failure.message, until, failure.status_code)
        )
        self.pending = (slot, failure)

    def failed(self, slot: _Slot, error: BaseException, *, started: bool = False) -> bool:
        """Classify and remember a failure; True when the next candidate should be tried.

        ``started``: the candidate had already streamed content, so the error propagates
        whatever it is; the ledger still learns from it.
        """
        failure = self._classify(error)
        if not failure.moves_on:
            return False
        until = None
        reason = f"{failure.kind}: {failure.message}"
        for key, mark in self._marks(slot, failure):
            try:
                entry = self.policy.ledger.mark_exhausted(key, mark, reason=reason)
            except Exception as ledger_error:
                _ledger_down("write", slot, ledger_error)
                entry = None
            until = _later(until, entry.until if entry is not None else mark)
        self._record(slot, failure, until)
        return not started

    async def afailed(self, slot: _Slot, error: BaseException, *, started: bool = False) -> bool:
        """Async :meth:`failed`."""
        failure = self._classify(error)
        if not failure.moves_on:
            return False
        until = None
        reason = f"{failure.kind}: {failure.message}"
        for key, mark in self._marks(slot, failure):
            try:
                entry = await self.policy.ledger.amark_exhausted(key, mark, reason=reason)
            except Exception as ledger_error:
                _ledger_down("write", slot, ledger_error)
                entry = None
            until = _later(until, entry.until if entry is not None else mark)
        self._record(slot, failure, until)
        return not started

    # -- after an answer

    def learn(self, slot: _Slot, ratelimit: Any) -> None:
        """``remaining: 0`` in the answer's rate-limit info: spent before the 429 comes."""
        for key, remaining, limit in _ratelimit_marks(slot, ratelimit):
            try:
                self.policy.ledger.record_remaining(key, remaining, limit)
            except Exception as error:  # an answer in hand is never lost to the ledger
                _ledger_down("write", slot, error)

    async def alearn(self, slot: _Slot, ratelimit: Any) -> None:
        """Async :meth:`learn`."""
        for key, remaining, limit in _ratelimit_marks(slot, ratelimit):
            try:
                await self.policy.ledger.arecord_remaining(key, remaining, limit)
            except Exception as error:
                _ledger_down("write", slot, error)

    def report(self, slot: _Slot) -> dict[str, Any]:
        """What ``response_metadata["fallback"]`` says about this call."""
        return {
            "served_by": slot.info.as_dict(),
            "attempts": [attempt.as_dict() for attempt in self.attempts],
        }

    def exhausted(self) -> AllCandidatesFailedError:
        """The one error for "nobody could answer"."""
        return AllCandidatesFailedError(self.attempts)


def _run(
    trace: _Trace, call: Callable[[_Slot], _T], ratelimit_of: Callable[[_Slot, _T], Any]
) -> tuple[_T, _Slot]:
    """Try candidates in order until one answers."""
    for slot in trace.slots:
        if not trace.available(slot):
            continue
        trace.begin(slot)
        try:
            result = call(slot)
        except Exception as error:
            if not trace.failed(slot, error):
                raise
            continue
        trace.learn(slot, ratelimit_of(slot, result))
        return result, slot
    raise trace.exhausted()


async def _arun(
    trace: _Trace,
    call: Callable[[_Slot], Any],
    ratelimit_of: Callable[[_Slot, Any], Any],
) -> tuple[Any, _Slot]:
    """Async :func:`_run`; ``call`` returns an awaitable."""
    for slot in trace.slots:
        if not await trace.aavailable(slot):
            continue
        trace.begin(slot)
        try:
            result = await call(slot)
        except Exception as error:
            if not await trace.afailed(slot, error):
                raise
            continue
        await trace.alearn(slot, ratelimit_of(slot, result))
        return result, slot
    raise trace.exhausted()


class _FallbackSettings(BaseModel):
    """Settings, and the resolved candidates, shared by the chat and embeddings fallbacks."""

    ledger: QuotaLedger | None = Field(default=None, exclude=True)
    """Where exhaustion is remembered; None: the process-wide default ledger (in memory,
    unless :func:`~langchain_modelscope.quota.set_default_ledger` replaced it)."""
    quota_cooldown: timedelta = _DEFAULT_COOLDOWN
    """How long a spent quota is skipped when neither the error nor a header says when it
    resets (other providers; ModelScope's quotas reset at 00:00 UTC+8)."""
    auth_cooldown: timedelta = _DEFAULT_COOLDOWN
    """How long an account whose token was refused (401/403) is skipped."""
    not_found_cooldown: timedelta = _DEFAULT_COOLDOWN
    """How long a model the provider does not know is skipped."""
    fallback_on_unknown_errors: bool = False
    """Move on after an error that cannot be classified (default: raise it, it is most
    likely a bug that every candidate would hit)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _slots: tuple[_Slot, ...] = PrivateAttr(default=())

    def _resolve(self, candidates: list[Any], kind: type) -> None:
        if not candidates:
            raise ValueError(f"{type(self).__name__} needs at least one candidate")
        self._slots = tuple(_Slot.of(index, spec, kind) for index, spec in enumerate(candidates))

    @property
    def candidate_infos(self) -> list[CandidateInfo]:
        """Each candidate's identity in the ledger, best first."""
        return [slot.info for slot in self._slots]

    def _trace(self) -> _Trace:
        return _Trace(self._policy(), self._slots)

    def _policy(self) -> _Policy:
        return _Policy(
            ledger=self.ledger if self.ledger is not None else get_default_ledger(),
            quota_cooldown=self.quota_cooldown,
            auth_cooldown=self.auth_cooldown,
            not_found_cooldown=self.not_found_cooldown,
            fallback_on_unknown_errors=self.fallback_on_unknown_errors,
        )


_SETTING_NAMES = frozenset(_FallbackSettings.model_fields)


def _split_settings(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fallback settings, model arguments) out of one ``**kwargs``."""
    settings = {k: v for k, v in kwargs.items() if k in _SETTING_NAMES}
    return settings, {k: v for k, v in kwargs.items() if k not in _SETTING_NAMES}


def _modelscope_grid(
    factory: Callable[..., Any],
    models: str | Sequence[str],
    tokens: Sequence[str | SecretStr | None] | None,
    order: Order,
    model_kwargs: Mapping[str, Any],
) -> list[Any]:
    model_list = [models] if isinstance(models, str) else list(models)
    token_list: list[str | SecretStr | None] = [None] if tokens is None else list(tokens)
    if not model_list:
        raise ValueError("from_modelscope() needs at least one model id")
    if not token_list:
        raise ValueError("from_modelscope() got an empty tokens list: pass tokens=None for the env")
    if order == "models_first":
        pairs = [(m, t) for t in token_list for m in model_list]
    elif order == "accounts_first":
        pairs = [(m, t) for m in model_list for t in token_list]
    else:
        raise ValueError(f'order must be "models_first" or "accounts_first", got {order!r}')
    built = []
    for model, token in pairs:
        arguments = dict(model_kwargs)
        if token is not None:
            arguments["api_key"] = token
        built.append(factory(model=model, **arguments))
    return built


def _is_streaming_handler(handler: Any) -> bool:
    names = {cls.__name__ for cls in type(handler).__mro__}
    return bool(names & {"_StreamingCallbackHandler", "_V2StreamingCallbackHandler"})


def _child_config(run_manager: Any, index: int) -> RunnableConfig:
    """Config for one candidate call: traced under this run, but nothing else.

    The fallback's own run already reports every token, the usage and the end of the call;
    handing the candidates the same streaming or usage handlers would report them twice (an
    agent streaming "messages" would show each token twice). Tracers (LangSmith) do get the
    candidates, nested under this run, so a trace shows which candidate failed and why.
    ``callbacks=[]`` rather than None: None would let the caller's context config back in.
    A fresh dict per call, since ``invoke`` pops ``run_id`` from the config it is given.
    """
    if run_manager is None:
        return {"callbacks": []}
    tracers: list[BaseCallbackHandler] = [
        handler
        for handler in run_manager.inheritable_handlers
        if isinstance(handler, BaseTracer | AsyncBaseTracer) and not _is_streaming_handler(handler)
    ]
    if not tracers:
        return {"callbacks": []}
    manager_class = (
        AsyncCallbackManager
        if isinstance(run_manager, AsyncCallbackManagerForLLMRun)
        else CallbackManager
    )
    child = manager_class(
        handlers=tracers,
        inheritable_handlers=tracers,
        parent_run_id=run_manager.run_id,
        tags=[*run_manager.inheritable_tags, f"fallback:{index}"],
        inheritable_tags=list(run_manager.inheritable_tags),
        metadata=dict(run_manager.inheritable_metadata),
        inheritable_metadata=dict(run_manager.inheritable_metadata),
    )
    return {"callbacks": child}


# --------------------------------------------------------------------------- chat


def _has_content(chunk: Any) -> bool:
    """True once a chunk carries something the user sees: text, reasoning or a tool call."""
    if getattr(chunk, "content", None):
        return True
    if getattr(chunk, "tool_call_chunks", None) or getattr(chunk, "invalid_tool_calls", None):
        return True
    extra = getattr(chunk, "additional_kwargs", None)
    return isinstance(extra, Mapping) and any(bool(value) for value in extra.values())


def _with_report(message: BaseMessage, report: dict[str, Any]) -> BaseMessage:
    message.response_metadata = {**message.response_metadata, "fallback": report}
    return message


class FallbackChatModel(_FallbackSettings, BaseChatModel):
    """A chat model made of ranked candidates that skips the ones whose quota is spent.

    Usage::

        from langchain_modelscope.fallback import FallbackChatModel
        from langchain_modelscope.quota import QuotaLedger, SQLiteQuotaStore

        model = FallbackChatModel.from_modelscope(
            ["Qwen/Qwen3-32B", "Qwen/Qwen3-8B"],
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
        grid = _modelscope_grid(ChatModelScope, models, tokens, order, model_kwargs)
        return cls(candidates=[*grid, *then], **settings)

    @property
    def _llm_type(self) -> str:
        return "modelscope-fallback"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"candidates": [slot.info.label for slot in self._slots]}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="modelscope-fallback",
            ls_model_name=self._slots[0].info.model,
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
        def call(slot: _Slot) -> BaseMessage:
            config = _child_config(run_manager, slot.info.index)
            return cast(BaseMessage, slot.target.invoke(messages, config, stop=stop, **kwargs))

        trace = self._trace()
        message, slot = _run(trace, call, lambda _, m: _message_ratelimit(m))
        message = _with_report(message, trace.report(slot))
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def call(slot: _Slot) -> Any:
            config = _child_config(run_manager, slot.info.index)
            return slot.target.ainvoke(messages, config, stop=stop, **kwargs)

        trace = self._trace()
        message, slot = await _arun(trace, call, lambda _, m: _message_ratelimit(m))
        message = _with_report(cast(BaseMessage, message), trace.report(slot))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        trace = self._trace()
        for slot in self._slots:
            if not trace.available(slot):
                continue
            trace.begin(slot)
            config = _child_config(run_manager, slot.info.index)
            with closing(iter(slot.target.stream(messages, config, stop=stop, **kwargs))) as it:
                head: list[AIMessageChunk] = []
                try:
                    for chunk in it:
                        head.append(chunk)
                        if _has_content(chunk):
                            break
                except Exception as error:
                    if not trace.failed(slot, error):
                        raise
                    continue
                # Served: from here on the stream is this candidate's, errors and all.
                for chunk in head:
                    trace.learn(slot, _message_ratelimit(chunk))
                yield from _first_chunks(head, trace.report(slot))
                try:
                    for chunk in it:
                        trace.learn(slot, _message_ratelimit(chunk))
                        yield ChatGenerationChunk(message=chunk)
                except Exception as error:
                    trace.failed(slot, error, started=True)
                    raise
            return
        raise trace.exhausted()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        trace = self._trace()
        for slot in self._slots:
            if not await trace.aavailable(slot):
                continue
            trace.begin(slot)
            config = _child_config(run_manager, slot.info.index)
            stream = slot.target.astream(messages, config, stop=stop, **kwargs)
            async with aclosing(stream) as it:
                head: list[AIMessageChunk] = []
                try:
                    async for chunk in it:
                        head.append(chunk)
                        if _has_content(chunk):
                            break
                except Exception as error:
                    if not await trace.afailed(slot, error):
                        raise
                    continue
                for chunk in head:
                    await trace.alearn(slot, _message_ratelimit(chunk))
                for generation in _first_chunks(head, trace.report(slot)):
                    yield generation
                try:
                    async for chunk in it:
                        await trace.alearn(slot, _message_ratelimit(chunk))
                        yield ChatGenerationChunk(message=chunk)
                except Exception as error:
                    await trace.afailed(slot, error, started=True)
                    raise
            return
        raise trace.exhausted()

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
        return _StructuredFallback(owner=self, slots=tuple(slots), include_raw=include_raw)


def _first_chunks(head: list[AIMessageChunk], report: dict[str, Any]) -> list[ChatGenerationChunk]:
    """The buffered head of a stream, the report riding on its first chunk (once only)."""
    if not head:
        head = [AIMessageChunk(content="")]
    first = head[0]
    first.response_metadata = {**first.response_metadata, "fallback": report}
    return [ChatGenerationChunk(message=chunk) for chunk in head]


def _raw_ratelimit(_: _Slot, output: Any) -> Any:
    raw = output.get("raw") if isinstance(output, Mapping) else None
    return _message_ratelimit(raw)


class _StructuredFallback(Runnable[LanguageModelInput, Any]):
    """``with_structured_output`` of a fallback: the same walk over structured candidates.

    Every candidate runs with ``include_raw=True`` so that its rate-limit headers are read and
    the report attached; the user's ``include_raw`` decides what is returned.
    """

    def __init__(
        self, *, owner: FallbackChatModel, slots: tuple[_Slot, ...], include_raw: bool
    ) -> None:
        self.owner = owner
        self.slots = slots
        self.include_raw = include_raw

    @property
    def InputType(self) -> Any:  # noqa: N802 - Runnable's API
        return LanguageModelInput

    def _finish(self, output: Any, trace: _Trace, slot: _Slot) -> Any:
        if not isinstance(output, Mapping) or "raw" not in output:
            return output
        raw = output.get("raw")
        if isinstance(raw, BaseMessage):
            _with_report(raw, trace.report(slot))
        if self.include_raw:
            return dict(output)
        error = output.get("parsing_error")
        if isinstance(error, BaseException):
            raise error
        return output.get("parsed")

    def _call(
        self,
        value: LanguageModelInput,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Any:
        trace = _Trace(self.owner._policy(), self.slots)

        def call(slot: _Slot) -> Any:
            child = patch_config(
                config, callbacks=run_manager.get_child(f"fallback:{slot.info.index}")
            )
            return slot.target.invoke(value, child)

        output, slot = _run(trace, call, _raw_ratelimit)
        return self._finish(output, trace, slot)

    async def _acall(
        self,
        value: LanguageModelInput,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Any:
        trace = _Trace(self.owner._policy(), self.slots)

        def call(slot: _Slot) -> Any:
            child = patch_config(
                config, callbacks=run_manager.get_child(f"fallback:{slot.info.index}")
            )
            return slot.target.ainvoke(value, child)

        output, slot = await _arun(trace, call, _raw_ratelimit)
        return self._finish(output, trace, slot)

    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        return self._call_with_config(self._call, input, config, run_type="chain")

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        return await self._acall_with_config(self._acall, input, config, run_type="chain")


# --------------------------------------------------------------------------- embeddings


def _embeddings_ratelimit(slot: _Slot, _: Any) -> Any:
    return getattr(slot.model, "last_ratelimit", None)


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
        grid = _modelscope_grid(ModelScopeEmbeddings, models, tokens, order, model_kwargs)
        return cls(candidates=[*grid, *then], **settings)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` with the first candidate that can."""
        vectors, _ = _run(
            self._trace(), lambda s: s.model.embed_documents(texts), _embeddings_ratelimit
        )
        return cast(list[list[float]], vectors)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query with the first candidate that can."""
        vector, _ = _run(self._trace(), lambda s: s.model.embed_query(text), _embeddings_ratelimit)
        return cast(list[float], vector)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`."""
        vectors, _ = await _arun(
            self._trace(), lambda s: s.model.aembed_documents(texts), _embeddings_ratelimit
        )
        return cast(list[list[float]], vectors)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        vector, _ = await _arun(
            self._trace(), lambda s: s.model.aembed_query(text), _embeddings_ratelimit
        )
        return cast(list[float], vector)
