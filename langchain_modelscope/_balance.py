"""The free points balance: how many points an account has left, without spending any.

ModelScope's free tier is paid in points since 2026 (modelscope-api.md §2a), and the site (not
the inference host) tells the balance at ``/openapi/v1/magicubes/balance`` for the same token.
Reading it costs nothing, so it is how users, the command line and the ledger learn whether
points are back. The site is derived from the inference base URL: the public hosts map to
their site, any other URL (the emulator, a proxy, a test server) serves it on its own origin.

The call goes through the package's HTTP core (`ModelScopeClient`), so the token, pooling,
retries of what passes, and the error classification are those of every other call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

import httpx
from pydantic import SecretStr

from langchain_modelscope._client import (
    APIResponse,
    ModelScopeClient,
    resolve_api_key,
    resolve_base_url,
)
from langchain_modelscope.errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    BalanceUnavailableError,
    PermissionDeniedError,
    ResponseDecodeError,
    parse_error_body,
)

__all__ = [
    "BALANCE_PATH",
    "BalanceUnavailableError",
    "PointsBalance",
    "apoints_balance",
    "balance_site",
    "points_balance",
]

#: Where the site serves the balance, relative to the site's origin.
BALANCE_PATH: Final = "/openapi/v1/magicubes/balance"
#: The balance is one small JSON answer: never wait minutes for it as for a reasoning model.
DEFAULT_BALANCE_TIMEOUT: Final = httpx.Timeout(10.0)

_SITES: Final = {
    "api-inference.modelscope.cn": "https://modelscope.cn",
    "api-inference.modelscope.ai": "https://modelscope.ai",
}
#: Dedicated deployments (``ms-ens-<id>.api-inference.modelscope.cn``) belong to the site of
#: their domain; the sheet says to use ``.cn`` for them, ``.ai`` follows the same rule.
_DEDICATED_SUFFIXES: Final = {
    ".api-inference.modelscope.cn": "https://modelscope.cn",
    ".api-inference.modelscope.ai": "https://modelscope.ai",
}
#: PointsBalance's fields, and the balance endpoint's names for them.
BALANCE_FIELDS: Final = {
    "available": "available_balance",
    "total": "total_balance",
    "frozen": "frozen_amount",
}


@dataclass(frozen=True, slots=True)
class PointsBalance:
    """An account's points as the site sent them (points can be fractional), and when read."""

    available: int | float
    total: int | float
    #: points held for calls still in flight
    frozen: int | float
    #: when the answer was read (aware, UTC)
    read_at: datetime
    #: the URL that answered (no token in it)
    url: str
    request_id: str | None = field(default=None)

    @property
    def has_points(self) -> bool:
        """True when a call could be paid for now."""
        return self.available > 0


def balance_site(base_url: str | None = None) -> str:
    """The site origin that serves the balance for an inference ``base_url``.

    ``api-inference.modelscope.cn`` (and dedicated ``*.api-inference.modelscope.cn`` hosts)
    map to ``https://modelscope.cn``, ``api-inference.modelscope.ai`` to
    ``https://modelscope.ai``; any other URL to its own origin (scheme, host and port).
    """
    url = httpx.URL(resolve_base_url(base_url))
    host = url.host.lower()
    site = _SITES.get(host)
    if site is None:
        site = next(
            (origin for suffix, origin in _DEDICATED_SUFFIXES.items() if host.endswith(suffix)),
            None,
        )
    if site is not None:
        return site
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.raw_host.decode('ascii')}{port}"


def _balance_url(base_url: str | None, site_url: str | None) -> str:
    if site_url is not None:
        site = site_url.strip().rstrip("/")
        if not site.startswith(("http://", "https://")):
            raise ValueError(
                f"site_url must start with http:// or https://, got {site_url!r}; "
                "e.g. 'https://modelscope.cn'"
            )
    else:
        site = balance_site(base_url)
    return site + BALANCE_PATH


def _client(
    api_key: SecretStr | str | None, url: str, timeout: float | httpx.Timeout | None
) -> tuple[ModelScopeClient, SecretStr]:
    secret, _ = resolve_api_key(api_key)
    client = ModelScopeClient(
        api_key=secret,
        base_url=url.removesuffix(BALANCE_PATH),
        timeout=DEFAULT_BALANCE_TIMEOUT if timeout is None else timeout,
    )
    return client, secret


