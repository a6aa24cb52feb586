"""Shared test settings.

Every test is offline: pytest-socket lets tests connect to loopback only (the emulator, a
local redis-server), and unit-test modules disable sockets entirely with
``pytestmark = pytest.mark.disable_socket``. The emulator fixtures (``modelscope_emulator``,
``modelscope_emulator_session``) come from the package's own pytest plugin.
"""

from __future__ import annotations

import pytest

from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR

RECORDING_MODES = {"rewrite", "all", "new_episodes"}


@pytest.fixture(autouse=True)
def _no_real_credentials(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real token must never leak into an offline test (``make record`` aside)."""
    if request.config.getoption("--record-mode", default=None) in RECORDING_MODES:
        return
    for name in (*API_KEY_ENV_VARS, BASE_URL_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
