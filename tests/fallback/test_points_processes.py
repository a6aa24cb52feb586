"""Four processes, one SQLite ledger: one balance check per interval, one probe per cooldown.

Workers are real OS processes (see ``_worker.py``); what they agree on can only come from the
shared store. The emulator runs in the points regime (the service since 2026-08) in this
process; the ledgers run on the real clock, with intervals far longer than the test.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from langchain_modelscope._balance import BALANCE_PATH
from langchain_modelscope.fallback import FallbackChatModel
from langchain_modelscope.quota import (
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    SQLiteQuotaStore,
    account_fingerprint,
)
from langchain_modelscope.testing import ModelScopeEmulator
from tests.fallback._worker import Worker

PRIMARY = "Qwen/Qwen3-32B"
SECOND = "deepseek-ai/DeepSeek-V4-Flash"
INTERVAL = timedelta(hours=1)
PROCESSES = 4


@pytest.fixture
def modelscope_emulator_config() -> None:
    """The points regime (the emulator's default)."""
    return None


def run_all(ctx: Any, spec: dict[str, Any]) -> list[list[str]]:
    go = ctx.Event()
    workers = [Worker(ctx, spec, go) for _ in range(PROCESSES)]
    go.set()
    return [worker.served() for worker in workers]


def test_one_balance_check_per_interval_across_processes_and_a_grant_lifts_it(
    ctx: Any, modelscope_emulator: ModelScopeEmulator, tmp_path: Path
) -> None:
    emu = modelscope_emulator
    backup = emu.add_account(points=10_000)
    emu.set_balance(emu.token, 0)
    path = str(tmp_path / "quota.sqlite3")
    main = account_fingerprint(emu.token)
    # The account's points ran out before these processes started (a 429 seen earlier).
    QuotaLedger(SQLiteQuotaStore(path)).mark_points_spent(QuotaKey.for_token(emu.token))
    spec = {
        "sqlite": path,
        "base_url": emu.base_url,
        "tokens": [emu.token, backup],
        "models": [PRIMARY],
        "calls": 25,
        "by": "account",
        "settings": {"balance_check_interval": INTERVAL},
    }
    other = account_fingerprint(backup)
    assert run_all(ctx, spec) == [[other] * 25] * PROCESSES
    chat = "/v1/chat/completions"
    assert len(emu.requests_for(token=emu.token, path=chat)) == 0, "0 billable requests"
    assert len(emu.requests_for(path=BALANCE_PATH)) == 1, "one check across every process"

    emu.grant_points(emu.token, 10_000)
    assert run_all(ctx, spec) == [[other] * 25] * PROCESSES
    assert len(emu.requests_for(path=BALANCE_PATH)) == 1, "still one within the interval"

    # An interval later (a ledger whose clock is there): the check sees the grant and serves.
    later = datetime.now(timezone.utc) + INTERVAL + timedelta(minutes=1)
    model = FallbackChatModel.from_modelscope(
        PRIMARY,
        tokens=[emu.token, backup],
        base_url=emu.base_url,
        ledger=QuotaLedger(SQLiteQuotaStore(path), clock=lambda: later),
        balance_check_interval=INTERVAL,
    )
    answer = model.invoke("hi")
    assert answer.response_metadata["fallback"]["served_by"]["account"] == main
    assert len(emu.requests_for(path=BALANCE_PATH)) == 2
    # The lift is in the shared store: every process serves from the main account again.
    assert run_all(ctx, spec) == [[main] * 25] * PROCESSES
    assert len(emu.requests_for(path=BALANCE_PATH)) == 2


def test_one_probe_per_cooldown_across_processes(
    ctx: Any, modelscope_emulator: ModelScopeEmulator, tmp_path: Path
) -> None:
    emu = modelscope_emulator
    emu.throttle(emu.token, PRIMARY, 10 * 3600)
    path = str(tmp_path / "quota.sqlite3")
    now = datetime.now(timezone.utc)
    key = QuotaKey.for_token(emu.token, PRIMARY)
    # A throttle whose 30 s cooldown just ended: exactly one call may probe it.
    SQLiteQuotaStore(path).extend(
        QuotaEntry(
            key=key,
            until=now - timedelta(seconds=1),
            reason="throttle: earlier",
            recorded_at=now - timedelta(seconds=31),
            kind="throttle",
            strikes=1,
            keep_until=now + timedelta(hours=1),
        )
    )
    spec = {
        "sqlite": path,
        "base_url": emu.base_url,
        "tokens": [emu.token],
        "models": [PRIMARY, SECOND],
        "calls": 10,
    }
    assert run_all(ctx, spec) == [[SECOND] * 10] * PROCESSES
    assert len(emu.requests_for(model=PRIMARY)) == 1, "one probe in all, then a longer cooldown"
    entry = QuotaLedger(SQLiteQuotaStore(path)).blocked_until(key)
    assert entry is not None
    assert (entry.kind, entry.strikes) == ("throttle", 2)
