"""Shared test settings.

Every test is offline: pytest-socket lets tests connect to loopback only (the emulator, a
local redis-server), and unit-test modules disable sockets entirely with
``pytestmark = pytest.mark.disable_socket``. The emulator fixtures (``modelscope_emulator``,
``modelscope_emulator_session``) come from the package's own pytest plugin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR
from langchain_modelscope.testing import ModelScopeEmulator
from tests.support.clock import FakeClock, future_start
from tests.support.redis_server import (
    redis_package_or_skip,
    redis_server,
    redis_server_binary_or_skip,
)

RECORDING_MODES = {"rewrite", "all", "new_episodes"}


@pytest.fixture(autouse=True)
def _no_real_credentials(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real token must never leak into an offline test (``make record`` aside)."""
    if request.config.getoption("--record-mode", default=None) in RECORDING_MODES:
        return
    for name in (*API_KEY_ENV_VARS, BASE_URL_ENV_VAR):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emu(modelscope_emulator: ModelScopeEmulator) -> ModelScopeEmulator:
    """The fresh emulator of this test, under a short name."""
    return modelscope_emulator


@pytest.fixture
def clock() -> FakeClock:
    """A settable ledger clock, half an hour before a daily reset (see `future_start`)."""
    return FakeClock(future_start())


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for the whole session (skipped without one, failed on CI)."""
    binary = redis_server_binary_or_skip()
    redis_package_or_skip()
    with redis_server(binary) as url:
        yield url
