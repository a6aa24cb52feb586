"""Points balances and throttle windows through the fallback, against the points-regime emulator.

What is asserted is what the facts sheet says (§2a, §3): a spent balance answers 429
``insufficient balance`` and has no reset time, the free balance endpoint tells when points are
back, "We have to rate limit you" windows last long. Requests are counted in the emulator's own
log; the ledger runs on a fake clock, so cooldowns and intervals pass without waiting.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from langchain_modelscope._balance import BALANCE_PATH
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import ThrottledError
from langchain_modelscope.fallback import AllCandidatesFailedError, FallbackChatModel
from langchain_modelscope.quota import QuotaKey, QuotaLedger, throttle_cooldown
from langchain_modelscope.testing import Fault, ModelScopeEmulator
from tests.support import modelscope_facts as facts
from tests.support.clock import FakeClock

PRIMARY = "Qwen/Qwen3-32B"
SECOND = "deepseek-ai/DeepSeek-V4-Flash"
INTERVAL = timedelta(minutes=5)


@pytest.fixture
def modelscope_emulator_config() -> None:
    """The emulator's default: the points regime, the service as it is since 2026-08."""
    return None


@pytest.fixture
def backup(modelscope_emulator: ModelScopeEmulator) -> str:
    """A second account, with points."""
    return modelscope_emulator.add_account(points=1000)


def chat_requests(emu: ModelScopeEmulator, token: str, model: str | None = None) -> int:
    return len(emu.requests_for(token=token, model=model, path="/v1/chat/completions"))


def balance_requests(emu: ModelScopeEmulator, token: str | None = None) -> int:
    return len(emu.requests_for(token=token, path=BALANCE_PATH))


def points_model(
    emu: ModelScopeEmulator, backup: str, ledger: QuotaLedger, **kwargs: Any
) -> FallbackChatModel:
    return FallbackChatModel.from_modelscope(
        PRIMARY,
        tokens=[emu.token, backup],
        base_url=emu.base_url,
        ledger=ledger,
        balance_check_interval=INTERVAL,
        max_retries=2,
        **kwargs,
    )


def out_of_points(
    emu: ModelScopeEmulator, backup: str, ledger: QuotaLedger
) -> tuple[FallbackChatModel, str, str]:
    """The main account with no points, the backup with some: the model and both accounts."""
    emu.set_balance(emu.token, 0)
    model = points_model(emu, backup, ledger)
    main, other = (info.account for info in model.candidate_infos)
    return model, main, other


def served(model: FallbackChatModel, text: str = "hi") -> str:
    report = model.invoke(text).response_metadata["fallback"]
    return str(report["served_by"]["account"])


# --- points --------------------------------------------------------------------------------


def test_a_spent_balance_is_skipped_with_zero_requests_and_lifted_by_one_check_after_a_grant(
    modelscope_emulator: ModelScopeEmulator, backup: str, ledger: QuotaLedger, clock: FakeClock
) -> None:
    emu = modelscope_emulator
    model, main, other = out_of_points(emu, backup, ledger)

    assert served(model) == other
    assert chat_requests(emu, emu.token) == 1  # the 429 that taught the ledger; never retried
    entry = ledger.blocked_until(QuotaKey("modelscope", main, PRIMARY))
    assert entry is not None
    assert (entry.kind, entry.scope, entry.has_clock) == ("points", "account", False)

    for _ in range(20):
        assert served(model) == other
    assert chat_requests(emu, emu.token) == 1, "a spent balance costs no further requests"
    assert balance_requests(emu) == 0, "the first check waits one interval after the 429"

    clock.advance(seconds=INTERVAL.total_seconds() + 1)
    assert served(model) == other  # checked: still empty, skipped again
    assert balance_requests(emu, emu.token) == 1
    assert served(model) == other
    assert balance_requests(emu) == 1, "one check per interval"

    emu.grant_points(emu.token, 50)
    clock.advance(seconds=INTERVAL.total_seconds() + 1)
    assert served(model) == main, "the grant is seen by the next check and served in that call"
    assert balance_requests(emu, emu.token) == 2
    assert ledger.is_available(QuotaKey("modelscope", main, PRIMARY))


