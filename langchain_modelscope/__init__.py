"""LangChain integration for ModelScope API-Inference."""

from langchain_modelscope._version import __version__

__all__ = ["__version__"]
