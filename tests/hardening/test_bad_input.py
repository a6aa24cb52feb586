# ruff: noqa: E501  (the table reads best one case a line)
"""Issue 12.2: bad input is refused before any request, naming the field, the value and what is
allowed; constructor and call go through one check. The ranges here are OpenAI's
chat-completions ranges, written out again (not imported) so that a wrong table is caught."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_modelscope.errors import InvalidParameterError
from tests.hardening.support import Wire

pytestmark = pytest.mark.disable_socket

#: (field, lowest, highest, lowest excluded)
RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (0, 2, False),
    "top_p": (0, 1, True),
    "presence_penalty": (-2, 2, False),
    "frequency_penalty": (-2, 2, False),
}


def _tool_history(args: dict[str, Any]) -> list[Any]:
    return [
        HumanMessage("when?"),
        AIMessage("", tool_calls=[{"name": "book", "args": args, "id": "call_1"}]),
        ToolMessage("booked", tool_call_id="call_1"),
    ]


# (label, how to fail, the error type, words the message must hold)
Case = tuple[str, Callable[[Wire], Any], type[BaseException], tuple[str, ...]]
CASES: list[Case] = [
    # the constructor
    ("ctor temperature=5.0", lambda w: w.chat(temperature=5.0), ValueError, ("temperature", "5.0", "0 to 2")),
    ("ctor temperature=-1", lambda w: w.chat(temperature=-1), ValueError, ("temperature", "-1", "0 to 2")),
    ("ctor temperature=nan", lambda w: w.chat(temperature=math.nan), ValueError, ("temperature", "nan")),
    ("ctor temperature=inf", lambda w: w.chat(temperature=math.inf), ValueError, ("temperature", "inf")),
    ("ctor temperature='hot'", lambda w: w.chat(temperature="hot"), ValueError, ("temperature", "hot")),
    ("ctor top_p=1.5", lambda w: w.chat(top_p=1.5), ValueError, ("top_p", "1.5", "more than 0 to 1")),
    ("ctor top_p=0", lambda w: w.chat(top_p=0), ValueError, ("top_p", "0", "more than 0")),
    ("ctor presence_penalty=5", lambda w: w.chat(presence_penalty=5), ValueError, ("presence_penalty", "5", "-2 to 2")),
    ("ctor frequency_penalty=-2.5", lambda w: w.chat(frequency_penalty=-2.5), ValueError, ("frequency_penalty", "-2.5")),
    ("ctor max_tokens=0", lambda w: w.chat(max_tokens=0), ValueError, ("max_tokens", "0", "at least 1")),
    ("ctor max_tokens=-5", lambda w: w.chat(max_tokens=-5), ValueError, ("max_tokens", "-5")),
    ("ctor thinking_budget=0", lambda w: w.chat(thinking_budget=0), ValueError, ("thinking_budget", "0")),
    ("ctor n=0 (model_kwargs)", lambda w: w.chat(model_kwargs={"n": 0}), ValueError, ("n=0", "1 to 128")),
    ("ctor top_logprobs=99", lambda w: w.chat(model_kwargs={"top_logprobs": 99}), ValueError, ("top_logprobs", "0 to 20")),
    # the call
    ("call temperature='hot'", lambda w: w.chat().invoke("hi", temperature="hot"), ValueError, ("temperature='hot'", "a number")),
    ("call temperature=5", lambda w: w.chat().invoke("hi", temperature=5), ValueError, ("temperature=5", "0 to 2")),
    ("call temperature=True", lambda w: w.chat().invoke("hi", temperature=True), ValueError, ("temperature=True",)),
    ("call max_tokens=0", lambda w: w.chat().invoke("hi", max_tokens=0), ValueError, ("max_tokens=0", "at least 1")),
    ("call max_tokens=1.5", lambda w: w.chat().invoke("hi", max_tokens=1.5), ValueError, ("max_tokens=1.5", "integer")),
    ("call top_p=0", lambda w: w.chat().invoke("hi", top_p=0), ValueError, ("top_p=0",)),
    ("call n=0", lambda w: w.chat().invoke("hi", n=0), ValueError, ("n=0",)),
    ("call presence_penalty=-2.5", lambda w: w.chat().invoke("hi", presence_penalty=-2.5), ValueError, ("presence_penalty",)),
    ("call frequency_penalty=inf", lambda w: w.chat().invoke("hi", frequency_penalty=math.inf), ValueError, ("frequency_penalty",)),
    ("call seed=1.5", lambda w: w.chat().invoke("hi", seed=1.5), ValueError, ("seed=1.5", "integer")),
    ("call logprobs='yes'", lambda w: w.chat().invoke("hi", logprobs="yes"), ValueError, ("logprobs", "True or False")),
    ("call enable_thinking='no'", lambda w: w.chat().invoke("hi", enable_thinking="no"), ValueError, ("enable_thinking",)),
    ("call stop=[1]", lambda w: w.chat().invoke("hi", stop=[1]), ValueError, ("stop",)),
    ("bind temperature=9", lambda w: w.chat().bind(temperature=9).invoke("hi"), ValueError, ("temperature=9",)),
    ("stream max_tokens=0", lambda w: list(w.chat().stream("hi", max_tokens=0)), ValueError, ("max_tokens=0",)),
    ("invoke([])", lambda w: w.chat().invoke([]), ValueError, ("no messages",)),
    ("stream([])", lambda w: list(w.chat().stream([])), ValueError, ("no messages",)),
    ("embed_documents('hello')", lambda w: w.embeddings().embed_documents("hello"), TypeError, ("str", "'hello'", "list")),
    ("embed_documents(b'hello')", lambda w: w.embeddings().embed_documents(b"hello"), TypeError, ("bytes",)),
    ("embed_documents(['ok', 3])", lambda w: w.embeddings().embed_documents(["ok", 3]), ValueError, ("text 1", "int")),
    ("embed_documents(['', 'x'])", lambda w: w.embeddings().embed_documents(["", "x"]), ValueError, ("text 0", "empty")),
    ("tool arg datetime", lambda w: w.chat().invoke(_tool_history({"when": datetime(2026, 1, 1)})), TypeError, ("'when'", "'book'", "datetime", "JSON")),
    ("tool arg set", lambda w: w.chat().invoke(_tool_history({"seats": {1, 2}})), TypeError, ("'seats'", "set")),
    ("tool arg nan", lambda w: w.chat().invoke(_tool_history({"price": math.nan})), TypeError, ("'price'",)),
]  # fmt: skip


@pytest.mark.parametrize(("label", "act", "kind", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_request(
    label: str, act: Callable[[Wire], Any], kind: type[BaseException], words: tuple[str, ...]
) -> None:
    wire = Wire()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(kind) as caught:
            act(wire)
    for word in words:
        assert word in str(caught.value), (label, str(caught.value))
    assert wire.requests == [], label


async def test_async_calls_are_checked_too() -> None:
    wire = Wire()
    model = wire.chat()
    with pytest.raises(InvalidParameterError):
        await model.ainvoke("hi", temperature=-0.1)
    with pytest.raises(ValueError, match="no messages"):
        await model.ainvoke([])
    with pytest.raises(TypeError):
        await wire.embeddings().aembed_documents("hello")  # type: ignore[arg-type]
    assert wire.requests == []


def test_constructor_and_call_raise_the_same_typed_error() -> None:
    wire = Wire()
    with pytest.raises(InvalidParameterError) as at_construction:
        wire.chat(temperature=5.0)
    with pytest.raises(InvalidParameterError) as at_call:
        wire.chat().invoke("hi", temperature=5.0)
    for error in (at_construction.value, at_call.value):
        assert (error.name, error.value) == ("temperature", 5.0)
        assert error.allowed == "a number from 0 to 2"


def test_unknown_call_names_warn_once_and_are_still_sent() -> None:
    wire = Wire()
    model = wire.chat()
    with pytest.warns(UserWarning, match="'temprature_hardening'"):
        model.invoke("hi", temprature_hardening=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.invoke("hi", temprature_hardening=0.5)  # once is enough
    import json

    assert all(json.loads(r.content)["temprature_hardening"] == 0.5 for r in wire.requests)


def test_known_call_names_do_not_warn_and_edges_are_sent() -> None:
    wire = Wire()
    model = wire.chat()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.invoke(
            "hi",
            temperature=0,
            top_p=1,
            presence_penalty=-2,
            frequency_penalty=2,
            max_tokens=1,
            n=1,
            seed=-3,
            top_k=20,
            enable_thinking=False,
            response_format={"type": "json_object"},
            user="u",
        )
        model.invoke("hi", temperature=2.0, top_p=1e-9)
    assert len(wire.requests) == 2


def _allowed(name: str, value: float) -> bool:
    low, high, open_low = RANGES[name]
    if not math.isfinite(value):
        return False
    return (low < value if open_low else low <= value) and value <= high


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(RANGES)),
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=-3, max_value=3),
        st.integers(min_value=-4, max_value=4),
        st.sampled_from([0.0, 1.0, 2.0, -2.0, 1e-12, 2.0000001, -2.0000001]),
    ),
    at_call=st.booleans(),
)
def test_property_a_value_is_sent_exactly_when_the_api_allows_it(
    name: str, value: float, at_call: bool
) -> None:
    wire = Wire()

    def call() -> None:
        if at_call:
            wire.chat().invoke("hi", **{name: value})
        else:
            wire.chat(**{name: value}).invoke("hi")

    if _allowed(name, value):
        call()
        assert len(wire.requests) == 1
    else:
        with pytest.raises(InvalidParameterError, match=name):
            call()
        assert wire.requests == []
