"""`EmulatorRemote`: steer an emulator that runs in another process, over its admin endpoints.

Standard library only (urllib), so benchmarks and scripts need nothing else.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from langchain_modelscope.testing._types import (
    GRANT_LIFETIME,
    AccountState,
    EmulatorConfig,
    Fault,
    RecordedRequest,
    ScriptedReply,
)


class EmulatorRemoteError(RuntimeError):
    """An admin call failed (the emulator's message is in the text)."""


class EmulatorRemote:
    """Mirror of the main `ModelScopeEmulator` methods for an emulator in another process.

    `base_url` may be the API base (`http://127.0.0.1:8000/v1`) or the bare root.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        root = base_url.rstrip("/")
        self.root_url = root[: -len("/v1")] if root.endswith("/v1") else root
        self.timeout = timeout

    @property
    def base_url(self) -> str:
        """The API base URL (`.../v1`)."""
        return self.root_url + "/v1"

    def _call(self, method: str, name: str, payload: Any = None, **query: str | None) -> Any:
        url = f"{self.root_url}/_emulator/{name}"
        params = {k: v for k, v in query.items() if v is not None}
        if params:
            url += "?" + urlencode(params)
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise EmulatorRemoteError(f"{method} {name}: {exc.code} {detail}") from exc

    def health(self) -> dict[str, Any]:
        """`{"ok", "base_url", "token"}`; raises while the emulator is not up."""
        result: dict[str, Any] = self._call("GET", "health")
        return result

    @property
    def token(self) -> str:
        """The default account's token."""
        return str(self.health()["token"])

    def queue_reply(self, reply: ScriptedReply, *, model: str | None = None) -> None:
        """See `ModelScopeEmulator.queue_reply`."""
        self._call("POST", "reply", {"reply": reply.to_dict(), "model": model})

    def queue_fault(
        self, fault: Fault, *, model: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """See `ModelScopeEmulator.queue_fault`."""
        payload = {"fault": fault.to_dict(), "model": model, "path": path, "times": times}
        self._call("POST", "fault", payload)

    def set_clock(
        self,
        now: datetime | None = None,
        *,
        advance: timedelta | float | None = None,
        frozen: bool = True,
    ) -> datetime:
        """Set and/or advance the emulator clock; returns the new now."""
        payload: dict[str, Any] = {"frozen": frozen}
        if now is not None:
            payload["now"] = now.isoformat()
        if advance is not None:
            seconds = advance.total_seconds() if isinstance(advance, timedelta) else advance
            payload["advance_seconds"] = seconds
        result = self._call("POST", "clock", payload)
        return datetime.fromisoformat(result["now"])

    def now(self) -> datetime:
        """The emulator clock."""
        return datetime.fromisoformat(self._call("GET", "clock")["now"])

    def requests(
        self,
        *,
        model: str | None = None,
        token: str | None = None,
        path: str | None = None,
        billable: bool | None = None,
    ) -> list[RecordedRequest]:
        """The request log (filtered like `requests_for`)."""
        flag = None if billable is None else str(billable).lower()
        data = self._call("GET", "requests", model=model, token=token, path=path, billable=flag)
        return [RecordedRequest.from_dict(item) for item in data]

    def clear_log(self) -> None:
        """See `ModelScopeEmulator.clear_log`."""
        self._call("POST", "clear_log", {})

    def reset(self) -> None:
        """See `ModelScopeEmulator.reset`."""
        self._call("POST", "reset", {})

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
        """See `ModelScopeEmulator.add_account`."""
        payload = {
            "token": token,
            "state": state,
            "daily_limit": daily_limit,
            "model_daily_limit": model_daily_limit,
            "model_limits": model_limits,
            "points": points,
        }
        return str(self._call("POST", "accounts", payload)["token"])

    def grant_points(
        self, token: str, amount: float, *, expires_in: timedelta = GRANT_LIFETIME
    ) -> None:
        """See `ModelScopeEmulator.grant_points`."""
        payload = {
            "token": token,
            "amount": amount,
            "expires_in_seconds": expires_in.total_seconds(),
        }
        self._call("POST", "points/grant", payload)

    def set_balance(self, token: str, amount: float) -> None:
        """See `ModelScopeEmulator.set_balance`."""
        self._call("POST", "points/set", {"token": token, "amount": amount})

    def points(self, token: str) -> float:
        """See `ModelScopeEmulator.points`."""
        return float(self._call("GET", "points", token=token)["points"])

    def throttle(
        self, token: str, model: str, seconds: float, *, let_through_every: int | None = None
    ) -> None:
        """See `ModelScopeEmulator.throttle`."""
        payload = {
            "token": token,
            "model": model,
            "seconds": seconds,
            "let_through_every": let_through_every,
        }
        self._call("POST", "throttle", payload)

    def set_usage(self, token: str, model: str | None, used: int) -> None:
        """See `ModelScopeEmulator.set_usage`."""
        self._call("POST", "usage", {"token": token, "model": model, "used": used})

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Partial config update; returns the resulting config."""
        return EmulatorConfig.from_dict(self._call("POST", "config", changes))

    def config(self) -> EmulatorConfig:
        """The current config."""
        return EmulatorConfig.from_dict(self._call("GET", "config"))

    def max_in_flight(self, model: str | None = None) -> int:
        """See `ModelScopeEmulator.max_in_flight`."""
        return int(self._call("GET", "max_in_flight", model=model)["max_in_flight"])

    def add_model(self, model_id: str, **options: Any) -> None:
        """See `ModelScopeEmulator.add_model` (options: kind, thinking, tools, dimension)."""
        self._call("POST", "models", {"id": model_id, **options})

    def retire_model(self, model_id: str, *, style: str = "no_provider") -> None:
        """See `ModelScopeEmulator.retire_model`."""
        self._call("POST", "models/retire", {"id": model_id, "style": style})
