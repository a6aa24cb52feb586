"""An offline ModelScope API-Inference emulator for tests, cookbooks and benchmarks.

`ModelScopeEmulator` is a standard-library HTTP server that answers like the real service
(quotas, 429 bodies, thinking models, tool calls, SSE, faults), built from the project's facts
sheet and independent of the client code. `EmulatorRemote` steers one in another process;
`python -m langchain_modelscope.testing` runs one from the command line; the pytest plugin
gives the `modelscope_emulator` fixture.

Names are imported lazily so that loading the pytest plugin (which imports this package)
stays cheap for test runs that never start an emulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_modelscope.testing._catalogue import DEFAULT_MODELS, ModelInfo
    from langchain_modelscope.testing._messages import SHEET_BODY_NAMES
    from langchain_modelscope.testing._remote import EmulatorRemote, EmulatorRemoteError
    from langchain_modelscope.testing._server import (
        BALANCE_PATH,
        RATELIMIT_HEADERS,
        REQUEST_ID_HEADER,
        ModelScopeEmulator,
    )
    from langchain_modelscope.testing._types import (
        DEFAULT_TOKEN,
        TIER_POINTS,
        UTC8,
        EmulatorClock,
        EmulatorConfig,
        Fault,
        RecordedRequest,
        ScriptedReply,
        ScriptedToolCall,
        utc8_day,
    )

_WHERE = {
    "DEFAULT_MODELS": "_catalogue",
    "ModelInfo": "_catalogue",
    "EmulatorRemote": "_remote",
    "EmulatorRemoteError": "_remote",
    "SHEET_BODY_NAMES": "_messages",
    "BALANCE_PATH": "_server",
    "TIER_POINTS": "_types",
    "RATELIMIT_HEADERS": "_server",
    "REQUEST_ID_HEADER": "_server",
    "ModelScopeEmulator": "_server",
    "DEFAULT_TOKEN": "_types",
    "UTC8": "_types",
    "EmulatorClock": "_types",
    "EmulatorConfig": "_types",
    "Fault": "_types",
    "RecordedRequest": "_types",
    "ScriptedReply": "_types",
    "ScriptedToolCall": "_types",
    "utc8_day": "_types",
}

__all__ = [
    "BALANCE_PATH",
    "DEFAULT_MODELS",
    "DEFAULT_TOKEN",
    "RATELIMIT_HEADERS",
    "REQUEST_ID_HEADER",
    "SHEET_BODY_NAMES",
    "TIER_POINTS",
    "UTC8",
    "EmulatorClock",
    "EmulatorConfig",
    "EmulatorRemote",
    "EmulatorRemoteError",
    "Fault",
    "ModelInfo",
    "ModelScopeEmulator",
    "RecordedRequest",
    "ScriptedReply",
    "ScriptedToolCall",
    "utc8_day",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
