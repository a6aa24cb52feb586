"""Accounts and quotas: who may call, which model, and whether the call is let through.

Order of checks (an emulator choice): auth (401/403), body and model (400), the endpoint's
own parameter checks (400), then `admit`: throttle (429), balance or daily quotas (429),
charging the call when it passes. In the points regime a call costs its model tier's points,
spent from the grant closest to expiry; failed calls after the model is known cost too
(`failed_calls_cost`), a spent balance does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._catalogue import ModelInfo, base_model_id, has_provider_suffix
from langchain_modelscope.testing._state import Account, EmulatorState, Exchange, Grant, Window
from langchain_modelscope.testing._types import GRANT_LIFETIME, utc8_day
from langchain_modelscope.testing._wire import Answer, json_answer

RATELIMIT_HEADERS = (
    "modelscope-ratelimit-requests-limit",
    "modelscope-ratelimit-requests-remaining",
    "modelscope-ratelimit-model-requests-limit",
    "modelscope-ratelimit-model-requests-remaining",
)


# --------------------------------------------------------------------------- who and what


def authenticate(state: EmulatorState, ex: Exchange) -> Account | Answer:
    """The caller's account, or the 401/403 the service sends."""
    with state.lock:
        account = state.accounts.get(ex.record.token or "")
    if account is None:
        return state.sheet_answer("auth_failed", ex)
    if account.state == "unbound":
        return state.sheet_answer("unbound", ex)
    if account.state == "unverified":
        return state.sheet_answer("unverified_url" if state.config.points else "unverified", ex)
    ex.account = account
    return account


def lookup_model(state: EmulatorState, ex: Exchange) -> ModelInfo | Answer:
    """The served model, or the answer for an unknown or retired one."""
    with state.lock:
        info = state.models.get(base_model_id(ex.model))
    if info is None:
        return state.sheet_answer("invalid_model", ex)
    if info.retired_under(state.config.points):
        if info.retired_style == "balance_1008":
            return state.sheet_answer("retired_balance", ex)
        return state.sheet_answer("retired_2026" if state.config.points else "retired_2025", ex)
    return info


def gate(state: EmulatorState, ex: Exchange) -> tuple[Account, ModelInfo] | Answer:
    """Auth, a JSON object body, a served model."""
    account = authenticate(state, ex)
    if isinstance(account, Answer):
        return account
    if not isinstance(ex.body, dict):
        return state.bad_request(msg.CHOICE_BAD_BODY, ex)
    info = lookup_model(state, ex)
    if isinstance(info, Answer):
        return info
    return account, info


# --------------------------------------------------------------------------- points


def live_grants(state: EmulatorState, account: Account) -> list[Grant]:
    """The account's unexpired grants, closest to expiry first (call under the lock)."""
    now = state.clock.now()
    if account.grants is None:
        amount = account.initial_points
        amount = state.config.default_grant if amount is None else amount
        account.grants = [Grant(amount, now + GRANT_LIFETIME)] if amount > 0 else []
    account.grants = sorted(
        (g for g in account.grants if g.expires_at > now and g.amount > 0),
        key=lambda g: g.expires_at,
    )
    return account.grants


def available(state: EmulatorState, account: Account) -> float:
    """Points the account can spend now."""
    with state.lock:
        return sum(g.amount for g in live_grants(state, account))


def grant(state: EmulatorState, account: Account, amount: float, expires_in: timedelta) -> None:
    """Add a grant of `amount` points expiring `expires_in` from now."""
    if amount < 0:
        raise ValueError("a grant cannot be negative")
    with state.lock:
        grants = live_grants(state, account)
        grants.append(Grant(float(amount), state.clock.now() + expires_in))


def set_balance(state: EmulatorState, account: Account, amount: float) -> None:
    """Replace every grant by one of `amount` points, expiring 24 h from now."""
    if amount < 0:
        raise ValueError("a balance cannot be negative")
    with state.lock:
        account.grants = [Grant(float(amount), state.clock.now() + GRANT_LIFETIME)]


def _spend(state: EmulatorState, account: Account, amount: float) -> float:
    """Take up to `amount` points, closest to expiry first; returns what was taken."""
    left = amount
    for g in live_grants(state, account):
        take = min(g.amount, left)
        g.amount -= take
        left -= take
        if left <= 0:
            break
    return amount - left


def call_cost(state: EmulatorState, info: ModelInfo, ex: Exchange, units: int = 1) -> float:
    """Points a call costs (0 for `model:Provider` calls, billed by that provider)."""
    config = state.config
    if not config.points or (
        has_provider_suffix(ex.model) and not config.count_provider_suffix_calls
    ):
        return 0.0
    return config.tier_points.get(info.tier, 1.0) * units


