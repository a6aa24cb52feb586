"""Downloading a finished task's images: plain GETs on the storage host, never with the token.

``download=True`` keeps the bytes in memory; a directory streams each image into a file
named after the task. The loop is written for sync and async alike: :class:`_Downloads` opens
each image's sink and names a transport failure for the user, the two loops only read bytes.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from langchain_modelscope._answers import TransportErrors
from langchain_modelscope._images_task import GeneratedImages
from langchain_modelscope._pools import shared_async_pools, shared_sync_client
from langchain_modelscope.errors import (
    APIStatusError,
    InvalidImageRequestError,
)

#: Where a result's images go: nowhere (False), memory (True) or a directory.
Target = bool | Path


def fetch(
    result: GeneratedImages, target: Target, timeout: httpx.Timeout, model: str
) -> GeneratedImages:
    """``result`` with its images downloaded to ``target`` (unchanged for ``False``)."""
    if target is False:
        return result
    client = shared_sync_client(timeout)
    downloads = _Downloads(result, target, model)
    for index, url in enumerate(result.urls):
        with (
            downloads.transport(url),
            client.stream("GET", url) as response,
            downloads.sink(index, url, response) as sink,
        ):
            for chunk in response.iter_bytes():
                sink.write(chunk)
    return downloads.result()


async def afetch(
    result: GeneratedImages, target: Target, timeout: httpx.Timeout, model: str
) -> GeneratedImages:
    """Async :func:`fetch`."""
    if target is False:
        return result
    downloads = _Downloads(result, target, model)
    with shared_async_pools(timeout).lease() as client:
        for index, url in enumerate(result.urls):
            with downloads.transport(url):
                async with client.stream("GET", url) as response:
                    with downloads.sink(index, url, response) as sink:
                        async for chunk in response.aiter_bytes():
                            sink.write(chunk)
    return downloads.result()


class _Downloads:
    """One result's downloads: a sink per image, and the errors a download can raise."""

    def __init__(self, result: GeneratedImages, target: Target, model: str) -> None:
        self._result = result
        self._target = target
        self._model = model
        self._sinks: list[_Sink] = []

    def transport(self, url: str) -> TransportErrors:
        """A transport failure on ``url`` as this package's connection or timeout error (the
        core's one mapping: nothing chained)."""
        return TransportErrors.of_request(url, self._model)

    @contextmanager
    def sink(self, index: int, url: str, response: httpx.Response) -> Iterator[_Sink]:
        """Check the answer, then where its bytes go (a file is closed whatever happens)."""
        _check_download(response, url, self._model)
        sink = _Sink(self._target, self._result.task_id, index, url, response)
        self._sinks.append(sink)
        try:
            yield sink
        finally:
            sink.close()

    def result(self) -> GeneratedImages:
        """The result with the bytes (memory) or the paths (files) of every image."""
        paths = tuple(s.path for s in self._sinks if s.path is not None)
        images = tuple(bytes(s.buffer) for s in self._sinks if s.path is None)
        return replace(self._result, images=images, paths=paths)


def download_target(download: Any) -> Target:
    """Where ``download=`` sends the images, checked before any request is sent."""
    if download is True or download is False:
        return bool(download)
    if isinstance(download, str | os.PathLike):
        path = Path(download)
        if path.exists() and not path.is_dir():
            raise InvalidImageRequestError(
                f"download must be True or a directory, {str(path)!r} is a file",
                parameter="download",
            )
        return path
    raise InvalidImageRequestError(
        f"download must be a bool or a directory path, got {type(download).__name__}",
        parameter="download",
    )


def _check_download(response: httpx.Response, url: str, model: str) -> None:
    if response.status_code >= 400:
        response.close()
        raise APIStatusError(
            f"downloading {httpx.URL(url).copy_with(query=None)} answered {response.status_code}",
            status_code=response.status_code,
            model=model,
        )


class _Sink:
    """Where one image's bytes go: memory, or a file named after the task (streamed)."""

    def __init__(
        self, target: Target, task_id: str, index: int, url: str, response: httpx.Response
    ) -> None:
        self.buffer = bytearray()
        self.path: Path | None = None
        self._file: Any = None
        if isinstance(target, Path):
            target.mkdir(parents=True, exist_ok=True)
            self.path = target / f"{task_id}-{index}{_extension(url, response)}"
            self._file = self.path.open("wb")

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            self.buffer.extend(chunk)
        else:
            self._file.write(chunk)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _extension(url: str, response: httpx.Response) -> str:
    suffix = Path(httpx.URL(url).path).suffix
    if suffix and len(suffix) <= 5:
        return suffix
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    return mimetypes.guess_extension(content_type) or ".png"
