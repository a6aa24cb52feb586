"""The errors of image generation, an old import path: they live in `errors.py`'s tree now."""

from __future__ import annotations

from langchain_modelscope.errors import (
    ContentRefusedError,
    ImageTaskCancelledError,
    ImageTaskFailedError,
    ImageTaskTimeoutError,
    InvalidImageRequestError,
)

__all__ = [
    "ContentRefusedError",
    "ImageTaskCancelledError",
    "ImageTaskFailedError",
    "ImageTaskTimeoutError",
    "InvalidImageRequestError",
]
