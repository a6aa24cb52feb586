"""The emulator's model catalogue: which ids exist and how each behaves.

Ids come from the facts sheet (§5); the behaviour flags are the emulator's reading of §4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

ModelKind = Literal["chat", "vision", "embedding", "image"]
ThinkingMode = Literal["none", "hybrid", "only", "always_reasons"]

#: `created` of every catalogue entry: a fixed value keeps `/v1/models` deterministic.
CATALOGUE_CREATED = 1735689600


@dataclass(frozen=True)
class ModelInfo:
    """One served model.

    thinking: "none"; "hybrid" (Qwen3: reasons unless `enable_thinking` is false, and rejects a
    non-streaming call unless it is false); "only" (`*-Thinking-*`, QwQ: rejects every
    non-streaming call); "always_reasons" (DeepSeek-R1: reasons, non-streaming allowed).
    """

    id: str
    kind: ModelKind = "chat"
    thinking: ThinkingMode = "none"
    tools: bool = True
    dimension: int = 0
    retired: bool = False

    @property
    def owned_by(self) -> str:
        """The organisation part of the id, as ModelScope lists it."""
        return self.id.split("/", 1)[0] if "/" in self.id else "modelscope"

    @property
    def vision(self) -> bool:
        """Accepts image parts."""
        return self.kind == "vision"

    @property
    def chat(self) -> bool:
        """Served by `/v1/chat/completions`."""
        return self.kind in ("chat", "vision")


def _chat(model_id: str, thinking: ThinkingMode = "none") -> ModelInfo:
    return ModelInfo(id=model_id, kind="chat", thinking=thinking)


DEFAULT_MODELS: tuple[ModelInfo, ...] = (
    _chat("Qwen/Qwen3-32B", "hybrid"),
    _chat("Qwen/Qwen3-8B", "hybrid"),
    _chat("Qwen/Qwen3-235B-A22B", "hybrid"),
    _chat("Qwen/Qwen3-235B-A22B-Instruct-2507"),
    _chat("Qwen/Qwen3-235B-A22B-Thinking-2507", "only"),
    _chat("Qwen/Qwen3-Coder-480B-A35B-Instruct"),
    _chat("Qwen/Qwen2.5-72B-Instruct"),
    _chat("Qwen/Qwen2.5-Coder-32B-Instruct"),
    _chat("Qwen/QwQ-32B", "only"),
    _chat("deepseek-ai/DeepSeek-V3.2"),
    _chat("deepseek-ai/DeepSeek-R1-0528", "always_reasons"),
    _chat("ZhipuAI/GLM-4.6"),
    _chat("moonshotai/Kimi-K2.5"),
    _chat("MiniMax/MiniMax-M2.5"),
    ModelInfo(id="Qwen/Qwen2.5-VL-72B-Instruct", kind="vision"),
    ModelInfo(id="Qwen/Qwen3-VL-8B-Instruct", kind="vision"),
    ModelInfo(id="Qwen/Qwen3-Embedding-8B", kind="embedding", tools=False, dimension=4096),
    ModelInfo(id="Qwen/Qwen3-Embedding-4B", kind="embedding", tools=False, dimension=2560),
    ModelInfo(id="Qwen/Qwen3-Embedding-0.6B", kind="embedding", tools=False, dimension=1024),
    ModelInfo(id="BAAI/bge-large-zh-v1.5", kind="embedding", tools=False, dimension=1024),
    ModelInfo(id="Qwen/Qwen-Image", kind="image", tools=False),
    ModelInfo(id="Qwen/Qwen-Image-Edit", kind="image", tools=False),
    ModelInfo(id="Tongyi-MAI/Z-Image-Turbo", kind="image", tools=False),
    ModelInfo(id="black-forest-labs/FLUX.1-Krea-dev", kind="image", tools=False),
)


def base_model_id(model: str) -> str:
    """`Qwen/Qwen3-8B:DashScope` -> `Qwen/Qwen3-8B` (the provider suffix routes, it does not
    change the model)."""
    return model.split(":", 1)[0]


def has_provider_suffix(model: str) -> bool:
    """Whether the id routes to an external provider."""
    return ":" in model


def retire(info: ModelInfo) -> ModelInfo:
    """The same model, no longer served."""
    return replace(info, retired=True)
