"""Fixtures of the governor tests: an emulator that answers slowly enough for calls to overlap.

The emulator counts requests in flight at the server (`max_in_flight`): that, not the
governor's own counter, is what the tests hold to the limit.
"""

from __future__ import annotations

import pytest

from langchain_modelscope.testing import EmulatorConfig

#: Real seconds each answer takes: long enough that 20 calls sent together overlap.
DELAY = 0.05


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig:
    """The daily regime (plenty of calls), answers that take `DELAY` seconds."""
    return EmulatorConfig(regime="daily", response_delay=DELAY)
