"""LangChain integration for ModelScope API-Inference.

`ChatModelScope` and `ModelScopeEmbeddings` talk to the service; `FallbackChatModel` and
`FallbackEmbeddings` move on to other accounts, models or providers when a quota runs out,
remembering it in a `QuotaLedger`; `langchain_modelscope.testing` holds an offline emulator.
"""

from langchain_modelscope._version import __version__
from langchain_modelscope.chat_models import ChatModelScope

__all__ = ["ChatModelScope", "__version__"]
