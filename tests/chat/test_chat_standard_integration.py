"""langchain-tests' standard integration suite, against the emulator over loopback HTTP.

The emulator is fresh for every test (quotas included) and reached through the environment,
because the suite builds models from class properties. The model is a vision-language model
so that the image tests run too; it calls tools like the text models do. The capability flags
are shared with the other standard suites, in ``tests/chat/standard_flags.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_modelscope.testing import ModelScopeEmulator
from tests.chat.standard_flags import (
    THINKING_MODEL,
    VISION_MODEL,
    ChatModelScopeIntegrationFlags,
    TextModelFlags,
)


@pytest.fixture(autouse=True)
def _offline(chat_env: ModelScopeEmulator, local_test_image: bytes) -> None:
    """Every test: a fresh emulator, and the standard test image served locally."""


class TestChatModelScopeStandardIntegration(
    ChatModelScopeIntegrationFlags, ChatModelIntegrationTests
):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        # max_retries=0: a failure shows at once instead of after backoff.
        return {"model": VISION_MODEL, "max_retries": 0}


class TestChatModelScopeStandardIntegrationThinking(
    TextModelFlags, TestChatModelScopeStandardIntegration
):
    """The same suite on a Qwen3 hybrid model: every invoke streams under the hood, answers
    carry reasoning, and v1 blocks must keep reasoning and tool calls apart."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": THINKING_MODEL, "max_retries": 0}