def refuse(
    state: EmulatorState, account: Account, info: ModelInfo, ex: Exchange, answer: Answer
) -> Answer:
    """A failed call after the model is known: in the points regime it costs its points
    (as much as is left) unless `failed_calls_cost` is off."""
    cost = call_cost(state, info, ex)
    if cost > 0 and state.config.failed_calls_cost:
        with state.lock:
            spent = _spend(state, account, cost)
        if spent > 0:
            ex.record.billable = True
            ex.record.points += spent
    return answer


def release(state: EmulatorState, ex: Exchange) -> None:
    """The call ended: its frozen points are spent for good (call under the lock)."""
    if ex.account is not None and ex.held_points:
        ex.account.frozen = max(ex.account.frozen - ex.held_points, 0.0)
        ex.held_points = 0.0


# --------------------------------------------------------------------------- throttle


def open_window(
    state: EmulatorState, token: str, model: str, seconds: float, let_through_every: int | None
) -> None:
    """Throttle (token, model) for `seconds` of emulator clock (0 closes the window)."""
    if let_through_every is not None and let_through_every < 1:
        raise ValueError("let_through_every must be at least 1")
    key = (token, base_model_id(model))
    with state.lock:
        if seconds <= 0:
            state.throttles.pop(key, None)
            return
        until = state.clock.now() + timedelta(seconds=seconds)
        state.throttles[key] = Window(until=until, let_through_every=let_through_every)


def _throttled(state: EmulatorState, token: str, base: str, now: datetime) -> bool:
    """Whether this call is refused by a concurrency limit or a throttle window."""
    config = state.config
    limit = config.max_concurrent_per_model
    if limit is not None and state.active.get(base, 0) >= limit:
        return True
    key = (token, base)
    above = config.throttle_above
    if above is not None and state.active.get(key, 0) >= above:
        until = now + timedelta(seconds=config.throttle_window_seconds)
        state.throttles[key] = Window(
            until=until, let_through_every=config.throttle_let_through_every
        )
        return True
    window = state.throttles.get(key)
    if window is None:
        return False
    if window.until <= now:
        del state.throttles[key]
        return False
    window.refused += 1
    every = window.let_through_every
    return not (every is not None and window.refused % every == 0)


# --------------------------------------------------------------------------- admission


def _limits(state: EmulatorState, account: Account, base: str) -> tuple[int, int]:
    config = state.config
    account_limit = (
        account.daily_limit if account.daily_limit is not None else config.account_daily_limit
    )
    if base in account.model_limits:
        model_limit = account.model_limits[base]
    elif account.model_daily_limit is not None:
        model_limit = account.model_daily_limit
    else:
        model_limit = config.model_limits.get(base, config.model_daily_limit)
    return account_limit, model_limit


def _used(state: EmulatorState, token: str, model: str | None, day: date) -> int:
    stored_day, used = state.usage.get((token, model), (day, 0))
    return used if stored_day == day else 0


def admit(
    state: EmulatorState, account: Account, info: ModelInfo, ex: Exchange, units: int = 1
) -> Answer | dict[str, str]:
    """Throttle and quota gate: a refusal, or the quota headers of the admitted call.

    Daily regime: only calls that pass are counted (4xx/429/faults are not), as the facts
    sheet's "successful calls" suggests. Points regime: the call's points are frozen until
    it ends; throttle 429s cost points (see `refuse`), a spent balance costs nothing.
    """
    model = ex.model
    base = base_model_id(model)
    config = state.config
    external = has_provider_suffix(model) and not config.count_provider_suffix_calls
    show = not external and (not config.points or config.ratelimit_headers_in_points)
    with state.lock:
        now = state.clock.now()
        day = utc8_day(now)
        account_limit, model_limit = _limits(state, account, base)
        account_used = _used(state, account.token, None, day)
        model_used = _used(state, account.token, base, day)

        def headers(a_used: int, m_used: int) -> dict[str, str]:
            if not show:
                return {}
            return {
                RATELIMIT_HEADERS[0]: str(account_limit),
                RATELIMIT_HEADERS[1]: str(max(account_limit - a_used, 0)),
                RATELIMIT_HEADERS[2]: str(model_limit),
                RATELIMIT_HEADERS[3]: str(max(model_limit - m_used, 0)),
            }

        on_429 = headers(account_used, model_used) if config.ratelimit_headers_on_429 else {}
        if _throttled(state, account.token, base, now):
            return refuse(state, account, info, ex, state.sheet_answer("throttle", ex, on_429))
        cost = call_cost(state, info, ex, units)
        if config.points:
            if cost > 0 and available(state, account) < cost:
                return state.sheet_answer("insufficient_balance", ex, on_429)
        elif not external and account_used >= account_limit:
            return _account_quota_error(state, ex, on_429)
        elif not external and model_used >= model_limit:
            return _model_quota_error(state, ex, on_429)
        for key in (base, (account.token, base)):
            state.active[key] = state.active.get(key, 0) + 1
            ex.active.append(key)
        if external:
            return {}
        state.usage[(account.token, None)] = (day, account_used + 1)
        state.usage[(account.token, base)] = (day, model_used + 1)
        if cost > 0:
            ex.held_points = _spend(state, account, cost)
            account.frozen += ex.held_points
            ex.record.points = ex.held_points
        ex.record.billable = cost > 0 or not config.points
        return headers(account_used + 1, model_used + 1)


