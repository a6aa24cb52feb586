"""Accounts and quotas: who may call, which model, and whether the call is let through.

Order of checks (an emulator choice): auth (401/403), body and model (400), then, once the
endpoint's own parameter checks pass, `admit`: concurrency (429), account quota, model
quota (429), counting the call when it passes.
"""

from __future__ import annotations

from datetime import date

from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._catalogue import ModelInfo, base_model_id, has_provider_suffix
from langchain_modelscope.testing._state import Account, EmulatorState, Exchange
from langchain_modelscope.testing._types import utc8_day
from langchain_modelscope.testing._wire import Answer

RATELIMIT_HEADERS = (
    "modelscope-ratelimit-requests-limit",
    "modelscope-ratelimit-requests-remaining",
    "modelscope-ratelimit-model-requests-limit",
    "modelscope-ratelimit-model-requests-remaining",
)


def authenticate(state: EmulatorState, ex: Exchange) -> Account | Answer:
    """The caller's account, or the 401/403 the service sends."""
    with state.lock:
        account = state.accounts.get(ex.record.token or "")
    if account is None:
        return state.error(401, msg.SHEET_AUTH_FAILED, ex, type_="authentication_error")
    if account.state == "unbound":
        return state.error(401, msg.SHEET_UNBOUND, ex, type_="authentication_error")
    if account.state == "unverified":
        return state.error(403, msg.SHEET_UNVERIFIED, ex, type_="permission_denied")
    return account


def lookup_model(state: EmulatorState, ex: Exchange) -> ModelInfo | Answer:
    """The served model, or the 400 for an unknown or retired one."""
    model = ex.model
    with state.lock:
        info = state.models.get(base_model_id(model))
    if info is None:
        return state.error(
            400, msg.SHEET_INVALID_MODEL.format(model=model), ex, code="invalid_model"
        )
    if info.retired:
        return state.error(400, msg.SHEET_RETIRED_MODEL, ex, code="invalid_model")
    return info


def gate(state: EmulatorState, ex: Exchange) -> tuple[Account, ModelInfo] | Answer:
    """Auth, a JSON object body, a served model."""
    account = authenticate(state, ex)
    if isinstance(account, Answer):
        return account
    if not isinstance(ex.body, dict):
        return state.error(400, msg.CHOICE_BAD_BODY, ex, code="invalid_parameter_error")
    info = lookup_model(state, ex)
    if isinstance(info, Answer):
        return info
    return account, info


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


def admit(state: EmulatorState, account: Account, ex: Exchange) -> Answer | dict[str, str]:
    """Concurrency and quota gate: a refusal, or the quota headers of the admitted call.

    Only calls that pass are counted (4xx/429/faults are not), as the facts sheet's
    "successful calls" suggests.
    """
    model = ex.model
    base = base_model_id(model)
    config = state.config
    counted = not has_provider_suffix(model) or config.count_provider_suffix_calls
    with state.lock:
        day = utc8_day(state.clock.now())
        account_limit, model_limit = _limits(state, account, base)
        account_used = _used(state, account.token, None, day)
        model_used = _used(state, account.token, base, day)

        def headers(a_used: int, m_used: int) -> dict[str, str]:
            return {
                RATELIMIT_HEADERS[0]: str(account_limit),
                RATELIMIT_HEADERS[1]: str(max(account_limit - a_used, 0)),
                RATELIMIT_HEADERS[2]: str(model_limit),
                RATELIMIT_HEADERS[3]: str(max(model_limit - m_used, 0)),
            }

        on_429 = (
            headers(account_used, model_used) if counted and config.ratelimit_headers_on_429 else {}
        )
        limit = config.max_concurrent_per_model
        if limit is not None and state.active.get(base, 0) >= limit:
            return state.error(
                429,
                msg.SHEET_CONCURRENCY.format(model=model),
                ex,
                code="rate_limit_exceeded",
                headers=on_429,
            )
        if counted and account_used >= account_limit:
            return _account_quota_error(state, ex, on_429)
        if counted and model_used >= model_limit:
            return _model_quota_error(state, ex, on_429)
        state.active[base] = state.active.get(base, 0) + 1
        ex.active.append(base)
        if not counted:
            return {}
        state.usage[(account.token, None)] = (day, account_used + 1)
        state.usage[(account.token, base)] = (day, model_used + 1)
        return headers(account_used + 1, model_used + 1)


def _account_quota_error(state: EmulatorState, ex: Exchange, headers: dict[str, str]) -> Answer:
    if state.config.account_quota_style == "insufficient_balance":
        return state.error(429, msg.SHEET_INSUFFICIENT_BALANCE, ex, headers=headers)
    return state.error(
        429,
        msg.SHEET_INSUFFICIENT_QUOTA,
        ex,
        code="insufficient_quota",
        type_="insufficient_quota",
        headers=headers,
    )


def _model_quota_error(state: EmulatorState, ex: Exchange, headers: dict[str, str]) -> Answer:
    style = state.config.quota_error_style
    if style == "no_body":
        return Answer(429, b"", headers)
    template = {
        "daily": msg.SHEET_QUOTA_DAILY,
        "daily_short": msg.SHEET_QUOTA_DAILY_SHORT,
        "request_limit": msg.SHEET_REQUEST_LIMIT,
        "monthly": msg.SHEET_QUOTA_MONTHLY,
    }[style]
    return state.error(
        429, template.format(model=ex.model), ex, code="rate_limit_exceeded", headers=headers
    )


def success_headers(state: EmulatorState, quota: dict[str, str], streamed: bool) -> dict[str, str]:
    """The quota headers a successful answer carries under the config."""
    if not state.config.send_ratelimit_headers:
        return {}
    if streamed and not state.config.ratelimit_headers_on_stream:
        return {}
    return quota
