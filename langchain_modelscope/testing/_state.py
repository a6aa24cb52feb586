"""The emulator's shared state, the per-request `Exchange`, and error answers.

One `EmulatorState` holds everything a handler may read or change, under one lock; the
handler modules (`_accounts`, `_chat`, `_media`) are functions of (state, exchange).
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._catalogue import DEFAULT_MODELS, ModelInfo, base_model_id
from langchain_modelscope.testing._types import (
    AccountState,
    EmulatorClock,
    EmulatorConfig,
    Fault,
    RecordedRequest,
    ScriptedReply,
)
from langchain_modelscope.testing._wire import Answer, json_bytes


@dataclass
class Grant:
    """Points granted at once; what is left of them, and when they expire."""

    amount: float
    expires_at: datetime


@dataclass
class Account:
    """One token's account: its state, its own daily limits (None: the config's), its points.

    `grants` is None until the account is first used in the points regime, when it gets
    `initial_points` (None: the config's `default_grant`) expiring 24 h later.
    """

    token: str
    state: AccountState = "valid"
    daily_limit: int | None = None
    model_daily_limit: int | None = None
    model_limits: dict[str, int] = field(default_factory=dict)
    initial_points: float | None = None
    grants: list[Grant] | None = None
    frozen: float = 0.0


@dataclass
class Window:
    """A throttle window on (token, model): closed at `until`; every k-th call gets through."""

    until: datetime
    let_through_every: int | None = None
    refused: int = 0


@dataclass
class Task:
    """An image-generation task."""

    task_id: str
    token: str
    model: str
    prompt: str
    created_at: datetime
    fail: bool
    seed: int = 0
    polls: int = 0


@dataclass
class FaultEntry:
    """A queued fault and what it waits for."""

    fault: Fault
    model: str | None
    path: str | None
    times: int


def model_matches(wanted: str | None, requested: str | None) -> bool:
    """A base id also matches its `:Provider` forms."""
    if wanted is None:
        return True
    if requested is None:
        return False
    return wanted == requested or (":" not in wanted and wanted == base_model_id(requested))


def path_matches(wanted: str | None, requested: str) -> bool:
    """`wanted` may be a whole path or its tail."""
    return wanted is None or requested == wanted or requested.endswith(wanted)


@dataclass
class Exchange:
    """One API call in flight: its log record and what it holds until it finishes.

    `in_flight` and `active` list the counters it occupies (all requests / admitted calls),
    `held_points` the points frozen on `account` until it ends; `stream_fault` is applied to
    its stream, if it answers with one.
    """

    record: RecordedRequest
    in_flight: list[str | None] = field(default_factory=list)
    active: list[Any] = field(default_factory=list)
    stream_fault: Fault | None = None
    slow: float = 0.0
    finished: bool = False
    account: Account | None = None
    held_points: float = 0.0

    @property
    def body(self) -> Any:
        """The parsed JSON body (None when absent or not JSON)."""
        return self.record.body

    @property
    def model(self) -> str:
        """The requested model id ("" when none)."""
        return self.record.model or ""

    @property
    def request_id(self) -> str:
        """The id sent back in the header and in error bodies."""
        return self.record.request_id

    def header(self, name: str) -> str:
        """A request header by lower-case name ("" when absent)."""
        return self.record.headers.get(name, "")


def _error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_denied"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


class EmulatorState:
    """Everything the handlers share; `lock` guards all of it."""

    def __init__(self, config: EmulatorConfig, token: str) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.initial_config = copy.deepcopy(config)
        self.clock = EmulatorClock()
        self.root_url = ""
        self.initial_accounts = {token: Account(token=token)}
        self.accounts: dict[str, Account] = copy.deepcopy(self.initial_accounts)
        self.models: dict[str, ModelInfo] = {m.id: m for m in DEFAULT_MODELS}
        self.usage: dict[tuple[str, str | None], tuple[date, int]] = {}
        self.replies: deque[tuple[str | None, ScriptedReply]] = deque()
        self.faults: deque[FaultEntry] = deque()
        self.log: list[RecordedRequest] = []
        self.tasks: dict[str, Task] = {}
        self.in_flight: dict[str | None, int] = {}
        self.max_in_flight: dict[str | None, int] = {}
        self.active: dict[Any, int] = {}
        self.throttles: dict[tuple[str, str], Window] = {}

    def reset(self) -> None:
        """Everything as at creation (the clock included)."""
        with self.lock:
            self.usage.clear()
            self.replies.clear()
            self.faults.clear()
            self.log.clear()
            self.tasks.clear()
            self.max_in_flight.clear()
            self.throttles.clear()
            self.accounts = copy.deepcopy(self.initial_accounts)
            self.models = {m.id: m for m in DEFAULT_MODELS}
            fresh = copy.deepcopy(self.initial_config)
            for f in dataclasses.fields(fresh):
                setattr(self.config, f.name, getattr(fresh, f.name))
        self.clock.reset()

    def echo_model(self, model: str) -> str:
        """The model name the answer carries."""
        if self.config.echo_model_name_lowercase:
            return base_model_id(model).rsplit("/", 1)[-1].lower()
        return model

    def error(
        self,
        status: int,
        message: str,
        ex: Exchange,
        *,
        code: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """An error answer in the configured envelope (the tasks endpoint: always plural)."""
        plural = ex.record.path.startswith("/v1/tasks/")
        envelope = "errors" if plural else self.config.resolved_envelope
        body: dict[str, Any]
        if envelope == "errors":
            inner: dict[str, Any] = {"message": message, "request_id": ex.request_id}
            if code and self.config.errors_envelope_code:
                inner["code"] = code
            body = {"errors": inner}
        else:
            body = {
                "error": {"message": message, "code": code, "type": type_ or _error_type(status)},
                "request_id": ex.request_id,
            }
        return Answer(status, json_bytes(body), dict(headers or {}))

    def bad_request(self, message: str, ex: Exchange) -> Answer:
        """A 400 for a request the endpoint refuses (code ``invalid_parameter_error``)."""
        return self.error(400, message, ex, code="invalid_parameter_error")

    def sheet_answer(
        self, name: str, ex: Exchange, headers: dict[str, str] | None = None
    ) -> Answer:
        """The §3 body called `name`, for the requested model."""
        sheet = msg.SHEET_BODIES[name]
        if name == "no_body":
            return Answer(sheet.status, b"", dict(headers or {}))
        if name in ("null_choices", "empty_content"):
            return Answer(200, json_bytes(empty_body(self, ex, name == "null_choices")))
        if sheet.fixed is not None:
            body = {"error": dict(sheet.fixed), "request_id": ex.request_id}
            return Answer(sheet.status, json_bytes(body), dict(headers or {}))
        text = sheet.message.format(model=ex.model)
        return self.error(
            sheet.status, text, ex, code=sheet.code, type_=sheet.type, headers=headers
        )


def empty_body(state: EmulatorState, ex: Exchange, null_choices: bool) -> dict[str, Any]:
    """The two empty 200s of §3: `choices: null` (json_schema quirk) or empty content."""
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    model = state.echo_model(ex.model)
    if null_choices:
        return {"id": "", "model": model, **msg.QUIRK_FIELDS, "usage": zero}
    message = {"role": "assistant", "content": ""}
    return {
        "id": f"chatcmpl-{ex.request_id.replace('-', '')}",
        "object": "chat.completion",
        "created": int(state.clock.now().timestamp()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": zero,
    }
