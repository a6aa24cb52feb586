"""The emulator's model catalogue: which ids exist and how each behaves.

Ids come from the facts sheet (§5); the behaviour flags are the emulator's reading of §4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

ModelKind = Literal["chat", "vision", "embedding", "image"]
ThinkingMode = Literal["none", "hybrid", "only", "always_reasons"]
#: light / mainstream / flagship: 0.5 / 1 / 2 points a call (§2a); the real tiers are shown
#: only on each model's web page, so these are the emulator's guesses by size
ModelTier = Literal["light", "mainstream", "flagship"]
#: how a retired model answers: 400 "has no provider supported" or 429 "insufficient
#: balance (1008)" (§3)
RetiredStyle = Literal["no_provider", "balance_1008"]

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
    tier: ModelTier = "mainstream"
    retired_style: RetiredStyle = "no_provider"
    #: served in the daily-counter regime (the older service), retired in the points regime
    retired_in_points: bool = False

    def retired_under(self, points: bool) -> bool:
        """Whether the model is unserved in the given regime."""
        return self.retired or (points and self.retired_in_points)

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


def _chat(
    model_id: str, thinking: ThinkingMode = "none", tier: ModelTier = "mainstream"
) -> ModelInfo:
    return ModelInfo(id=model_id, kind="chat", thinking=thinking, tier=tier)


def _vision(model_id: str, tier: ModelTier = "mainstream") -> ModelInfo:
    return ModelInfo(id=model_id, kind="vision", tier=tier)


def _retired(model_id: str, kind: ModelKind = "chat") -> ModelInfo:
    """A model of the §5 retired list: served only in the older (daily) regime."""
    return ModelInfo(id=model_id, kind=kind, retired_in_points=True)


def _embedding(model_id: str, dimension: int) -> ModelInfo:
    return ModelInfo(id=model_id, kind="embedding", tools=False, dimension=dimension, tier="light")


def _image(model_id: str) -> ModelInfo:
    return ModelInfo(id=model_id, kind="image", tools=False, tier="flagship")


DEFAULT_MODELS: tuple[ModelInfo, ...] = (
    # §5, served Aug-Oct 2026
    _chat("deepseek-ai/DeepSeek-V4-Flash", "always_reasons", "light"),
    _chat("deepseek-ai/DeepSeek-V4-Pro", "always_reasons", "flagship"),
    _chat("deepseek-ai/DeepSeek-V4.1-Flash", "always_reasons", "light"),
    _chat("ZhipuAI/GLM-5", "always_reasons", "flagship"),
    _chat("ZhipuAI/GLM-5.1", "always_reasons", "flagship"),
    _chat("ZhipuAI/GLM-5.3-Flash", "always_reasons", "light"),
    _chat("MiniMax/MiniMax-M2.5"),
    _chat("moonshotai/Kimi-K2.5", tier="flagship"),
    _chat("Qwen/Qwen3-235B-A22B", "hybrid", "flagship"),
    _chat("Qwen/Qwen3-235B-A22B-Instruct-2507", tier="flagship"),
    _chat("Qwen/Qwen3-235B-A22B-Thinking-2507", "only", "flagship"),
    _chat("Qwen/Qwen3-Coder-480B-A35B-Instruct", tier="flagship"),
    _chat("Qwen/Qwen3-32B", "hybrid"),
    _vision("Qwen/Qwen3.5-35B-A3B"),
    _vision("Qwen/Qwen3.5-122B-A10B"),
    _vision("Qwen/Qwen3.5-397B-A17B", "flagship"),
    _vision("Qwen/Qwen3.8-27B"),
    _vision("Qwen/Qwen3.8-Flash-Next", "light"),
    _vision("Shanghai_AI_Laboratory/Intern-S2-Preview"),
    # older ids the tests and examples still use (kept served)
    _chat("Qwen/Qwen3-8B", "hybrid", "light"),
    _chat("Qwen/Qwen2.5-72B-Instruct"),
    _chat("Qwen/Qwen2.5-Coder-32B-Instruct"),
    _chat("Qwen/QwQ-32B", "only"),
    _chat("deepseek-ai/DeepSeek-V3.2"),
    _chat("deepseek-ai/DeepSeek-R1-0528", "always_reasons", "flagship"),
    _chat("ZhipuAI/GLM-4.6"),
    _vision("Qwen/Qwen2.5-VL-72B-Instruct"),
    # §5 retired: served by the daily regime's (older) service only
    _retired("Qwen/Qwen3-VL-8B-Instruct", "vision"),
    _retired("Qwen/Qwen3-VL-235B-A22B-Instruct", "vision"),
    _retired("Qwen/Qwen2.5-7B-Instruct"),
    _retired("Qwen/Qwen2.5-14B-Instruct"),
    _retired("Qwen/Qwen2.5-7B-Instruct-1M"),
    _retired("moonshotai/Kimi-K2.6"),
    ModelInfo(id="MiniMax/MiniMax-M2.7", retired=True, retired_style="balance_1008"),
    _embedding("Qwen/Qwen3-Embedding-8B", 4096),
    _embedding("Qwen/Qwen3-Embedding-4B", 2560),
    _embedding("Qwen/Qwen3-Embedding-0.6B", 1024),
    _embedding("BAAI/bge-large-zh-v1.5", 1024),
    _image("Qwen/Qwen-Image"),
    _image("Qwen/Qwen-Image-2512"),
    _image("Qwen/Qwen-Image-Edit"),
    _image("Tongyi-MAI/Z-Image-Turbo"),
    _image("black-forest-labs/FLUX.1-Krea-dev"),
)

#: largest side of a generated image by model family (§1)
IMAGE_SIZE_LIMITS: tuple[tuple[str, int], ...] = (
    ("flux", 1024),
    ("qwen-image", 1664),
    ("z-image", 2048),
    ("stable-diffusion", 2048),
)
DEFAULT_IMAGE_SIZE_LIMIT = 2048


def image_size_limit(model: str) -> int:
    """The largest width/height the model's family accepts."""
    low = model.lower()
    return next((limit for key, limit in IMAGE_SIZE_LIMITS if key in low), DEFAULT_IMAGE_SIZE_LIMIT)


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
