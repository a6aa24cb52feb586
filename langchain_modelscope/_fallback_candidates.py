"""Fallback candidates and their identity: how each one is known to the ledger and in reports.

A candidate is known as (provider, account, model): the account is a fingerprint of the
candidate's key (never the key itself), or a label given with :class:`Candidate`. Nothing here
reads or writes the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from langchain_modelscope.quota import QuotaKey, account_fingerprint

Order = Literal["models_first", "accounts_first"]

#: Account label of a candidate whose key could not be found (it uses its SDK's default).
DEFAULT_ACCOUNT = "default"
#: The provider name of this package's own candidates.
MODELSCOPE = "modelscope"


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


def balance_source(model: Any) -> tuple[SecretStr, str] | None:
    """The token and base URL a balance check of ``model``'s account needs.

    Only this package's own models (``ChatModelScope``, ``ModelScopeEmulator``) have one: a
    token given to another SDK is never sent anywhere else.
    """
    if not _is_modelscope(model):
        return None
    secret = _secret_of(model)
    base_url = getattr(model, "base_url", None)
    if secret is None or not isinstance(base_url, str) or not base_url:
        return None
    return secret, base_url


def _default_provider(model: Any) -> str:
    if _is_modelscope(model):
        return MODELSCOPE
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


def identify(
    index: int, spec: Any, kind: type[Any], refuse: tuple[type[Any], ...] = ()
) -> tuple[CandidateInfo, Any]:
    """Resolve one entry of ``candidates`` into its identity and the model to call.

    ``refuse``: classes that may not be candidates (a fallback inside a fallback would hide
    its own candidates from the ledger).
    """
    overrides = spec if isinstance(spec, Candidate) else Candidate(spec)
    model = overrides.model
    if isinstance(model, refuse):
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
class Slot:
    """A resolved candidate: its identity, the model, and what to call (maybe tool-bound)."""

    info: CandidateInfo
    key: QuotaKey
    model: Any
    target: Any

    @classmethod
    def of(cls, index: int, spec: Any, kind: type[Any], refuse: tuple[type[Any], ...] = ()) -> Slot:
        """The slot of entry ``index`` of ``candidates``, calling the model itself."""
        info, model = identify(index, spec, kind, refuse)
        return cls(info, info.key, model, model)


def modelscope_grid(
    factory: Callable[..., Any],
    models: str | Sequence[str],
    tokens: Sequence[str | SecretStr | None] | None,
    order: Order,
    model_kwargs: Mapping[str, Any],
) -> list[Any]:
    """ModelScope ``models`` × ``tokens`` in the ``order`` asked, each built by ``factory``."""
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
