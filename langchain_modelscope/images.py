"""Image generation on ModelScope API-Inference: submit a task, poll it, hand back the URLs.

The service runs image models asynchronously (modelscope-api.md §1): ``POST
/v1/images/generations`` with ``X-ModelScope-Async-Mode: true`` answers a ``task_id`` (its
``task_status: SUCCEED`` only means *accepted*), then ``GET /v1/tasks/{task_id}`` with
``X-ModelScope-Task-Type: image_generation`` answers ``PENDING``/``RUNNING``/``PROCESSING``
until ``SUCCEED`` (``output_images``) or ``FAILED`` (``errors: {code, message}``).

`ModelScopeImageGenerator` writes that loop once: parameters are checked before any request,
the polling schedule and the reading of each answer live in `_TaskPoll` and are driven from
`generate` and `agenerate` alike, and the submit goes through the same classification and
quota ledger as chat (a spent account is not asked again). Polls cost no points.

Usage::

    generator = ModelScopeImageGenerator(model="Tongyi-MAI/Z-Image-Turbo")
    result = generator.generate("a red panda in the snow", size="1024x1024")
    result.urls, result.task_id, result.seed, result.elapsed
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Final, cast

import httpx
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from langchain_modelscope._client import (
    DEFAULT_MAX_RETRIES,
    APIResponse,
    ModelScopeClient,
    resolve_api_key,
    resolve_base_url,
    to_timeout,
)
from langchain_modelscope._core_owner import TokenlessPickling
from langchain_modelscope._fallback_candidates import CandidateInfo, Slot
from langchain_modelscope._fallback_step import DEFAULT_RULES
from langchain_modelscope._fallback_walk import Walk
from langchain_modelscope._governor import MaxConcurrentRequests
from langchain_modelscope._images_errors import (
    ContentRefusedError,
    ImageTaskCancelledError,
    ImageTaskFailedError,
    ImageTaskTimeoutError,
    InvalidImageRequestError,
)
from langchain_modelscope._pools import shared_async_pools, shared_sync_client
from langchain_modelscope.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ModelNotFoundError,
    QuotaExceededError,
    QuotaScope,
    ResponseDecodeError,
)
from langchain_modelscope.quota import (
    QuotaEntry,
    QuotaLedger,
    account_fingerprint,
    get_default_ledger,
)

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "ContentRefusedError",
    "GeneratedImages",
    "ImageTaskCancelledError",
    "ImageTaskFailedError",
    "ImageTaskTimeoutError",
    "InvalidImageRequestError",
    "ModelScopeImageGenerator",
    "max_image_side",
]

#: Seen served in late 2026 (modelscope-api.md §5); ids churn, pass ``model=`` to change it.
DEFAULT_IMAGE_MODEL: Final = "Tongyi-MAI/Z-Image-Turbo"
ASYNC_HEADER: Final = {"X-ModelScope-Async-Mode": "true"}
TASK_HEADER: Final = {"X-ModelScope-Task-Type": "image_generation"}
MAX_PROMPT_CHARS: Final = 2000
MAX_SEED: Final = 2**31 - 1
#: Largest side by family (§1); a model of no known family gets the largest known range.
_FAMILY_MAX_SIDE: Final = (("flux", 1024), ("qwen-image", 1664), ("z-image", 2048))
_DEFAULT_MAX_SIDE: Final = 2048
_DONE_STATES: Final = frozenset({"SUCCEED", "FAILED"})
_REFUSAL_WORDS: Final = ("inappropriate",)


def max_image_side(model: str) -> int:
    """The largest width or height the model's family accepts (FLUX 1024, Qwen-Image 1664,
    SD and Z-Image 2048)."""
    name = model.split(":", 1)[0].rsplit("/", 1)[-1].lower()
    for family, side in _FAMILY_MAX_SIDE:
        if family in name:
            return side
    return _DEFAULT_MAX_SIDE


# --------------------------------------------------------------------------- checks


def _check_text(name: str, value: Any, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidImageRequestError(
            f"{name} must be a string, got {type(value).__name__}", parameter=name
        )
    if required and not value.strip():
        raise InvalidImageRequestError(f"{name} must not be empty", parameter=name)
    if len(value) >= MAX_PROMPT_CHARS:
        raise InvalidImageRequestError(
            f"{name} must be under {MAX_PROMPT_CHARS} characters, got {len(value)}",
            parameter=name,
        )
    return value


def _check_size(model: str, size: Any) -> str | None:
    if size is None:
        return None
    if isinstance(size, tuple | list) and len(size) == 2:
        width, height = size
    elif isinstance(size, str) and size.lower().count("x") == 1:
        raw_width, raw_height = size.lower().split("x")
        try:
            width, height = int(raw_width.strip()), int(raw_height.strip())
        except ValueError:
            width = height = None
    else:
        width = height = None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (width, height)):
        raise InvalidImageRequestError(
            f"size must be 'WIDTHxHEIGHT' (e.g. '1024x1024'), got {size!r}", parameter="size"
        )
    limit = max_image_side(model)
    if not (0 < width <= limit and 0 < height <= limit):
        raise InvalidImageRequestError(
            f"size {width}x{height} is outside what {model} accepts: each side 1..{limit}",
            parameter="size",
        )
    return f"{width}x{height}"


def _check_number(name: str, value: Any, *, integer: bool, low: float, high: float | None) -> Any:
    if value is None:
        return None
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "an integer" if integer else "a number"
        raise InvalidImageRequestError(
            f"{name} must be {what}, got {type(value).__name__}", parameter=name
        )
    number = float(cast("float", value))
    if number < low or (high is not None and number > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise InvalidImageRequestError(f"{name} must be {bound}, got {value}", parameter=name)
    return value


def build_request(
    model: str,
    prompt: Any,
    *,
    negative_prompt: Any = None,
    size: Any = None,
    seed: Any = None,
    steps: Any = None,
    guidance: Any = None,
    image_url: Any = None,
) -> dict[str, Any]:
    """The submit body, every §1 parameter checked; a missing seed is drawn at random so that
    the result can say which seed made it."""
    body: dict[str, Any] = {
        "model": model,
        "prompt": _check_text("prompt", prompt, required=True),
        "seed": _check_number("seed", seed, integer=True, low=0, high=MAX_SEED),
    }
    if body["seed"] is None:
        body["seed"] = random.randint(0, MAX_SEED)
    optional = {
        "negative_prompt": _check_text("negative_prompt", negative_prompt, required=False),
        "size": _check_size(model, size),
        "steps": _check_number("steps", steps, integer=True, low=1, high=None),
        "guidance": _check_number("guidance", guidance, integer=False, low=0, high=None),
        "image_url": _check_text("image_url", image_url, required=False),
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class GeneratedImages:
    """A finished task: its image URLs, and the bytes or files when asked for."""

    task_id: str
    model: str
    urls: tuple[str, ...]
    #: the seed sent (drawn at random when none was given)
    seed: int | None
    submitted_at: datetime
    finished_at: datetime
    #: task polls it took
    polls: int
    request_id: str | None = None
    #: image bytes, with ``download=True``
    images: tuple[bytes, ...] = field(default=(), repr=False)
    #: files written, with ``download=<directory>``
    paths: tuple[Path, ...] = ()

    @property
    def elapsed(self) -> float:
        """Seconds from submit to the finished poll."""
        return (self.finished_at - self.submitted_at).total_seconds()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _TaskPoll:
    """One task's polling: the schedule (interval growing to a cap, an overall deadline) and
    what each answer means. Sync and async loops only send, sleep and ask it."""

    def __init__(
        self, generator: ModelScopeImageGenerator, task_id: str, seed: int | None, started: float
    ) -> None:
        self.task_id = task_id
        self.seed = seed
        self.model = generator.model
        self.submitted_at = _utc_now()
        self.polls = 0
        self.status: str | None = None
        self._delay = generator.poll_interval
        self._cap = generator.poll_interval_max
        self._deadline = started + generator.task_timeout
        self._started = started

    @property
    def path(self) -> str:
        return f"tasks/{self.task_id}"

    def read(self, answer: APIResponse) -> GeneratedImages | None:
        """The result when the task is done; None while it runs; raises when it failed."""
        self.polls += 1
        data = answer.data if isinstance(answer.data, Mapping) else {}
        status = str(data.get("task_status") or "").upper()
        self.status = status or None
        if status == "FAILED" or (not status and data.get("errors")):
            raise _failure(data, self.task_id, self.model, answer.request_id)
        if status != "SUCCEED":
            return None
        urls = data.get("output_images")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise ResponseDecodeError(
                f"task {self.task_id} succeeded without image URLs: {str(data)[:200]}",
                status_code=answer.status_code,
                request_id=answer.request_id,
                model=self.model,
            )
        return GeneratedImages(
            task_id=self.task_id,
            model=self.model,
            urls=tuple(urls),
            seed=self.seed,
            submitted_at=self.submitted_at,
            finished_at=_utc_now(),
            polls=self.polls,
            request_id=answer.request_id,
        )

    def next_wait(self) -> float:
        """Seconds to sleep before the next poll; raises once the deadline has passed."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            elapsed = time.monotonic() - self._started
            raise ImageTaskTimeoutError(
                f"image task {self.task_id} not done after {elapsed:.1f}s "
                f"(last status {self.status or 'unknown'}, {self.polls} polls)",
                task_id=self.task_id,
                last_status=self.status,
                elapsed=elapsed,
                model=self.model,
                hint="It may still finish: call result(task_id) to resume, or raise task_timeout.",
            )
        delay = self._delay
        self._delay = min(self._delay * 1.5, self._cap)
        return min(delay, remaining)

    def not_found(self, error: ModelNotFoundError) -> ImageTaskFailedError:
        """A 404 on a poll is an unknown task (expired, or another account's), not a model."""
        return ImageTaskFailedError(
            error.message or "task not found",
            task_id=self.task_id,
            code=error.status_code,
            status_code=error.status_code,
            request_id=error.request_id,
            model=self.model,
        )