def _unavailable(
    url: str, reason: str, message: str, secret: SecretStr, **kwargs: Any
) -> BalanceUnavailableError:
    token = secret.get_secret_value()
    return BalanceUnavailableError(
        f"the points balance at {url} is unusable: {message.replace(token, '***')}",
        reason=reason,
        url=url,
        **kwargs,
    )


def _from_error(error: APIError, url: str, secret: SecretStr) -> APIError:
    """Auth errors stay what they are; everything else the endpoint says becomes one error."""
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return _scrubbed(error, secret)
    common = {"status_code": error.status_code, "request_id": error.request_id}
    if isinstance(error, ResponseDecodeError):
        return _unavailable(
            url, "not_json", "the answer is not JSON (a web page?)", secret, **common
        )
    if isinstance(error, APIStatusError):
        status = error.status_code
        reason = "not_found" if status == 404 else "error_status"
        said = f": {error.message[:200]}" if error.message else ""
        return _unavailable(url, reason, f"the site answered {status}{said}", secret, **common)
    return _scrubbed(error, secret)


def _scrubbed(error: APIError, secret: SecretStr) -> APIError:
    """The error without the token, should the site have echoed it back."""
    token = secret.get_secret_value()
    if token in error.message or token in str(error.body):
        error.message = error.message.replace(token, "***")
        error.body = None
        error.args = (error._describe(),)
    return error


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _parse(answer: APIResponse, url: str, secret: SecretStr) -> PointsBalance:
    data = answer.data
    common = {"status_code": answer.status_code, "request_id": answer.request_id}
    if not isinstance(data, Mapping):
        return_type = type(data).__name__
        raise _unavailable(url, "bad_shape", f"expected a JSON object, got {return_type}", secret)
    if data.get("success") is not True:
        message, code, _ = parse_error_body(data)
        said = ", ".join(part for part in (code, message) if part) or "no reason given"
        raise _unavailable(url, "unsuccessful", f"success is not true ({said})", secret, **common)
    inner = data.get("data")
    if not isinstance(inner, Mapping):
        raise _unavailable(
            url, "missing_fields", "no 'data' object in the answer", secret, **common
        )
    values = {name: _number(inner.get(wire)) for name, wire in BALANCE_FIELDS.items()}
    missing = [BALANCE_FIELDS[name] for name, value in values.items() if value is None]
    if missing:
        raise _unavailable(
            url,
            "missing_fields",
            f"missing or not a number: {', '.join(missing)}",
            secret,
            **common,
        )
    request_id = data.get("request_id")
    return PointsBalance(
        available=values["available"],  # type: ignore[arg-type]
        total=values["total"],  # type: ignore[arg-type]
        frozen=values["frozen"],  # type: ignore[arg-type]
        read_at=datetime.now(timezone.utc),
        url=url,
        request_id=str(request_id) if request_id else answer.request_id,
    )


def points_balance(
    api_key: SecretStr | str | None = None,
    *,
    base_url: str | None = None,
    site_url: str | None = None,
    timeout: float | httpx.Timeout | None = None,
) -> PointsBalance:
    """The account's points balance; free (it costs no points and no chat call).

    The token comes from ``api_key`` or the usual environment variables; the site from
    ``site_url``, else from ``base_url`` (see `balance_site`). Raises `AuthenticationError` /
    `PermissionDeniedError` for 401/403, `BalanceUnavailableError` for anything unusable, and
    `APIConnectionError` when the site cannot be reached.
    """
    url = _balance_url(base_url, site_url)
    client, secret = _client(api_key, url, timeout)
    try:
        answer = client.request("GET", BALANCE_PATH)
    except APIError as error:
        raise _from_error(error, url, secret) from None
    return _parse(answer, url, secret)


async def apoints_balance(
    api_key: SecretStr | str | None = None,
    *,
    base_url: str | None = None,
    site_url: str | None = None,
    timeout: float | httpx.Timeout | None = None,
) -> PointsBalance:
    """Async `points_balance`."""
    url = _balance_url(base_url, site_url)
    client, secret = _client(api_key, url, timeout)
    try:
        answer = await client.arequest("GET", BALANCE_PATH)
    except APIError as error:
        raise _from_error(error, url, secret) from None
    return _parse(answer, url, secret)
