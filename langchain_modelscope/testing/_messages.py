"""Every message the emulator sends, in one place.

`SHEET_*` texts are verbatim from the facts sheet; `CHOICE_*` texts are the emulator's own
(the real wording is unknown): client code and tests must not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- verbatim from the facts sheet
SHEET_AUTH_FAILED = (
    "Authentication failed, please make sure that a valid ModelScope token is supplied."
)
SHEET_UNBOUND = "Please bind your Alibaba Cloud account before use."
SHEET_UNVERIFIED = (
    "To use API-Inference, please make sure your associated Aliyun account is real-name verified."
)
SHEET_INVALID_MODEL = "Invalid model id: {model}"
SHEET_INVALID_MODEL_BARE = "Invalid model id"
SHEET_RETIRED_MODEL = "Model id has no provider supported"
SHEET_RETIRED_MODEL_2026 = "Model id : {model} , has no provider supported"
SHEET_RETIRED_BALANCE = "insufficient balance (1008)"
SHEET_UNVERIFIED_2026 = (
    SHEET_UNVERIFIED + " You can do so at your account setting page "
    "https://www.modelscope.cn/my/accountsettings."
)
SHEET_INVALID_TEMPERATURE = "invalid temperature: only 1 is allowed for this model"
SHEET_UPSTREAM_CAP = "AppId:**wP34 达到使用量上限"
SHEET_DASHSCOPE_FREE_QUOTA = "Free allocated quota exceeded."
SHEET_HYBRID_NON_STREAM = "parameter.enable_thinking must be set to false for non-streaming calls"
SHEET_THINKING_ONLY_NON_STREAM = "enable thinking can not be support when `stream=False`."
SHEET_QUOTA_DAILY = (
    "You have exceeded today's quota for model {model},  please try again tomorrow, "
    "or consider using other models"
)
SHEET_QUOTA_DAILY_ONE_SPACE = (
    "You have exceeded today's quota for model {model}, please try again tomorrow, "
    "or consider using other models"
)
SHEET_QUOTA_DAILY_SHORT = (
    "You have exceeded today's quota for model {model},  please try again tomorrow"
)
SHEET_QUOTA_MONTHLY = (
    "Rate limit exceeded: You have exceeded this month's quota for model {model}, "
    "please try again next month, or consider using other models"
)
SHEET_REQUEST_LIMIT = "Request limit exceeded."
SHEET_INSUFFICIENT_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details."
)
SHEET_INSUFFICIENT_BALANCE = "insufficient balance"
SHEET_CONCURRENCY = (
    "We have to rate limit you for model {model}. "
    "If you need higher limits, please consider other (commercial) API providers."
)
SHEET_ENCODING_FORMAT = "encoding_format must be 'float' or 'base64', got '{value}'"


@dataclass(frozen=True)
class SheetBody:
    """One §3 answer: status, message (`{model}` filled in), and the code/type §3 gives.

    `fixed` bodies are sent exactly in the envelope the sheet shows (with `request_id`);
    the others follow the configured envelope.
    """

    status: int
    message: str
    code: str | None = None
    type: str | None = None
    fixed: dict[str, object] | None = None


#: every §3 body by a stable name, for `Fault.sheet(name)`
SHEET_BODIES: dict[str, SheetBody] = {
    "quota_daily": SheetBody(429, SHEET_QUOTA_DAILY),
    "quota_daily_one_space": SheetBody(429, SHEET_QUOTA_DAILY_ONE_SPACE),
    "quota_daily_short": SheetBody(429, SHEET_QUOTA_DAILY_SHORT),
    "quota_monthly": SheetBody(429, SHEET_QUOTA_MONTHLY),
    "request_limit": SheetBody(429, SHEET_REQUEST_LIMIT),
    "insufficient_quota": SheetBody(
        429, SHEET_INSUFFICIENT_QUOTA, code="insufficient_quota", type="insufficient_quota"
    ),
    "insufficient_balance": SheetBody(429, SHEET_INSUFFICIENT_BALANCE),
    "retired_balance": SheetBody(
        429,
        SHEET_RETIRED_BALANCE,
        fixed={
            "http_code": "429",
            "message": SHEET_RETIRED_BALANCE,
            "type": "insufficient_balance_error",
        },
    ),
    "upstream_cap": SheetBody(
        429,
        SHEET_UPSTREAM_CAP,
        fixed={
            "code": "too_many_requests",
            "message": SHEET_UPSTREAM_CAP,
            "type": "rate_limit_error",
        },
    ),
    "dashscope_free_quota": SheetBody(429, SHEET_DASHSCOPE_FREE_QUOTA),
    "throttle": SheetBody(429, SHEET_CONCURRENCY),
    "no_body": SheetBody(429, ""),
    "auth_failed": SheetBody(401, SHEET_AUTH_FAILED, type="authentication_error"),
    "unbound": SheetBody(401, SHEET_UNBOUND, type="authentication_error"),
    "unverified": SheetBody(403, SHEET_UNVERIFIED, type="permission_denied"),
    "unverified_url": SheetBody(403, SHEET_UNVERIFIED_2026, type="permission_denied"),
    "invalid_model": SheetBody(400, SHEET_INVALID_MODEL),
    "invalid_model_bare": SheetBody(400, SHEET_INVALID_MODEL_BARE),
    "retired_2025": SheetBody(400, SHEET_RETIRED_MODEL),
    "retired_2026": SheetBody(400, SHEET_RETIRED_MODEL_2026),
    "invalid_temperature": SheetBody(400, SHEET_INVALID_TEMPERATURE),
    "hybrid_non_stream": SheetBody(400, SHEET_HYBRID_NON_STREAM, code="invalid_parameter_error"),
    "thinking_only_non_stream": SheetBody(
        400, SHEET_THINKING_ONLY_NON_STREAM, code="invalid_parameter_error"
    ),
    "null_choices": SheetBody(200, ""),
    "empty_content": SheetBody(200, ""),
}

# ---- the emulator's own wording (real text unknown)
CHOICE_NO_VISION = "Model {model} does not support image input."
CHOICE_NOT_CHAT = "Model {model} does not support chat completions."
CHOICE_NOT_EMBEDDING = "Model {model} does not support embeddings."
CHOICE_NOT_IMAGE = "Model {model} does not support image generation."
CHOICE_EMBEDDINGS_DISABLED = "Embeddings are not served on this host."
CHOICE_EMPTY_INPUT = "input must not be empty."
CHOICE_BAD_INPUT = "input must be a string or a list of strings."
CHOICE_INPUT_TOO_LONG = "input {index} is too long: {words} words, at most {limit} are accepted."
CHOICE_BATCH_TOO_LARGE = "too many inputs: {count}, at most {limit} per call."
CHOICE_BAD_DIMENSIONS = "dimensions must be an integer between 1 and {limit}."
CHOICE_BAD_BODY = "Request body must be a JSON object."
CHOICE_NO_MESSAGES = "messages must be a non-empty list."
CHOICE_ASYNC_REQUIRED = (
    "Image generation is asynchronous: send the header X-ModelScope-Async-Mode: true."
)
CHOICE_NO_PROMPT = "prompt must be a non-empty string."
CHOICE_TASK_NOT_FOUND = "Task {task_id} not found."
CHOICE_BAD_SIZE = "size must be WIDTHxHEIGHT, each between 64 and {limit} for this model."
CHOICE_BAD_SEED = "seed must be an integer between 0 and 2147483647."
CHOICE_PROMPT_TOO_LONG = "prompt must be under 2000 characters."
CHOICE_BALANCE_AUTH = "Invalid authentication: a valid ModelScope token is required."
CHOICE_BALANCE_UNSUCCESSFUL = "The balance could not be read."
CHOICE_BALANCE_HTML = (
    "<!DOCTYPE html><html><head><title>ModelScope</title></head><body></body></html>"
)
CHOICE_NOT_FOUND = "Not found: {path}"
CHOICE_SERVER_ERROR = "Internal server error."
CHOICE_STREAM_ERROR_CODE = "internal_error"

# ---- image tasks (facts sheet §1)
SHEET_TASK_FAILED = {"code": 422, "message": "Output data may contain inappropriate content."}
SHEET_TASK_NOT_FOUND = {"code": 500, "message": "task not found"}

#: a prompt containing this word (any case) makes an image task end FAILED
IMAGE_FAIL_TRIGGER = "FAIL_TASK"

#: the body of the json_schema quirk (besides id/model): as observed
QUIRK_FIELDS = {"object": "", "created": 0, "choices": None}

#: the stable names `Fault.sheet` accepts
SHEET_BODY_NAMES: tuple[str, ...] = tuple(SHEET_BODIES)
