"""Pytest fixtures for the emulator, registered through the `pytest11` entry point.

Import is cheap: the server module is only imported when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from langchain_modelscope.testing._server import ModelScopeEmulator
    from langchain_modelscope.testing._types import EmulatorConfig


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig | None:
    """The config `modelscope_emulator` starts with (None: the defaults, the points regime).

    Override it in a conftest or test module, e.g. to pin tests to the daily regime:
    `return EmulatorConfig(regime="daily")`.
    """
    return None


@pytest.fixture
def modelscope_emulator(
    modelscope_emulator_config: EmulatorConfig | None,
) -> Iterator[ModelScopeEmulator]:
    """A started emulator with fresh state, stopped after the test."""
    from langchain_modelscope.testing._server import ModelScopeEmulator

    with ModelScopeEmulator(config=modelscope_emulator_config) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def modelscope_emulator_session() -> Iterator[ModelScopeEmulator]:
    """One emulator shared by the session; tests call `.reset()` when they need fresh state."""
    from langchain_modelscope.testing._server import ModelScopeEmulator

    with ModelScopeEmulator() as emulator:
        yield emulator
