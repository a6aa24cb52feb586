"""Several processes, one ledger: SQLite on one host, Redis through separate clients.

Workers are real OS processes forked from a forkserver that imported the package once (a fresh
interpreter per worker would cost seconds each): no worker inherits another's memory, so what
they agree on can only come from the shared store. The emulator runs in this test process.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from langchain_modelscope.testing import Fault, ModelScopeEmulator
from tests.fallback._worker import Worker
from tests.support import modelscope_facts as facts

PRIMARY = "Qwen/Qwen2.5-72B-Instruct"
SECOND = "deepseek-ai/DeepSeek-V3.2"


@pytest.fixture
def emu(modelscope_emulator: ModelScopeEmulator) -> ModelScopeEmulator:
    # Dead all day, in the facts sheet's words: every request the primary gets is a 429.
    modelscope_emulator.queue_fault(
        Fault.status(429, facts.errors_envelope(facts.QUOTA_DAILY)), model=PRIMARY, times=1000
    )
    return modelscope_emulator


def spec(emu: ModelScopeEmulator, calls: int, **ledger: str) -> dict[str, Any]:
    return {
        "base_url": emu.base_url,
        "tokens": [emu.token],
        "models": [PRIMARY, SECOND],
        "calls": calls,
        **ledger,
    }


def test_sqlite_marks_survive_a_restart_and_every_process_agrees(
    ctx: Any, emu: ModelScopeEmulator, tmp_path: Path
) -> None:
    """One process learns the primary is spent and exits; new processes (a restart; two run
    side by side, each with its own connection to the file) send it nothing: 1 request in all.
    """
    path = str(tmp_path / "quota.sqlite3")
    assert Worker(ctx, spec(emu, 1, sqlite=path)).served() == [SECOND]
    restarted = [Worker(ctx, spec(emu, 100, sqlite=path)), Worker(ctx, spec(emu, 20, sqlite=path))]
    assert restarted[0].served() == [SECOND] * 100
    assert restarted[1].served() == [SECOND] * 20
    assert len(emu.requests_for(model=PRIMARY)) == 1
    assert len(emu.requests_for(model=SECOND)) == 121


def test_running_processes_pick_up_a_mark_made_by_another(
    ctx: Any, emu: ModelScopeEmulator, tmp_path: Path
) -> None:
    """Three processes are up and waiting when a fourth finds the primary spent (SQLite)."""
    path = str(tmp_path / "quota.sqlite3")
    go = ctx.Event()
    waiting = [Worker(ctx, spec(emu, 20, sqlite=path), go) for _ in range(3)]
    assert Worker(ctx, spec(emu, 1, sqlite=path)).served() == [SECOND]
    go.set()
    for worker in waiting:
        assert worker.served() == [SECOND] * 20
    assert len(emu.requests_for(model=PRIMARY)) == 1


def test_two_processes_on_separate_redis_clients_agree(
    ctx: Any, emu: ModelScopeEmulator, redis_url: str
) -> None:
    """A running process, with its own Redis client, picks up the mark another one made."""
    ledger = {"redis": redis_url, "prefix": f"test-fallback:{uuid.uuid4()}:"}
    go = ctx.Event()
    second = Worker(ctx, spec(emu, 30, **ledger), go)
    assert Worker(ctx, spec(emu, 1, **ledger)).served() == [SECOND]
    go.set()
    assert second.served() == [SECOND] * 30
    assert len(emu.requests_for(model=PRIMARY)) == 1
