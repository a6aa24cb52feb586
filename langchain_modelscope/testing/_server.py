"""The ModelScope emulator: a standard-library HTTP server that speaks API-Inference.

Built from the facts sheet alone, independently of the client, so that a misreading of the
service cannot hide on both sides. One lock guards all state; handlers run on daemon threads.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import http
import json
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from langchain_modelscope.testing import _messages as msg
from langchain_modelscope.testing._catalogue import (
    CATALOGUE_CREATED,
    DEFAULT_MODELS,
    ModelInfo,
    ModelKind,
    ThinkingMode,
    base_model_id,
    has_provider_suffix,
)
from langchain_modelscope.testing._embeddings import embed, to_base64
from langchain_modelscope.testing._responder import (
    Generated,
    GeneratedCall,
    all_images,
    count_tokens,
    default_reply,
    dump_arguments,
    new_call_id,
    prompt_tokens,
    split_stream_pieces,
)
from langchain_modelscope.testing._types import (
    DEFAULT_TOKEN,
    STREAM_FAULT_KINDS,
    AccountState,
    EmulatorClock,
    EmulatorConfig,
    Fault,
    RecordedRequest,
    ScriptedReply,
    ScriptedToolCall,
    utc8_day,
)

RATELIMIT_HEADERS = (
    "modelscope-ratelimit-requests-limit",
    "modelscope-ratelimit-requests-remaining",
    "modelscope-ratelimit-model-requests-limit",
    "modelscope-ratelimit-model-requests-remaining",
)
REQUEST_ID_HEADER = "x-request-id"

#: a 1x1 transparent PNG, served as every generated image
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


# --------------------------------------------------------------------------- answers


@dataclass
class _Answer:
    """A complete (non-streamed) HTTP answer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class _Stream:
    """A 200 SSE answer: `events` are the JSON chunks, `[DONE]` is added by the writer."""

    events: list[str]
    headers: dict[str, str] = field(default_factory=dict)
    keepalive: bool = True
    cut_after: int | None = None
    error_after: int | None = None
    error_event: str = ""


@dataclass
class _Reset:
    """Close the connection with an RST, answering nothing."""


_Outcome = _Answer | _Stream | _Reset


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class _Account:
    token: str
    state: AccountState = "valid"
    daily_limit: int | None = None
    model_daily_limit: int | None = None
    model_limits: dict[str, int] = field(default_factory=dict)


@dataclass
class _Task:
    task_id: str
    token: str
    model: str
    prompt: str
    created_at: datetime
    fail: bool
    polls: int = 0


@dataclass
class _FaultEntry:
    fault: Fault
    model: str | None
    path: str | None
    times: int


def _model_matches(wanted: str | None, requested: str | None) -> bool:
    if wanted is None:
        return True
    if requested is None:
        return False
    return wanted == requested or (":" not in wanted and wanted == base_model_id(requested))


def _path_matches(wanted: str | None, requested: str) -> bool:
    return wanted is None or requested == wanted or requested.endswith(wanted)


# --------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], emulator: ModelScopeEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "modelscope-emulator"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        cast(_HTTPServer, self.server).emulator._handle(self)

    def do_GET(self) -> None:
        """Every method goes to the emulator's dispatcher."""
        self._dispatch()

    def do_POST(self) -> None:
        """See do_GET."""
        self._dispatch()

    def do_PUT(self) -> None:
        """See do_GET."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """See do_GET."""
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output stays clean."""


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size_line = handler.rfile.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _head(status: int, headers: dict[str, str], close: bool) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", "Server: modelscope-emulator"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n"


