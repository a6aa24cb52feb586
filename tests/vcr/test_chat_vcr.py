"""langchain-tests' standard integration suite, replayed from vcrpy cassettes.

The capability flags are those of the emulator-backed suite in ``tests/chat`` (shared through
``tests/chat/standard_flags.py``). Offline, every request is answered from
``tests/vcr/cassettes/{TestClass}.{test}.yaml`` (and must match it by method, URI and body);
``make record`` re-records them against the live service, and
``python -m tests.vcr.record_from_emulator`` rebuilds them from the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from tests.chat.standard_flags import (
    THINKING_MODEL,
    VISION_MODEL,
    ChatModelScopeIntegrationFlags,
    TextModelFlags,
)
from tests.vcr.vcr_support import Upstream, replay_params

pytestmark = pytest.mark.vcr


class TestChatModelScopeVCR(ChatModelScopeIntegrationFlags, ChatModelIntegrationTests):
    """A vision-language model, so the image tests run too; it calls tools like text models."""

    _upstream_params: dict[str, Any] = replay_params()  # replaced per test by _upstream

    @pytest.fixture(autouse=True)
    def _upstream(self, vcr_upstream: Upstream, stand_in_test_image: bytes) -> None:
        """The suite builds models from `chat_model_params`, which cannot see fixtures."""
        self._upstream_params = vcr_upstream.params

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # max_retries=0: a retried call would record its failure too, and replay that.
        return {"model": VISION_MODEL, "max_retries": 0, **self._upstream_params}

    @property
    def enable_vcr_tests(self) -> bool:
        # test_stream_time benchmarks streaming replayed from its cassette: no network.
        return True


class TestChatModelScopeVCRThinking(TextModelFlags, TestChatModelScopeVCR):
    """A Qwen3 hybrid model: every invoke streams under the hood, so most cassettes hold SSE."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": THINKING_MODEL, "max_retries": 0, **self._upstream_params}
