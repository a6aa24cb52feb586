"""LangChain model profiles of ModelScope chat models: capabilities and token limits.

Capabilities come from the family rules of `_chat_families`; limits from the table in
``data/model_profiles.json`` (exact id, else the first family whose pattern matches the short
name, else a conservative default). The table is data, not code, so that
``scripts/refresh_profiles.py`` can refresh it from its sources without touching this module.
The same file's ``retired`` section is the package's one list of retired ids (`is_retired`).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from langchain_modelscope._chat_families import is_vision, reasons, short_name

if TYPE_CHECKING:
    from langchain_core.language_models import ModelProfile

#: The table's file, inside the package.
PROFILE_TABLE: Final = "data/model_profiles.json"


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("langchain_modelscope").joinpath(PROFILE_TABLE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def _table() -> tuple[
    dict[str, dict[str, Any]], list[tuple[re.Pattern[str], dict[str, Any]]], dict[str, Any]
]:
    data = _data()
    models = {model_id.lower(): entry for model_id, entry in data["models"].items()}
    families = [(re.compile(f["pattern"]), f) for f in data["families"]]
    return models, families, data["default"]


@lru_cache(maxsize=1)
def _retired_patterns() -> tuple[re.Pattern[str], ...]:
    patterns = _data().get("retired", {}).get("patterns", [])
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


def profiled_models() -> tuple[str, ...]:
    """The model ids the profile table lists by name, as written there, in its order."""
    return tuple(_data()["models"])


def is_retired(model: str) -> bool:
    """Whether ``model`` is known retired (modelscope-api.md §5), a ``:Provider`` suffix aside.

    Known, not certain: ids churn, so a model missing from the list may be retired too, and
    nothing should refuse to call a model because of this answer alone.
    """
    model_id = model.split(":", 1)[0].strip()
    return any(pattern.search(model_id) for pattern in _retired_patterns())


def limits_for(model: str) -> dict[str, int]:
    """``max_input_tokens`` and ``max_output_tokens`` for a model id (never fails)."""
    models, families, default = _table()
    entry = models.get(model.split(":", 1)[0].strip().lower())
    if entry is None:
        name = short_name(model)
        entry = next((f for pattern, f in families if pattern.search(name)), default)
    return {
        "max_input_tokens": int(entry["max_input_tokens"]),
        "max_output_tokens": int(entry["max_output_tokens"]),
    }


@lru_cache(maxsize=256)
def profile_for(model: str) -> ModelProfile:
    """The LangChain profile of a model id (cached: callers copy it)."""
    vision = is_vision(model)
    profile: ModelProfile = {
        **limits_for(model),  # type: ignore[typeddict-item]
        "text_inputs": True,
        "text_outputs": True,
        "tool_calling": True,
        "tool_choice": True,
        "tool_call_streaming": True,
        # Never claim native structured output: ModelScope answers json_schema with
        # `choices: null`, and `create_agent` would use it if this said True.
        "structured_output": False,
        "reasoning_output": reasons(model),
        "image_inputs": vision,
        "image_url_inputs": vision,
    }
    return profile
