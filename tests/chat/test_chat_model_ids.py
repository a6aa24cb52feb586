"""Ids of modelscope-api.md §5: which are retired, and what the profiles say of current ones.

The retired list lives in one place (``data/model_profiles.json``, read by
`langchain_modelscope._profiles.is_retired`); the CLI's ``models`` table reads it from there.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from langchain_modelscope._cli.models import describe
from langchain_modelscope._profiles import PROFILE_TABLE, is_retired, profile_for
from langchain_modelscope.chat_models import DEFAULT_MODEL
from tests.chat.standard_flags import OVERRIDE_MODEL, THINKING_MODEL, VISION_MODEL

#: §5, "Retired" (one Qwen3-VL id stands for the family).
RETIRED = [
    "Qwen/Qwen3-VL-8B-Instruct",
    "Qwen/Qwen3-VL-235B-A22B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-14B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct-1M",
    "moonshotai/Kimi-K2.6",
    "MiniMax/MiniMax-M2.7",
]
#: §5, chat ids seen served in Aug-Oct 2026.
SERVED_CHAT = [
    "deepseek-ai/DeepSeek-V4-Flash",
    "deepseek-ai/DeepSeek-V4-Pro",
    "deepseek-ai/DeepSeek-V4.1-Flash",
    "ZhipuAI/GLM-5",
    "ZhipuAI/GLM-5.1",
    "ZhipuAI/GLM-5.3-Flash",
    "MiniMax/MiniMax-M2.5",
    "moonshotai/Kimi-K2.5",
    "Qwen/Qwen3-235B-A22B",
    "Qwen/Qwen3-235B-A22B-Instruct-2507",
    "Qwen/Qwen3-235B-A22B-Thinking-2507",
    "Qwen/Qwen3-Coder-480B-A35B-Instruct",
    "Qwen/Qwen3-32B",
]
#: §5, vision (unified models).
SERVED_VISION = [
    "Qwen/Qwen3.5-35B-A3B",
    "Qwen/Qwen3.5-122B-A10B",
    "Qwen/Qwen3.5-397B-A17B",
    "Qwen/Qwen3.8-27B",
    "Qwen/Qwen3.8-Flash-Next",
    "Shanghai_AI_Laboratory/Intern-S2-Preview",
]


@pytest.mark.parametrize("model", RETIRED)
def test_retired_ids_are_known_retired(model: str) -> None:
    assert is_retired(model)
    assert is_retired(model.lower())
    assert is_retired(f"{model}:DashScope")
    assert describe(model)["retired"] is True


@pytest.mark.parametrize("model", SERVED_CHAT + SERVED_VISION)
def test_served_ids_are_not_retired(model: str) -> None:
    assert not is_retired(model)
    assert describe(model)["retired"] is False


def test_near_misses_of_retired_ids_are_not_retired() -> None:
    assert not is_retired("Qwen/Qwen2.5-72B-Instruct")
    assert not is_retired("Qwen/Qwen2.5-7B-Instruct-GPTQ")
    assert not is_retired("moonshotai/Kimi-K2.5")


@pytest.mark.parametrize("model", SERVED_VISION)
def test_current_vision_models_take_images(model: str) -> None:
    profile = profile_for(model)
    assert profile.get("image_inputs") is True
    assert profile.get("image_url_inputs") is True


@pytest.mark.parametrize(
    "model", ["deepseek-ai/DeepSeek-V4-Flash", "deepseek-ai/DeepSeek-V4.1-Flash", "ZhipuAI/GLM-5"]
)
def test_current_reasoning_families_say_so(model: str) -> None:
    """DeepSeek V4 and GLM-4.5+ stream reasoning_content (§4)."""
    assert profile_for(model).get("reasoning_output") is True


def test_examples_and_test_suites_use_served_ids() -> None:
    """The default and the standard suites' ids are §5 ids, none retired (ids churn: when one
    is retired, change it here and in tests/chat/standard_flags.py)."""
    for model in (DEFAULT_MODEL, OVERRIDE_MODEL, THINKING_MODEL, VISION_MODEL):
        assert model in SERVED_CHAT + SERVED_VISION, model
        assert not is_retired(model)
    assert profile_for(VISION_MODEL).get("image_inputs") is True


def test_the_retired_list_is_data_in_the_profiles_table() -> None:
    text = resources.files("langchain_modelscope").joinpath(PROFILE_TABLE).read_text("utf-8")
    patterns = json.loads(text)["retired"]["patterns"]
    assert patterns
    assert all(isinstance(p, str) for p in patterns)