# --------------------------------------------------------------------------- the emulator


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
    ) -> None:
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self.config: EmulatorConfig = config if config is not None else EmulatorConfig()
        self._initial_config = copy.deepcopy(self.config)
        self.clock = EmulatorClock()
        self._token = token
        self._initial_accounts = {token: _Account(token=token)}
        self._accounts: dict[str, _Account] = copy.deepcopy(self._initial_accounts)
        self._models: dict[str, ModelInfo] = {m.id: m for m in DEFAULT_MODELS}
        self._usage: dict[tuple[str, str | None], tuple[date, int]] = {}
        self._replies: deque[tuple[str | None, ScriptedReply]] = deque()
        self._faults: deque[_FaultEntry] = deque()
        self._log: list[RecordedRequest] = []
        self._tasks: dict[str, _Task] = {}
        self._in_flight: dict[str | None, int] = {}
        self._max_in_flight: dict[str | None, int] = {}
        self._active: dict[str, int] = {}
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ModelScopeEmulator:
        """Bind and serve on a daemon thread; returns self for chaining."""
        if self._server is not None:
            return self
        server = _HTTPServer((self._host, self._port), self)
        self._server = server
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

    # ----------------------------------------------------------------- steering

    def add_account(
        self,
        token: str | None = None,
        *,
        state: AccountState = "valid",
        daily_limit: int | None = None,
        model_daily_limit: int | None = None,
        model_limits: dict[str, int] | None = None,
    ) -> str:
        """Create (or replace) an account; returns its token (`ms-<uuid4>` when not given)."""
        if state not in ("valid", "unbound", "unverified"):
            raise ValueError(f"unknown account state: {state!r}")
        token = token or f"ms-{uuid.uuid4()}"
        with self._lock:
            self._accounts[token] = _Account(
                token=token,
                state=state,
                daily_limit=daily_limit,
                model_daily_limit=model_daily_limit,
                model_limits=dict(model_limits or {}),
            )
        return token

    def set_usage(self, token: str, model: str | None, used: int) -> None:
        """Set today's call counter of an account (`model=None`) or of (account, model)."""
        key = (token, base_model_id(model) if model else None)
        with self._lock:
            self._usage[key] = (utc8_day(self.clock.now()), used)

    def usage(self, token: str, model: str | None = None) -> int:
        """Today's call counter of an account (`model=None`) or of (account, model)."""
        key = (token, base_model_id(model) if model else None)
        with self._lock:
            day, used = self._usage.get(key, (None, 0))
            return used if day == utc8_day(self.clock.now()) else 0

    def queue_reply(self, reply: ScriptedReply, *, model: str | None = None) -> None:
        """The next chat call (to `model`, if given) gets `reply` instead of the default one."""
        with self._lock:
            self._replies.append((model, reply))

    def queue_fault(
        self, fault: Fault, *, model: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """The next `times` matching API calls show `fault` (stream faults wait for a stream)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_FaultEntry(fault=fault, model=model, path=path, times=times))

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
        with self._lock:
            self._models[model_id] = ModelInfo(
                id=model_id, kind=kind, thinking=thinking, tools=tools, dimension=dimension
            )

    def retire_model(self, model_id: str) -> None:
        """Keep the id known but unserved: calls answer 400 "Model id has no provider supported"."""
        with self._lock:
            info = self._models.get(model_id) or ModelInfo(id=model_id)
            self._models[model_id] = dataclasses.replace(info, retired=True)

    def remove_model(self, model_id: str) -> None:
        """Forget a model: calls answer 400 "Invalid model id"."""
        with self._lock:
            self._models.pop(model_id, None)

    def models(self) -> list[ModelInfo]:
        """The catalogue (retired models included)."""
        with self._lock:
            return list(self._models.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, in arrival order."""
        with self._lock:
            return [dataclasses.replace(r) for r in self._log]

    def requests_for(
        self, *, model: str | None = None, token: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """The log filtered by model (a base id also matches its `:Provider` forms), token, path."""
        return [
            r
            for r in self.requests
            if _model_matches(model, r.model)
            and (token is None or r.token == token)
            and _path_matches(path, r.path)
        ]

    def clear_log(self) -> None:
        """Forget the logged requests (and the concurrency high-water marks)."""
        with self._lock:
            self._log.clear()
            self._max_in_flight.clear()

    def max_in_flight(self, model: str | None = None) -> int:
        """The most requests seen in flight at once (for `model`, else in total)."""
        with self._lock:
            return self._max_in_flight.get(base_model_id(model) if model else None, 0)

    def reset(self) -> None:
        """Counters, queues, log, tasks, clock, accounts, catalogue and config as at creation."""
        with self._lock:
            self._usage.clear()
            self._replies.clear()
            self._faults.clear()
            self._log.clear()
            self._tasks.clear()
            self._max_in_flight.clear()
            self._accounts = copy.deepcopy(self._initial_accounts)
            self._models = {m.id: m for m in DEFAULT_MODELS}
            fresh = copy.deepcopy(self._initial_config)
            for f in dataclasses.fields(fresh):
                setattr(self.config, f.name, getattr(fresh, f.name))
        self.clock.reset()

    # ----------------------------------------------------------------- dispatch

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        try:
            raw_body = _read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True
            return
        split = urlsplit(handler.path)
        path = split.path
        query = dict(parse_qsl(split.query))
        if path.startswith("/_emulator/") or path == "/_emulator":
            from langchain_modelscope.testing._admin import handle_admin

            outcome: _Outcome = handle_admin(self, handler.command, path, query, raw_body)
            self._write(handler, outcome, "", 0.0, _no_finish)
            return

        headers = {k.lower(): v for k, v in handler.headers.items()}
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        model = body.get("model") if isinstance(body, dict) else None
        model = model if isinstance(model, str) else None
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        request_id = str(uuid.uuid4())
        streamed = bool(isinstance(body, dict) and body.get("stream") is True)
        record = RecordedRequest(
            method=handler.command,
            path=path,
            headers=headers,
            body=body,
            model=model,
            token=token,
            streamed=streamed,
            started_at=self.clock.now(),
            request_id=request_id,
            query=query,
        )
        key = base_model_id(model) if model else None
        with self._lock:
            total = self._in_flight.get(None, 0) + 1
            self._in_flight[None] = total
            self._max_in_flight[None] = max(self._max_in_flight.get(None, 0), total)
            concurrency = total
            if key is not None:
                concurrency = self._in_flight.get(key, 0) + 1
                self._in_flight[key] = concurrency
                self._max_in_flight[key] = max(self._max_in_flight.get(key, 0), concurrency)
            record.concurrency = concurrency
            self._log.append(record)
        admitted: list[str] = []
        finished = False

        def finish(status: int) -> None:
            """Book the call as done; runs just before its last bytes go out, so a client
            that reads the answer always finds the log and the in-flight counts up to date."""
            nonlocal finished
            with self._lock:
                record.status = status
                record.ended_at = self.clock.now()
                if finished:
                    return
                finished = True
                self._in_flight[None] = self._in_flight.get(None, 1) - 1
                if key is not None:
                    self._in_flight[key] = self._in_flight.get(key, 1) - 1
                for base in admitted:
                    self._active[base] = self._active.get(base, 1) - 1

        try:
            try:
                outcome, slow = self._respond(record, admitted)
            except Exception as exc:  # an emulator bug: say so instead of dropping the socket
                text = f"emulator internal error: {type(exc).__name__}: {exc}"
                outcome, slow = self._error(500, text, record, code="emulator_bug"), 0.0
            self._write(handler, outcome, request_id, slow, finish)
        finally:
            if not finished:
                finish(0)

    def _take_fault(self, call: RecordedRequest) -> Fault | None:
        streaming_chat = call.streamed and call.path.endswith("/chat/completions")
        with self._lock:
            for entry in self._faults:
                if entry.fault.kind in STREAM_FAULT_KINDS and not streaming_chat:
                    continue
                if not _model_matches(entry.model, call.model):
                    continue
                if not _path_matches(entry.path, call.path):
                    continue
                entry.times -= 1
                if entry.times <= 0:
                    self._faults.remove(entry)
                call.fault = entry.fault.kind
                return entry.fault
        return None

    def _respond(self, call: RecordedRequest, admitted: list[str]) -> tuple[_Outcome, float]:
        fault = self._take_fault(call)
        slow = 0.0
        stream_fault: Fault | None = None
        if fault is not None:
            if fault.kind == "connection_reset":
                return _Reset(), 0.0
            if fault.kind == "slow_first_byte":
                slow = fault.seconds
            elif fault.kind == "status":
                return self._fault_answer(fault, call), 0.0
            elif fault.kind == "malformed_json":
                body = b'{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"ind'
                return _Answer(200, body), 0.0
            else:
                stream_fault = fault
        if call.path == "/v1/models" and call.method == "GET":
            return self._list_models(), slow
        if call.path.startswith("/v1/models/") and call.method == "GET":
            return self._get_model(call), slow
        if call.method == "POST" and call.path == "/v1/chat/completions":
            return self._chat(call, admitted, stream_fault), slow
        if call.method == "POST" and call.path == "/v1/embeddings":
            return self._embeddings(call, admitted), slow
        if call.method == "POST" and call.path == "/v1/images/generations":
            return self._image_generation(call, admitted), slow
        if call.method == "GET" and call.path.startswith("/v1/tasks/"):
            return self._task(call), slow
        return self._error(404, msg.CHOICE_NOT_FOUND.format(path=call.path), call), slow

    # ----------------------------------------------------------------- writing

    def _write(
        self,
        handler: BaseHTTPRequestHandler,
        outcome: _Outcome,
        request_id: str,
        slow: float,
        finish: Callable[[int], None],
    ) -> None:
        if slow > 0:
            time.sleep(slow)
        try:
            if isinstance(outcome, _Reset):
                finish(0)
                self._reset_connection(handler)
                return
            if isinstance(outcome, _Answer):
                headers = {
                    "Content-Type": outcome.content_type,
                    "Content-Length": str(len(outcome.body)),
                }
                if request_id:
                    headers[REQUEST_ID_HEADER] = request_id
                headers.update(outcome.headers)
                finish(outcome.status)
                handler.wfile.write(
                    _head(outcome.status, headers, handler.close_connection) + outcome.body
                )
                return
            self._write_stream(handler, outcome, request_id, finish)
        except OSError:
            handler.close_connection = True
            finish(499)

    def _write_stream(
        self,
        handler: BaseHTTPRequestHandler,
        stream: _Stream,
        rid: str,
        finish: Callable[[int], None],
    ) -> None:
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            REQUEST_ID_HEADER: rid,
        }
        headers.update(stream.headers)
        first = _head(200, headers, handler.close_connection)
        if stream.keepalive:
            first += _chunk(b": keep-alive\n\n")
        handler.wfile.write(first)
        error = _chunk(stream.error_event.encode("utf-8")) + b"0\r\n\r\n"
        for index, event in enumerate(stream.events):
            if stream.cut_after is not None and index >= stream.cut_after:
                break
            if stream.error_after is not None and index >= stream.error_after:
                break
            handler.wfile.write(_chunk(f"data: {event}\n\n".encode()))
        finish(200)
        if stream.cut_after is not None:
            handler.close_connection = True
        elif stream.error_after is not None:
            handler.wfile.write(error)
        else:
            handler.wfile.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")

    @staticmethod
    def _reset_connection(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        conn = handler.connection
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        handler.rfile.close()

    # ----------------------------------------------------------------- errors

    def _error(
        self,
        status: int,
        message: str,
        call: RecordedRequest,
        *,
        code: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> _Answer:
        envelope = "errors" if call.path.startswith("/v1/tasks/") else self.config.error_envelope
        body: dict[str, Any]
        if envelope == "errors":
            inner: dict[str, Any] = {"message": message, "request_id": call.request_id}
            if code and self.config.errors_envelope_code:
                inner["code"] = code
            body = {"errors": inner}
        else:
            body = {
                "error": {"message": message, "code": code, "type": type_ or _error_type(status)},
                "request_id": call.request_id,
            }
        return _Answer(status, _json_bytes(body), dict(headers or {}))

    def _fault_answer(self, fault: Fault, call: RecordedRequest) -> _Answer:
        headers = dict(fault.headers)
        if fault.has_default_body:
            answer = self._error(fault.status_code, msg.CHOICE_SERVER_ERROR, call)
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
            raw = _json_bytes(fault.body)
        lowered = {k.lower(): k for k in headers}
        if "content-type" in lowered:
            content_type = headers.pop(lowered["content-type"])
        return _Answer(fault.status_code, raw, headers, content_type)

    # ----------------------------------------------------------------- auth, models, quotas

    def _authenticate(self, call: RecordedRequest) -> _Account | _Answer:
        with self._lock:
            account = self._accounts.get(call.token or "")
        if account is None:
            return self._error(401, msg.SHEET_AUTH_FAILED, call, type_="authentication_error")
        if account.state == "unbound":
            return self._error(401, msg.SHEET_UNBOUND, call, type_="authentication_error")
        if account.state == "unverified":
            return self._error(403, msg.SHEET_UNVERIFIED, call, type_="permission_denied")
        return account

    def _lookup_model(self, call: RecordedRequest) -> ModelInfo | _Answer:
        model = call.model or ""
        with self._lock:
            info = self._models.get(base_model_id(model))
        if info is None:
            return self._error(
                400, msg.SHEET_INVALID_MODEL.format(model=model), call, code="invalid_model"
            )
        if info.retired:
            return self._error(400, msg.SHEET_RETIRED_MODEL, call, code="invalid_model")
        return info

    def _limits(self, account: _Account, base: str) -> tuple[int, int]:
        config = self.config
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

    def _used(self, token: str, model: str | None, day: date) -> int:
        stored_day, used = self._usage.get((token, model), (day, 0))
        return used if stored_day == day else 0

    def _admit(
        self, account: _Account, call: RecordedRequest, admitted: list[str]
    ) -> tuple[_Answer | None, dict[str, str]]:
        """Concurrency and quota gate; counts the call when it passes.

        Only calls that pass are counted (4xx/429/faults are not), as the facts sheet's
        "successful calls" suggests.
        """
        model = call.model or ""
        base = base_model_id(model)
        config = self.config
        counted = not has_provider_suffix(model) or config.count_provider_suffix_calls
        with self._lock:
            day = utc8_day(self.clock.now())
            account_limit, model_limit = self._limits(account, base)
            account_used = self._used(account.token, None, day)
            model_used = self._used(account.token, base, day)

            def headers(a_used: int, m_used: int) -> dict[str, str]:
                return {
                    RATELIMIT_HEADERS[0]: str(account_limit),
                    RATELIMIT_HEADERS[1]: str(max(account_limit - a_used, 0)),
                    RATELIMIT_HEADERS[2]: str(model_limit),
                    RATELIMIT_HEADERS[3]: str(max(model_limit - m_used, 0)),
                }

            on_429 = (
                headers(account_used, model_used)
                if counted and config.ratelimit_headers_on_429
                else {}
            )
            limit = config.max_concurrent_per_model
            if limit is not None and self._active.get(base, 0) >= limit:
                return (
                    self._error(
                        429,
                        msg.SHEET_CONCURRENCY.format(model=model),
                        call,
                        code="rate_limit_exceeded",
                        headers=on_429,
                    ),
                    {},
                )
            if counted and account_used >= account_limit:
                return self._account_quota_error(call, on_429), {}
            if counted and model_used >= model_limit:
                return self._model_quota_error(call, on_429), {}
            self._active[base] = self._active.get(base, 0) + 1
            admitted.append(base)
            if not counted:
                return None, {}
            self._usage[(account.token, None)] = (day, account_used + 1)
            self._usage[(account.token, base)] = (day, model_used + 1)
            return None, headers(account_used + 1, model_used + 1)

    def _account_quota_error(self, call: RecordedRequest, headers: dict[str, str]) -> _Answer:
        if self.config.account_quota_style == "insufficient_balance":
            return self._error(
                429, msg.SHEET_INSUFFICIENT_BALANCE, call, code=None, headers=headers
            )
        return self._error(
            429,
            msg.SHEET_INSUFFICIENT_QUOTA,
            call,
            code="insufficient_quota",
            type_="insufficient_quota",
            headers=headers,
        )

    def _model_quota_error(self, call: RecordedRequest, headers: dict[str, str]) -> _Answer:
        style = self.config.quota_error_style
        model = call.model or ""
        if style == "no_body":
            return _Answer(429, b"", headers)
        template = {
            "daily": msg.SHEET_QUOTA_DAILY,
            "daily_short": msg.SHEET_QUOTA_DAILY_SHORT,
            "request_limit": msg.SHEET_REQUEST_LIMIT,
            "monthly": msg.SHEET_QUOTA_MONTHLY,
        }[style]
        return self._error(
            429, template.format(model=model), call, code="rate_limit_exceeded", headers=headers
        )

    def _gate(
        self, call: RecordedRequest, admitted: list[str]
    ) -> tuple[_Account, ModelInfo] | _Answer:
        account = self._authenticate(call)
        if isinstance(account, _Answer):
            return account
        if not isinstance(call.body, dict):
            return self._error(400, msg.CHOICE_BAD_BODY, call, code="invalid_parameter_error")
        info = self._lookup_model(call)
        if isinstance(info, _Answer):
            return info
        return account, info

    def _echo_model(self, model: str) -> str:
        if self.config.echo_model_name_lowercase:
            return base_model_id(model).rsplit("/", 1)[-1].lower()
        return model

    def _success_headers(self, quota: dict[str, str], streamed: bool) -> dict[str, str]:
        if not self.config.send_ratelimit_headers:
            return {}
        if streamed and not self.config.ratelimit_headers_on_stream:
            return {}
        return quota

    # ----------------------------------------------------------------- catalogue

    def _catalogue_entry(self, info: ModelInfo) -> dict[str, Any]:
        return {
            "id": info.id,
            "object": "model",
            "created": CATALOGUE_CREATED,
            "owned_by": info.owned_by,
        }

    def _listed(self, info: ModelInfo) -> bool:
        if info.retired:
            return False
        if info.kind == "image":
            return self.config.list_image_models
        if info.kind == "embedding":
            return self.config.list_embedding_models
        return True

    def _list_models(self) -> _Answer:
        with self._lock:
            data = [self._catalogue_entry(m) for m in self._models.values() if self._listed(m)]
        return _Answer(200, _json_bytes({"object": "list", "data": data}))

    def _get_model(self, call: RecordedRequest) -> _Answer:
        model_id = call.path[len("/v1/models/") :]
        with self._lock:
            info = self._models.get(base_model_id(model_id))
        if info is None or not self._listed(info):
            return self._error(404, msg.SHEET_INVALID_MODEL.format(model=model_id), call)
        return _Answer(200, _json_bytes(self._catalogue_entry(info)))

    # ----------------------------------------------------------------- chat

    def _chat(
        self, call: RecordedRequest, admitted: list[str], stream_fault: Fault | None
    ) -> _Outcome:
        gated = self._gate(call, admitted)
        if isinstance(gated, _Answer):
            return gated
        account, info = gated
        body: dict[str, Any] = call.body
        model = call.model or ""
        if not info.chat:
            return self._error(
                400, msg.CHOICE_NOT_CHAT.format(model=model), call, code="invalid_parameter_error"
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, msg.CHOICE_NO_MESSAGES, call, code="invalid_parameter_error")
        streamed = body.get("stream") is True
        enable_thinking = body.get("enable_thinking")
        if not streamed and info.thinking == "hybrid" and enable_thinking is not False:
            return self._error(
                400, msg.SHEET_HYBRID_NON_STREAM, call, code="invalid_parameter_error"
            )
        if not streamed and info.thinking == "only":
            return self._error(
                400, msg.SHEET_THINKING_ONLY_NON_STREAM, call, code="invalid_parameter_error"
            )
        if not info.vision and all_images(messages):
            return self._error(
                400, msg.CHOICE_NO_VISION.format(model=model), call, code="invalid_parameter_error"
            )
        refused, quota = self._admit(account, call, admitted)
        if refused is not None:
            return refused
        if self.config.response_delay > 0:
            time.sleep(self.config.response_delay)
        headers = self._success_headers(quota, streamed)
        response_format = body.get("response_format")
        if (
            self.config.json_schema_quirk
            and isinstance(response_format, dict)
            and response_format.get("type") == "json_schema"
        ):
            return self._quirk(call, headers, streamed)
        reasons = info.thinking in ("only", "always_reasons") or (
            info.thinking == "hybrid" and enable_thinking is not False
        )
        generated = self._scripted(model) or default_reply(body, info, reasons)
        if generated.usage is None:
            generated.usage = _usage(body, generated)
        if streamed:
            return self._chat_stream(call, info, generated, headers, stream_fault)
        return _Answer(200, _json_bytes(self._chat_body(call, info, generated)), headers)

    def _scripted(self, model: str) -> Generated | None:
        with self._lock:
            for entry in self._replies:
                wanted, reply = entry
                if _model_matches(wanted, model):
                    self._replies.remove(entry)
                    break
            else:
                return None
        calls = [_scripted_call(c) for c in reply.tool_calls]
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        return Generated(
            content=reply.content,
            reasoning=reply.reasoning,
            tool_calls=calls,
            finish_reason=finish,
            usage=copy.deepcopy(reply.usage),
            chunk_size=reply.chunk_size,
        )

    def _quirk(self, call: RecordedRequest, headers: dict[str, str], streamed: bool) -> _Outcome:
        body = {
            "id": "",
            "model": self._echo_model(call.model or ""),
            **msg.QUIRK_FIELDS,
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
        if streamed:
            return _Stream(
                events=[json.dumps(body, ensure_ascii=False)],
                headers=headers,
                keepalive=self.config.stream_keepalive_comment,
            )
        return _Answer(200, _json_bytes(body), headers)

    def _chat_body(self, call: RecordedRequest, info: ModelInfo, gen: Generated) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": gen.content}
        if gen.reasoning is not None or info.thinking != "none":
            message[self.config.reasoning_field] = gen.reasoning or ""
        if gen.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in gen.tool_calls
            ]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(self.clock.now().timestamp()),
            "model": self._echo_model(call.model or ""),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": gen.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": gen.usage,
        }

    def _chat_stream(
        self,
        call: RecordedRequest,
        info: ModelInfo,
        gen: Generated,
        headers: dict[str, str],
        fault: Fault | None,
    ) -> _Stream:
        config = self.config
        body: dict[str, Any] = call.body
        events = list(
            _stream_events(
                info,
                gen,
                config,
                self._echo_model(call.model or ""),
                int(self.clock.now().timestamp()),
                body,
            )
        )
        stream = _Stream(events=events, headers=headers, keepalive=config.stream_keepalive_comment)
        if fault is not None and fault.kind == "stream_cut":
            stream.cut_after = max(fault.after_chunks, 0)
        elif fault is not None:
            stream.error_after = max(fault.after_chunks, 0)
            error = {
                "error": {
                    "message": fault.message or msg.CHOICE_SERVER_ERROR,
                    "code": msg.CHOICE_STREAM_ERROR_CODE,
                    "type": "server_error",
                },
                "request_id": call.request_id,
            }
            stream.error_event = f"data: {json.dumps(error, ensure_ascii=False)}\n\n"
        return stream

    # ----------------------------------------------------------------- embeddings

    def _embeddings(self, call: RecordedRequest, admitted: list[str]) -> _Answer:
        gated = self._gate(call, admitted)
        if isinstance(gated, _Answer):
            return gated
        account, info = gated
        body: dict[str, Any] = call.body
        model = call.model or ""
        if not self.config.embeddings_enabled:
            return self._error(400, msg.CHOICE_EMBEDDINGS_DISABLED, call, code="invalid_model")
        if info.kind != "embedding":
            return self._error(
                400, msg.CHOICE_NOT_EMBEDDING.format(model=model), call, code="invalid_model"
            )
        encoding = body.get("encoding_format")
        if encoding not in ("float", "base64"):
            shown = encoding if isinstance(encoding, str) else ""
            return self._error(
                400,
                msg.SHEET_ENCODING_FORMAT.format(value=shown),
                call,
                code="invalid_parameter_error",
            )
        raw_input = body.get("input")
        texts: list[str]
        if isinstance(raw_input, str):
            texts = [raw_input]
        elif isinstance(raw_input, list) and all(isinstance(t, str) for t in raw_input):
            texts = list(raw_input)
        else:
            return self._error(400, msg.CHOICE_BAD_INPUT, call, code="invalid_parameter_error")
        if not texts or any(not t.strip() for t in texts):
            return self._error(400, msg.CHOICE_EMPTY_INPUT, call, code="invalid_parameter_error")
        batch = self.config.max_embedding_batch
        if batch is not None and len(texts) > batch:
            return self._error(
                400,
                msg.CHOICE_BATCH_TOO_LARGE.format(count=len(texts), limit=batch),
                call,
                code="invalid_parameter_error",
            )
        for index, text in enumerate(texts):
            words = count_tokens(text)
            if words > self.config.max_embedding_words:
                return self._error(
                    400,
                    msg.CHOICE_INPUT_TOO_LONG.format(
                        index=index, words=words, limit=self.config.max_embedding_words
                    ),
                    call,
                    code="invalid_parameter_error",
                )
        dimension = info.dimension
        wanted = body.get("dimensions")
        if self.config.honour_dimensions and wanted is not None:
            if (
                not isinstance(wanted, int)
                or isinstance(wanted, bool)
                or not 1 <= wanted <= info.dimension
            ):
                return self._error(
                    400,
                    msg.CHOICE_BAD_DIMENSIONS.format(limit=info.dimension),
                    call,
                    code="invalid_parameter_error",
                )
            dimension = wanted
        refused, quota = self._admit(account, call, admitted)
        if refused is not None:
            return refused
        if self.config.response_delay > 0:
            time.sleep(self.config.response_delay)
        data = []
        for index, text in enumerate(texts):
            vector = embed(text, dimension)
            encoded: Any = to_base64(vector) if encoding == "base64" else vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(max(count_tokens(t), 1) for t in texts)
        response = {
            "object": "list",
            "data": data,
            "model": self._echo_model(model),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return _Answer(200, _json_bytes(response), self._success_headers(quota, False))

    # ----------------------------------------------------------------- images

    def _image_generation(self, call: RecordedRequest, admitted: list[str]) -> _Answer:
        gated = self._gate(call, admitted)
        if isinstance(gated, _Answer):
            return gated
        account, info = gated
        body: dict[str, Any] = call.body
        model = call.model or ""
        if info.kind != "image":
            return self._error(
                400, msg.CHOICE_NOT_IMAGE.format(model=model), call, code="invalid_model"
            )
        if call.headers.get("x-modelscope-async-mode", "").lower() != "true":
            return self._error(400, msg.CHOICE_ASYNC_REQUIRED, call, code="invalid_parameter_error")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._error(400, msg.CHOICE_NO_PROMPT, call, code="invalid_parameter_error")
        refused, quota = self._admit(account, call, admitted)
        if refused is not None:
            return refused
        task = _Task(
            task_id=str(uuid.uuid4()),
            token=account.token,
            model=model,
            prompt=prompt,
            created_at=self.clock.now(),
            fail=self.config.image_task_fail or msg.IMAGE_FAIL_TRIGGER.lower() in prompt.lower(),
        )
        with self._lock:
            self._tasks[task.task_id] = task
        response = {
            "task_id": task.task_id,
            "request_id": call.request_id,
            "task_status": "PENDING",
        }
        return _Answer(200, _json_bytes(response), self._success_headers(quota, False))

    def _task(self, call: RecordedRequest) -> _Answer:
        account = self._authenticate(call)
        if isinstance(account, _Answer):
            return account
        if call.headers.get("x-modelscope-task-type", "") != "image_generation":
            return self._error(400, msg.CHOICE_TASK_TYPE, call, code="invalid_parameter_error")
        task_id = call.path[len("/v1/tasks/") :]
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.token != account.token:
                return self._error(404, msg.CHOICE_TASK_NOT_FOUND.format(task_id=task_id), call)
            task.polls += 1
            polls = task.polls
        config = self.config
        response: dict[str, Any] = {"task_id": task_id, "request_id": call.request_id}
        states = config.image_task_states or ("RUNNING",)
        if config.image_task_seconds is not None:
            elapsed = (self.clock.now() - task.created_at).total_seconds()
            pending = elapsed < config.image_task_seconds
        else:
            pending = polls <= config.image_task_polls
        if pending:
            response["task_status"] = states[(polls - 1) % len(states)]
        elif task.fail:
            response["task_status"] = "FAILED"
            response["errors"] = {"code": "GenerationFailed", "message": msg.CHOICE_TASK_FAILED}
        else:
            response["task_status"] = "SUCCEED"
            response["output_images"] = [f"{self.root_url}/_emulator/images/{task_id}.png"]
        return _Answer(200, _json_bytes(response))

    def image_bytes(self, task_id: str) -> bytes | None:
        """The PNG behind a finished task's image URL."""
        with self._lock:
            return _PNG if task_id in self._tasks else None


# --------------------------------------------------------------------------- helpers


def _no_finish(status: int) -> None:
    """Admin calls are not booked."""


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


def _scripted_call(call: ScriptedToolCall) -> GeneratedCall:
    arguments = (
        call.arguments if isinstance(call.arguments, str) else dump_arguments(call.arguments)
    )
    return GeneratedCall(id=call.id or new_call_id(), name=call.name, arguments=arguments)


def _usage(body: dict[str, Any], gen: Generated) -> dict[str, Any]:
    prompt = prompt_tokens(body)
    reasoning = count_tokens(gen.reasoning or "")
    completion = (
        count_tokens(gen.content)
        + reasoning
        + sum(count_tokens(c.arguments) + 1 for c in gen.tool_calls)
    )
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _stream_events(
    info: ModelInfo,
    gen: Generated,
    config: EmulatorConfig,
    model_name: str,
    created: int,
    body: dict[str, Any],
) -> Iterator[str]:
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
    thinking = info.thinking != "none" or gen.reasoning is not None
    field_name = config.reasoning_field

    def unused(delta: dict[str, Any], name: str) -> dict[str, Any]:
        if config.unused_delta_field == "empty":
            delta[name] = ""
        elif config.unused_delta_field == "null":
            delta[name] = None
        return delta

    def event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        chunk: dict[str, Any] = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_name,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        chunk.update(extra)
        return json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))

    first: dict[str, Any] = {"role": "assistant", "content": ""}
    if thinking:
        unused(first, field_name)
    yield event(first)
    for piece in split_stream_pieces(gen.reasoning or "", gen.chunk_size):
        yield event(unused({field_name: piece}, "content"))
    for piece in split_stream_pieces(gen.content, gen.chunk_size):
        delta: dict[str, Any] = {"content": piece}
        yield event(unused(delta, field_name) if thinking else delta)
    for index, tc in enumerate(gen.tool_calls):
        yield event(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": tc.id,
                        "type": "function",
                        "function": {"name": tc.name, "arguments": ""},
                    }
                ]
            }
        )
        args = tc.arguments
        for start in range(0, len(args), 16):
            yield event(
                {
                    "tool_calls": [
                        {"index": index, "function": {"arguments": args[start : start + 16]}}
                    ]
                }
            )
    options = body.get("stream_options")
    wants_usage = config.stream_usage_always or (
        config.include_usage_in_stream
        and isinstance(options, dict)
        and options.get("include_usage") is True
    )
    if wants_usage and not config.usage_chunk_empty_choices:
        yield event({}, gen.finish_reason, usage=gen.usage)
        return
    yield event({}, gen.finish_reason)
    if wants_usage:
        yield event(None, usage=gen.usage)
