"""The README's Python examples run, against the emulator, as a reader would paste them; its
links are absolute (they must work on the package index page) and its install lines name the
published distribution."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from langchain_modelscope.testing import ModelScopeEmulator

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: Sections whose examples run as they stand (the fallback one names the reader's tokens).
RUNNABLE = ["Quickstart", "Agents and tools", "RAG", "Image generation"]
ORDER = [
    "Install",
    "Token",
    "Quickstart",
    "Agents and tools",
    "RAG",
    "Quotas and fallback",
    "Testing your agents with the emulator",
    "Coming from langchain-modelscope-integration",
    "Limits and unknowns",
]


def sections() -> dict[str, list[str]]:
    """Python blocks by the heading they stand under."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"^#{2,3} ", README.read_text(encoding="utf-8"), flags=re.MULTILINE):
        title, _, body = part.partition("\n")
        found[title.strip()] = BLOCK.findall(body)
    return found


def run(code: str, heading: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(code, f"README.md ({heading})", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("heading", RUNNABLE)
def test_readme_example_runs_on_the_emulator(
    heading: str, modelscope_emulator: ModelScopeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    (code,) = sections()[heading]
    monkeypatch.setenv("MODELSCOPE_API_KEY", modelscope_emulator.token)
    monkeypatch.setenv("MODELSCOPE_BASE_URL", modelscope_emulator.base_url)
    run(code, heading)
    assert modelscope_emulator.requests, "the example made no call"


def test_readme_emulator_test_passes_and_really_spends_a_quota() -> None:
    (code,) = sections()["Testing your agents with the emulator"]
    test = run(code, "emulator")["test_my_agent_survives_a_spent_quota"]
    # The emulator a reader's fixture gives: its default regime (points), not this folder's pin.
    with ModelScopeEmulator() as emulator:
        test(emulator)
        statuses = [r.status for r in emulator.requests]
    assert 429 in statuses, statuses  # the main account answered "insufficient balance" once


def test_readme_sections_come_in_a_newcomers_order() -> None:
    titles = [t for t in sections() if t in ORDER]
    assert titles == ORDER


def test_readme_links_are_absolute_and_install_lines_name_the_distribution() -> None:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert links
    assert all(link.startswith("https://") for link in links), links
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    name = re.search(r'^name = "([^"]+)"', pyproject, re.MULTILINE).group(1)  # type: ignore[union-attr]
    installs = re.findall(r"pip install (\S+)", text)
    ours = [i.strip('"') for i in installs if "modelscope" in i and "integration" not in i]
    assert ours, installs
    assert all(i.split("[")[0] == name for i in ours), installs