def _account_quota_error(state: EmulatorState, ex: Exchange, headers: dict[str, str]) -> Answer:
    name = state.config.account_quota_style
    return state.sheet_answer(name, ex, headers)


_MODEL_QUOTA_BODIES = {
    "daily": "quota_daily",
    "daily_one_space": "quota_daily_one_space",
    "daily_short": "quota_daily_short",
    "request_limit": "request_limit",
    "monthly": "quota_monthly",
    "no_body": "no_body",
}


def _model_quota_error(state: EmulatorState, ex: Exchange, headers: dict[str, str]) -> Answer:
    return state.sheet_answer(_MODEL_QUOTA_BODIES[state.config.quota_error_style], ex, headers)


@dataclass
class Admitted:
    """A call that passed every check: whose it is, which model, its quota headers."""

    account: Account
    info: ModelInfo
    quota: dict[str, str]


Check = Callable[[EmulatorState, Exchange, ModelInfo], "Answer | None"]


def admit_call(state: EmulatorState, ex: Exchange, check: Check) -> Admitted | Answer:
    """The pipeline every billable endpoint runs: gate, the endpoint's `check` (its 400s,
    billed by `refuse`), `admit`, then the configured `response_delay`."""
    gated = gate(state, ex)
    if isinstance(gated, Answer):
        return gated
    account, info = gated
    refused = check(state, ex, info)
    if refused is not None:
        return refuse(state, account, info, ex, refused)
    quota = admit(state, account, info, ex)
    if isinstance(quota, Answer):
        return quota
    if state.config.response_delay > 0:
        time.sleep(state.config.response_delay)
    return Admitted(account, info, quota)


def success_headers(state: EmulatorState, quota: dict[str, str], streamed: bool) -> dict[str, str]:
    """The quota headers a successful answer carries under the config."""
    if not state.config.send_ratelimit_headers:
        return {}
    if streamed and not state.config.ratelimit_headers_on_stream:
        return {}
    return quota


# --------------------------------------------------------------------------- balance endpoint


def _openapi_error(status: int, code: str, message: str, ex: Exchange) -> Answer:
    body: dict[str, Any] = {
        "success": False,
        "request_id": ex.request_id,
        "code": code,
        "message": message,
    }
    return json_answer(body, status)


def balance(state: EmulatorState, ex: Exchange) -> Answer:
    """`GET /openapi/v1/magicubes/balance`: free; the §2a shape, or an unusable answer."""
    mode = state.config.balance_endpoint
    if mode == "not_found":
        return state.error(404, msg.CHOICE_NOT_FOUND.format(path=ex.record.path), ex)
    with state.lock:
        account = state.accounts.get(ex.record.token or "")
    if account is None:
        return _openapi_error(401, "InvalidAuthentication", msg.CHOICE_BALANCE_AUTH, ex)
    if mode == "html":
        return Answer(
            200, msg.CHOICE_BALANCE_HTML.encode(), content_type="text/html; charset=utf-8"
        )
    if mode == "unsuccessful":
        return _openapi_error(200, "SystemError", msg.CHOICE_BALANCE_UNSUCCESSFUL, ex)
    with state.lock:
        free = available(state, account)
        frozen = account.frozen
    data = {
        "total_balance": _number(free + frozen),
        "available_balance": _number(free),
        "frozen_amount": _number(frozen),
    }
    return json_answer({"success": True, "request_id": ex.request_id, "data": data})


def _number(value: float) -> float | int:
    """Whole numbers as integers, as the observed body shows them."""
    return int(value) if float(value).is_integer() else value
