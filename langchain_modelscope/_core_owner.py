"""How a model owns its HTTP core: derived from its settings, so never stale.

A model copied with other settings (``model_copy(update=...)``, ``configurable_fields``, a
fallback's candidates) or changed by hand must send with those settings. The core is kept with
the settings that shaped it and rebuilt when they differ, so a copy that shares the cached entry
uses it only while its settings still match. Checking costs one small tuple per call; building a
core costs a few microseconds more (sockets are pooled by `_pools`, not by the core).

Pickling drops the token, and the core with it (its headers hold the token): an unpickled
model resolves its token again from the environment, as a model built without ``api_key``
does, and fails to load with `MissingAPIKeyError` when there is none (`TokenlessPickling`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, PrivateAttr, ValidationError, model_validator
from typing_extensions import Self

from langchain_modelscope._client import API_KEY_ENV_VARS, ModelScopeClient, resolve_api_key
from langchain_modelscope.errors import MissingAPIKeyError, ModelScopeError

if TYPE_CHECKING:
    import httpx
    from pydantic import SecretStr

    from langchain_modelscope._governor import ConcurrencyLimit

__all__ = ["CoreOwner", "LangChainSerializable", "TokenlessPickling"]


def _own_error(exc: ValidationError) -> ModelScopeError | None:
    """The package's own error (a missing token, a parameter out of range) inside pydantic's."""
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ModelScopeError):
            return cause
    return None


class TokenlessPickling(BaseModel):
    """Pickles a model without its ``api_key`` nor the private attributes built from it.

    ``pickle.dumps(model)`` would otherwise hold the token in clear (a process pool, a cache on
    disk). On load the token is resolved again from the environment (``MODELSCOPE_API_KEY``
    first), so a worker process needs the token in its environment, as it would to build the
    model itself. Copies (``model_copy``, ``copy.deepcopy``) keep the token: they do not pickle.
    """

    #: Private attributes dropped when pickling: they hold the token (HTTP cores, headers) or
    #: cannot be pickled; `_after_unpickling` builds them again.
    _not_pickled: ClassVar[tuple[str, ...]] = ()

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["__dict__"] = {**state["__dict__"], "api_key": None}
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {
                name: None if name in self._not_pickled else value
                for name, value in private.items()
            }
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        try:
            token = resolve_api_key(None)[0]
        except MissingAPIKeyError as error:
            raise MissingAPIKeyError(
                f"A {type(self).__name__} was unpickled, but its token is not pickled and "
                f"none is in this environment. {error}"
            ) from None
        self.__dict__["api_key"] = token
        self._after_unpickling()

    def _after_unpickling(self) -> None:
        """Rebuild what `_not_pickled` named, now that the token is back."""

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Where LangChain's serialisation looks for the token instead of storing it."""
        return {"api_key": API_KEY_ENV_VARS[0]}


class LangChainSerializable:
    """``dumpd`` / ``loads`` round trip, the token replaced by a secret reference
    (`TokenlessPickling.lc_secrets`); ``loads`` needs
    ``valid_namespaces=["langchain_modelscope"]``. Mixed in ahead of LangChain's base class."""

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """Where ``loads`` finds the class: this package's module path."""
        return cls.__module__.split(".")


class CoreOwner(TokenlessPickling):
    """Mixed into the package's models, which declare the settings fields read here.

    It gives them one `client` property and the package's own construction errors: a token
    neither given nor in the environment fails construction as `MissingAPIKeyError` itself (a
    parameter out of range as `InvalidParameterError`), not wrapped in pydantic's
    ``ValidationError``.
    """

    if TYPE_CHECKING:
        api_key: SecretStr | None
        base_url: str | None
        timeout: float | httpx.Timeout | None
        max_retries: int
        default_headers: dict[str, str] | None
        http_client: httpx.Client | None
        http_async_client: httpx.AsyncClient | None
        max_concurrent_requests: ConcurrencyLimit

    _core: tuple[tuple[Any, ...], ModelScopeClient] | None = PrivateAttr(default=None)
    _not_pickled: ClassVar[tuple[str, ...]] = ("_core",)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            own = _own_error(exc)
            if own is not None:
                raise own from None
            raise

    @model_validator(mode="after")
    def _resolve_api_key(self) -> Self:
        """The token, from the argument or the environment, once at construction."""
        self.api_key = resolve_api_key(self.api_key)[0]
        return self

    def _core_settings(self) -> tuple[Any, ...]:
        headers = self.default_headers
        return (
            self.api_key,
            self.base_url,
            self.timeout,
            self.max_retries,
            tuple(headers.items()) if headers else None,
            self.http_client,
            self.http_async_client,
            self.max_concurrent_requests,
        )

    @property
    def client(self) -> ModelScopeClient:
        """The HTTP core for this model's current settings, built on first use after a change."""
        settings = self._core_settings()
        cached = self._core
        if cached is not None and cached[0] == settings:
            return cached[1]
        client = ModelScopeClient(
            api_key=resolve_api_key(self.api_key)[0],
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            default_headers=self.default_headers,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
            max_concurrent_requests=self.max_concurrent_requests,
        )
        self._core = (settings, client)
        return client
