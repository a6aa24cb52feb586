"""Every word that classifies an answer: the one home of ModelScope's (and others') error texts.

ModelScope's texts drift (spacing, a URL appended, the model id inside), so answers are
classified by stable, lower-case substrings (facts sheet §3). Both readers of an error ask this
module: :func:`~langchain_modelscope.errors.error_from_response` (this package's own client) and
the fallback's classifier (any client, e.g. ``ChatOpenAI`` pointed at ModelScope). The
predicates read the tuples at call time, so a phrase changed here changes both.

Texts given to the predicates are lower-cased with runs of spaces folded to one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Literal

QuotaPeriod = Literal["day", "month"]

# --- ModelScope API-Inference (facts sheet §3, the error table) ----------------------------

#: 429 "You have exceeded today's quota for model {model}": per-model daily quota (§3 row 1).
DAILY_QUOTA_PHRASES: tuple[str, ...] = ("today's quota",)
#: 429 "... this month's quota for model {model} ...": per-model monthly quota (§3 row 2).
MONTHLY_QUOTA_PHRASES: tuple[str, ...] = ("month's quota", "monthly quota")
#: 429 "Request limit exceeded.": model or account, the headers tell (§3 row 3).
REQUEST_LIMIT_PHRASES: tuple[str, ...] = ("request limit exceeded",)
#: 429 code ``insufficient_quota`` (§3 row 4): the account's quota is spent.
ACCOUNT_QUOTA_CODES: tuple[str, ...] = ("insufficient_quota",)
#: 429 "You exceeded your current quota" (§3 row 4): the account's quota (no regime said).
ACCOUNT_QUOTA_PHRASES: tuple[str, ...] = ("exceeded your current quota",)
#: 429 plain "insufficient balance" (§3, points era): the account's points are spent.
POINTS_PHRASES: tuple[str, ...] = ("insufficient balance", "insufficient_balance")
#: 429 "insufficient balance (1008)", type ``insufficient_balance_error`` (§3): not your points
#: but a retired model's upstream balance. Checked before :data:`POINTS_PHRASES`.
RETIRED_BALANCE_PHRASES: tuple[str, ...] = ("insufficient balance (1008)",)
RETIRED_BALANCE_CODES: tuple[str, ...] = ("insufficient_balance_error",)
#: 400 "Model id has no provider supported" (2025), "Model id : X , has no provider supported"
#: (2026): a retired or unserved model (§3, §5).
RETIRED_MODEL_PHRASES: tuple[str, ...] = ("has no provider supported",)
#: 400 "Invalid model id: {model}" (§3); retired models are unknown too.
UNKNOWN_MODEL_PHRASES: tuple[str, ...] = ("invalid model id", *RETIRED_MODEL_PHRASES)
#: 429 "AppId:… 达到使用量上限", code ``too_many_requests`` (§3): the provider behind one
#: model hit its usage cap, for an unknown time.
UPSTREAM_CAP_PHRASES: tuple[str, ...] = ("达到使用量上限",)
UPSTREAM_CAP_CODES: tuple[str, ...] = ("too_many_requests",)
#: 429 "Free allocated quota exceeded." (§3, DashScope's words): that provider's free quota.
FREE_ALLOCATED_PHRASES: tuple[str, ...] = ("free allocated quota exceeded",)
#: 429 "We have to rate limit you for model {model}. …" (§3, §2a): the concurrency throttle.
THROTTLE_PHRASES: tuple[str, ...] = ("we have to rate limit you",)
#: 400 "invalid temperature: only 1 is allowed for this model" (§3): every part present.
FIXED_TEMPERATURE_PARTS: tuple[str, ...] = ("temperature", "only 1 is allowed")
#: 401 "Please bind your Alibaba Cloud account before use." (§3).
UNBOUND_ACCOUNT_PHRASES: tuple[str, ...] = ("bind",)
#: 403 "... please make sure your associated Aliyun account is real-name verified." (§3).
UNVERIFIED_ACCOUNT_PHRASES: tuple[str, ...] = ("real-name", "verified")
#: 400 "parameter.enable_thinking must be set to false for non-streaming calls" (§3, §4).
HYBRID_THINKING_PHRASES: tuple[str, ...] = ("enable_thinking must be set to false",)
#: 400 "enable thinking can not be support when `stream=False`." (§3, §4): every part present.
THINKING_ONLY_PARTS: tuple[str, ...] = ("enable thinking", "stream=false")

# --- other providers, for a fallback whose candidates are not ModelScope's -----------------

#: Codes (``code``/``type`` of an OpenAI-style body) of a spent quota or balance.
OTHER_QUOTA_CODES: tuple[str, ...] = (
    "insufficient_balance",
    "billing_hard_limit_reached",
    "billing_not_active",
    "arrearage",  # DashScope: account in arrears
    "allocationquota.freetieronly",  # DashScope: free tier of the model spent
)
#: Phrases of a spent quota or balance.
OTHER_QUOTA_PHRASES: tuple[str, ...] = (
    "insufficient_quota",  # OpenAI's code, quoted in the message by some wrappers
    "credit balance is too low",  # Anthropic, answered as a 400
    "free tier of the model has been exhausted",  # DashScope, a 403
)
#: Codes and phrases that scope a quota to the model rather than the whole account.
MODEL_SCOPED_QUOTA_CODES: tuple[str, ...] = ("allocationquota.freetieronly",)
MODEL_SCOPED_QUOTA_PHRASES: tuple[str, ...] = ("free tier of the model", "for model")
#: Codes of a rate limit or overload that passes with time.
TRANSIENT_CODES: tuple[str, ...] = (
    "rate_limit_exceeded",
    "rate_limit_error",
    "overloaded_error",
    "throttling",
    "server_error",
)
#: Codes and phrases of an unknown model.
UNKNOWN_MODEL_CODES: tuple[str, ...] = ("model_not_found", "not_found_error", "modelnotfound")
OTHER_UNKNOWN_MODEL_PHRASES: tuple[str, ...] = ("model not found",)


def has_any(text: str, phrases: Iterable[str]) -> bool:
    """True when ``text`` contains one of ``phrases``."""
    return any(phrase in text for phrase in phrases)


def quota_period(text: str) -> QuotaPeriod | None:
    """The period of a ModelScope per-model quota the text names, if it names one."""
    if has_any(text, MONTHLY_QUOTA_PHRASES):
        return "month"
    if has_any(text, DAILY_QUOTA_PHRASES):
        return "day"
    return None


def is_account_quota(text: str, code: str | None) -> bool:
    """ModelScope's words for the account's quota being spent (not its points: see below)."""
    return (code is not None and code in ACCOUNT_QUOTA_CODES) or has_any(
        text, ACCOUNT_QUOTA_PHRASES
    )


def is_retired_model(text: str, codes: Collection[str]) -> bool:
    """ModelScope's words for a model it no longer serves (a 400, or the 429 "(1008)")."""
    return (
        has_any(text, RETIRED_MODEL_PHRASES)
        or has_any(text, RETIRED_BALANCE_PHRASES)
        or any(code in RETIRED_BALANCE_CODES for code in codes)
    )


