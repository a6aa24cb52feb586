"""What a chat call sends: the body built from the model's fields, its extras and the call's
keyword arguments, with OpenAI's names ModelScope does not take renamed (modelscope-api.md §4).

Pure functions of their arguments, so `ChatModelScope` stays the public class and its shells.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Final

from langchain_core.messages import BaseMessage

from langchain_modelscope._chat_messages import messages_to_wire
from langchain_modelscope._chat_params import check_params, warn_unknown_call_params

__all__ = [
    "BODY_FIELDS",
    "LOCAL_KWARGS",
    "build_body",
    "constructor_wire_names",
    "merge",
    "move_unknown_kwargs",
    "streaming_body",
]

#: Call keyword arguments that steer the chat model and are never sent.
LOCAL_KWARGS: Final = frozenset(
    {"stream", "stream_usage", "ls_structured_output_format", "structured_output_format"}
)
#: Fields sent as body parameters of the same name (``stop`` aside: an empty list is unset).
BODY_FIELDS: Final = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "enable_thinking",
    "thinking_budget",
)
#: Body keys ModelScope does not take, and the ones it takes instead (modelscope-api.md §4).
_WIRE_NAMES: Final = {"max_completion_tokens": "max_tokens"}


def merge(params: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """``params.update(extra)``, with OpenAI names ModelScope does not take renamed."""
    for key, value in extra.items():
        params[_WIRE_NAMES.get(key, key)] = value


def constructor_wire_names(values: dict[str, Any]) -> dict[str, Any]:
    """``max_completion_tokens=`` (OpenAI's newer name) sets ``max_tokens``, the one sent."""
    if "max_completion_tokens" not in values:
        return values
    values = dict(values)
    value = values.pop("max_completion_tokens")
    other = values.get("max_tokens")
    if other is not None and other != value:
        raise ValueError(
            f"max_completion_tokens={value!r} and max_tokens={other!r} disagree; ModelScope "
            "takes max_tokens only: pass that one"
        )
    values["max_tokens"] = value
    return values


def move_unknown_kwargs(values: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Unknown constructor arguments go to ``model_kwargs`` with a warning rather than vanish."""
    values = constructor_wire_names(values)
    model_kwargs = values.get("model_kwargs")
    if isinstance(model_kwargs, Mapping):
        clash = sorted(k for k in model_kwargs if k in known)
        if clash:
            raise ValueError(
                f"{', '.join(clash)} must be passed to ChatModelScope directly, "
                "not inside model_kwargs"
            )
    unknown = [k for k in values if k not in known]
    if not unknown:
        return values
    values = dict(values)
    extra = dict(model_kwargs or {})
    for name in unknown:
        if name in extra:
            raise ValueError(f"{name} was given both directly and in model_kwargs")
        warnings.warn(
            f"{name!r} is not a ChatModelScope parameter: it is sent in the request body "
            f"as model_kwargs[{name!r}]. Pass it in model_kwargs (or extra_body) to say "
            "so explicitly.",
            UserWarning,
            stacklevel=5,
        )
        extra[name] = values.pop(name)
    values["model_kwargs"] = extra
    return values


def build_body(
    model: str,
    params: Mapping[str, Any],
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body without streaming flags: the model's ``params``, then the call's own."""
    if not messages:
        raise ValueError(
            "no messages to send: give at least one message (a str, or a list with a human message)"
        )
    body: dict[str, Any] = {"model": model, **params}
    call: dict[str, Any] = {}
    merge(call, {key: value for key, value in kwargs.items() if key not in LOCAL_KWARGS})
    if stop:
        call["stop"] = stop
    if call:
        check_params(call, "at call time")
        warn_unknown_call_params(call, stacklevel=3)
        body.update(call)
    if not body.get("model") or not isinstance(body["model"], str):
        raise ValueError(f"model must be a non-empty ModelScope model id, got {body['model']!r}")
    body["messages"] = messages_to_wire(messages)
    body.pop("stream", None)
    body.pop("stream_options", None)
    return body


def streaming_body(body: dict[str, Any]) -> dict[str, Any]:
    """Always asks for the usage: without it the service sends only zero placeholders
    (§4); ``stream_usage=False`` keeps it off the chunks instead (`StreamState`)."""
    return {**body, "stream": True, "stream_options": {"include_usage": True}}
