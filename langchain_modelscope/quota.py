"""The quota ledger: which (provider, account, model) is blocked, until when, and why.

ModelScope's limits come in kinds that end differently (:data:`MarkKind`): daily and monthly
counter quotas reset at 00:00 UTC+8 (the 1st); a spent points balance has no clock and ends
when a check of the free balance endpoint shows points again; a "We have to rate limit you"
throttle ends after an escalating cooldown or at a success; a retired model is parked for a
day. Once a 429 says so, every further call to that key is wasted until then. The ledger
remembers that, so a fallback model can skip the blocked candidate straight away instead of
paying a round trip (and a retry budget) to rediscover it.

It is the only shared state of the fallback machinery, so it has to be right under concurrency:

* a mark only ever moves *later* (``until = max(old, new)``, atomically in every store), so two
  writers racing can never shorten a mark;
* a mark on the account-wide key (model ``"*"``) blocks every model of that account;
* :meth:`QuotaLedger.claim` is true for exactly one caller across every process sharing the
  store, which keeps a fleet to one balance check or one probe per interval;
* three stores share one contract: :class:`InMemoryQuotaStore` (one process, the default),
  :class:`SQLiteQuotaStore` (several processes on one host, survives restarts) and
  :class:`RedisQuotaStore` (several hosts);
* a sick store never stalls a call: short timeouts, then process memory for a cool-down.

Accounts are identified by :func:`account_fingerprint`, a short salted hash: the token itself is
never stored, logged or shown. The clock is injectable, so tests can cross midnight UTC+8, a
cooldown or a points grant without waiting. This module knows nothing of HTTP or LangChain;
the reset rule lives in :mod:`langchain_modelscope._reset`.
"""

from __future__ import annotations

import threading

from langchain_modelscope._quota._ledger import (
    POINTS_HORIZON,
    RETIRED_FOR,
    STORE_COOLDOWN,
    THROTTLE_FIRST_COOLDOWN,
    THROTTLE_MAX_COOLDOWN,
    THROTTLE_MEMORY,
    QuotaLedger,
    QuotaLookup,
    throttle_cooldown,
)
from langchain_modelscope._quota._marks import (
    ACCOUNT_WIDE,
    MARK_KINDS,
    MAX_REASON_LENGTH,
    MarkKind,
    QuotaEntry,
    QuotaKey,
    account_fingerprint,
)
from langchain_modelscope._quota._redis import REDIS_TIMEOUT, RedisQuotaStore
from langchain_modelscope._quota._sqlite import SQLITE_BUSY_TIMEOUT, SQLiteQuotaStore
from langchain_modelscope._quota._store import InMemoryQuotaStore, QuotaStore

__all__ = [
    "ACCOUNT_WIDE",
    "MARK_KINDS",
    "MAX_REASON_LENGTH",
    "POINTS_HORIZON",
    "REDIS_TIMEOUT",
    "RETIRED_FOR",
    "SQLITE_BUSY_TIMEOUT",
    "STORE_COOLDOWN",
    "THROTTLE_FIRST_COOLDOWN",
    "THROTTLE_MAX_COOLDOWN",
    "THROTTLE_MEMORY",
    "InMemoryQuotaStore",
    "MarkKind",
    "QuotaEntry",
    "QuotaKey",
    "QuotaLedger",
    "QuotaLookup",
    "QuotaStore",
    "RedisQuotaStore",
    "SQLiteQuotaStore",
    "account_fingerprint",
    "get_default_ledger",
    "set_default_ledger",
    "throttle_cooldown",
]

_default_lock = threading.Lock()
_default_ledger: QuotaLedger | None = None


def get_default_ledger() -> QuotaLedger:
    """The process-wide ledger that models share unless given their own (in-memory by default)."""
    global _default_ledger
    with _default_lock:
        if _default_ledger is None:
            _default_ledger = QuotaLedger()
        return _default_ledger


def set_default_ledger(ledger: QuotaLedger | None) -> None:
    """Replace the process-wide ledger, e.g. with one on SQLite or Redis; None resets it."""
    global _default_ledger
    if ledger is not None and not isinstance(ledger, QuotaLedger):
        raise TypeError(
            f"set_default_ledger() takes a QuotaLedger or None, got {type(ledger).__name__}"
        )
    with _default_lock:
        _default_ledger = ledger
