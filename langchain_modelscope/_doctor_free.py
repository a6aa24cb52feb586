"""The doctor's free checks: the served model list, the default model, profiles, token, balance.

None of them costs a point: `/v1/models` answers without a token, and the balance endpoint is
free (modelscope-api.md §1, §2a). They run before anything is spent, and tell the paid checks
which models exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from langchain_modelscope._balance import BalanceUnavailableError, PointsBalance, points_balance
from langchain_modelscope._client import USER_AGENT
from langchain_modelscope._doctor_facts import Finding, Redactor, default_model
from langchain_modelscope._pools import shared_sync_client
from langchain_modelscope._profiles import profiled_models
from langchain_modelscope.errors import (
    APIError,
    AuthenticationError,
    PermissionDeniedError,
    parse_error_body,
)

Findings = dict[str, Finding]


def list_models(
    base_url: str, timeout: float, redact: Redactor
) -> tuple[list[str] | None, Findings, str | None]:
    """The served ids, the finding on the list itself, and why nothing more can run (if so).

    Sent with no token on purpose: the sheet says the list answers without one, and a token
    sent here would prove nothing (§1).
    """
    url = f"{base_url}/models"
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    try:
        response = shared_sync_client(httpx.Timeout(timeout)).get(
            url, headers=headers, timeout=timeout
        )
    except httpx.TransportError as exc:
        reason = f"could not reach {httpx.URL(url).host}: {type(exc).__name__}"
        return None, {"models_list": Finding("not_checked", note=reason)}, reason
    if response.status_code != 200:
        message, _, request_id = parse_error_body(response.content)
        redact.request_id(request_id)
        seen = redact(f"{response.status_code} {message or response.text[:200]}")
        reason = f"GET /v1/models answered {response.status_code}"
        return None, {"models_list": Finding("not_checked", seen, reason)}, reason
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    items = data.get("data") if isinstance(data, dict) else None
    ids = (
        [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]
        if isinstance(items, list)
        else None
    )
    if ids is None or data.get("object") != "list":
        seen = redact(f"200 {response.text[:200]}")
        reason = "GET /v1/models did not answer a model list"
        return None, {"models_list": Finding("different", seen)}, reason
    return (
        ids,
        {"models_list": Finding("as_expected", f"200, {len(ids)} models, no token sent")},
        None,
    )


def _folded(ids: Sequence[str]) -> set[str]:
    return {model.lower() for model in ids}


def check_listed_models(listed: Sequence[str]) -> Findings:
    """The default model and the profile ids against the list (ids compared case-blind)."""
    served = _folded(listed)
    default = default_model()
    if default.lower() in served:
        found = Finding("as_expected", "listed")
    else:
        found = Finding(
            "different",
            f"{default} is not listed",
            "the list is curated (§5); a paid check (--spend) can tell whether it still answers",
        )
    profiles = sorted(profiled_models())
    missing = [model for model in profiles if model.lower() not in served]
    listed_count = f"{len(profiles) - len(missing)} of {len(profiles)} listed"
    profile = (
        Finding("as_expected", listed_count)
        if not missing
        else Finding(
            "info",
            f"{listed_count}; not listed: {', '.join(missing)}",
            "the list is curated, so these may still answer; retired ones would keep their "
            "profile in the package until the table is refreshed",
        )
    )
    return {"default_model": found, "profile_models": profile}


def check_balance(
    token: SecretStr | None,
    base_url: str,
    site_url: str | None,
    timeout: float,
    redact: Redactor,
) -> tuple[PointsBalance | None, Findings, str | None]:
    """The balance, the token and balance findings, and why paid checks cannot run (if so)."""
    if token is None:
        reason = "no token (set MODELSCOPE_API_KEY or pass one)"
        return (
            None,
            {
                "token": Finding("not_checked", note=reason),
                "balance": Finding("not_checked", note=reason),
            },
            reason,
        )
    try:
        balance = points_balance(token, base_url=base_url, site_url=site_url, timeout=timeout)
    except (AuthenticationError, PermissionDeniedError) as error:
        redact.request_id(error.request_id)
        seen = redact(f"{error.status_code} {error.message}")
        reason = f"the token was refused ({type(error).__name__})"
        note = "some accounts are reported to need browser cookies there (§2a)"
        return (
            None,
            {
                "token": Finding("info", seen, note),
                "balance": Finding("not_checked", note=reason),
            },
            reason,
        )
    except BalanceUnavailableError as error:
        redact.request_id(error.request_id)
        seen = redact(f"{error.reason}: {error.message}")
        return (
            None,
            {
                "token": Finding("not_checked", note="the balance endpoint did not answer usably"),
                "balance": Finding("different", seen, "the endpoint is best-effort (§2a)"),
            },
            None,
        )
    except APIError as error:
        note = redact(f"the site could not be read: {type(error).__name__}: {error.message}")
        return (
            None,
            {
                "token": Finding("not_checked", note=note),
                "balance": Finding("not_checked", note=note),
            },
            None,
        )
    redact.request_id(balance.request_id)
    seen = f"available {balance.available}, total {balance.total}, frozen {balance.frozen}"
    return (
        balance,
        {
            "token": Finding("as_expected", "accepted by the balance endpoint"),
            "balance": Finding("as_expected", seen),
        },
        None,
    )
