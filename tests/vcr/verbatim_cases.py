"""The hand-built cassettes: what each one asks, and the verbatim answer ModelScope gave.

Answers come from ``tests/support/modelscope_facts.py`` (the facts sheet, §3), never from the
emulator. Requests are whatever `ChatModelScope` sends for the case's calls:
``build_verbatim_cassettes.py`` captures them through an in-memory transport so they match
byte for byte, and the tests make the same calls against the cassette.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, Field

from langchain_modelscope.chat_models import DEFAULT_MODEL, ChatModelScope
from tests.support import modelscope_facts as facts
from tests.vcr.vcr_support import PLACEHOLDER_TOKEN, REAL_BASE_URL

PROMPT = "Say hello in one short sentence."
#: A model no family rule knows: it is called without streaming until it refuses.
UNKNOWN_THINKER = "example-org/Unlisted-Reasoner-7B"
#: The thinking cassettes' streamed answer, in the shape of ModelScope's official sample.
REASONING = ["The user wants a greeting.", " One short sentence will do."]
ANSWER = ["Hello", "! Nice to meet you."]

Kind = Literal["error", "thinking", "choices-null"]


class Joke(BaseModel):
    """A joke to tell the user."""

    setup: str = Field(description="The question of the joke")
    punchline: str = Field(description="The answer of the joke")


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, as vcrpy stores it."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def as_vcr(self) -> dict[str, Any]:
        return {
            "status": {"code": self.status, "message": HTTPStatus(self.status).phrase},
            "headers": {name: [value] for name, value in self.headers.items()},
            "body": {"string": self.body},
        }


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, {"content-type": "application/json", **(headers or {})})


def _event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
    payload: dict[str, Any] = {
        "id": "chatcmpl-0123456789abcdef",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": UNKNOWN_THINKER,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return "data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n\n"


def thinking_stream() -> Reply:
    """Reasoning first, then content, "" for the unused field, usage last (§4)."""
    events = [_event({"role": "assistant", "content": "", "reasoning_content": ""})]
    events += [_event({"content": "", "reasoning_content": piece}) for piece in REASONING]
    events += [_event({"content": piece, "reasoning_content": ""}) for piece in ANSWER]
    events.append(_event({}, "stop"))
    usage = {"prompt_tokens": 14, "completion_tokens": 21, "total_tokens": 35}
    events.append(_event(None, usage=usage))
    events.append("data: [DONE]\n\n")
    headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
    return Reply(200, "".join(events).encode(), headers)


@dataclass(frozen=True)
class Case:
    """One cassette: the model, the calls the builder makes, and the answer to each request."""

    name: str
    kind: Kind
    model_kwargs: Mapping[str, Any]
    reply: Reply
    note: str | None = None

    def model(self, **overrides: Any) -> ChatModelScope:
        """The model as replay builds it: real base URL, placeholder token, no retries."""
        params: dict[str, Any] = {
            "api_key": PLACEHOLDER_TOKEN,
            "base_url": REAL_BASE_URL,
            "max_retries": 0,
            **self.model_kwargs,
        }
        params.update(overrides)
        return ChatModelScope(**params)

    def answer(self, body: Mapping[str, Any]) -> Reply:
        """The recorded answer to one request body."""
        if self.kind == "thinking" and body.get("stream") is True:
            return thinking_stream()
        return self.reply


def structured(model: ChatModelScope) -> Any:
    """The call that got ``choices: null``: structured output with ``json_schema``."""
    return model.with_structured_output(Joke, method="json_schema")


def _errors(
    name: str,
    message: str,
    *,
    code: str | None = None,
    status: int,
    headers: Mapping[str, str] | None = None,
    envelopes: tuple[str, ...] = ("errors", "error"),
) -> list[Case]:
    """One cassette per envelope in use: the 2025 ``errors`` and the 2026 ``error`` one."""
    cases = []
    for envelope in envelopes:
        payload = (
            facts.errors_envelope(message)
            if envelope == "errors"
            else facts.error_envelope(message, code)
        )
        cases.append(
            Case(
                name=f"{name}.{envelope}",
                kind="error",
                model_kwargs={"model": facts.MODEL, "enable_thinking": False},
                reply=json_reply(status, payload, headers),
            )
        )
    return cases


def _thinking(name: str, message: str) -> list[Case]:
    note = (
        "The streamed retry's answer is not verbatim: it follows the official streaming "
        "sample (section 4)."
    )
    return [
        Case(
            name=f"{name}.{envelope}",
            kind="thinking",
            model_kwargs={"model": UNKNOWN_THINKER},
            reply=json_reply(
                400,
                facts.errors_envelope(message)
                if envelope == "errors"
                else facts.error_envelope(message, "invalid_parameter_error"),
            ),
            note=note,
        )
        for envelope in ("errors", "error")
    ]


_ACCOUNT_SPENT = {**facts.RATELIMIT_HEADERS, "modelscope-ratelimit-requests-remaining": "0"}

ERROR_CASES: list[Case] = [
    *_errors("429-quota-daily", facts.QUOTA_DAILY, status=429),
    *_errors("429-quota-daily-short", facts.QUOTA_DAILY_SHORT, status=429, envelopes=("errors",)),
    *_errors("429-quota-monthly", facts.QUOTA_MONTHLY, status=429),
    *_errors("429-request-limit", facts.REQUEST_LIMIT, status=429),
    *_errors(
        "429-request-limit-account-spent",
        facts.REQUEST_LIMIT,
        status=429,
        headers=_ACCOUNT_SPENT,
        envelopes=("errors",),
    ),
    *_errors(
        "429-insufficient-quota", facts.INSUFFICIENT_QUOTA, code="insufficient_quota", status=429
    ),
    *_errors("429-insufficient-balance", facts.INSUFFICIENT_BALANCE, status=429),
    *_errors("429-rate-limit", facts.RATE_LIMITED, status=429),
    Case(
        name="429-no-body",
        kind="error",
        model_kwargs={"model": facts.MODEL, "enable_thinking": False},
        reply=Reply(429, b"", {"content-length": "0"}),
    ),
    *_errors("401-authentication-failed", facts.AUTH_FAILED, status=401),
    *_errors("401-account-not-bound", facts.UNBOUND, status=401),
    *_errors("403-not-real-name-verified", facts.UNVERIFIED, status=403),
    *_errors("400-invalid-model", facts.INVALID_MODEL, status=400),
    *_errors("400-no-provider", facts.NO_PROVIDER, status=400),
]

THINKING_CASES: list[Case] = [
    *_thinking("400-thinking-hybrid", facts.HYBRID_THINKING_400),
    *_thinking("400-thinking-only", facts.THINKING_ONLY_400),
]

CHOICES_NULL = Case(
    name="200-choices-null-json-schema",
    kind="choices-null",
    model_kwargs={"model": DEFAULT_MODEL},
    reply=json_reply(200, facts.CHOICES_NULL_BODY),
)

ALL_CASES: list[Case] = [*ERROR_CASES, *THINKING_CASES, CHOICES_NULL]


def exercise(case: Case, model: ChatModelScope, swallow: Callable[[BaseException], bool]) -> None:
    """The calls behind a cassette's requests (sync; async calls send the same bodies)."""
    if case.kind == "thinking":
        model.invoke(PROMPT)
        return
    calls: list[Callable[[], Any]]
    if case.kind == "choices-null":
        calls = [lambda: structured(model).invoke(PROMPT)]
    else:
        calls = [lambda: model.invoke(PROMPT), lambda: list(model.stream(PROMPT))]
    for call in calls:
        try:
            call()
        except Exception as error:
            if not swallow(error):
                raise
