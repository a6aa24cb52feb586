"""LangChain integration for ModelScope API-Inference.

`ChatModelScope` and `ModelScopeEmbeddings` talk to the service; `FallbackChatModel` and
`FallbackEmbeddings` move on to other accounts, models or providers when a quota runs out,
remembering it in a `QuotaLedger`; `langchain_modelscope.testing` holds an offline emulator.
`ModelScopeChatEndpoint` and `ModelScopeEndpoint` are the names of ModelScope's own package
(``langchain-modelscope-integration``), kept so its users' code runs unchanged.

Names are loaded on first use, so ``import langchain_modelscope.testing`` (the emulator, a
pytest plugin) stays standard-library-only and fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from langchain_modelscope._version import __version__

if TYPE_CHECKING:
    from langchain_modelscope._balance import (
        BalanceUnavailableError,
        PointsBalance,
        apoints_balance,
        points_balance,
    )
    from langchain_modelscope._compat import ModelScopeChatEndpoint, ModelScopeEndpoint
    from langchain_modelscope._doctor import DoctorReport, doctor
    from langchain_modelscope._governor import set_concurrency_store
    from langchain_modelscope._images_tool import ModelScopeImageTool
    from langchain_modelscope.chat_models import ChatModelScope
    from langchain_modelscope.embeddings import ModelScopeEmbeddings
    from langchain_modelscope.fallback import (
        AllCandidatesFailedError,
        Candidate,
        FallbackChatModel,
        FallbackEmbeddings,
    )
    from langchain_modelscope.images import GeneratedImages, ModelScopeImageGenerator
    from langchain_modelscope.quota import (
        InMemoryQuotaStore,
        QuotaLedger,
        RedisQuotaStore,
        SQLiteQuotaStore,
    )

_EXPORTS: dict[str, str] = {
    "BalanceUnavailableError": "errors",
    "PointsBalance": "_balance",
    "apoints_balance": "_balance",
    "points_balance": "_balance",
    "DoctorReport": "_doctor",
    "doctor": "_doctor",
    "GeneratedImages": "images",
    "ModelScopeImageGenerator": "images",
    "ModelScopeImageTool": "_images_tool",
    "ChatModelScope": "chat_models",
    "ModelScopeEmbeddings": "embeddings",
    "AllCandidatesFailedError": "fallback",
    "Candidate": "fallback",
    "FallbackChatModel": "fallback",
    "FallbackEmbeddings": "fallback",
    "InMemoryQuotaStore": "quota",
    "QuotaLedger": "quota",
    "RedisQuotaStore": "quota",
    "SQLiteQuotaStore": "quota",
    "set_concurrency_store": "_governor",
    # The names of langchain-modelscope-integration (deprecated spellings; they warn once).
    "ModelScopeChatEndpoint": "_compat",
    "ModelScopeEndpoint": "_compat",
}

__all__ = [
    "AllCandidatesFailedError",
    "BalanceUnavailableError",
    "Candidate",
    "ChatModelScope",
    "DoctorReport",
    "FallbackChatModel",
    "FallbackEmbeddings",
    "GeneratedImages",
    "InMemoryQuotaStore",
    "ModelScopeChatEndpoint",
    "ModelScopeEmbeddings",
    "ModelScopeEndpoint",
    "ModelScopeImageGenerator",
    "ModelScopeImageTool",
    "PointsBalance",
    "QuotaLedger",
    "RedisQuotaStore",
    "SQLiteQuotaStore",
    "__version__",
    "apoints_balance",
    "doctor",
    "points_balance",
    "set_concurrency_store",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_modelscope' has no attribute {name!r}")
    value = getattr(import_module(f"langchain_modelscope.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
