"""The SQLite store: marks shared by every process on one host, kept across restarts."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from langchain_modelscope._quota._marks import (
    MarkKind,
    QuotaEntry,
    QuotaKey,
    as_utc,
    from_micros,
    to_micros,
)
from langchain_modelscope._quota._store import QuotaStore

#: Default busy timeout, seconds. A write holds the lock for one statement (well under a
#: millisecond), so a second of waiting means the file is stuck, not busy: a process hung
#: inside a transaction, or a filesystem that does not answer. Then the ledger works from
#: memory for a while instead of making the call wait (the old default was 10 s).
SQLITE_BUSY_TIMEOUT = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_marks (
    provider       TEXT    NOT NULL,
    account        TEXT    NOT NULL,
    model          TEXT    NOT NULL,
    until_us       INTEGER NOT NULL,
    reason         TEXT,
    recorded_at_us INTEGER NOT NULL,
    kind           TEXT    NOT NULL DEFAULT 'other',
    strikes        INTEGER NOT NULL DEFAULT 0,
    keep_until_us  INTEGER,
    PRIMARY KEY (provider, account, model)
);
CREATE TABLE IF NOT EXISTS quota_claims (
    name     TEXT    NOT NULL PRIMARY KEY,
    until_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quota_slots (
    name     TEXT    NOT NULL,
    holder   TEXT    NOT NULL,
    until_us INTEGER NOT NULL,
    PRIMARY KEY (name, holder)
);
"""
# Columns added after the first release: a file written by it is migrated in place (its marks
# read back as kind "other", which ends at its until, as every mark did then).
_ADDED_COLUMNS = {
    "kind": "TEXT NOT NULL DEFAULT 'other'",
    "strikes": "INTEGER NOT NULL DEFAULT 0",
    "keep_until_us": "INTEGER",
}
# "Only move later" in one statement: the update is skipped unless the new mark is later.
_EXTEND = """
INSERT INTO quota_marks
    (provider, account, model, until_us, reason, recorded_at_us, kind, strikes, keep_until_us)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (provider, account, model) DO UPDATE SET
    until_us = excluded.until_us,
    reason = excluded.reason,
    recorded_at_us = excluded.recorded_at_us,
    kind = excluded.kind,
    strikes = excluded.strikes,
    keep_until_us = excluded.keep_until_us
WHERE excluded.until_us > quota_marks.until_us
"""
_CLAIM = """
INSERT INTO quota_claims (name, until_us) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET until_us = excluded.until_us
WHERE quota_claims.until_us <= ?
"""
_COLUMNS = (
    "provider, account, model, until_us, reason, recorded_at_us, kind, strikes, keep_until_us"
)
_WHERE_KEY = "provider = ? AND account = ? AND model = ?"
_SELECT_ONE = f"SELECT {_COLUMNS} FROM quota_marks WHERE {_WHERE_KEY}"


def _entry_from_row(row: tuple[Any, ...]) -> QuotaEntry:
    provider, account, model, until_us, reason, recorded_at_us, kind, strikes, keep_us = row
    return QuotaEntry(
        key=QuotaKey(provider, account, model),
        until=from_micros(int(until_us)),
        reason=reason,
        recorded_at=from_micros(int(recorded_at_us)),
        kind=kind,
        strikes=int(strikes),
        keep_until=None if keep_us is None else from_micros(int(keep_us)),
    )


def _key_params(key: QuotaKey) -> tuple[str, str, str]:
    return (key.provider, key.account, key.model)


