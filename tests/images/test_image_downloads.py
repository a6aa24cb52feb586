"""A failed image download reads as the package's connection error, chaining nothing."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import httpx
import pytest

from langchain_modelscope._images_download import afetch, fetch
from langchain_modelscope._images_task import GeneratedImages
from langchain_modelscope.errors import APIConnectionError


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _result() -> GeneratedImages:
    now = datetime.now(timezone.utc)
    url = f"http://127.0.0.1:{_closed_port()}/image.png"
    return GeneratedImages("task-1", "Tongyi-MAI/Z-Image-Turbo", (url,), 7, now, now, 1)


def _check(error: APIConnectionError) -> None:
    assert error.host == "127.0.0.1"
    assert error.transport_error == "ConnectError"
    assert error.__cause__ is None
    assert error.__context__ is None


def test_a_download_that_cannot_connect_chains_nothing() -> None:
    with pytest.raises(APIConnectionError) as caught:
        fetch(_result(), True, httpx.Timeout(2.0), "Tongyi-MAI/Z-Image-Turbo")
    _check(caught.value)


async def test_an_async_download_that_cannot_connect_chains_nothing() -> None:
    with pytest.raises(APIConnectionError) as caught:
        await afetch(_result(), True, httpx.Timeout(2.0), "Tongyi-MAI/Z-Image-Turbo")
    _check(caught.value)
