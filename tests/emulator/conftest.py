"""Fixtures of the emulator tests.

Plain httpx on purpose: the package's own client must not be what checks the server against
the facts sheet. (`emu`, the fresh emulator of each test, comes from ``tests/conftest.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from langchain_modelscope.testing import EmulatorConfig, ModelScopeEmulator


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig | None:
    """The older test modules here describe the daily-counter regime; the points regime
    (the default) has its own module, `test_emulator_points.py`, which overrides this."""
    return EmulatorConfig(regime="daily")


@pytest.fixture
def client(emu: ModelScopeEmulator) -> Iterator[httpx.Client]:
    """A plain httpx client on the emulator, holding its token."""
    with httpx.Client(
        base_url=emu.base_url,
        headers={"Authorization": f"Bearer {emu.token}"},
        timeout=10,
        verify=False,
    ) as c:
        yield c
