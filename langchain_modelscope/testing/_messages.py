"""Every message the emulator sends, in one place.

`SHEET_*` texts are verbatim from the facts sheet; `CHOICE_*` texts are the emulator's own
(the real wording is unknown): client code and tests must not depend on them.
"""

from __future__ import annotations

# ---- verbatim from the facts sheet
SHEET_AUTH_FAILED = (
    "Authentication failed, please make sure that a valid ModelScope token is supplied."
)
SHEET_UNBOUND = "Please bind your Alibaba Cloud account before use."
SHEET_UNVERIFIED = (
    "To use API-Inference, please make sure your associated Aliyun account is real-name verified."
)
SHEET_INVALID_MODEL = "Invalid model id: {model}"
SHEET_RETIRED_MODEL = "Model id has no provider supported"
SHEET_HYBRID_NON_STREAM = "parameter.enable_thinking must be set to false for non-streaming calls"
SHEET_THINKING_ONLY_NON_STREAM = "enable thinking can not be support when `stream=False`."
SHEET_QUOTA_DAILY = (
    "You have exceeded today's quota for model {model},  please try again tomorrow, "
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
CHOICE_TASK_TYPE = "Header X-ModelScope-Task-Type must be image_generation."
CHOICE_TASK_NOT_FOUND = "Task {task_id} not found."
CHOICE_TASK_FAILED = "The image could not be generated."
CHOICE_NOT_FOUND = "Not found: {path}"
CHOICE_SERVER_ERROR = "Internal server error."
CHOICE_STREAM_ERROR_CODE = "internal_error"

#: a prompt containing this word (any case) makes an image task end FAILED
IMAGE_FAIL_TRIGGER = "FAIL_TASK"

#: the body of the json_schema quirk (besides id/model): as observed
QUIRK_FIELDS = {"object": "", "created": 0, "choices": None}
