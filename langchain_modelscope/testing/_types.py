"""Public value types of the emulator: configuration, scripted replies, faults, log entries.

Kept apart from the server so that the remote client and the CLI can use them without
starting anything.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from langchain_modelscope.testing._messages import SHEET_BODIES

#: ModelScope's quotas roll over at 00:00 in this zone (China Standard Time, no DST).
UTC8 = timezone(timedelta(hours=8), name="UTC+08:00")

#: The default account's token: a fixed value so that examples and cassettes can name it.
DEFAULT_TOKEN = "ms-00000000-0000-4000-8000-000000000001"

#: Per-model daily limits of "big" models. An emulator choice: the real list is not published.
DEFAULT_MODEL_LIMITS: dict[str, int] = {
    "Qwen/Qwen3-235B-A22B": 200,
    "Qwen/Qwen3-235B-A22B-Instruct-2507": 200,
    "Qwen/Qwen3-235B-A22B-Thinking-2507": 200,
    "Qwen/Qwen3-Coder-480B-A35B-Instruct": 100,
    "deepseek-ai/DeepSeek-R1-0528": 100,
}

#: points per call by model tier (facts sheet §2a: 0.5 / 1 / 2)
TIER_POINTS: dict[str, float] = {"light": 0.5, "mainstream": 1.0, "flagship": 2.0}

#: how long a grant lasts unless told otherwise (facts sheet §2a: 24 h after it is granted)
GRANT_LIFETIME = timedelta(hours=24)

Regime = Literal["points", "daily"]
QuotaErrorStyle = Literal[
    "daily", "daily_one_space", "daily_short", "request_limit", "monthly", "no_body"
]
AccountQuotaStyle = Literal["insufficient_quota", "insufficient_balance"]
ErrorEnvelope = Literal["errors", "error"]
AccountState = Literal["valid", "unbound", "unverified"]
BalanceEndpointMode = Literal["ok", "not_found", "html", "unsuccessful"]


def utc8_day(moment: datetime) -> date:
    """The quota day a moment belongs to: its calendar date in UTC+8."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(UTC8).date()


