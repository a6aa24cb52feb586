"""langchain-tests' standard integration suite, against the emulator over loopback HTTP.

The emulator is fresh for every test (quotas included) and reached through the environment,
because the suite builds models from class properties. The model is a vision-language model
so that the image tests run too; it calls tools like the text models do.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.testing import ModelScopeEmulator


@pytest.fixture(autouse=True)
def _offline(chat_env: ModelScopeEmulator, local_test_image: bytes) -> None:
    """Every test: a fresh emulator, and the standard test image served locally."""


class TestChatModelScopeStandardIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatModelScope]:
        return ChatModelScope

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # max_retries=0: a failure shows at once instead of after backoff.
        return {"model": "Qwen/Qwen3-VL-8B-Instruct", "max_retries": 0}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "Qwen/Qwen2.5-72B-Instruct"


class TestChatModelScopeStandardIntegrationThinking(TestChatModelScopeStandardIntegration):
    """The same suite on a Qwen3 hybrid model: every invoke streams under the hood, answers
    carry reasoning, and v1 blocks must keep reasoning and tool calls apart."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "Qwen/Qwen3-8B", "max_retries": 0}

    @property
    def supports_image_inputs(self) -> bool:
        return False  # a text model: the service rejects image parts
