"""langchain-tests' standard integration suite for ModelScopeEmbeddings, against the emulator
over loopback."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from langchain_modelscope.embeddings import ModelScopeEmbeddings
from langchain_modelscope.testing import ModelScopeEmulator


class TestModelScopeEmbeddingsStandardIntegration(EmbeddingsIntegrationTests):
    emulator: ModelScopeEmulator

    @pytest.fixture(autouse=True)
    def _emulator(self, modelscope_emulator: ModelScopeEmulator) -> None:
        # The suite builds the model from a property, which cannot take fixtures.
        self.emulator = modelscope_emulator

    @property
    def embeddings_class(self) -> type[ModelScopeEmbeddings]:
        return ModelScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {
            "model": "Qwen/Qwen3-Embedding-0.6B",
            "base_url": self.emulator.base_url,
            "api_key": self.emulator.token,
            "batch_size": 2,
        }
