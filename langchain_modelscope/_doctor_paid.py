"""The doctor's paid checks: one small chat call each, read with the package's own code.

Calls go through the package's HTTP core (`ModelScopeClient`, no retries: a retry could cost
points again), so errors are classified by `error_from_response` and streams read by the
package's reader; the tool-call deltas go through `StreamState`, the chat model's own
assembler. Each check says which facts it informs and how it picks its model from the list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from langchain_modelscope import _wording
from langchain_modelscope._answers import RATELIMIT_HEADERS
from langchain_modelscope._balance import PointsBalance
from langchain_modelscope._chat_families import (
    is_hybrid_thinking,
    is_thinking_only,
    needs_streaming,
    short_name,
)
from langchain_modelscope._client import ModelScopeClient
from langchain_modelscope._doctor_facts import Finding, Redactor, default_model
from langchain_modelscope._doctor_free import Findings
from langchain_modelscope._profiles import profiled_models
from langchain_modelscope.errors import APIError, ModelNotFoundError, ThinkingModeError

_PATH: Final = "chat/completions"
_ASK: Final = [{"role": "user", "content": "Reply with the single word OK."}]
_SIZE: Final = re.compile(r"(\d+(?:\.\d+)?)b")
_USAGE_FIELDS: Final = ("prompt_tokens", "completion_tokens", "total_tokens")
_TOOLS: Final = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "a city name"}},
                "required": ["city"],
            },
        },
    }
    for name, description in (
        ("get_weather", "the weather of a city"),
        ("get_time", "the local time of a city"),
    )
]
_TOOL_ASK: Final = [
    {
        "role": "user",
        "content": "Call get_weather for the city Paris and get_time for the city Tokyo, "
        "both at once, in parallel.",
    }
]


@dataclass
class Probe:
    """What every paid check shares: the client, the redactor, the balance before spending."""

    client: ModelScopeClient
    redact: Redactor
    read_balance: Callable[[], PointsBalance | None]
    before: PointsBalance | None


def _call(probe: Probe, body: dict[str, Any]) -> Any:
    answer = probe.client.post(_PATH, body, model=body["model"])
    probe.redact.request_id(answer.request_id)
    return answer


def _failure(probe: Probe, error: APIError) -> str:
    probe.redact.request_id(error.request_id)
    return probe.redact(f"the call failed: {type(error).__name__}: {error}")


def not_checked(facts: Iterable[str], note: str) -> Findings:
    return {fact: Finding("not_checked", note=note) for fact in facts}


# --- models -----------------------------------------------------------------------------------


def _size(model: str) -> float:
    found = _SIZE.search(short_name(model))
    return float(found.group(1)) if found else float("inf")


def _smallest(listed: Sequence[str], keep: Callable[[str], bool]) -> str | None:
    """The smallest listed model of a kind: likely the lightest tier, so the cheapest call."""
    candidates = [model for model in listed if keep(model)]
    return min(candidates, key=_size) if candidates else None


def _served(listed: Sequence[str], model: str) -> bool:
    return model.lower() in {m.lower() for m in listed}


def pick_probe_model(listed: Sequence[str]) -> str | None:
    """The default model when listed, else the first listed profile model that needs no
    streaming (profile ids are chat models by construction)."""
    if _served(listed, default_model()):
        return default_model()
    by_folded = {m.lower(): m for m in listed}
    return next(
        (
            by_folded[model.lower()]
            for model in profiled_models()
            if model.lower() in by_folded and not needs_streaming(model, None)
        ),
        None,
    )


def pick_unlisted_default(listed: Sequence[str]) -> str | None:
    return None if _served(listed, default_model()) else default_model()


def pick_hybrid(listed: Sequence[str]) -> str | None:
    return _smallest(listed, is_hybrid_thinking)


def pick_thinking_only(listed: Sequence[str]) -> str | None:
    return _smallest(listed, is_thinking_only)


# --- checks -----------------------------------------------------------------------------------


def check_default(probe: Probe, model: str) -> Findings:
    """The default model is not listed: does it still answer?"""
    try:
        _call(probe, {"model": model, "messages": _ASK, "max_tokens": 4})
    except APIError as error:
        return {"default_model": Finding("different", _failure(probe, error))}
    return {
        "default_model": Finding(
            "as_expected",
            "answered, although /v1/models does not list it",
            "§5: the list is curated",
        )
    }


_PLAIN_FACTS: Final = ("regime", "ratelimit_headers", "served_model_name", "usage")


def check_plain(probe: Probe, model: str) -> Findings:
    """One plain call: the regime (headers, balance), the served name, usage."""
    try:
        answer = _call(probe, {"model": model, "messages": _ASK, "max_tokens": 8})
    except APIError as error:
        failure = _failure(probe, error)
        found = not_checked(_PLAIN_FACTS, failure)
        if isinstance(error, ModelNotFoundError) and model == default_model():
            found["default_model"] = Finding("different", failure)
        return found
    after = probe.read_balance()
    found = _regime(probe, answer.headers, after)
    data = answer.data if isinstance(answer.data, Mapping) else {}
    served = data.get("model")
    if served == model:
        found["served_model_name"] = Finding("as_expected", repr(served))
    else:
        found["served_model_name"] = Finding(
            "info", probe.redact(repr(served)), "handled: quotas are keyed on the id asked for"
        )
    usage = data.get("usage")
    found["usage"] = (
        Finding("as_expected", probe.redact(_usage_text(usage)))
        if _full_usage(usage)
        else Finding("different", probe.redact(f"usage: {usage!r}"))
    )
    return found


def _regime(probe: Probe, headers: Mapping[str, str], after: PointsBalance | None) -> Findings:
    names = list(RATELIMIT_HEADERS.values())
    present = {name: headers[name] for name in names if name in headers}
    shown = ", ".join(f"{name}: {value}" for name, value in present.items())
    before = probe.before
    fell: bool | None = None
    moved = ""
    if before is not None and after is not None:
        fell = after.available < before.available
        moved = f"; the balance went {before.available} -> {after.available}"
    if fell is None:
        note = "the balance could not be read: told by the headers alone, as the package does"
        regime = (
            Finding("info", f"daily-counter regime (headers){moved}", note)
            if present
            else Finding("as_expected", "points regime (no header)", note)
        )
    elif fell:
        regime = Finding("as_expected", f"points regime{moved}")
    elif present:
        regime = Finding(
            "info",
            f"daily-counter regime: headers sent{moved}",
            "the older regime (§2b), handled by the package: an old deployment or another site?",
        )
    else:
        regime = Finding(
            "info",
            f"neither: no header{moved}",
            "a call that cost nothing and sent no header (a free model or a :Provider id?)",
        )
    if not present:
        headers_found = Finding("as_expected", "none")
    elif len(present) < len(names):
        headers_found = Finding("different", f"only some: {shown}")
    elif fell:
        headers_found = Finding(
            "different",
            shown,
            "sent while the call cost points: the package would mark quotas from counters "
            "that the points regime does not enforce",
        )
    else:
        headers_found = Finding("as_expected", f"all four (daily-counter regime): {shown}")
    return {"regime": regime, "ratelimit_headers": headers_found}


def _full_usage(usage: Any) -> bool:
    return isinstance(usage, Mapping) and all(
        isinstance(usage.get(name), int) for name in _USAGE_FIELDS
    )


def _zero_usage(usage: Any) -> bool:
    return isinstance(usage, Mapping) and not any(usage.get(name) for name in _USAGE_FIELDS)


def _usage_text(usage: Any) -> str:
    if not isinstance(usage, Mapping):
        return repr(usage)
    return ", ".join(f"{name} {usage.get(name)}" for name in _USAGE_FIELDS)


_STREAM_FACTS: Final = ("stream_usage", "stream_delta_usage")


def check_stream(probe: Probe, model: str) -> Findings:
    """One streamed call with ``include_usage``: where the usage comes, what deltas carry."""
    body = {
        "model": model,
        "messages": _ASK,
        "max_tokens": 8,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    deltas = zero = 0
    real_on_delta: Any = None
    last_usage: Any = None
    on_finish: Any = None
    try:
        with probe.client.stream(_PATH, body, model=model) as events:
            probe.redact.request_id(events.request_id)
            for payload in events:
                if not isinstance(payload, Mapping):
                    continue
                usage = payload.get("usage")
                choices = payload.get("choices")
                if isinstance(choices, list) and choices:
                    finish = isinstance(choices[-1], Mapping) and choices[-1].get("finish_reason")
                    deltas += 1
                    if usage is None or _zero_usage(usage):
                        zero += usage is not None
                    elif finish:
                        on_finish = usage
                    else:
                        real_on_delta = usage
                elif _full_usage(usage) and not _zero_usage(usage):
                    last_usage = usage
    except APIError as error:
        return not_checked(_STREAM_FACTS, _failure(probe, error))
    found: Findings = {}
    if last_usage is not None:
        found["stream_usage"] = Finding(
            "as_expected", f"a last chunk with choices: [] and {_usage_text(last_usage)}"
        )
    elif on_finish is not None:
        found["stream_usage"] = Finding(
            "different", f"usage on the finish_reason chunk: {_usage_text(on_finish)}"
        )
    else:
        found["stream_usage"] = Finding("different", "no usage chunk, although include_usage")
    if real_on_delta is not None:
        found["stream_delta_usage"] = Finding(
            "different", f"a delta carried {_usage_text(real_on_delta)}"
        )
    else:
        seen = f"a zero usage on {zero} of {deltas} deltas" if zero else f"none on {deltas} deltas"
        found["stream_delta_usage"] = Finding("as_expected", seen)
    return found


def _thinking_check(fact: str, matches: Callable[[str], bool]) -> Callable[[Probe, str], Findings]:
    def check(probe: Probe, model: str) -> Findings:
        try:
            _call(probe, {"model": model, "messages": _ASK, "max_tokens": 8})
        except APIError as error:
            return _thinking_answer(probe, fact, matches, error)
        return {
            fact: Finding(
                "different",
                "200: a non-streaming call was answered",
                "the model may not need streaming now",
            )
        }

    return check


def _thinking_answer(
    probe: Probe, fact: str, matches: Callable[[str], bool], error: APIError
) -> Findings:
    probe.redact.request_id(error.request_id)
    if isinstance(error, ThinkingModeError):
        text = " ".join(error.message.split()).lower()
        seen = probe.redact(f"{error.status_code} {error.message}")
        if matches(text):
            return {fact: Finding("as_expected", seen)}
        return {fact: Finding("as_expected", seen, "the other thinking text; still handled")}
    if error.status_code == 400 and not isinstance(error, ModelNotFoundError):
        seen = probe.redact(f"{error.status_code} {error.message}")
        note = (
            f"read as {type(error).__name__}, not ThinkingModeError: a thinking model that the "
            "family rules miss would fail instead of being streamed"
        )
        return {fact: Finding("different", seen, note)}
    return not_checked((fact,), _failure(probe, error))


check_hybrid = _thinking_check(
    "hybrid_thinking_400", lambda text: _wording.has_any(text, _wording.HYBRID_THINKING_PHRASES)
)
check_thinking_only = _thinking_check(
    "thinking_only_400", lambda text: all(part in text for part in _wording.THINKING_ONLY_PARTS)
)

_SCHEMA: Final = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
        },
    },
}


def check_json_schema(probe: Probe, model: str) -> Findings:
    """Does ``json_schema`` still answer ``choices: null``?"""
    body = {"model": model, "messages": _ASK, "max_tokens": 16, "response_format": _SCHEMA}
    try:
        answer = _call(probe, body)
    except APIError as error:
        return not_checked(("json_schema",), _failure(probe, error))
    data = answer.data if isinstance(answer.data, Mapping) else {}
    choices = data.get("choices")
    if not choices:
        shown = json.dumps(choices)
        return {"json_schema": Finding("as_expected", f"200 with choices: {shown}")}
    first = choices[0] if isinstance(choices, list) else choices
    message = first.get("message") if isinstance(first, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else first
    return {
        "json_schema": Finding(
            "different",
            probe.redact(f"200 with an answer: {content!r}"),
            "native structured output may work now (the profile says it does not)",
        )
    }


def check_tools(probe: Probe, model: str) -> Findings:
    """A streamed tool call, assembled by the chat model's own stream reader."""
    from langchain_core.messages import AIMessageChunk

    from langchain_modelscope._chat_stream import StreamState

    body = {
        "model": model,
        "messages": _TOOL_ASK,
        "tools": _TOOLS,
        "tool_choice": "auto",
        "stream": True,
        "max_tokens": 256,
    }
    state = StreamState()
    merged: AIMessageChunk | None = None
    pieces = without_index = 0
    try:
        with probe.client.stream(_PATH, body, model=model) as events:
            probe.redact.request_id(events.request_id)
            for payload in events:
                pieces_here, bare = _tool_pieces(payload)
                pieces += pieces_here
                without_index += bare
                chunk = state.feed(payload)
                if chunk is not None:
                    message = chunk.message
                    assert isinstance(message, AIMessageChunk)
                    merged = message if merged is None else merged + message
    except APIError as error:
        return not_checked(("tool_call_deltas",), _failure(probe, error))
    if merged is None or not (merged.tool_calls or merged.invalid_tool_calls):
        note = "the model answered without calling a tool (tool_choice auto)"
        return not_checked(("tool_call_deltas",), note)
    names = ", ".join(str(call["name"]) for call in merged.tool_calls)
    shape = f"{pieces} pieces" + (f", {without_index} without index" if without_index else "")
    if merged.invalid_tool_calls:
        bad = merged.invalid_tool_calls[0]
        seen = probe.redact(f"{shape}; not assembled: {bad.get('name')!r} {bad.get('args')!r}")
        return {"tool_call_deltas": Finding("different", seen)}
    calls = f"{len(merged.tool_calls)} call(s) ({names})"
    return {"tool_call_deltas": Finding("as_expected", f"{calls} from {shape}")}


