"""What the chat model knows about ModelScope model families, in one place.

Two questions are answered here and nowhere else:

- must a call to this model be streamed? (thinking-only models and Qwen3 hybrid models with
  thinking on reject ``stream: false`` with a 400, see modelscope-api.md §3-4), and
- what can the model do (reasoning, images), for the LangChain ``profile``.

Rules go by the last part of the model id, lower-cased, without a ``:Provider`` suffix, so that
``Qwen/Qwen3-32B:DashScope`` and ``qwen/qwen3-32b`` behave alike. Any model not matched here that
still answers with one of the thinking 400s is remembered by `LearnedStreaming` for the life of
the process.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any, Final

#: Qwen3 hybrid models (thinking on by default, switchable): ``Qwen3-32B``, ``Qwen3-235B-A22B``,
#: quantised variants. Not the 2507 ``-Instruct``/``-Thinking`` splits, Coder, VL or Embedding.
_QWEN3_HYBRID: Final = re.compile(
    r"^qwen3-\d+(?:\.\d+)?b(?:-a\d+(?:\.\d+)?b)?(?:-(?:fp8|awq|gptq-int[48]|int[48]))?$"
)
#: Models that only think: ``*-Thinking-*`` (e.g. ``Qwen3-235B-A22B-Thinking-2507``) and QwQ.
_THINKING_ONLY: Final = re.compile(r"(?:^|-)thinking(?:-|$)|^qwq(?:-|$)")
#: Models that reason although a non-streaming call is fine: DeepSeek-R1, V3.1 and later, V4;
#: GLM-4.5 and later (modelscope-api.md §4).
_REASONS: Final = re.compile(
    r"(?:^|-)r1(?:-|$)|^deepseek-v(?:3\.[1-9]|[4-9])|^glm-(?:4\.[5-9]|[5-9])"
)
#: Vision-language models: ``*-VL-*`` (e.g. ``Qwen2.5-VL-72B-Instruct``), QVQ, and the unified
#: models of §5: Qwen3.5 and later (``Qwen3.5-35B-A3B``, ``Qwen3.8-27B``), ``Intern-S2``.
_VISION: Final = re.compile(
    r"(?:^|-)vl(?:-|$)|^qvq(?:-|$)|^qwen3\.[5-9](?:-|$)|^intern-s2(?:-|$)|(?:^|-)vision(?:-|$)"
)


@lru_cache(maxsize=512)
def short_name(model: str) -> str:
    """The part of an id the family rules read: ``Qwen/Qwen3-32B:DashScope`` -> ``qwen3-32b``."""
    return model.split(":", 1)[0].rsplit("/", 1)[-1].strip().lower()


def is_thinking_only(model: str) -> bool:
    """A model that always thinks and refuses every non-streaming call."""
    return _THINKING_ONLY.search(short_name(model)) is not None


def is_hybrid_thinking(model: str) -> bool:
    """A Qwen3 hybrid model: thinks unless ``enable_thinking`` is false."""
    return _QWEN3_HYBRID.match(short_name(model)) is not None


def needs_streaming(model: str, enable_thinking: Any) -> bool:
    """Whether ModelScope is known to reject ``stream: false`` for this call.

    ``enable_thinking`` is the value the request body carries (None when absent).
    """
    if is_thinking_only(model):
        return True
    return enable_thinking is not False and is_hybrid_thinking(model)


def reasons(model: str) -> bool:
    """Whether the model returns reasoning content (for the model profile)."""
    name = short_name(model)
    return is_thinking_only(model) or is_hybrid_thinking(model) or _REASONS.search(name) is not None


def is_vision(model: str) -> bool:
    """Whether the model accepts image parts (for the model profile)."""
    return _VISION.search(short_name(model)) is not None


class LearnedStreaming:
    """(base_url, model) pairs that answered a non-streaming call with a thinking 400.

    Process-wide, so a second model instance does not pay the failed request again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: set[tuple[str, str]] = set()

    def remember(self, base_url: str, model: str) -> None:
        with self._lock:
            self._pairs.add((base_url, model))

    def knows(self, base_url: str, model: str) -> bool:
        return (base_url, model) in self._pairs

    def forget_all(self) -> None:
        """For tests: start from what the family rules alone say."""
        with self._lock:
            self._pairs.clear()


#: The one registry of learned stream-only models.
LEARNED_STREAMING: Final = LearnedStreaming()
