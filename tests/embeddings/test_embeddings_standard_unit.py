"""langchain-tests' standard unit suite for ModelScopeEmbeddings, with sockets disabled."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_modelscope.embeddings import ModelScopeEmbeddings

pytestmark = pytest.mark.disable_socket


class TestModelScopeEmbeddingsStandardUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[ModelScopeEmbeddings]:
        return ModelScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "Qwen/Qwen3-Embedding-8B", "api_key": "ms-test-token"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "MODELSCOPE_API_KEY": "ms-from-env",
                "MODELSCOPE_BASE_URL": "https://ms-ens-42.api-inference.modelscope.cn/v1/",
            },
            {"model": "Qwen/Qwen3-Embedding-0.6B"},
            {
                "api_key": "ms-from-env",
                "base_url": "https://ms-ens-42.api-inference.modelscope.cn/v1",
                "model": "Qwen/Qwen3-Embedding-0.6B",
            },
        )
