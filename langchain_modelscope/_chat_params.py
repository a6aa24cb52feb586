"""The chat request parameters this package knows, what each allows, and the one check of them.

Constructor fields and call-time keyword arguments (``invoke(..., temperature=...)``,
``bind(...)``) go through `check_params`, so a value the constructor refuses is refused at call
time too, before any request. The ranges are OpenAI's chat-completions ranges, which
ModelScope's OpenAI-compatible API takes over (facts sheet §1, §4). Names not in the table are
still sent (ModelScope models take extra fields), with one warning per name and process.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from langchain_modelscope.errors import InvalidParameterError

__all__ = ["KNOWN_BODY_PARAMS", "check_params", "warn_unknown_call_params"]


@dataclass(frozen=True, slots=True)
class _Number:
    """A number (or an integer) in a range; ``low_open`` excludes ``low`` itself."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False

    def allows(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            left = "more than" if self.low_open else "from"
            return f"{kind} {left} {_num(self.low)} to {_num(self.high)}"
        if self.low is not None:
            return f"{kind} {'above' if self.low_open else 'of at least'} {_num(self.low)}"
        return kind


@dataclass(frozen=True, slots=True)
class _Bool:
    def allows(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "True or False"


@dataclass(frozen=True, slots=True)
class _Stop:
    def allows(self, value: Any) -> bool:
        if isinstance(value, str):
            return bool(value)
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)

    def describe(self) -> str:
        return "a non-empty string or a list of non-empty strings"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_Rule = _Number | _Bool | _Stop

#: What each checked parameter allows (OpenAI's ranges; ``thinking_budget`` per facts §4).
RULES: Final[Mapping[str, _Rule]] = {
    "temperature": _Number(0, 2),
    "top_p": _Number(0, 1, low_open=True),
    "presence_penalty": _Number(-2, 2),
    "frequency_penalty": _Number(-2, 2),
    "max_tokens": _Number(1, integer=True),
    "max_completion_tokens": _Number(1, integer=True),
    "n": _Number(1, 128, integer=True),
    "seed": _Number(integer=True),
    "top_logprobs": _Number(0, 20, integer=True),
    "thinking_budget": _Number(1, integer=True),
    "repetition_penalty": _Number(0, low_open=True),
    "top_k": _Number(integer=True),
    "logprobs": _Bool(),
    "enable_thinking": _Bool(),
    "parallel_tool_calls": _Bool(),
    "stop": _Stop(),
}

#: Body fields sent without a warning: the checked ones and OpenAI's others (their shapes are
#: the server's to judge, or built by this package: tools, tool_choice, response_format).
KNOWN_BODY_PARAMS: Final = frozenset(
    {
        *RULES,
        "model",
        "tools",
        "tool_choice",
        "response_format",
        "user",
        "logit_bias",
        "modalities",
        "metadata",
        "store",
        "reasoning_effort",
        "service_tier",
        "prediction",
        "audio",
        "functions",
        "function_call",
        "stream_options",
    }
)


def check_params(params: Mapping[str, Any], where: str) -> None:
    """Refuse, before any request, a known parameter whose value the API does not allow.

    ``where`` says where the value was given ("ChatModelScope(...)", "the call"). None means
    "not set" and passes.
    """
    for name, value in params.items():
        rule = RULES.get(name)
        if rule is None or value is None or rule.allows(value):
            continue
        raise InvalidParameterError(
            f"{name}={value!r} ({where}) is not allowed: {name} is {rule.describe()}",
            name=name,
            value=value,
            allowed=rule.describe(),
        )


_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_unknown_call_params(names: Any, stacklevel: int = 2) -> None:
    """One warning per unknown call-time name and process: it is still sent (ModelScope models
    take extra fields), but a typo such as ``temprature`` should not go unseen. ``names`` are
    the ones sent: the chat model's own keyword arguments are already left out."""
    unknown = [n for n in names if n not in KNOWN_BODY_PARAMS]
    if not unknown:
        return
    with _warned_lock:
        fresh = [n for n in unknown if n not in _warned]
        _warned.update(fresh)
    for name in fresh:
        warnings.warn(
            f"{name!r} is not a chat-completions parameter ChatModelScope knows: it is sent in "
            "the request body as given. Check its spelling; pass it in model_kwargs or "
            "extra_body to say it is meant.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