def test_a_points_error_says_what_to_do_and_promises_no_reset(
    modelscope_emulator: ModelScopeEmulator, backup: str, ledger: QuotaLedger
) -> None:
    emu = modelscope_emulator
    emu.set_balance(emu.token, 0)
    emu.set_balance(backup, 0)
    model = points_model(emu, backup, ledger)
    with pytest.raises(AllCandidatesFailedError) as caught:
        model.invoke("hi")
    error = caught.value
    assert [a.kind for a in error.attempts] == ["points", "points"]
    assert error.earliest_reset is None, "a spent balance has no reset time"
    assert all(a.until is None for a in error.attempts)
    assert "log in at modelscope.cn" in str(error.__cause__ or error.__context__ or "") or (
        "00:00" not in str(error)
    )
    with pytest.raises(AllCandidatesFailedError) as again:
        model.invoke("hi")
    assert [a.outcome for a in again.value.attempts] == ["skipped", "skipped"]
    assert again.value.earliest_reset is None
    assert chat_requests(emu, emu.token) == chat_requests(emu, backup) == 1


def test_where_the_balance_endpoint_is_unusable_one_call_per_interval_probes(
    modelscope_emulator: ModelScopeEmulator, backup: str, ledger: QuotaLedger, clock: FakeClock
) -> None:
    emu = modelscope_emulator
    emu.config.balance_endpoint = "not_found"
    model, main, other = out_of_points(emu, backup, ledger)
    assert served(model) == other

    clock.advance(seconds=INTERVAL.total_seconds() + 1)
    for _ in range(5):
        assert served(model) == other
    assert balance_requests(emu) == 1, "the endpoint was asked once, and failed"
    assert chat_requests(emu, emu.token) == 2, "then one billable probe stood in for it"

    emu.grant_points(emu.token, 50)
    clock.advance(seconds=INTERVAL.total_seconds() + 1)
    assert served(model) == main, "the probe passed: the mark is lifted"
    assert served(model) == main
    assert balance_requests(emu) == 2


async def test_the_async_walk_checks_and_lifts_the_same_way(
    modelscope_emulator: ModelScopeEmulator, backup: str, ledger: QuotaLedger, clock: FakeClock
) -> None:
    emu = modelscope_emulator
    model, main, other = out_of_points(emu, backup, ledger)
    first = await model.ainvoke("hi")
    assert first.response_metadata["fallback"]["served_by"]["account"] == other
    emu.grant_points(emu.token, 5)
    clock.advance(seconds=INTERVAL.total_seconds() + 1)
    second = await model.ainvoke("hi")
    assert second.response_metadata["fallback"]["served_by"]["account"] == main
    assert (chat_requests(emu, emu.token), balance_requests(emu)) == (2, 1)


def test_the_balance_check_interval_takes_seconds_or_a_timedelta() -> None:
    model = FallbackChatModel.from_modelscope(PRIMARY, tokens=["t"], balance_check_interval=90)
    assert model.balance_check_interval == timedelta(seconds=90)
    with pytest.raises(TypeError, match="seconds"):
        FallbackChatModel.from_modelscope(PRIMARY, tokens=["t"], balance_check_interval="5m")
    with pytest.raises(ValueError, match="positive"):
        FallbackChatModel.from_modelscope(PRIMARY, tokens=["t"], balance_check_interval=0)


# --- throttle ------------------------------------------------------------------------------


def throttle_model(emu: ModelScopeEmulator, ledger: QuotaLedger) -> FallbackChatModel:
    return FallbackChatModel.from_modelscope(
        [PRIMARY, SECOND], tokens=[emu.token], base_url=emu.base_url, ledger=ledger, max_retries=2
    )


def served_model(model: FallbackChatModel) -> str:
    return str(model.invoke("hi").response_metadata["fallback"]["served_by"]["model"])


