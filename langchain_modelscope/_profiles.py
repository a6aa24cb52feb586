"""LangChain model profiles of ModelScope chat models: capabilities and token limits.

Capabilities come from the family rules of `_chat_families`; limits from the table in
``data/model_profiles.json`` (exact id, else the first family whose pattern matches the short
name, else a conservative default). The table is data, not code, so that
``scripts/refresh_profiles.py`` can refresh it from its sources without touching this module.
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
def _table() -> tuple[
    dict[str, dict[str, Any]], list[tuple[re.Pattern[str], dict[str, Any]]], dict[str, Any]
]:
    text = resources.files("langchain_modelscope").joinpath(PROFILE_TABLE).read_text("utf-8")
    data = json.loads(text)
    models = {model_id.lower(): entry for model_id, entry in data["models"].items()}
    families = [(re.compile(f["pattern"]), f) for f in data["families"]]
    return models, families, data["default"]


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