def _failure(
    data: Mapping[str, Any], task_id: str, model: str, request_id: str | None
) -> ImageTaskFailedError:
    inner = data.get("errors") or data.get("error") or {}
    if not isinstance(inner, Mapping):
        inner = {"message": str(inner)}
    code = inner.get("code")
    message = str(inner.get("message") or "the image task failed")
    refused = str(code) == "422" or any(w in message.lower() for w in _REFUSAL_WORDS)
    kind = ContentRefusedError if refused else ImageTaskFailedError
    return kind(
        message,
        task_id=task_id,
        code=code,
        request_id=str(data.get("request_id") or request_id or "") or None,
        model=model,
        hint="The service refused the output as inappropriate content; change the prompt."
        if refused
        else None,
    )


# --------------------------------------------------------------------------- the generator


class ModelScopeImageGenerator(TokenlessPickling):
    """Text-to-image (and image editing) on ModelScope's asynchronous task API.

    ``generate``/``agenerate`` submit, poll every ``poll_interval`` seconds (growing by half
    each time up to ``poll_interval_max``) for at most ``task_timeout`` seconds, and return a
    `GeneratedImages`. A timeout keeps the task id (`ImageTaskTimeoutError.task_id`) for
    `result`/`aresult`. A quota or auth failure is written to the quota ledger as chat's
    are, and a key the ledger marks spent is refused without a request.
    """

    model: str = DEFAULT_IMAGE_MODEL
    """Image model id (see modelscope-api.md §5: Qwen-Image, Z-Image-Turbo, FLUX...)."""
    api_key: SecretStr | None = None
    """Token; when None, read from the environment (``MODELSCOPE_API_KEY`` first)."""
    base_url: str = Field(default_factory=lambda: resolve_base_url(None))
    """API root; default ``MODELSCOPE_BASE_URL``, else the public endpoint."""
    timeout: float | httpx.Timeout | None = None
    """Per HTTP request (submit, each poll, each download); None: the core's defaults."""
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    """Retries of one request after a passing failure (5xx, connection); never of a quota."""
    poll_interval: float = Field(default=2.0, gt=0)
    """First wait between polls, in seconds (the official sample polls every 5 s)."""
    poll_interval_max: float = Field(default=5.0, gt=0)
    """Cap of the growing wait between polls."""
    task_timeout: float = Field(default=300.0, gt=0)
    """Longest wait for one task, in seconds, before `ImageTaskTimeoutError`."""
    ledger: QuotaLedger | None = Field(default=None, exclude=True, repr=False)
    """Where spent quotas are remembered; None: the process-wide default ledger."""
    max_concurrent_requests: MaxConcurrentRequests = "auto"
    """Most requests of this token (submits, polls) in flight at once, shared by every model
    of the process that uses it; a request waits for a slot. ``"auto"``: 2 on the shared
    API-Inference hosts, no limit elsewhere; ``None``: no limit."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _submit_client: ModelScopeClient = PrivateAttr()
    _poll_client: ModelScopeClient = PrivateAttr()
    #: pickled without the token: the clients are built again on load (`TokenlessPickling`)
    _not_pickled: ClassVar[tuple[str, ...]] = ("_submit_client", "_poll_client")

    def __init__(self, **data: Any) -> None:
        """Validate, and resolve the token now so a missing one fails before any call."""
        super().__init__(**data)
        self.api_key, _ = resolve_api_key(self.api_key)
        if self.poll_interval_max < self.poll_interval:
            raise ValueError(
                f"poll_interval_max ({self.poll_interval_max}) must be at least "
                f"poll_interval ({self.poll_interval})"
            )
        self._submit_client = self._client(ASYNC_HEADER)
        self._poll_client = self._client(TASK_HEADER)

    def _after_unpickling(self) -> None:
        self._submit_client = self._client(ASYNC_HEADER)
        self._poll_client = self._client(TASK_HEADER)

    @field_validator("base_url")
    @classmethod
    def _normalise_base_url(cls, value: str) -> str:
        return resolve_base_url(value)

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "MODELSCOPE_API_KEY"}

    def _client(self, headers: Mapping[str, str]) -> ModelScopeClient:
        assert self.api_key is not None
        return ModelScopeClient(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            default_headers=headers,
            max_concurrent_requests=self.max_concurrent_requests,
        )

    # -- the ledger: the fallback's own walk, over one candidate

    def _walk(self) -> tuple[Walk, Slot]:
        """The fallback's walk over this one candidate: same classification, same ledger."""
        assert self.api_key is not None
        info = CandidateInfo(0, "modelscope", account_fingerprint(self.api_key), self.model)
        slot = Slot(info, info.key, None, None)
        ledger = self.ledger if self.ledger is not None else get_default_ledger()
        return Walk(ledger, DEFAULT_RULES, [slot]), slot

    def _refused(self, entry: QuotaEntry) -> QuotaExceededError:
        scope: QuotaScope = "account" if entry.key.is_account_wide else "model"
        return QuotaExceededError(
            f"not sent: the quota ledger marks this {scope} as spent "
            f"({entry.reason or 'exhausted'})",
            scope=scope,
            reset_at=entry.until if entry.has_clock else None,  # points: no reset time
            regime="points" if entry.kind == "points" else None,
            model=self.model,
            hint="Log in at modelscope.cn to receive points, clear the ledger entry "
            "(langchain-modelscope quota --clear ...), or use another account.",
        )

    # -- sync

    def _submit(self, body: dict[str, Any]) -> _TaskPoll:
        walk, slot = self._walk()
        blocking = walk.blocking(slot)
        if blocking is not None:
            raise self._refused(blocking)
        started = time.monotonic()
        try:
            answer = self._submit_client.post("images/generations", body, model=self.model)
        except APIStatusError as error:
            walk.fail(slot, error)
            raise
        walk.learn(slot, answer.ratelimit)
        return _TaskPoll(self, _task_id(answer, self.model), body.get("seed"), started)

    async def _asubmit(self, body: dict[str, Any]) -> _TaskPoll:
        walk, slot = self._walk()
        blocking = await walk.ablocking(slot)
        if blocking is not None:
            raise self._refused(blocking)
        started = time.monotonic()
        try:
            answer = await self._submit_client.apost("images/generations", body, model=self.model)
        except APIStatusError as error:
            await walk.afail(slot, error)
            raise
        await walk.alearn(slot, answer.ratelimit)
        return _TaskPoll(self, _task_id(answer, self.model), body.get("seed"), started)

    def _wait(self, poll: _TaskPoll, cancel: threading.Event | None) -> GeneratedImages:
        while True:
            if cancel is not None and cancel.is_set():
                raise ImageTaskCancelledError(poll.task_id)
            try:
                answer = self._poll_client.request("GET", poll.path, model=self.model)
            except ModelNotFoundError as error:
                raise poll.not_found(error) from error
            done = poll.read(answer)
            if done is not None:
                return done
            delay = poll.next_wait()
            if cancel is not None:
                if cancel.wait(delay):
                    raise ImageTaskCancelledError(poll.task_id)
            else:
                time.sleep(delay)

    async def _await(self, poll: _TaskPoll) -> GeneratedImages:
        while True:
            try:
                answer = await self._poll_client.arequest("GET", poll.path, model=self.model)
            except ModelNotFoundError as error:
                raise poll.not_found(error) from error
            done = poll.read(answer)
            if done is not None:
                return done
            await asyncio.sleep(poll.next_wait())

    def generate(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        size: str | tuple[int, int] | None = None,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        image_url: str | None = None,
        download: bool | str | os.PathLike[str] = False,
        cancel: threading.Event | None = None,
    ) -> GeneratedImages:
        """Submit one task and wait for its images.

        ``download=True`` also fetches the bytes into memory (``.images``); a directory path
        streams each image into a file there (``.paths``). Setting ``cancel`` stops polling
        with `ImageTaskCancelledError` (the task id in it can be resumed).
        """
        body = build_request(
            self.model,
            prompt,
            negative_prompt=negative_prompt,
            size=size,
            seed=seed,
            steps=steps,
            guidance=guidance,
            image_url=image_url,
        )
        target = _download_target(download)
        poll = self._submit(body)
        return self._fetch(self._wait(poll, cancel), target)

    async def agenerate(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        size: str | tuple[int, int] | None = None,
        seed: int | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        image_url: str | None = None,
        download: bool | str | os.PathLike[str] = False,
    ) -> GeneratedImages:
        """Async `generate`; cancelling the awaiting task stops polling at once."""
        body = build_request(
            self.model,
            prompt,
            negative_prompt=negative_prompt,
            size=size,
            seed=seed,
            steps=steps,
            guidance=guidance,
            image_url=image_url,
        )
        target = _download_target(download)
        poll = await self._asubmit(body)
        return await self._afetch(await self._await(poll), target)

    def result(
        self,
        task_id: str,
        *,
        download: bool | str | os.PathLike[str] = False,
        cancel: threading.Event | None = None,
    ) -> GeneratedImages:
        """Resume waiting for a task submitted earlier (e.g. after `ImageTaskTimeoutError`);
        polls only, spends nothing. The seed is unknown here (None)."""
        poll = _TaskPoll(self, _check_task_id(task_id), None, time.monotonic())
        return self._fetch(self._wait(poll, cancel), _download_target(download))

    async def aresult(
        self, task_id: str, *, download: bool | str | os.PathLike[str] = False
    ) -> GeneratedImages:
        """Async `result`."""
        poll = _TaskPoll(self, _check_task_id(task_id), None, time.monotonic())
        return await self._afetch(await self._await(poll), _download_target(download))

    # -- downloads: plain GETs, never with the token (the URLs are on a storage host)

    def _fetch(self, result: GeneratedImages, target: bool | Path) -> GeneratedImages:
        if target is False:
            return result
        client = shared_sync_client(to_timeout(self.timeout))
        pieces = []
        for index, url in enumerate(result.urls):
            try:
                with client.stream("GET", url) as response:
                    _check_download(response, url, self.model)
                    sink = _Sink(target, result.task_id, index, url, response)
                    pieces.append(sink)
                    try:
                        for chunk in response.iter_bytes():
                            sink.write(chunk)
                    finally:
                        sink.close()
            except httpx.TransportError as exc:
                raise _download_error(exc, url, self.model) from exc
        return _with_downloads(result, pieces)

    async def _afetch(self, result: GeneratedImages, target: bool | Path) -> GeneratedImages:
        if target is False:
            return result
        pieces = []
        with shared_async_pools(to_timeout(self.timeout)).lease() as client:
            for index, url in enumerate(result.urls):
                try:
                    async with client.stream("GET", url) as response:
                        _check_download(response, url, self.model)
                        sink = _Sink(target, result.task_id, index, url, response)
                        pieces.append(sink)
                        try:
                            async for chunk in response.aiter_bytes():
                                sink.write(chunk)
                        finally:
                            sink.close()
                except httpx.TransportError as exc:
                    raise _download_error(exc, url, self.model) from exc
        return _with_downloads(result, pieces)