def is_points_spent(text: str, codes: Collection[str]) -> bool:
    """The account's points balance is spent: plain "insufficient balance" (not "(1008)")."""
    return has_any(text, POINTS_PHRASES) and not is_retired_model(text, codes)


def is_upstream_quota(text: str, codes: Collection[str]) -> bool:
    """A model's own quota of unknown length: its provider's cap, or a free allocation."""
    return (
        has_any(text, UPSTREAM_CAP_PHRASES)
        or has_any(text, FREE_ALLOCATED_PHRASES)
        or any(code in UPSTREAM_CAP_CODES for code in codes)
    )


def is_throttle(text: str) -> bool:
    """ModelScope's concurrency throttle ("We have to rate limit you …")."""
    return has_any(text, THROTTLE_PHRASES)


def needs_temperature_one(text: str) -> bool:
    """The model accepts only ``temperature=1`` (Kimi models, §3)."""
    return all(part in text for part in FIXED_TEMPERATURE_PARTS)


def is_request_limit(text: str) -> bool:
    """ModelScope's "Request limit exceeded." (model or account: the headers tell)."""
    return has_any(text, REQUEST_LIMIT_PHRASES)


def names_unknown_model(text: str) -> bool:
    """ModelScope's words for a model id it does not serve."""
    return has_any(text, UNKNOWN_MODEL_PHRASES)


def needs_streaming(text: str) -> bool:
    """One of the two 400s a thinking model answers to a non-streaming call."""
    return has_any(text, HYBRID_THINKING_PHRASES) or all(p in text for p in THINKING_ONLY_PARTS)


def is_any_quota(text: str, codes: Collection[str]) -> bool:
    """Any provider's words (or codes) for a spent quota or balance."""
    return (
        quota_period(text) is not None
        or has_any(text, ACCOUNT_QUOTA_PHRASES)
        or has_any(text, POINTS_PHRASES)
        or is_upstream_quota(text, codes)
        or has_any(text, OTHER_QUOTA_PHRASES)
        or any(code in ACCOUNT_QUOTA_CODES or code in OTHER_QUOTA_CODES for code in codes)
    )


def is_model_scoped_quota(text: str, codes: Collection[str]) -> bool:
    """True when a spent quota is the model's, not the whole account's."""
    return (
        quota_period(text) is not None
        or is_upstream_quota(text, codes)
        or any(code in MODEL_SCOPED_QUOTA_CODES for code in codes)
        or has_any(text, MODEL_SCOPED_QUOTA_PHRASES)
    )


def is_any_unknown_model(text: str, codes: Collection[str]) -> bool:
    """Any provider's words (or codes) for an unknown model."""
    return (
        names_unknown_model(text)
        or any(code in UNKNOWN_MODEL_CODES for code in codes)
        or has_any(text, OTHER_UNKNOWN_MODEL_PHRASES)
    )


def is_transient_code(codes: Collection[str]) -> bool:
    """A rate-limit or overload code that passes with time."""
    return any(code in TRANSIENT_CODES for code in codes)
