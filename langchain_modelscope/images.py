"""Image generation on ModelScope API-Inference: submit a task, poll it, hand back the URLs.

The service runs image models asynchronously (modelscope-api.md §1): a submit answers a task
id, polls answer its status until it succeeds (image URLs) or fails. The wire of a task (the
checked submit body, the polling schedule, the reading of each answer) is in
:mod:`._images_task`, the downloads in :mod:`._images_download`.

`ModelScopeImageGenerator` writes that loop once: parameters are checked before any request,
the polling schedule and the reading of each answer live in `TaskPoll` and are driven from
`generate` and `agenerate` alike, and the submit goes through the same classification and
quota ledger as chat (a spent account is not asked again). Polls cost no points.

Usage::

    generator = ModelScopeImageGenerator(model="Tongyi-MAI/Z-Image-Turbo")
    result = generator.generate("a red panda in the snow", size="1024x1024")
    result.urls, result.task_id, result.seed, result.elapsed
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import httpx
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from langchain_modelscope._client import (
    DEFAULT_MAX_RETRIES,
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
from langchain_modelscope._images_download import Target, afetch, download_target, fetch
from langchain_modelscope._images_task import (
    ASYNC_HEADER,
    TASK_HEADER,
    GeneratedImages,
    TaskPoll,
    build_request,
    check_task_id,
    max_image_side,
    submitted_task_id,
)
from langchain_modelscope.errors import (
    APIStatusError,
    ContentRefusedError,
    ImageTaskCancelledError,
    ImageTaskFailedError,
    ImageTaskTimeoutError,
    InvalidImageRequestError,
    ModelNotFoundError,
    QuotaExceededError,
    QuotaScope,
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

    def _submit(self, body: dict[str, Any]) -> TaskPoll:
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
        return TaskPoll(self, submitted_task_id(answer, self.model), body.get("seed"), started)

    async def _asubmit(self, body: dict[str, Any]) -> TaskPoll:
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
        return TaskPoll(self, submitted_task_id(answer, self.model), body.get("seed"), started)

    def _wait(self, poll: TaskPoll, cancel: threading.Event | None) -> GeneratedImages:
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

    async def _await(self, poll: TaskPoll) -> GeneratedImages:
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
        body, target = self._prepare(
            prompt, negative_prompt, size, seed, steps, guidance, image_url, download
        )
        poll = self._submit(body)
        return fetch(self._wait(poll, cancel), target, self._download_timeout, self.model)

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
        body, target = self._prepare(
            prompt, negative_prompt, size, seed, steps, guidance, image_url, download
        )
        poll = await self._asubmit(body)
        return await afetch(await self._await(poll), target, self._download_timeout, self.model)

    def result(
        self,
        task_id: str,
        *,
        download: bool | str | os.PathLike[str] = False,
        cancel: threading.Event | None = None,
    ) -> GeneratedImages:
        """Resume waiting for a task submitted earlier (e.g. after `ImageTaskTimeoutError`);
        polls only, spends nothing. The seed is unknown here (None)."""
        poll = TaskPoll(self, check_task_id(task_id), None, time.monotonic())
        target = download_target(download)
        return fetch(self._wait(poll, cancel), target, self._download_timeout, self.model)

    async def aresult(
        self, task_id: str, *, download: bool | str | os.PathLike[str] = False
    ) -> GeneratedImages:
        """Async `result`."""
        poll = TaskPoll(self, check_task_id(task_id), None, time.monotonic())
        target = download_target(download)
        return await afetch(await self._await(poll), target, self._download_timeout, self.model)

    # -- what generate and agenerate share

    def _prepare(
        self,
        prompt: Any,
        negative_prompt: Any,
        size: Any,
        seed: Any,
        steps: Any,
        guidance: Any,
        image_url: Any,
        download: Any,
    ) -> tuple[dict[str, Any], Target]:
        """The checked submit body and the download target, before any request."""
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
        return body, download_target(download)

    @property
    def _download_timeout(self) -> httpx.Timeout:
        """Downloads are plain GETs, never with the token (the URLs are on a storage host)."""
        return to_timeout(self.timeout)
