"""Verbatim wire facts from ../shared/modelscope-api.md, written once for every test to use.

Tests assert against these (the facts sheet), never against the emulator's own choices.
"""

from __future__ import annotations

from typing import Any

MODEL = "Qwen/Qwen3-32B"

QUOTA_DAILY = (
    f"You have exceeded today's quota for model {MODEL},  please try again tomorrow, "
    "or consider using other models"
)
QUOTA_DAILY_SHORT = f"You have exceeded today's quota for model {MODEL}, please try again tomorrow"
QUOTA_MONTHLY = (
    f"Rate limit exceeded: You have exceeded this month's quota for model {MODEL}, "
    "please try again next month, or consider using other models"
)
REQUEST_LIMIT = "Request limit exceeded."
INSUFFICIENT_QUOTA = "You exceeded your current quota, please check your plan and billing details."
INSUFFICIENT_BALANCE = "insufficient balance"
RATE_LIMITED = (
    f"We have to rate limit you for model {MODEL}. If you need higher limits, "
    "please consider other (commercial) API providers."
)
AUTH_FAILED = "Authentication failed, please make sure that a valid ModelScope token is supplied."
UNBOUND = "Please bind your Alibaba Cloud account before use."
UNVERIFIED = (
    "To use API-Inference, please make sure your associated Aliyun account is real-name verified."
)
INVALID_MODEL = f"Invalid model id: {MODEL}"
NO_PROVIDER = "Model id has no provider supported"
HYBRID_THINKING_400 = "parameter.enable_thinking must be set to false for non-streaming calls"
THINKING_ONLY_400 = "enable thinking can not be support when `stream=False`."
ENCODING_FORMAT_400 = "encoding_format must be 'float' or 'base64', got ''"

# --- 2026 bodies (§3, points era) --------------------------------------------------------------
QUOTA_DAILY_ONE_SPACE = (
    f"You have exceeded today's quota for model {MODEL}, please try again tomorrow, "
    "or consider using other models"
)
RETIRED_BALANCE = "insufficient balance (1008)"
RETIRED_BALANCE_TYPE = "insufficient_balance_error"
NO_PROVIDER_2026 = f"Model id : {MODEL} , has no provider supported"
UPSTREAM_CAP = "AppId:**wP34 达到使用量上限"
UPSTREAM_CAP_CODE = "too_many_requests"
FREE_ALLOCATED = "Free allocated quota exceeded."
UNVERIFIED_2026 = (
    UNVERIFIED + " You can do so at your account setting page "
    "https://www.modelscope.cn/my/accountsettings."
)
INVALID_TEMPERATURE = "invalid temperature: only 1 is allowed for this model"

REQUEST_ID = "9f3c2a1e-0000-4000-8000-00000000beef"

RATELIMIT_HEADERS = {
    "modelscope-ratelimit-requests-limit": "2000",
    "modelscope-ratelimit-requests-remaining": "1999",
    "modelscope-ratelimit-model-requests-limit": "500",
    "modelscope-ratelimit-model-requests-remaining": "0",
}

#: The 200 answer seen when ``response_format`` is ``json_schema``.
CHOICES_NULL_BODY: dict[str, Any] = {
    "id": "",
    "object": "",
    "created": 0,
    "model": "",
    "choices": None,
    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
}


def errors_envelope(message: str, request_id: str = REQUEST_ID) -> dict[str, Any]:
    """The 2025 / tasks-endpoint envelope."""
    return {"errors": {"message": message, "request_id": request_id}}


def error_envelope(
    message: str, code: str | None = None, request_id: str = REQUEST_ID
) -> dict[str, Any]:
    """The 2026 envelope."""
    inner: dict[str, Any] = {"message": message}
    if code is not None:
        inner["code"] = code
        inner["type"] = code
    return {"error": inner, "request_id": request_id}


def retired_balance_body(request_id: str = REQUEST_ID) -> dict[str, Any]:
    """The 2026-04 body of a retired model (``MiniMax/MiniMax-M2.7``), verbatim in shape."""
    return {
        "error": {"http_code": "429", "message": RETIRED_BALANCE, "type": RETIRED_BALANCE_TYPE},
        "request_id": request_id,
    }


def upstream_cap_body(request_id: str = REQUEST_ID) -> dict[str, Any]:
    """The 2026-03 body of an upstream provider's cap (``LongCat-Flash-Lite``)."""
    return {
        "error": {"code": UPSTREAM_CAP_CODE, "message": UPSTREAM_CAP, "type": "rate_limit_error"},
        "request_id": request_id,
    }
