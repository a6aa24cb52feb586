"""The store contract, and the in-memory store (the default, and the ledger's fallback)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from langchain_modelscope._quota._marks import MarkKind, QuotaEntry, QuotaKey, as_utc


class QuotaStore(ABC):
    """Where marks live. Every implementation honours one contract (see the tests):

    * :meth:`extend` is atomic and only moves ``until`` later; it returns the resulting entry
      (the stored one if it was already as late or later, ``entry`` otherwise);
    * :meth:`get`, :meth:`get_many` and :meth:`entries` may return marks that have lapsed:
      deciding what is in force is the ledger's job, with its (injectable) clock;
    * :meth:`delete` with a ``kind`` removes the mark only if it is of that kind, atomically;
    * :meth:`claim` is true for exactly one caller per name until the claim's ``until``;
    * :meth:`acquire_slot` gives at most ``limit`` holders a lease on one name at a time, each
      until its ``until`` (renewed by acquiring again); :meth:`release_slot` ends one early;
    * :meth:`prune` drops marks whose ``keep_until`` is not after ``now``; a store may also
      drop them on its own once they have lapsed in real time (Redis expires keys).
    """

    #: True when operations do I/O, so async callers must run them off the event loop.
    blocking: ClassVar[bool] = True

    @abstractmethod
    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        """Atomically set ``until = max(stored, entry.until)`` and return the resulting entry."""

    @abstractmethod
    def get(self, key: QuotaKey) -> QuotaEntry | None:
        """The stored mark for exactly ``key``, if any."""

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        """The stored marks for ``keys`` (missing ones left out); override to batch I/O."""
        found = (self.get(key) for key in keys)
        return [entry for entry in found if entry is not None]

    @abstractmethod
    def delete(self, key: QuotaKey, kind: MarkKind | None = None) -> None:
        """Forget the mark for exactly ``key`` (only if it is of ``kind``, when given)."""

    @abstractmethod
    def claim(self, name: str, until: datetime, now: datetime) -> bool:
        """Atomically take ``name`` until ``until`` unless someone holds it past ``now``."""

    def acquire_slot(
        self, name: str, holder: str, limit: int, until: datetime, now: datetime
    ) -> bool:
        """Atomically: forget ``name``'s leases that lapsed by ``now``; then if ``holder``
        holds one, move it to ``until`` (a renewal) and answer True; else, if fewer than
        ``limit`` are held, give ``holder`` one until ``until`` and answer True; else False.

        Concurrency slots shared across processes (see ``set_concurrency_store``); a store
        that does not override this cannot share them.
        """
        raise NotImplementedError(f"{type(self).__name__} does not keep concurrency slots")

    def release_slot(self, name: str, holder: str) -> None:
        """Atomically end ``holder``'s lease on ``name``, if it has one."""
        raise NotImplementedError(f"{type(self).__name__} does not keep concurrency slots")

    @abstractmethod
    def clear(self) -> None:
        """Forget every mark, claim and slot lease this store holds (and nothing else)."""

    @abstractmethod
    def entries(self) -> list[QuotaEntry]:
        """Every stored mark, lapsed or not."""

    @abstractmethod
    def prune(self, now: datetime) -> int:
        """Drop marks with ``keep_until <= now``; returns how many were dropped."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections, if the store holds any."""


class InMemoryQuotaStore(QuotaStore):
    """Marks in a dict guarded by a lock: one process, lost on exit. The default store."""

    blocking: ClassVar[bool] = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[QuotaKey, QuotaEntry] = {}
        self._claims: dict[str, datetime] = {}
        self._slots: dict[str, dict[str, datetime]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(entries={len(self._entries)})"

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        with self._lock:
            current = self._entries.get(entry.key)
            if current is not None and current.until >= entry.until:
                return current
            self._entries[entry.key] = entry
            return entry

    def get(self, key: QuotaKey) -> QuotaEntry | None:
        with self._lock:
            return self._entries.get(key)

    def get_many(self, keys: Sequence[QuotaKey]) -> list[QuotaEntry]:
        with self._lock:
            found = (self._entries.get(key) for key in keys)
            return [entry for entry in found if entry is not None]

    def delete(self, key: QuotaKey, kind: MarkKind | None = None) -> None:
        with self._lock:
            current = self._entries.get(key)
            if current is not None and (kind is None or current.kind == kind):
                del self._entries[key]

    def claim(self, name: str, until: datetime, now: datetime) -> bool:
        with self._lock:
            held = self._claims.get(name)
            if held is not None and held > now:
                return False
            self._claims[name] = until
            return True

    def acquire_slot(
        self, name: str, holder: str, limit: int, until: datetime, now: datetime
    ) -> bool:
        with self._lock:
            leases = self._slots.setdefault(name, {})
            for lapsed in [h for h, end in leases.items() if end <= now]:
                del leases[lapsed]
            if holder not in leases and len(leases) >= limit:
                return False
            leases[holder] = until
            return True

    def release_slot(self, name: str, holder: str) -> None:
        with self._lock:
            leases = self._slots.get(name)
            if leases is not None:
                leases.pop(holder, None)
                if not leases:
                    del self._slots[name]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._claims.clear()
            self._slots.clear()

    def entries(self) -> list[QuotaEntry]:
        with self._lock:
            return list(self._entries.values())

    def prune(self, now: datetime) -> int:
        now = as_utc(now, "now")
        with self._lock:
            lapsed = [key for key, entry in self._entries.items() if entry.forget_at <= now]
            for key in lapsed:
                del self._entries[key]
            for name in [name for name, until in self._claims.items() if until <= now]:
                del self._claims[name]
            for name, leases in list(self._slots.items()):
                for holder in [h for h, end in leases.items() if end <= now]:
                    del leases[holder]
                if not leases:
                    del self._slots[name]
            return len(lapsed)
