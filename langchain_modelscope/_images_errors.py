"""The errors of image generation, in the package's tree (modelscope-api.md §1).

Kept apart from `images.py` so they can move into `errors.py` as one block::

    ModelScopeError
    ├── InvalidImageRequestError (ValueError)   a parameter refused before any request
    ├── ImageTaskCancelledError                 the caller stopped polling (sync ``cancel``)
    └── APIError
        ├── APIConnectionError
        │   └── APITimeoutError
        │       └── ImageTaskTimeoutError       not done in time; keeps ``task_id`` to resume
        └── APIResponseError
            └── ImageTaskFailedError            ``task_status: FAILED``, with its code/message
                └── ContentRefusedError         code 422 "inappropriate content"

Every one carries the ``task_id`` once the service gave one; none carries the token.
"""

from __future__ import annotations

from typing import Any

from langchain_modelscope.errors import APIResponseError, APITimeoutError, ModelScopeError

__all__ = [
    "ContentRefusedError",
    "ImageTaskCancelledError",
    "ImageTaskFailedError",
    "ImageTaskTimeoutError",
    "InvalidImageRequestError",
]


class InvalidImageRequestError(ModelScopeError, ValueError):
    """A parameter outside what the service accepts; raised before any request is sent."""

    def __init__(self, message: str, *, parameter: str) -> None:
        self.parameter = parameter
        super().__init__(message)


class ImageTaskFailedError(APIResponseError):
    """The task ended ``FAILED``: ``code`` and ``message`` are the service's own."""

    def __init__(
        self, message: str, *, task_id: str, code: int | str | None = None, **kwargs: Any
    ) -> None:
        self.task_id = task_id
        self.code = code
        super().__init__(message, **kwargs)

    def _describe(self) -> str:
        return f"{super()._describe()} [task {self.task_id}, code {self.code}]"


class ContentRefusedError(ImageTaskFailedError):
    """The service refused the output as inappropriate (code 422): a content refusal, not a
    server error. Retrying the same prompt will most likely be refused again."""


class ImageTaskTimeoutError(APITimeoutError):
    """The task was not done within ``task_timeout``; it may still finish on the service.

    Resume with ``generator.result(error.task_id)`` (no new points are spent by polling).
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        last_status: str | None = None,
        elapsed: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.task_id = task_id
        self.last_status = last_status
        self.elapsed = elapsed
        super().__init__(message, **kwargs)


class ImageTaskCancelledError(ModelScopeError):
    """Polling stopped because the caller set the ``cancel`` event; the task may still run."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(
            f"stopped polling image task {task_id} on request; resume with result(task_id)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.task_id,))
