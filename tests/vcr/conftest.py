"""VCR settings for the tests in this folder.

Plain ``pytest`` replays cassettes only (record mode "none": a missing or stale cassette fails
the test instead of reaching for the network). ``--record-mode=rewrite`` re-records them: live
against ``https://api-inference.modelscope.cn/v1`` with a token from the environment (`make
record`), or against the emulator when ``record_from_emulator.py`` asks for it. Either way the
cassette names the real base URL and carries no credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.conftest import base_vcr_config
from vcr import VCR

from langchain_modelscope._client import API_KEY_ENV_VARS
from langchain_modelscope.testing import ModelScopeEmulator
from tests.support.standard_suite import fresh_learned_streaming, serve_standard_test_image
from tests.vcr.vcr_support import (
    CASSETTES,
    REAL_BASE_URL,
    SENSITIVE_REQUEST_HEADERS,
    VCR_DIR,
    ProvenanceSerializer,
    Scrubber,
    Source,
    Upstream,
    environment_tokens,
    known_secrets,
    replay_params,
    source_for,
)

#: A 1x1 red PNG served in its place, in every mode: the emulator cannot reach GitHub, and a
#: replayed request body must hold the same bytes the recorded one did (hence fixed bytes,
#: not ones compressed at run time).
STAND_IN_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415478da63b8a9ad0d000310013052d72c680000000049454e44ae426082"
)

NO_TOKEN_REASON = (
    "recording against the live ModelScope service needs a token: set "
    f"{' or '.join(API_KEY_ENV_VARS)} (`make record` refuses to run without one). "
    "To rebuild cassettes offline, run `python -m tests.vcr.record_from_emulator`."
)


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    """Cassettes written in this run say where they came from, on their first line."""
    source = source_for(config.getoption("--record-mode", default=None))
    if source != "replay":
        vcr.register_serializer("yaml", ProvenanceSerializer(source))


def _records(item: pytest.Item) -> bool:
    """Whether the item may record: VCR-marked, and no marker pins record_mode to "none"."""
    markers = list(item.iter_markers("vcr"))
    return bool(markers) and all(m.kwargs.get("record_mode", "") != "none" for m in markers)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Live recording without a token is skipped before any fixture runs: pytest-recording's
    rewrite mode deletes a cassette when its `vcr` fixture starts, and that must not happen
    for a run that cannot re-record it."""
    if source_for(config.getoption("--record-mode", default=None)) != "live":
        return
    if environment_tokens():
        return
    skip = pytest.mark.skip(reason=NO_TOKEN_REASON)
    for item in items:
        if item.path.is_relative_to(VCR_DIR) and _records(item):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vcr_source(pytestconfig: pytest.Config) -> Source:
    """Replay (the default), live (`make record`) or emulator (record_from_emulator.py)."""
    return source_for(pytestconfig.getoption("--record-mode", default=None))


@pytest.fixture(scope="session")
def vcr_cassette_dir() -> str:
    """One folder for the whole suite, found from this file, so any working directory works."""
    return str(CASSETTES)


@pytest.fixture(scope="session")
def vcr_config(pytestconfig: pytest.Config, vcr_source: Source) -> dict[str, Any]:
    """langchain-tests' base config, replay-only by default, scrubbing every credential."""
    config = base_vcr_config()
    # pytest-recording lets a record_mode in this dict beat the command line: mirror the CLI.
    config["record_mode"] = pytestconfig.getoption("--record-mode", default=None) or "none"
    # Names alone: vcrpy removes these headers instead of writing a placeholder value.
    config["filter_headers"] = list(SENSITIVE_REQUEST_HEADERS)
    config["match_on"] = ["method", "uri", "body"]
    config["cassette_library_dir"] = str(CASSETTES)
    scrubber = Scrubber(secrets=known_secrets(), map_loopback=vcr_source == "emulator")
    config["before_record_request"] = scrubber.request
    config["before_record_response"] = scrubber.response
    return config


@pytest.fixture(autouse=True)
def _forget_learned_streaming() -> Iterator[None]:
    """Each test starts from the family rules alone (the thinking-400 cassettes rely on it)."""
    with fresh_learned_streaming():
        yield


@pytest.fixture
def vcr_upstream(vcr_source: Source) -> Iterator[Upstream]:
    """Replay, the live service (token from the environment, never without one), or a fresh
    emulator whose loopback URL the scrubber rewrites to the real one."""
    if vcr_source == "replay":
        yield Upstream("replay", replay_params())
    elif vcr_source == "emulator":
        with ModelScopeEmulator() as emulator:
            yield Upstream("emulator", {"api_key": emulator.token, "base_url": emulator.base_url})
    else:
        if not environment_tokens():  # normally skipped at collection already
            pytest.skip(NO_TOKEN_REASON)
        # No api_key argument: the model reads the real token from the environment itself.
        yield Upstream("live", {"base_url": REAL_BASE_URL})


@pytest.fixture
def stand_in_test_image(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Answer `httpx.get` of the standard test image locally; other URLs are untouched.

    The patch sits above httpx's transport, so vcrpy never sees (or records) this download.
    """
    return serve_standard_test_image(monkeypatch, STAND_IN_PNG)