def _task_id(answer: APIResponse, model: str) -> str:
    data = answer.data if isinstance(answer.data, Mapping) else {}
    task_id = data.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        if data.get("errors") or data.get("error"):
            raise _failure(data, "(none)", model, answer.request_id)
        raise ResponseDecodeError(
            f"the image submit answered without a task_id: {str(answer.data)[:200]}",
            status_code=answer.status_code,
            request_id=answer.request_id,
            model=model,
        )
    return task_id


def _check_task_id(task_id: Any) -> str:
    if not isinstance(task_id, str) or not task_id.strip() or "/" in task_id:
        raise InvalidImageRequestError(
            f"task_id must be the id a submit returned, got {task_id!r}", parameter="task_id"
        )
    return task_id.strip()


def _download_target(download: Any) -> bool | Path:
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


def _download_error(exc: httpx.TransportError, url: str, model: str) -> APIError:
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    return kind(f"downloading an image from {httpx.URL(url).host} failed: {exc!r}", model=model)


class _Sink:
    """Where one image's bytes go: memory, or a file named after the task (streamed)."""

    def __init__(
        self, target: bool | Path, task_id: str, index: int, url: str, response: httpx.Response
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


def _with_downloads(result: GeneratedImages, sinks: list[_Sink]) -> GeneratedImages:
    paths = tuple(s.path for s in sinks if s.path is not None)
    images = tuple(bytes(s.buffer) for s in sinks if s.path is None)
    return replace(result, images=images, paths=paths)