class SQLiteQuotaStore(QuotaStore):
    """Marks in a SQLite file: shared by every process on one host, and kept across restarts.

    The file runs in WAL mode with a short busy timeout (:data:`SQLITE_BUSY_TIMEOUT`, 1 s), and
    every operation opens its own short-lived connection, so the store is safe to share between
    threads, forked processes and spawned ones. Writers take the lock up front (``BEGIN
    IMMEDIATE``) and the "only move later" rule is one ``INSERT … ON CONFLICT DO UPDATE …
    WHERE`` statement; a claim is the same kind of statement on its own table. Do not put the
    file on a network filesystem: SQLite's locking (and WAL) needs a local one.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout: float = SQLITE_BUSY_TIMEOUT
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"SQLiteQuotaStore(path) takes a file path (str or os.PathLike), "
                f"got {type(path).__name__}"
            )
        raw = os.fspath(path)
        if not raw or raw == ":memory:" or raw.startswith("file:"):
            raise ValueError(
                f"SQLiteQuotaStore(path) needs a file on disk, got {raw!r}: for marks that "
                f"live in one process only, use InMemoryQuotaStore()"
            )
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, (int, float)):
            raise TypeError("SQLiteQuotaStore(busy_timeout=) takes a number of seconds")
        if busy_timeout <= 0:
            raise ValueError("SQLiteQuotaStore(busy_timeout=) must be a positive number of seconds")
        resolved = Path(raw).expanduser().resolve()
        if resolved.is_dir():
            raise ValueError(
                f"SQLiteQuotaStore(path) got a directory ({resolved}): pass a file path "
                f"inside it, e.g. {resolved / 'modelscope-quota.sqlite3'}"
            )
        resolved.parent.mkdir(parents=True, exist_ok=True)
        self._path = resolved
        self._busy_timeout = float(busy_timeout)
        self._initialise()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def busy_timeout(self) -> float:
        """Seconds an operation waits for another writer's lock before it fails."""
        return self._busy_timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self._path)!r})"

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; the writers below say BEGIN IMMEDIATE.
        connection = sqlite3.connect(
            self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=True
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = self._connect()
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _initialise(self) -> None:
        # Several processes may create the same fresh file at once; switching a new file to WAL
        # can report "locked" without consulting the busy handler, so retry for a while.
        deadline = time.monotonic() + max(self._busy_timeout, 5.0)
        while True:
            try:
                with self._connection() as connection:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.executescript(_SCHEMA)
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
            except sqlite3.DatabaseError as exc:
                raise ValueError(
                    f"SQLiteQuotaStore(path): {self._path} exists but is not a usable SQLite "
                    f"database ({exc}); pass a new file path or delete that file"
                ) from exc

    def _migrate(self) -> None:
        with self._write() as connection:
            present = {row[1] for row in connection.execute("PRAGMA table_info(quota_marks)")}
            for column, declaration in _ADDED_COLUMNS.items():
                if column not in present:
                    connection.execute(f"ALTER TABLE quota_marks ADD COLUMN {column} {declaration}")

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        key = entry.key
        with self._write() as connection:
            connection.execute(
                _EXTEND,
                (
                    *_key_params(key),
                    to_micros(entry.until),
                    entry.reason,
                    to_micros(entry.recorded_at),
                    entry.kind,
                    entry.strikes,
                    to_micros(entry.forget_at),
                ),
            )
            row = connection.execute(_SELECT_ONE, _key_params(key)).fetchone()
        return _entry_from_row(row)

    def get(self, key: QuotaKey) -> QuotaEntry | None:
        with self._connection() as connection:
            row = connection.execute(_SELECT_ONE, _key_params(key)).fetchone()
        return None if row is None else _entry_from_row(row)

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        found: list[QuotaEntry] = []
        with self._connection() as connection:
            for key in keys:
                row = connection.execute(_SELECT_ONE, _key_params(key)).fetchone()
                if row is not None:
                    found.append(_entry_from_row(row))
        return found

    def delete(self, key: QuotaKey, kind: MarkKind | None = None) -> None:
        with self._write() as connection:
            connection.execute(
                f"DELETE FROM quota_marks WHERE {_WHERE_KEY} AND (? IS NULL OR kind = ?)",
                (*_key_params(key), kind, kind),
            )

    def claim(self, name: str, until: datetime, now: datetime) -> bool:
        with self._write() as connection:
            connection.execute(_CLAIM, (name, to_micros(until), to_micros(now)))
            (changed,) = connection.execute("SELECT changes()").fetchone()
        return bool(changed)

    def acquire_slot(
        self, name: str, holder: str, limit: int, until: datetime, now: datetime
    ) -> bool:
        # One IMMEDIATE transaction: no other writer runs between the count and the insert.
        with self._write() as connection:
            connection.execute(
                "DELETE FROM quota_slots WHERE name = ? AND until_us <= ?", (name, to_micros(now))
            )
            renewal = connection.execute(
                "SELECT 1 FROM quota_slots WHERE name = ? AND holder = ?", (name, holder)
            ).fetchone()
            if renewal is None:
                (held,) = connection.execute(
                    "SELECT COUNT(*) FROM quota_slots WHERE name = ?", (name,)
                ).fetchone()
                if held >= limit:
                    return False
            connection.execute(
                "INSERT INTO quota_slots (name, holder, until_us) VALUES (?, ?, ?) "
                "ON CONFLICT (name, holder) DO UPDATE SET until_us = excluded.until_us",
                (name, holder, to_micros(until)),
            )
            return True

    def release_slot(self, name: str, holder: str) -> None:
        with self._write() as connection:
            connection.execute(
                "DELETE FROM quota_slots WHERE name = ? AND holder = ?", (name, holder)
            )

    def clear(self) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM quota_marks")
            connection.execute("DELETE FROM quota_claims")
            connection.execute("DELETE FROM quota_slots")

    def entries(self) -> list[QuotaEntry]:
        with self._connection() as connection:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM quota_marks").fetchall()
        return [_entry_from_row(row) for row in rows]

    def prune(self, now: datetime) -> int:
        cutoff = to_micros(as_utc(now, "now"))
        with self._write() as connection:
            cursor = connection.execute(
                "DELETE FROM quota_marks WHERE COALESCE(keep_until_us, until_us) <= ?", (cutoff,)
            )
            dropped = cursor.rowcount
            connection.execute("DELETE FROM quota_claims WHERE until_us <= ?", (cutoff,))
            connection.execute("DELETE FROM quota_slots WHERE until_us <= ?", (cutoff,))
            return dropped
