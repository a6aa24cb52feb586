"""An image task on the wire (modelscope-api.md §1): the submit body, checked, and the polling.

``POST /v1/images/generations`` with ``X-ModelScope-Async-Mode: true`` answers a ``task_id``
(its ``task_status: SUCCEED`` only means *accepted*); ``GET /v1/tasks/{task_id}`` with
``X-ModelScope-Task-Type: image_generation`` answers ``PENDING``/``RUNNING``/``PROCESSING``
until ``SUCCEED`` (``output_images``) or ``FAILED`` (``errors: {code, message}``). Every
parameter is checked here before any request; :class:`TaskPoll` holds the polling schedule
and what each answer means, so the sync and async loops only send, sleep and ask it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Protocol, cast

from langchain_modelscope._client import APIResponse
from langchain_modelscope.errors import (
    ContentRefusedError,
    ImageTaskFailedError,
    ImageTaskTimeoutError,
    InvalidImageRequestError,
    ModelNotFoundError,
    ResponseDecodeError,
)

ASYNC_HEADER: Final = {"X-ModelScope-Async-Mode": "true"}
TASK_HEADER: Final = {"X-ModelScope-Task-Type": "image_generation"}
MAX_PROMPT_CHARS: Final = 2000
MAX_SEED: Final = 2**31 - 1
#: Largest side by family (§1); a model of no known family gets the largest known range.
_FAMILY_MAX_SIDE: Final = (("flux", 1024), ("qwen-image", 1664), ("z-image", 2048))
_DEFAULT_MAX_SIDE: Final = 2048
_REFUSAL_WORDS: Final = ("inappropriate",)


def max_image_side(model: str) -> int:
    """The largest width or height the model's family accepts (FLUX 1024, Qwen-Image 1664,
    SD and Z-Image 2048)."""
    name = model.split(":", 1)[0].rsplit("/", 1)[-1].lower()
    for family, side in _FAMILY_MAX_SIDE:
        if family in name:
            return side
    return _DEFAULT_MAX_SIDE


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


class PollSettings(Protocol):
    """What a poll needs of its generator (the generator's fields of the same names)."""

    @property
    def model(self) -> str: ...
    @property
    def poll_interval(self) -> float: ...
    @property
    def poll_interval_max(self) -> float: ...
    @property
    def task_timeout(self) -> float: ...


# --------------------------------------------------------------------------- the task


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class TaskPoll:
    """One task's polling: the schedule (interval growing to a cap, an overall deadline) and
    what each answer means. Sync and async loops only send, sleep and ask it."""

    def __init__(
        self, generator: PollSettings, task_id: str, seed: int | None, started: float
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


def submitted_task_id(answer: APIResponse, model: str) -> str:
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


def check_task_id(task_id: Any) -> str:
    if not isinstance(task_id, str) or not task_id.strip() or "/" in task_id:
        raise InvalidImageRequestError(
            f"task_id must be the id a submit returned, got {task_id!r}", parameter="task_id"
        )
    return task_id.strip()
