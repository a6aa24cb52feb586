"""What a handler hands back to the HTTP layer: a whole answer, an SSE stream, or a reset.

Kept free of server state so that the admin API, the handlers and the writer share these
shapes without importing one another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """A complete (non-streamed) HTTP answer."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Stream:
    """A 200 SSE answer: `events` are the JSON chunks, `[DONE]` is added by the writer.

    `cut_after` / `error_after` (set only by a stream fault) stop it after that many events.
    """

    events: list[str]
    headers: dict[str, str] = field(default_factory=dict)
    keepalive: bool = True
    cut_after: int | None = None
    error_after: int | None = None
    error_event: str = ""


@dataclass
class Reset:
    """Close the connection with an RST, answering nothing."""


Outcome = Answer | Stream | Reset


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as the service sends it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """A JSON answer."""
    return Answer(status, json_bytes(data), dict(headers or {}))