@dataclass
class EmulatorConfig:
    """Every switch of the emulator; fields marked [unknown]/[reported] in the facts sheet.

    Mutable at run time: tests flip switches between calls. Fields that default to None
    take the regime's value (see `resolved_envelope`, `resolved_usage_placeholders`).
    """

    #: "points" (the service since 2026-08: points per call, no rate-limit headers) or
    #: "daily" (2025 to mid-2026: daily counters, the four headers, reset at 00:00 UTC+8)
    regime: Regime = "points"
    #: points regime: the grant a new account starts with (expires 24 h after its first use)
    default_grant: float = 200.0
    #: points regime: points per call by model tier
    tier_points: dict[str, float] = field(default_factory=lambda: dict(TIER_POINTS))
    #: points regime: failed calls (400 after the model is known, throttle 429s) cost points,
    #: as the facts sheet infers; False: only answered calls cost
    failed_calls_cost: bool = True
    #: the balance endpoint: "ok", or unusable: "not_found" (404), "html" (a 200 web page),
    #: "unsuccessful" (200 `success: false`)
    balance_endpoint: BalanceEndpointMode = "ok"
    #: deviation for the doctor: send the `modelscope-ratelimit-*` headers in the points regime
    ratelimit_headers_in_points: bool = False
    #: deviation for the doctor: another text for the hybrid thinking model's 400
    hybrid_thinking_message: str | None = None
    #: deviation for the doctor: another text for the thinking-only model's 400
    thinking_only_message: str | None = None
    #: `tool_choice="required"` (or a named tool) gets an empty answer, as seen on some models
    empty_on_required_tool_choice: bool = False
    #: zero `usage` on every streamed delta (None: in the points regime, as observed 2026-10)
    usage_placeholders: bool | None = None
    #: `role`, `tool_calls`, `function_calls` sent as null in deltas that do not use them
    #: (None: in the points regime, as observed 2026-10)
    null_delta_fields: bool | None = None
    #: streamed tool-call deltas without `index` and `id` (reported; keep to one call)
    bare_tool_call_deltas: bool = False
    #: calls per UTC+8 day for an account (all models together)
    account_daily_limit: int = 2000
    #: calls per UTC+8 day for one (account, model), unless `model_limits` names the model
    model_daily_limit: int = 500
    #: per-model overrides of `model_daily_limit`, keyed by base model id
    model_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MODEL_LIMITS))
    #: send the four `modelscope-ratelimit-*` headers on successful plain responses
    send_ratelimit_headers: bool = True
    #: ... and on streamed responses (in the response head)
    ratelimit_headers_on_stream: bool = True
    #: ... and on quota/concurrency 429s
    ratelimit_headers_on_429: bool = False
    #: message of the 429 for a spent per-model quota
    quota_error_style: QuotaErrorStyle = "daily"
    #: message of the 429 for a spent account quota
    account_quota_style: AccountQuotaStyle = "insufficient_quota"
    #: `{"errors": {...}}` (2025) or `{"error": {...}, "request_id": ...}` (2026);
    #: None: "error" in the points regime, "errors" in the daily one
    error_envelope: ErrorEnvelope | None = None
    #: put `code` (when the error has one) into the plural `errors` envelope too
    errors_envelope_code: bool = True
    #: concurrent requests per model beyond which a 429 "We have to rate limit you" is sent
    max_concurrent_per_model: int | None = None
    #: calls of one token to one model in flight beyond which a throttle window opens on
    #: that (token, model), as 6 parallel calls did in 2026-08 (None: never)
    throttle_above: int | None = None
    #: length of a window opened by `throttle_above`, in emulator-clock seconds
    throttle_window_seconds: float = 3600.0
    #: in such a window, every k-th call is let through (None: none is)
    throttle_let_through_every: int | None = None
    #: answer with `model` = lower-cased last path part of the id, as once observed
    echo_model_name_lowercase: bool = False
    #: honour `stream_options.include_usage` with a usage chunk
    include_usage_in_stream: bool = True
    #: the usage chunk has `choices: []` (True) or usage rides on the finish_reason chunk
    usage_chunk_empty_choices: bool = True
    #: send a usage chunk even when the request did not ask for one
    stream_usage_always: bool = False
    #: `response_format` json_schema answers 200 with `choices: null` (as observed)
    json_schema_quirk: bool = True
    #: name of the reasoning field in messages and deltas
    reasoning_field: Literal["reasoning_content", "reasoning"] = "reasoning_content"
    #: in deltas of thinking models, the unused one of content/reasoning is "" (observed),
    #: null, or left out
    unused_delta_field: Literal["empty", "null", "omit"] = "empty"
    #: send an SSE comment line (`: keep-alive`) before the first event, as proxies do
    stream_keepalive_comment: bool = True
    #: serve `/v1/embeddings` (False: 400, like a shared host without embeddings)
    embeddings_enabled: bool = True
    #: honour the `dimensions` parameter of embeddings (False: ignored, full size)
    honour_dimensions: bool = True
    #: most inputs in one embeddings call (None: no limit)
    max_embedding_batch: int | None = None
    #: most whitespace words in one embeddings input
    max_embedding_words: int = 8192
    #: seconds to sleep before answering any API call (real time)
    response_delay: float = 0.0
    #: list image models in `GET /v1/models` ([unknown] in the facts sheet)
    list_image_models: bool = True
    #: list embedding models in `GET /v1/models`
    list_embedding_models: bool = True
    #: count `model:Provider` calls against the free quotas (the service says they are outside)
    count_provider_suffix_calls: bool = False
    #: polls of an image task that answer a non-final state before the final one
    image_task_polls: int = 1
    #: states answered by those polls, cycling (e.g. ("PENDING", "RUNNING", "PROCESSING"))
    image_task_states: tuple[str, ...] = ("RUNNING",)
    #: when set, a task stays in a non-final state until this many emulator-clock seconds
    #: have passed since it was created (instead of counting polls)
    image_task_seconds: float | None = None
    #: every image task ends FAILED
    image_task_fail: bool = False

    @property
    def points(self) -> bool:
        """Whether the points regime is in force."""
        return self.regime == "points"

    @property
    def resolved_envelope(self) -> ErrorEnvelope:
        """The error envelope in force: the 2026 one in the points regime."""
        if self.error_envelope is not None:
            return self.error_envelope
        return "error" if self.points else "errors"

    @property
    def resolved_usage_placeholders(self) -> bool:
        """Whether streamed deltas carry a zero `usage`."""
        return self.points if self.usage_placeholders is None else self.usage_placeholders

    @property
    def resolved_null_delta_fields(self) -> bool:
        """Whether unused delta fields are sent as null."""
        return self.points if self.null_delta_fields is None else self.null_delta_fields

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy, for the admin endpoint and the CLI."""
        data = dataclasses.asdict(self)
        data["image_task_states"] = list(self.image_task_states)
        return data

    def update(self, changes: dict[str, Any]) -> None:
        """Partial update by field name; unknown names raise so typos do not pass silently."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown EmulatorConfig field(s): {', '.join(unknown)}")
        if changes.get("regime", self.regime) not in ("points", "daily"):
            raise ValueError(f"unknown regime: {changes['regime']!r} (points or daily)")
        for key, value in changes.items():
            if key == "image_task_states":
                value = tuple(value)
            elif key in ("model_limits", "tier_points"):
                value = dict(value)
            setattr(self, key, value)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        """Defaults overridden by `data` (same rules as `update`)."""
        config = cls()
        config.update(data)
        return config


