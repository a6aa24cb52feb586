"""The public surface: every exported name resolves, and the emulator stays light to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import langchain_modelscope

pytestmark = pytest.mark.disable_socket


@pytest.mark.parametrize("name", langchain_modelscope.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(langchain_modelscope, name) is not None


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = langchain_modelscope.Nope  # type: ignore[attr-defined]


def test_version_is_a_string() -> None:
    assert langchain_modelscope.__version__.count(".") == 2


def test_importing_the_emulator_does_not_load_the_client_side() -> None:
    code = (
        "import sys, langchain_modelscope.testing\n"
        "loaded = [m for m in ('langchain_core', 'httpx', 'langchain_modelscope.chat_models')"
        " if m in sys.modules]\n"
        "print(loaded)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
