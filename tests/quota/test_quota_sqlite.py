"""What only the SQLite store promises: several processes, restarts, clear errors for bad paths."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from langchain_modelscope.quota import QuotaKey, QuotaLedger, SQLiteQuotaStore

ACCOUNT = "0123456789ab"
KEY = QuotaKey("modelscope", ACCOUNT, "Qwen/Qwen3-32B")

# One writer process: waits for the start signal so that all writers overlap, then marks the
# shared key many times (each with its own until) and one key of its own per round.
WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timedelta
    from pathlib import Path
    from langchain_modelscope.quota import QuotaKey, QuotaLedger, SQLiteQuotaStore

    path, worker, rounds, base, go = sys.argv[1:6]
    worker, rounds, base = int(worker), int(rounds), datetime.fromisoformat(base)
    ledger = QuotaLedger(SQLiteQuotaStore(path), clock=lambda: base)
    shared = QuotaKey("modelscope", "0123456789ab", "Qwen/Qwen3-32B")
    deadline = time.monotonic() + 20
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for i in range(rounds):
        seconds = (i * 37 + worker * 101) % 997 + 1
        ledger.mark_exhausted(shared, base + timedelta(seconds=seconds), reason=f"{seconds}")
        own = QuotaKey("modelscope", "0123456789ab", f"model-{worker}-{i}")
        ledger.mark_exhausted(own, base + timedelta(hours=1))
    print("ok")
    """
)


def test_processes_marking_concurrently_lose_nothing(tmp_path: Path, clock) -> None:
    path = tmp_path / "shared.sqlite3"  # fresh: the writers also race to create it
    go = tmp_path / "go"
    workers, rounds = 4, 30
    base = clock()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(path),
                str(n),
                str(rounds),
                base.isoformat(),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    time.sleep(0.3)  # let the interpreters start and open the store
    go.touch()
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert out.strip() == "ok"

    expected = max((i * 37 + n * 101) % 997 + 1 for n in range(workers) for i in range(rounds))
    ledger = QuotaLedger(SQLiteQuotaStore(path), clock=clock)
    blocked = ledger.blocked_until(KEY)
    assert blocked is not None
    assert blocked.until == base + timedelta(seconds=expected)
    assert blocked.reason == str(expected)
    own = {e.key.model for e in ledger.entries()} - {KEY.model}
    assert own == {f"model-{n}-{i}" for n in range(workers) for i in range(rounds)}


def test_a_fresh_ledger_after_a_restart_sees_the_mark(tmp_path: Path, clock) -> None:
    path = tmp_path / "quota.sqlite3"
    before = QuotaLedger(SQLiteQuotaStore(path), clock=clock)
    entry = before.mark_exhausted(KEY.account_wide(), reason="insufficient_quota")
    del before

    after = QuotaLedger(SQLiteQuotaStore(str(path)), clock=clock)
    assert not after.is_available(KEY)
    assert after.blocked_until(KEY) == entry


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "quota.sqlite3"
    SQLiteQuotaStore(path)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_parent_directories_are_created(tmp_path: Path, clock) -> None:
    path = tmp_path / "a" / "b" / "quota.sqlite3"
    store = SQLiteQuotaStore(path)
    assert store.path == path.resolve()
    QuotaLedger(store, clock=clock).mark_exhausted(KEY)
    assert path.is_file()


def test_a_directory_is_rejected_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"directory.*pass a file path"):
        SQLiteQuotaStore(tmp_path)


@pytest.mark.parametrize("path", ["", ":memory:", "file:quota?mode=memory"])
def test_in_memory_databases_are_rejected(path: str) -> None:
    with pytest.raises(ValueError, match="InMemoryQuotaStore"):
        SQLiteQuotaStore(path)


def test_a_file_that_is_not_a_database_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, just some text long enough to have a header\n" * 20)
    with pytest.raises(ValueError, match="not a usable SQLite database"):
        SQLiteQuotaStore(path)


def test_bad_arguments_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="file path"):
        SQLiteQuotaStore(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="busy_timeout"):
        SQLiteQuotaStore(tmp_path / "q.sqlite3", busy_timeout=0)


def test_repr_shows_the_path(tmp_path: Path) -> None:
    store = SQLiteQuotaStore(tmp_path / "q.sqlite3")
    assert "q.sqlite3" in repr(store)


def test_stored_times_are_microseconds(tmp_path: Path, clock) -> None:
    path = tmp_path / "q.sqlite3"
    until = clock() + timedelta(seconds=1, microseconds=1)
    QuotaLedger(SQLiteQuotaStore(path), clock=clock).mark_exhausted(KEY, until)
    with sqlite3.connect(path) as connection:
        (until_us,) = connection.execute("SELECT until_us FROM quota_marks").fetchone()
    assert until_us == (until - datetime(1970, 1, 1, tzinfo=until.tzinfo)) // timedelta(
        microseconds=1
    )


# A file written before marks had kinds (the first release's schema and one of its marks).
OLD_SCHEMA = """
CREATE TABLE quota_marks (
    provider TEXT NOT NULL, account TEXT NOT NULL, model TEXT NOT NULL,
    until_us INTEGER NOT NULL, reason TEXT, recorded_at_us INTEGER NOT NULL,
    PRIMARY KEY (provider, account, model)
)
"""


def test_an_old_file_without_kinds_is_migrated_in_place(tmp_path: Path, clock) -> None:
    path = tmp_path / "old.sqlite3"
    until = clock() + timedelta(hours=2)
    with sqlite3.connect(path) as connection:
        connection.execute(OLD_SCHEMA)
        connection.execute(
            "INSERT INTO quota_marks VALUES (?, ?, ?, ?, ?, ?)",
            (*("modelscope", ACCOUNT, KEY.model), to_us(until), "old", to_us(clock())),
        )
    connection.close()
    ledger = QuotaLedger(SQLiteQuotaStore(path), clock=clock)
    entry = ledger.blocked_until(KEY)
    assert entry is not None
    assert (entry.until, entry.reason, entry.kind, entry.strikes) == (until, "old", "other", 0)
    assert ledger.mark_throttled(QuotaKey("modelscope", ACCOUNT, "new")).kind == "throttle"
    assert ledger.claim("check", clock() + timedelta(minutes=1))
    SQLiteQuotaStore(path)  # opening a migrated file again changes nothing


def to_us(value: datetime) -> int:
    return (value - datetime(1970, 1, 1, tzinfo=value.tzinfo)) // timedelta(microseconds=1)


# Claimers: each waits for the start signal, then tries the same claim once.
CLAIMER = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timedelta
    from pathlib import Path
    from langchain_modelscope.quota import QuotaLedger, SQLiteQuotaStore

    path, base, go = sys.argv[1:4]
    base = datetime.fromisoformat(base)
    ledger = QuotaLedger(SQLiteQuotaStore(path), clock=lambda: base)
    deadline = time.monotonic() + 20
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    print("won" if ledger.claim("balance:0123456789ab", base + timedelta(minutes=5)) else "lost")
    """
)


def test_exactly_one_process_wins_a_claim(tmp_path: Path, clock) -> None:
    path = tmp_path / "shared.sqlite3"
    SQLiteQuotaStore(path)
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(path), clock().isoformat(), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    time.sleep(0.3)  # let the interpreters start
    go.touch()
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outcomes.append(out.strip())
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
