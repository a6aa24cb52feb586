"""`/_emulator/*`: JSON control endpoints, so another process can steer a running emulator.

No auth (the server binds to loopback); admin calls are not written to the request log.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from langchain_modelscope.testing._types import GRANT_LIFETIME, Fault, ScriptedReply
from langchain_modelscope.testing._wire import Answer, json_bytes

if TYPE_CHECKING:
    from langchain_modelscope.testing._server import ModelScopeEmulator


class _BadRequestError(Exception):
    """A malformed admin call."""


def _ok(data: Any) -> Answer:
    return Answer(200, json_bytes(data))


def _payload(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _BadRequestError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _BadRequestError("body must be a JSON object")
    return data


def handle_admin(
    emulator: ModelScopeEmulator, method: str, path: str, query: dict[str, str], raw: bytes
) -> Answer:
    """Route one admin call; errors come back as 400 `{"error": message}`."""
    try:
        return _route(emulator, method, path.rstrip("/"), query, raw)
    except (_BadRequestError, ValueError, TypeError, KeyError) as exc:
        return Answer(400, json_bytes({"error": str(exc) or type(exc).__name__}))


def _route(
    emu: ModelScopeEmulator, method: str, path: str, query: dict[str, str], raw: bytes
) -> Answer:
    name = path[len("/_emulator/") :] if path.startswith("/_emulator/") else ""
    if name.startswith("images/") and method == "GET":
        image = emu.image_bytes(name[len("images/") :].removesuffix(".png"))
        if image is None:
            return Answer(404, json_bytes({"error": "no such image"}))
        return Answer(200, image, content_type="image/png")
    if name == "health" and method == "GET":
        return _ok({"ok": True, "base_url": emu.base_url, "token": emu.token})
    if name == "requests" and method == "GET":
        billable = query.get("billable")
        records = emu.requests_for(
            model=query.get("model"),
            token=query.get("token"),
            path=query.get("path"),
            billable=None if billable is None else billable == "true",
        )
        return _ok([r.to_dict() for r in records])
    if name == "max_in_flight" and method == "GET":
        return _ok({"max_in_flight": emu.max_in_flight(query.get("model"))})
    if name == "config" and method == "GET":
        return _ok(emu.config.to_dict())
    if name == "clock" and method == "GET":
        return _ok({"now": emu.clock.now().isoformat(), "frozen": emu.clock.frozen})
    if name == "usage" and method == "GET":
        return _ok({"used": emu.usage(query["token"], query.get("model"))})
    if name == "points" and method == "GET":
        return _ok({"points": emu.points(query["token"])})
    if method != "POST":
        raise _BadRequestError(f"unknown admin endpoint: {method} {path}")
    data = _payload(raw)
    if name == "reset":
        emu.reset()
    elif name == "clear_log":
        emu.clear_log()
    elif name == "clock":
        if data.get("real"):
            emu.clock.reset()
        if "now" in data:
            now = str(data["now"])
            now = now[:-1] + "+00:00" if now.endswith(("Z", "z")) else now  # 3.10 fromisoformat
            emu.clock.set(datetime.fromisoformat(now), frozen=data.get("frozen", True))
        if "advance_seconds" in data:
            emu.clock.advance(timedelta(seconds=float(data["advance_seconds"])))
        return _ok({"now": emu.clock.now().isoformat(), "frozen": emu.clock.frozen})
    elif name == "reply":
        emu.queue_reply(ScriptedReply.from_dict(data.get("reply") or {}), model=data.get("model"))
    elif name == "fault":
        emu.queue_fault(
            Fault.from_dict(data["fault"]),
            model=data.get("model"),
            path=data.get("path"),
            times=int(data.get("times", 1)),
        )
    elif name == "accounts":
        token = emu.add_account(
            data.get("token"),
            state=data.get("state", "valid"),
            daily_limit=data.get("daily_limit"),
            model_daily_limit=data.get("model_daily_limit"),
            model_limits=data.get("model_limits"),
            points=data.get("points"),
        )
        return _ok({"token": token})
    elif name == "points/grant":
        seconds = data.get("expires_in_seconds", GRANT_LIFETIME.total_seconds())
        expires = timedelta(seconds=float(seconds))
        emu.grant_points(data["token"], float(data["amount"]), expires_in=expires)
    elif name == "points/set":
        emu.set_balance(data["token"], float(data["amount"]))
    elif name == "throttle":
        every = data.get("let_through_every")
        emu.throttle(
            data["token"],
            data["model"],
            float(data["seconds"]),
            let_through_every=None if every is None else int(every),
        )
    elif name == "usage":
        emu.set_usage(data["token"], data.get("model"), int(data["used"]))
    elif name == "config":
        emu.config.update(data)
        return _ok(emu.config.to_dict())
    elif name == "models":
        emu.add_model(
            data["id"],
            kind=data.get("kind", "chat"),
            thinking=data.get("thinking", "none"),
            tools=bool(data.get("tools", True)),
            dimension=int(data.get("dimension", 0)),
        )
    elif name == "models/retire":
        emu.retire_model(data["id"], style=data.get("style", "no_provider"))
    elif name == "models/remove":
        emu.remove_model(data["id"])
    else:
        raise _BadRequestError(f"unknown admin endpoint: {method} {path}")
    return _ok({"ok": True})