def test_a_throttle_moves_on_at_once_cools_down_escalates_and_is_cleared_by_a_success(
    modelscope_emulator: ModelScopeEmulator, ledger: QuotaLedger, clock: FakeClock
) -> None:
    emu = modelscope_emulator
    emu.throttle(emu.token, PRIMARY, 10 * 3600)
    model = throttle_model(emu, ledger)
    key = model.candidate_infos[0].key

    assert served_model(model) == SECOND
    assert chat_requests(emu, emu.token, PRIMARY) == 1, "no retry of a throttle in a fallback"
    first = ledger.blocked_until(key)
    assert first is not None
    assert (first.kind, first.strikes) == ("throttle", 1)
    assert first.until == clock() + throttle_cooldown(1)

    for _ in range(10):
        assert served_model(model) == SECOND
    assert chat_requests(emu, emu.token, PRIMARY) == 1, "skipped with zero requests"

    clock.advance(seconds=throttle_cooldown(1).total_seconds())
    assert served_model(model) == SECOND  # the one probe: still throttled
    assert chat_requests(emu, emu.token, PRIMARY) == 2
    second = ledger.blocked_until(key)
    assert second is not None
    assert (second.strikes, second.until) == (2, clock() + throttle_cooldown(2))

    clock.advance(seconds=throttle_cooldown(1).total_seconds())
    assert served_model(model) == SECOND
    assert chat_requests(emu, emu.token, PRIMARY) == 2, "the cooldown doubled"

    emu.throttle(emu.token, PRIMARY, 0)  # the window closes
    clock.advance(seconds=throttle_cooldown(2).total_seconds())
    assert served_model(model) == PRIMARY
    assert not ledger.probe_due(key)
    assert ledger.is_available(key), "a success clears the cooldown"
    assert served_model(model) == PRIMARY
    assert chat_requests(emu, emu.token, PRIMARY) == 4


async def test_the_async_walk_never_retries_a_throttle_either(
    modelscope_emulator: ModelScopeEmulator, ledger: QuotaLedger
) -> None:
    emu = modelscope_emulator
    emu.throttle(emu.token, PRIMARY, 3600)
    model = throttle_model(emu, ledger)
    answer = await model.ainvoke("hi")
    assert answer.response_metadata["fallback"]["served_by"]["model"] == SECOND
    assert answer.response_metadata["fallback"]["attempts"][0]["kind"] == "throttle"
    await model.ainvoke("hi")
    assert chat_requests(emu, emu.token, PRIMARY) == 1


def test_a_lost_probe_claim_skips_with_zero_requests(
    modelscope_emulator: ModelScopeEmulator, ledger: QuotaLedger, clock: FakeClock
) -> None:
    emu = modelscope_emulator
    emu.throttle(emu.token, PRIMARY, 3600)
    model = throttle_model(emu, ledger)
    key = model.candidate_infos[0].key
    served_model(model)
    clock.advance(seconds=throttle_cooldown(1).total_seconds())
    assert ledger.probe_due(key)
    # Another process won the probe of this cooldown.
    assert ledger.claim(key.claim_name("probe"), clock() + throttle_cooldown(1))
    assert served_model(model) == SECOND
    assert chat_requests(emu, emu.token, PRIMARY) == 1


# --- the bare model ------------------------------------------------------------------------


def bare(emu: ModelScopeEmulator, max_retries: int) -> ChatModelScope:
    return ChatModelScope(
        model=PRIMARY, api_key=emu.token, base_url=emu.base_url, max_retries=max_retries
    )


def test_a_bare_model_raises_at_once_when_retry_after_is_beyond_its_bound(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    emu = modelscope_emulator
    body = facts.error_envelope(facts.RATE_LIMITED)
    emu.queue_fault(Fault.status(429, body, headers={"Retry-After": "600"}), times=5)
    before = time.time()
    with pytest.raises(ThrottledError) as caught:
        bare(emu, max_retries=3).invoke("hi")
    assert chat_requests(emu, emu.token) == 1
    retry_at = caught.value.retry_at
    assert retry_at is not None
    assert retry_at.timestamp() >= before + 600
    assert "retry no sooner than" in str(caught.value)


def test_a_bare_model_waits_the_cooldown_and_gives_up_past_a_minute(
    modelscope_emulator: ModelScopeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = modelscope_emulator
    slept: list[float] = []
    monkeypatch.setattr("tenacity.nap.time.sleep", slept.append)
    emu.throttle(emu.token, PRIMARY, 3600)
    with pytest.raises(ThrottledError) as caught:
        bare(emu, max_retries=5).invoke("hi")
    # 30 s, then 60 s (the ledger's rule); the next wait would be 120 s > THROTTLE_MAX_WAIT.
    assert slept == [30.0, 60.0]
    assert chat_requests(emu, emu.token) == 3
    assert caught.value.retry_at is not None


def test_a_bare_model_without_retries_says_when_to_come_back(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    emu = modelscope_emulator
    emu.throttle(emu.token, PRIMARY, 3600)
    before = time.time()
    with pytest.raises(ThrottledError) as caught:
        bare(emu, max_retries=0).invoke("hi")
    retry_at = caught.value.retry_at
    assert retry_at is not None
    assert retry_at.timestamp() >= before + throttle_cooldown(1).total_seconds()
