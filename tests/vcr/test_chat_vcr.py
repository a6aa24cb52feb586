"""langchain-tests' standard integration suite, replayed from vcrpy cassettes.

The capability flags are those of the emulator-backed suite in ``tests/chat``. Offline, every
request is answered from ``tests/vcr/cassettes/{TestClass}.{test}.yaml`` (and must match it by
method, URI and body); ``make record`` re-records them against the live service, and
``python -m tests.vcr.record_from_emulator`` rebuilds them from the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_modelscope.chat_models import ChatModelScope
from tests.vcr.vcr_support import Upstream, replay_params

pytestmark = pytest.mark.vcr


class TestChatModelScopeVCR(ChatModelIntegrationTests):
    """A vision-language model, so the image tests run too; it calls tools like text models."""

    _upstream_params: dict[str, Any] = replay_params()  # replaced per test by _upstream

    @pytest.fixture(autouse=True)
    def _upstream(self, vcr_upstream: Upstream, stand_in_test_image: bytes) -> None:
        """The suite builds models from `chat_model_params`, which cannot see fixtures."""
        self._upstream_params = vcr_upstream.params

    @property
    def chat_model_class(self) -> type[ChatModelScope]:
        return ChatModelScope

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # max_retries=0: a retried call would record its failure too, and replay that.
        return {"model": "Qwen/Qwen3-VL-8B-Instruct", "max_retries": 0, **self._upstream_params}

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

    @property
    def enable_vcr_tests(self) -> bool:
        # test_stream_time benchmarks streaming replayed from its cassette: no network.
        return True


class TestChatModelScopeVCRThinking(TestChatModelScopeVCR):
    """A Qwen3 hybrid model: every invoke streams under the hood, so most cassettes hold SSE."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "Qwen/Qwen3-8B", "max_retries": 0, **self._upstream_params}

    @property
    def supports_image_inputs(self) -> bool:
        return False  # a text model: the service rejects image parts
