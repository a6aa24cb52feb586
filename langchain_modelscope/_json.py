"""Decoding answers: orjson when it is installed, the standard library's rules always.

Embedding answers are megabytes of float literals, and a stream is a thousand small JSON
documents; orjson parses both several times faster than ``json``. It ships with langsmith, which
langchain-core depends on, so it is there wherever CPython is. Where orjson refuses a document
the standard library accepts (``NaN``, ``1e400``, lone surrogates, a byte-order mark), the
standard library decides. One difference remains: an integer outside 64 bits comes back as a
float; no field of an answer holds one (tool-call arguments are strings, parsed separately).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

JSONText = bytes | bytearray | memoryview | str

_fast_loads: Callable[[JSONText], Any] | None
try:
    from orjson import loads as _fast_loads
except ImportError:  # PyPy, or an install that left it out
    _fast_loads = None


def loads(data: JSONText) -> Any:
    """One JSON document; raises ``ValueError`` exactly when ``json.loads`` would."""
    if _fast_loads is not None:
        try:
            return _fast_loads(data)
        except ValueError:
            pass  # orjson is stricter than the standard library: let that one decide
    if isinstance(data, memoryview):
        data = data.tobytes()
    return json.loads(data)
