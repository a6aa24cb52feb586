"""`ModelScopeEmulator`: the facade over the HTTP layer, the state and the handlers.

Built from the facts sheet alone, independently of the client, so that a misreading of the
service cannot hide on both sides. The modules behind it: `_http` (sockets and writing),
`_state` (shared state, the per-request `Exchange`, error bodies), `_accounts` (auth and
quotas), `_chat`, `_media` (embeddings, images, catalogue) and `_admin` (control API).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from langchain_modelscope.testing import _accounts, _admin, _chat, _media
from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._accounts import RATELIMIT_HEADERS
from langchain_modelscope.testing._catalogue import (
    ModelInfo,
    ModelKind,
    RetiredStyle,
    ThinkingMode,
    base_model_id,
)
from langchain_modelscope.testing._http import (
    REQUEST_ID_HEADER,
    EmulatorHTTPServer,
    read_body,
    write_outcome,
)
from langchain_modelscope.testing._state import (
    Account,
    EmulatorState,
    Exchange,
    FaultEntry,
    model_matches,
    path_matches,
)
from langchain_modelscope.testing._types import (
    DEFAULT_TOKEN,
    GRANT_LIFETIME,
    STREAM_FAULT_KINDS,
    AccountState,
    EmulatorClock,
    EmulatorConfig,
    Fault,
    RecordedRequest,
    Regime,
    ScriptedReply,
    utc8_day,
)
from langchain_modelscope.testing._wire import Answer, Outcome, Reset, Stream, json_bytes

__all__ = ["BALANCE_PATH", "RATELIMIT_HEADERS", "REQUEST_ID_HEADER", "ModelScopeEmulator"]

#: the free points-balance endpoint, on the emulator's own origin (the site's path, §2a)
BALANCE_PATH = "/openapi/v1/magicubes/balance"

_Handler = Callable[[EmulatorState, Exchange], Outcome]

#: (method, path or prefix ending in "/", handler)
_ROUTES: tuple[tuple[str, str, _Handler], ...] = (
    ("GET", "/v1/models", _media.list_models),
    ("GET", "/v1/models/", _media.get_model),
    ("POST", "/v1/chat/completions", _chat.chat),
    ("POST", "/v1/embeddings", _media.embeddings),
    ("POST", "/v1/images/generations", _media.image_generation),
    ("GET", "/v1/tasks/", _media.task),
    ("GET", BALANCE_PATH, _accounts.balance),
)

_MALFORMED = b'{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"ind'


def _route(method: str, path: str) -> _Handler | None:
    for wanted_method, wanted, handler in _ROUTES:
        if method != wanted_method:
            continue
        if path == wanted or (wanted.endswith("/") and path.startswith(wanted)):
            return handler
    return None


class ModelScopeEmulator:
    """An in-process ModelScope API-Inference server for tests, cookbooks and benchmarks.

    Start it (or use it as a context manager), point a client at `base_url` with `token`,
    and steer it through `config`, `clock`, `queue_reply`, `queue_fault` and the accounts.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        token: str = DEFAULT_TOKEN,
        regime: Regime | None = None,
    ) -> None:
        """`regime` ("points" or "daily") overrides the config's, when given."""
        self._host = host
        self._port = port
        self._token = token
        config = config if config is not None else EmulatorConfig()
        if regime is not None:
            config.update({"regime": regime})
        self._state = EmulatorState(config, token)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ModelScopeEmulator:
        """Bind and serve on a daemon thread; returns self for chaining."""
        if self._server is not None:
            return self
        server = EmulatorHTTPServer((self._host, self._port), self._handle)
        self._server = server
        self._state.root_url = self.root_url
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"modelscope-emulator:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ModelScopeEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (only once started)."""
        if self._server is None:
            raise RuntimeError("ModelScopeEmulator is not started: call start() first")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """`http://host:port`, without `/v1` (admin endpoints live under it)."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, `http://127.0.0.1:<port>/v1`."""
        return self.root_url + "/v1"

    @property
    def token(self) -> str:
        """The default valid account's token."""
        return self._token

    @property
    def config(self) -> EmulatorConfig:
        """The live configuration: tests flip its switches between calls."""
        return self._state.config

    @config.setter
    def config(self, value: EmulatorConfig) -> None:
        self._state.config = value

    @property
    def clock(self) -> EmulatorClock:
        """The emulator's clock (quota days, task timing, `created`)."""
        return self._state.clock

    # ----------------------------------------------------------------- steering

    def add_account(
        self,
        token: str | None = None,
        *,
        state: AccountState = "valid",
        daily_limit: int | None = None,
        model_daily_limit: int | None = None,
        model_limits: dict[str, int] | None = None,
        points: float | None = None,
    ) -> str:
        """Create (or replace) an account; returns its token (`ms-<uuid4>` when not given).

        `points`: its first grant in the points regime (None: `config.default_grant`).
        """
        if state not in ("valid", "unbound", "unverified"):
            raise ValueError(f"unknown account state: {state!r}")
        token = token or f"ms-{uuid.uuid4()}"
        with self._state.lock:
            self._state.accounts[token] = Account(
                token=token,
                state=state,
                daily_limit=daily_limit,
                model_daily_limit=model_daily_limit,
                model_limits=dict(model_limits or {}),
                initial_points=points,
            )
        return token

    def _account(self, token: str) -> Account:
        with self._state.lock:
            account = self._state.accounts.get(token)
        if account is None:
            raise ValueError("no account with that token (add it with add_account)")
        return account

    def grant_points(
        self, token: str, amount: float, *, expires_in: timedelta = GRANT_LIFETIME
    ) -> None:
        """Grant `amount` points to the account, expiring `expires_in` from now (emulator clock)."""
        _accounts.grant(self._state, self._account(token), amount, expires_in)

    def set_balance(self, token: str, amount: float) -> None:
        """Replace all the account's grants by one grant of `amount` (expiring in 24 h)."""
        _accounts.set_balance(self._state, self._account(token), amount)

    def points(self, token: str) -> float:
        """The account's available balance (points not frozen by calls in flight)."""
        return _accounts.available(self._state, self._account(token))

    def throttle(
        self, token: str, model: str, seconds: float, *, let_through_every: int | None = None
    ) -> None:
        """Open a throttle window on (token, model) for `seconds` of emulator clock: calls get
        429 "We have to rate limit you for model ..." except every `let_through_every`-th one.
        `seconds=0` closes it."""
        _accounts.open_window(self._state, token, model, seconds, let_through_every)

    def set_usage(self, token: str, model: str | None, used: int) -> None:
        """Set today's call counter of an account (`model=None`) or of (account, model)."""
        key = (token, base_model_id(model) if model else None)
        with self._state.lock:
            self._state.usage[key] = (utc8_day(self.clock.now()), used)

    def usage(self, token: str, model: str | None = None) -> int:
        """Today's call counter of an account (`model=None`) or of (account, model)."""
        key = (token, base_model_id(model) if model else None)
        with self._state.lock:
            day, used = self._state.usage.get(key, (None, 0))
            return used if day == utc8_day(self.clock.now()) else 0

    def queue_reply(self, reply: ScriptedReply, *, model: str | None = None) -> None:
        """The next chat call (to `model`, if given) gets `reply` instead of the default one."""
        with self._state.lock:
            self._state.replies.append((model, reply))

    def queue_fault(
        self, fault: Fault, *, model: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """The next `times` matching API calls show `fault` (stream faults wait for a stream)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._state.lock:
            self._state.faults.append(FaultEntry(fault=fault, model=model, path=path, times=times))

    def add_model(
        self,
        model_id: str,
        *,
        kind: ModelKind = "chat",
        thinking: ThinkingMode = "none",
        tools: bool = True,
        dimension: int = 0,
    ) -> None:
        """Serve a new model (or change one); embedding models need a `dimension`."""
        if kind == "embedding" and dimension <= 0:
            raise ValueError("an embedding model needs a positive dimension")
        with self._state.lock:
            self._state.models[model_id] = ModelInfo(
                id=model_id, kind=kind, thinking=thinking, tools=tools, dimension=dimension
            )

    def retire_model(self, model_id: str, *, style: RetiredStyle = "no_provider") -> None:
        """Keep the id known but unserved: calls answer 400 "Model id : X , has no provider
        supported" (the daily regime: the 2025 text), or with `style="balance_1008"` the 429
        "insufficient balance (1008)"."""
        if style not in ("no_provider", "balance_1008"):
            raise ValueError(f"unknown retired style: {style!r}")
        with self._state.lock:
            info = self._state.models.get(model_id) or ModelInfo(id=model_id)
            self._state.models[model_id] = dataclasses.replace(
                info, retired=True, retired_style=style
            )

    def remove_model(self, model_id: str) -> None:
        """Forget a model: calls answer 400 "Invalid model id"."""
        with self._state.lock:
            self._state.models.pop(model_id, None)

    def models(self) -> list[ModelInfo]:
        """The catalogue (retired models included)."""
        with self._state.lock:
            return list(self._state.models.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, in arrival order."""
        with self._state.lock:
            return [dataclasses.replace(r) for r in self._state.log]

    def requests_for(
        self,
        *,
        model: str | None = None,
        token: str | None = None,
        path: str | None = None,
        billable: bool | None = None,
    ) -> list[RecordedRequest]:
        """The log filtered by model (a base id also matches its `:Provider` forms), token,
        path, and whether the call cost the account (`RecordedRequest.billable`)."""
        return [
            r
            for r in self.requests
            if model_matches(model, r.model)
            and (token is None or r.token == token)
            and path_matches(path, r.path)
            and (billable is None or r.billable == billable)
        ]

    def clear_log(self) -> None:
        """Forget the logged requests (and the concurrency high-water marks)."""
        with self._state.lock:
            self._state.log.clear()
            self._state.max_in_flight.clear()

    def max_in_flight(self, model: str | None = None) -> int:
        """The most requests seen in flight at once (for `model`, else in total)."""
        with self._state.lock:
            return self._state.max_in_flight.get(base_model_id(model) if model else None, 0)

    def reset(self) -> None:
        """Counters, queues, log, tasks, clock, accounts, catalogue and config as at creation."""
        self._state.reset()

    def image_bytes(self, task_id: str) -> bytes | None:
        """The PNG behind a finished task's image URL."""
        return _media.image_bytes(self._state, task_id)

    # ----------------------------------------------------------------- dispatch

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        try:
            raw_body = read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True
            return
        split = urlsplit(handler.path)
        path = split.path
        query = dict(parse_qsl(split.query))
        date = {"Date": format_datetime(self.clock.now(), usegmt=True)}
        if path.startswith("/_emulator/") or path == "/_emulator":
            admin = _admin.handle_admin(self, handler.command, path, query, raw_body)
            write_outcome(handler, admin, date, 0.0, _unbooked)
            return
        ex = self._open(handler, path, query, raw_body)

        def finish(status: int) -> None:
            self._close(ex, status)

        try:
            try:
                outcome = self._respond(ex)
            except Exception as exc:  # an emulator bug: say so instead of dropping the socket
                text = f"emulator internal error: {type(exc).__name__}: {exc}"
                outcome = self._state.error(500, text, ex, code="emulator_bug")
            head = {REQUEST_ID_HEADER: ex.request_id, **date}
            write_outcome(handler, outcome, head, ex.slow, finish)
        finally:
            if not ex.finished:
                finish(0)

    def _open(
        self, handler: BaseHTTPRequestHandler, path: str, query: dict[str, str], raw: bytes
    ) -> Exchange:
        """Log the call and count it in flight."""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        model = body.get("model") if isinstance(body, dict) else None
        model = model if isinstance(model, str) else None
        auth = headers.get("authorization", "")
        record = RecordedRequest(
            method=handler.command,
            path=path,
            headers=headers,
            body=body,
            model=model,
            token=auth[7:].strip() if auth.lower().startswith("bearer ") else None,
            streamed=bool(isinstance(body, dict) and body.get("stream") is True),
            started_at=self.clock.now(),
            request_id=str(uuid.uuid4()),
            query=query,
        )
        state = self._state
        keys: list[str | None] = [None] if model is None else [None, base_model_id(model)]
        with state.lock:
            for key in keys:
                count = state.in_flight.get(key, 0) + 1
                state.in_flight[key] = count
                state.max_in_flight[key] = max(state.max_in_flight.get(key, 0), count)
                record.concurrency = count
            state.log.append(record)
        return Exchange(record=record, in_flight=keys)

    def _close(self, ex: Exchange, status: int) -> None:
        """Book the call as done: status and end time (last write wins), slots released once."""
        state = self._state
        with state.lock:
            ex.record.status = status
            ex.record.ended_at = self.clock.now()
            if ex.finished:
                return
            ex.finished = True
            for key in ex.in_flight:
                state.in_flight[key] = state.in_flight.get(key, 1) - 1
            for slot in ex.active:
                state.active[slot] = state.active.get(slot, 1) - 1
            _accounts.release(state, ex)

    def _take_fault(self, ex: Exchange) -> Fault | None:
        record = ex.record
        streaming_chat = record.streamed and record.path.endswith("/chat/completions")
        with self._state.lock:
            for entry in self._state.faults:
                if entry.fault.kind in STREAM_FAULT_KINDS and not streaming_chat:
                    continue
                if not model_matches(entry.model, record.model):
                    continue
                if not path_matches(entry.path, record.path):
                    continue
                entry.times -= 1
                if entry.times <= 0:
                    self._state.faults.remove(entry)
                record.fault = entry.fault.kind
                return entry.fault
        return None

    def _respond(self, ex: Exchange) -> Outcome:
        """The fault, if one matches, else the endpoint's answer."""
        fault = self._take_fault(ex)
        if fault is not None:
            replaced = self._fault_outcome(fault, ex)
            if replaced is not None:
                return replaced
        handler = _route(ex.record.method, ex.record.path)
        if handler is None:
            return self._state.error(404, msg.CHOICE_NOT_FOUND.format(path=ex.record.path), ex)
        outcome = handler(self._state, ex)
        if isinstance(outcome, Stream) and ex.stream_fault is not None:
            _apply_stream_fault(outcome, ex.stream_fault, ex.request_id)
        return outcome

    def _fault_outcome(self, fault: Fault, ex: Exchange) -> Outcome | None:
        """What a fault answers instead of the endpoint (None: the endpoint answers)."""
        if fault.kind == "connection_reset":
            return Reset()
        if fault.kind == "status":
            return self._fault_answer(fault, ex)
        if fault.kind == "sheet":
            return self._state.sheet_answer(fault.message, ex, dict(fault.headers))
        if fault.kind == "malformed_json":
            return Answer(200, _MALFORMED)
        if fault.kind == "slow_first_byte":
            ex.slow = fault.seconds
        else:
            ex.stream_fault = fault
        return None

    def _fault_answer(self, fault: Fault, ex: Exchange) -> Answer:
        headers = dict(fault.headers)
        if fault.has_default_body:
            answer = self._state.error(fault.status_code, msg.CHOICE_SERVER_ERROR, ex)
            answer.headers.update(headers)
            return answer
        content_type = "application/json"
        if fault.body is None:
            raw = b""
        elif isinstance(fault.body, str):
            raw = fault.body.encode("utf-8")
            try:
                json.loads(fault.body)
            except ValueError:
                content_type = "text/plain; charset=utf-8"
        else:
            raw = json_bytes(fault.body)
        lowered = {k.lower(): k for k in headers}
        if "content-type" in lowered:
            content_type = headers.pop(lowered["content-type"])
        return Answer(fault.status_code, raw, headers, content_type)


def _apply_stream_fault(stream: Stream, fault: Fault, request_id: str) -> None:
    """The one place a stream fault acts: cut the stream, or end it with an error event."""
    if fault.kind == "stream_cut":
        stream.cut_after = max(fault.after_chunks, 0)
        return
    stream.error_after = max(fault.after_chunks, 0)
    error = {
        "error": {
            "message": fault.message or msg.CHOICE_SERVER_ERROR,
            "code": msg.CHOICE_STREAM_ERROR_CODE,
            "type": "server_error",
        },
        "request_id": request_id,
    }
    stream.error_event = f"data: {json.dumps(error, ensure_ascii=False)}\n\n"


def _unbooked(status: int) -> None:
    """Admin calls are not booked."""
