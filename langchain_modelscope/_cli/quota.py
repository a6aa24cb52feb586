"""``quota``: what a quota ledger holds (spent, throttled, cooling down), and ``--clear``."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from langchain_modelscope._cli._common import (
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Command,
    add_json_flag,
    print_json,
    print_table,
    say,
)
from langchain_modelscope.quota import (
    ACCOUNT_WIDE,
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    RedisQuotaStore,
    SQLiteQuotaStore,
    get_default_ledger,
)

COLUMNS: Final = ("provider", "account", "model", "state", "since", "until", "why")
#: What a mark's reason (``"<kind>: <message>"`` as the fallback writes it) says it is.
_STATES: Final = (
    ("quota", "spent"),
    ("rate-limit headers", "spent"),
    ("transient", "throttled"),
    ("throttle", "throttled"),
    ("auth", "refused"),
    ("not_found", "unserved"),
)


#: The ledger's mark kinds, in the words a user reads.
_KIND_STATES: Final = {
    "daily": "spent",
    "monthly": "spent",
    "points": "spent",
    "throttle": "throttled",
    "retired": "unserved",
}


def state_of(entry: QuotaEntry) -> str:
    """``spent``, ``throttled``, ``refused``, ``unserved``...: from the mark's kind when the
    ledger knows it, else from what its reason says."""
    state = _KIND_STATES.get(entry.kind)
    if state is not None:
        return state
    reason = (entry.reason or "").lower()
    for prefix, state in _STATES:
        if reason.startswith(prefix):
            return state
    return "cooling" if "cool" in reason else "spent"


def row_of(entry: QuotaEntry, now: datetime) -> dict[str, Any]:
    return {
        "provider": entry.key.provider,
        "account": entry.key.account,
        "model": entry.key.model,
        "scope": entry.scope,
        "state": state_of(entry),
        "since": entry.recorded_at,
        "until": entry.until,
        "seconds_left": max(int((entry.until - now).total_seconds()), 0),
        "why": entry.reason,
    }


def _ledger(args: argparse.Namespace) -> tuple[QuotaLedger, str]:
    if args.sqlite and args.redis:
        raise CliError("pass --sqlite or --redis, not both", EXIT_USAGE)
    if args.sqlite:
        path = Path(args.sqlite)
        if not path.is_file():
            raise CliError(f"no ledger file at {str(path)!r}", EXIT_USAGE)
        return QuotaLedger(SQLiteQuotaStore(path)), f"sqlite {path}"
    if args.redis:
        try:
            store = RedisQuotaStore(args.redis, prefix=args.redis_prefix)
        except (ImportError, ValueError) as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        return QuotaLedger(store), repr(store)
    return get_default_ledger(), "the default ledger (in memory, this process only)"


def _clear(ledger: QuotaLedger, args: argparse.Namespace) -> dict[str, Any]:
    try:
        key = QuotaKey(args.provider, args.clear, args.model)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    existed = ledger.store.get(key) is not None
    ledger.clear(key)
    return {
        "cleared": existed,
        "provider": key.provider,
        "account": key.account,
        "model": key.model,
    }


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sqlite", metavar="PATH", default=None, help="a SQLite ledger file")
    parser.add_argument("--redis", metavar="URL", default=None, help="a Redis ledger URL")
    parser.add_argument(
        "--redis-prefix", default="langchain_modelscope:quota:", help="the Redis key prefix"
    )
    parser.add_argument(
        "--clear",
        metavar="ACCOUNT",
        default=None,
        help="lift the mark of this account fingerprint (with --model, of one model only)",
    )
    parser.add_argument(
        "--model", default=ACCOUNT_WIDE, help=f"with --clear: the model ({ACCOUNT_WIDE}: account)"
    )
    parser.add_argument("--provider", default="modelscope", help="with --clear: the provider")
    add_json_flag(parser)


def _reachable(ledger: QuotaLedger, where: str) -> None:
    """The ledger falls back to process memory when its store fails: here that means failure."""
    if ledger.store_is_down:
        raise CliError(f"cannot reach {where}: the store did not answer", EXIT_UNREACHABLE)


def _run(args: argparse.Namespace) -> int:
    ledger, where = _ledger(args)
    try:
        if args.clear is not None:
            outcome = _clear(ledger, args)
            _reachable(ledger, where)
            if args.json:
                print_json(outcome)
            else:
                what = "the whole account" if outcome["model"] == ACCOUNT_WIDE else outcome["model"]
                done = "cleared" if outcome["cleared"] else "had no mark for"
                say(f"{done} {outcome['account']} / {what} in {where}")
            return EXIT_OK
        now = ledger.now()
        rows = [row_of(entry, now) for entry in ledger.entries(now)]
        _reachable(ledger, where)
    except CliError:
        raise
    except Exception as exc:  # a store that cannot be reached (Redis down, a locked file)
        raise CliError(
            f"cannot read {where}: {type(exc).__name__}: {exc}", EXIT_UNREACHABLE
        ) from None
    finally:
        ledger.store.close()
    if args.json:
        print_json({"ledger": where, "entries": rows})
    else:
        print_table(rows, COLUMNS)
        say(f"\n{len(rows)} marks in force in {where}")
    return EXIT_OK


COMMAND = Command(
    "quota", "what a quota ledger marks as spent, throttled or cooling", _add_arguments, _run
)
