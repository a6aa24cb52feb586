"""`ModelScopeImageTool`: image generation as a LangChain tool an agent can call.

The tool answers with ``response_format="content_and_artifact"``: the content is text a chat
model can pass on (the URLs), the artifact the whole `GeneratedImages` (task id, seed,
timings) for code that inspects the agent's tool messages. Failures the user should hear
about (a content refusal, a spent quota, a timeout) come back as the tool's text, so the
agent can explain them instead of crashing the run.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from langchain_modelscope.errors import (
    ContentRefusedError,
    ImageTaskFailedError,
    ImageTaskTimeoutError,
    InvalidImageRequestError,
    QuotaExceededError,
)
from langchain_modelscope.images import GeneratedImages, ModelScopeImageGenerator

__all__ = ["ImageToolInput", "ModelScopeImageTool"]

#: Errors that are answers, not bugs: the agent tells the user.
_TOLD: tuple[type[Exception], ...] = (
    ContentRefusedError,
    ImageTaskFailedError,
    ImageTaskTimeoutError,
    InvalidImageRequestError,
    QuotaExceededError,
)


#: Sizes every family accepts (FLUX's range is the smallest, up to 1024x1024): a fixed list
#: keeps an agent from inventing sizes the model would refuse.
ToolImageSize = Literal["1024x1024", "768x1024", "1024x768", "576x1024", "1024x576"]


class ImageToolInput(BaseModel):
    """What the agent fills in."""

    prompt: str = Field(description="What the image shows, in detail (under 2,000 characters).")
    negative_prompt: str | None = Field(
        default=None, description="What the image must not show (optional)."
    )
    size: ToolImageSize | None = Field(
        default=None, description="WIDTHxHEIGHT in pixels: square, portrait or landscape."
    )


def _text(result: GeneratedImages) -> str:
    urls = "\n".join(result.urls)
    noun = "image" if len(result.urls) == 1 else "images"
    return f"Generated {len(result.urls)} {noun} (seed {result.seed}):\n{urls}"


def _told(error: Exception) -> str:
    if isinstance(error, ContentRefusedError):
        return f"The image was refused as inappropriate content: {error.message}"
    if isinstance(error, ImageTaskTimeoutError):
        return f"The image was not ready in time (task {error.task_id}); try again later."
    if isinstance(error, QuotaExceededError):
        return f"Image generation is unavailable: the quota is spent ({error.message})."
    return f"The image could not be generated: {error}"


class ModelScopeImageTool(BaseTool):
    """Draws an image from a description with a ModelScope image model; returns its URL."""

    name: str = "generate_image"
    description: str = (
        "Draw or generate an image (picture, illustration, photo) from a text description. "
        "Returns the URL of the generated image."
    )
    args_schema: type[BaseModel] = ImageToolInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    generator: ModelScopeImageGenerator = Field(default_factory=ModelScopeImageGenerator)
    """The generator that does the work (model, token, polling settings)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def _run(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        size: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
        **_: Any,
    ) -> tuple[str, GeneratedImages | None]:
        try:
            result = self.generator.generate(prompt, negative_prompt=negative_prompt, size=size)
        except _TOLD as error:
            return _told(error), None
        return _text(result), result

    async def _arun(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        size: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **_: Any,
    ) -> tuple[str, GeneratedImages | None]:
        try:
            result = await self.generator.agenerate(
                prompt, negative_prompt=negative_prompt, size=size
            )
        except _TOLD as error:
            return _told(error), None
        return _text(result), result