class EmulatorClock:
    """The emulator's notion of now: real time by default, settable and movable for tests.

    `set()` freezes the clock at the given moment (so a test can sit at 15:59:59 UTC);
    `advance()` moves it, frozen or not; `resume()` lets a frozen clock flow again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Current emulator time, aware, in UTC."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(timezone.utc) + self._offset

    def set(self, moment: datetime, *, frozen: bool = True) -> None:
        """Jump to `moment` (naive means UTC); frozen there unless `frozen=False`."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
        with self._lock:
            if frozen:
                self._frozen = moment
            else:
                self._frozen = None
                self._offset = moment - datetime.now(timezone.utc)

    def advance(self, delta: timedelta | float) -> None:
        """Move time forward by `delta` (a timedelta or seconds)."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta

    def resume(self) -> None:
        """Let a frozen clock run on from where it stands."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - datetime.now(timezone.utc)
                self._frozen = None

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._frozen = None
            self._offset = timedelta(0)

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still."""
        return self._frozen is not None


@dataclass
class ScriptedToolCall:
    """A tool call of a scripted reply; a `str` `arguments` is sent verbatim (may be bad JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the remote client."""
        return {"name": self.name, "arguments": self.arguments, "id": self.id}


@dataclass
class ScriptedReply:
    """A reply the next matching chat call gets instead of the default responder's.

    Sent as is: `stop`/`max_tokens` of the request are not applied to it.
    `finish_reason` None means "tool_calls" when there are tool calls, else "stop".
    `chunk_size` is characters per streamed content/reasoning delta (None: one word each).
    """

    content: str = ""
    reasoning: str | None = None
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    chunk_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the remote client."""
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "chunk_size": self.chunk_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptedReply:
        """Inverse of `to_dict`; tool calls may be dicts."""
        calls = [
            call if isinstance(call, ScriptedToolCall) else ScriptedToolCall(**call)
            for call in data.get("tool_calls") or []
        ]
        return cls(
            content=data.get("content", ""),
            reasoning=data.get("reasoning"),
            tool_calls=calls,
            finish_reason=data.get("finish_reason"),
            usage=data.get("usage"),
            chunk_size=data.get("chunk_size"),
        )


FaultKind = Literal[
    "status",
    "connection_reset",
    "slow_first_byte",
    "malformed_json",
    "stream_cut",
    "stream_error_event",
    "sheet",
]

#: kinds that act inside a 200 stream: they wait for a streaming chat call
STREAM_FAULT_KINDS = frozenset({"stream_cut", "stream_error_event"})

_NO_BODY = "__emulator_default_body__"


@dataclass
class Fault:
    """A misbehaviour the server shows on the next matching request(s); build with the
    classmethods. A `status` fault replaces the whole answer (before auth and quotas,
    and is not counted); the stream faults act on an otherwise normal, counted, stream.
    """

    kind: FaultKind
    status_code: int = 500
    body: dict[str, Any] | str | None = _NO_BODY
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    after_chunks: int = 0
    message: str = ""

    @classmethod
    def server_error(cls, status: int = 500, body: dict[str, Any] | str | None = _NO_BODY) -> Fault:
        """A 5xx; without `body`, a short error in the configured envelope."""
        return cls(kind="status", status_code=status, body=body)

    @classmethod
    def status(
        cls,
        code: int,
        body: dict[str, Any] | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Any raw answer: a dict is sent as JSON, a str verbatim, None as an empty body."""
        return cls(kind="status", status_code=code, body=body, headers=dict(headers or {}))

    @classmethod
    def connection_reset(cls) -> Fault:
        """Close the socket abruptly (RST) before any byte of the answer."""
        return cls(kind="connection_reset")

    @classmethod
    def slow_first_byte(cls, seconds: float) -> Fault:
        """Sleep (real time) before the answer's first byte, then answer normally."""
        return cls(kind="slow_first_byte", seconds=seconds)

    @classmethod
    def malformed_json(cls) -> Fault:
        """A 200 whose JSON body is cut in the middle (Content-Length is consistent)."""
        return cls(kind="malformed_json", status_code=200)

    @classmethod
    def stream_cut(cls, after_chunks: int) -> Fault:
        """Send `after_chunks` SSE events, then close without the final chunk or [DONE]."""
        return cls(kind="stream_cut", status_code=200, after_chunks=after_chunks)

    @classmethod
    def stream_error_event(cls, message: str, after_chunks: int = 0) -> Fault:
        """After `after_chunks` events, send `data: {"error": {...}}` and end the body,
        without [DONE]."""
        return cls(
            kind="stream_error_event", status_code=200, after_chunks=after_chunks, message=message
        )

    @classmethod
    def sheet(cls, name: str) -> Fault:
        """Answer with the facts sheet's §3 body called `name` (see `SHEET_BODY_NAMES`),
        with the requested model inside and in the configured envelope."""
        if name not in SHEET_BODIES:
            known = ", ".join(sorted(SHEET_BODIES))
            raise ValueError(f"unknown sheet body {name!r}; known: {known}")
        return cls(kind="sheet", status_code=SHEET_BODIES[name].status, message=name)

    @property
    def has_default_body(self) -> bool:
        """True when the emulator should write the body itself."""
        return isinstance(self.body, str) and self.body == _NO_BODY

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the remote client."""
        data = dataclasses.asdict(self)
        if self.has_default_body:
            data.pop("body")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Inverse of `to_dict`."""
        return cls(**data)


@dataclass
class RecordedRequest:
    """One API call as the emulator saw and answered it (admin calls are not logged)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    model: str | None
    token: str | None
    status: int = 0
    streamed: bool = False
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    ended_at: datetime | None = None
    concurrency: int = 0
    request_id: str = ""
    fault: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    #: whether the call cost the account: points spent (points regime) or counted (daily)
    billable: bool = False
    #: points the call cost (points regime)
    points: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (datetimes as ISO strings)."""
        data = dataclasses.asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordedRequest:
        """Inverse of `to_dict`."""
        data = dict(data)
        data["started_at"] = datetime.fromisoformat(data["started_at"])
        ended = data.get("ended_at")
        data["ended_at"] = datetime.fromisoformat(ended) if ended else None
        return cls(**data)
