"""Issues 12.3 and 12.5: an ugly body stays out of messages (kept whole on ``.body``), a 200 whose
message is null is the empty-response error, and a 404 from a base URL without ``/v1`` says the
base URL is probably wrong."""

from __future__ import annotations

import logging

import httpx
import pytest

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import (
    EmptyResponseError,
    ModelNotFoundError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)
from langchain_modelscope.testing import ModelScopeEmulator
from tests.hardening.support import Wire

pytestmark = pytest.mark.disable_socket

#: A proxy's 502 page of about 60 KiB.
PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>"
    + "body{font-family:sans-serif}" * 2200
    + "</style></head><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
)
SHORT = 500  # "at most a few hundred characters"


def _html(status: int) -> Wire:
    return Wire(
        lambda request: httpx.Response(
            status, text=PAGE, headers={"content-type": "text/html; charset=utf-8"}
        )
    )


def test_an_html_502_is_named_not_quoted(caplog: pytest.LogCaptureFixture) -> None:
    assert len(PAGE) > 60_000
    model = _html(502).chat(max_retries=2)
    with (
        caplog.at_level(logging.WARNING, logger="langchain_modelscope"),
        pytest.raises(ServerError) as caught,
    ):
        model.invoke("hi")
    error = caught.value
    assert error.status_code == 502
    assert error.body == PAGE
    assert "an HTML page, probably from a proxy" in str(error)
    assert '"502 Bad Gateway"' in str(error)
    for text in (str(error), repr(error), error.message):
        assert len(text) < SHORT
        assert "font-family" not in text
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert all(len(line) < SHORT for line in retries)


def test_an_html_429_is_short_too() -> None:
    with pytest.raises(RateLimitError) as caught:
        _html(429).chat().invoke("hi")
    assert len(str(caught.value)) < SHORT
    assert caught.value.body == PAGE


def test_a_long_text_is_cut_and_kept_whole() -> None:
    text = "upstream said: " + "x" * 5000
    wire = Wire(lambda request: httpx.Response(503, json={"error": {"message": text}}))
    with pytest.raises(ServerError) as caught:
        wire.chat().invoke("hi")
    assert len(str(caught.value)) < SHORT
    assert "5015 characters" in str(caught.value)
    assert caught.value.body == text


def test_an_html_200_is_named_not_quoted() -> None:
    wire = Wire(
        lambda request: httpx.Response(200, text=PAGE, headers={"content-type": "text/html"})
    )
    with pytest.raises(ResponseDecodeError) as caught:
        wire.chat().invoke("hi")
    assert "an HTML page" in str(caught.value)
    assert len(str(caught.value)) < SHORT
    assert caught.value.body == PAGE


def test_a_null_message_is_the_empty_response_error() -> None:
    answer = {
        "id": "c",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": None, "finish_reason": "stop"}],
    }
    wire = Wire(lambda request: httpx.Response(200, json=answer))
    with pytest.raises(EmptyResponseError, match="message is null"):
        wire.chat().invoke("hi")


@pytest.mark.enable_socket
def test_a_base_url_without_v1_says_so(modelscope_emulator: ModelScopeEmulator) -> None:
    base = modelscope_emulator.base_url
    assert base.endswith("/v1")
    model = ChatModelScope(
        api_key=modelscope_emulator.token, base_url=base[: -len("/v1")], max_retries=0
    )
    with pytest.raises(ModelNotFoundError) as caught:
        model.invoke("hi")
    text = str(caught.value)
    assert "base URL is probably wrong" in text
    assert "/v1" in text
    assert "model id" not in text  # the model is not the mistake


def test_a_404_on_a_right_base_url_still_points_at_the_url() -> None:
    wire = Wire(lambda request: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(ModelNotFoundError, match="base URL is probably wrong"):
        wire.chat().invoke("hi")
