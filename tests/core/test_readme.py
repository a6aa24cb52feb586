"""The README's Python examples run, against the emulator, as a reader would paste them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from langchain_modelscope.testing import ModelScopeEmulator

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def sections() -> dict[str, list[str]]:
    """Python blocks by the heading they stand under."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"^#{2,3} ", README.read_text(encoding="utf-8"), flags=re.MULTILINE):
        title, _, body = part.partition("\n")
        found[title.strip()] = BLOCK.findall(body)
    return found


@pytest.mark.parametrize("heading", ["Quickstart", "Chat", "Embeddings"])
def test_readme_example_runs_on_the_emulator(
    heading: str, modelscope_emulator: ModelScopeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code,) = sections()[heading]
    monkeypatch.setenv("MODELSCOPE_API_KEY", modelscope_emulator.token)
    monkeypatch.setenv("MODELSCOPE_BASE_URL", modelscope_emulator.base_url)
    exec(compile(code, f"README.md ({heading})", "exec"), {"__name__": "readme"})
    assert modelscope_emulator.requests, "the example made no call"