def _tool_pieces(payload: Any) -> tuple[int, int]:
    """Tool-call pieces in one event, and how many came without an ``index``."""
    choices = payload.get("choices") if isinstance(payload, Mapping) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        return 0, 0
    delta = choices[0].get("delta")
    calls = delta.get("tool_calls") if isinstance(delta, Mapping) else None
    if not isinstance(calls, list):
        return 0, 0
    bare = sum(1 for call in calls if isinstance(call, Mapping) and "index" not in call)
    return len(calls), bare


@dataclass(frozen=True)
class PaidCheck:
    """One paid check: what it learns, the facts it informs, how it picks its model."""

    name: str
    what: str
    facts: tuple[str, ...]
    pick: Callable[[Sequence[str]], str | None]
    run: Callable[[Probe, str], Findings]
    #: why it cannot run when `pick` finds no model; None: not needed then (left out)
    no_model: str | None


#: The paid checks, in the order they run (and are cut by the budget).
PAID_CHECKS: Final = (
    PaidCheck(
        "default_model_call",
        "a plain call to the unlisted default model",
        ("default_model",),
        pick_unlisted_default,
        check_default,
        None,
    ),
    PaidCheck(
        "plain",
        "a plain call: regime, rate-limit headers, served name, usage",
        _PLAIN_FACTS,
        pick_probe_model,
        check_plain,
        "no listed chat model to call",
    ),
    PaidCheck(
        "stream",
        "a streamed call with include_usage",
        _STREAM_FACTS,
        pick_probe_model,
        check_stream,
        "no listed chat model to call",
    ),
    PaidCheck(
        "hybrid_thinking",
        "a non-streaming call to a hybrid thinking model (answers 400)",
        ("hybrid_thinking_400",),
        pick_hybrid,
        check_hybrid,
        "no hybrid thinking (Qwen3) model is listed",
    ),
    PaidCheck(
        "json_schema",
        "a call with response_format json_schema",
        ("json_schema",),
        pick_probe_model,
        check_json_schema,
        "no listed chat model to call",
    ),
    PaidCheck(
        "tools",
        "a streamed call offering two tools",
        ("tool_call_deltas",),
        pick_probe_model,
        check_tools,
        "no listed chat model to call",
    ),
    PaidCheck(
        "thinking_only",
        "a non-streaming call to a thinking-only model (answers 400)",
        ("thinking_only_400",),
        pick_thinking_only,
        check_thinking_only,
        "no thinking-only model is listed",
    ),
)
