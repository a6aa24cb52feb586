"""How a model owns its HTTP core: derived from its settings, so never stale.

A model copied with other settings (``model_copy(update=...)``, ``configurable_fields``, a
fallback's candidates) or changed by hand must send with those settings. The core is kept with
the settings that shaped it and rebuilt when they differ, so a copy that shares the cached entry
uses it only while its settings still match. Checking costs one small tuple per call; building a
core costs a few microseconds more (sockets are pooled by `_pools`, not by the core).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, PrivateAttr, ValidationError, model_validator
from typing_extensions import Self

from langchain_modelscope._client import ModelScopeClient, resolve_api_key
from langchain_modelscope.errors import MissingAPIKeyError

if TYPE_CHECKING:
    import httpx
    from pydantic import SecretStr

    from langchain_modelscope._governor import ConcurrencyLimit

__all__ = ["CoreOwner"]


def _missing_key_error(exc: ValidationError) -> MissingAPIKeyError | None:
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, MissingAPIKeyError):
            return cause
    return None


class CoreOwner(BaseModel):
    """Mixed into the package's models, which declare the settings fields read here.

    It gives them one `client` property and one missing-token error: a token neither given nor
    in the environment fails construction as `MissingAPIKeyError` itself, not wrapped in
    pydantic's ``ValidationError``.
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

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            missing = _missing_key_error(exc)
            if missing is not None:
                raise missing from None
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
