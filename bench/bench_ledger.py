"""Benchmark 7: what a sick ledger store costs a call, and what the ledger's hot path costs.

A TCP server on 127.0.0.1 accepts connections and never answers (a hung Redis). The ledger's
first read waits for the store's socket timeout, logs one WARNING and moves to process memory
for its cool-down; every later read in the cool-down is a dict lookup. Before issue 12 the
same first read (and every later one) waited 15 s: three 5 s timeouts. The reference row is
a ledger on the in-memory store. ``record_success`` runs after every successful call, so its
cost when there is no throttle to clear is measured too.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench._config import Sizes
from bench._harness import BenchResult, Row, Target, fmt

HANGING = "QuotaLedger on a Redis that never answers"
MEMORY = "QuotaLedger in memory (reference)"
COLUMNS = ["first call ms", "later calls ms (median)", "record_success µs (median)"]


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _measure(name: str, ledger: Any, key: Any, calls: int) -> Row:
    first = _timed(lambda: ledger.is_available(key))
    ledger.mark_exhausted(key)
    later = [_timed(lambda: ledger.is_available(key)) for _ in range(calls)]
    success = [_timed(lambda: ledger.record_success(key)) for _ in range(calls)]
    values = {
        "first_ms": first * 1000,
        "later_ms": statistics.median(later) * 1000,
        "success_us": statistics.median(success) * 1e6,
    }
    cells = {
        "first call ms": fmt(values["first_ms"], 1),
        "later calls ms (median)": fmt(values["later_ms"], 4),
        "record_success µs (median)": fmt(values["success_us"], 2),
    }
    return Row(contender=name, values=values, cells=cells)


def bench_ledger(sizes: Sizes) -> BenchResult:
    """The ledger's time per call against a hanging Redis, beside an in-memory ledger."""
    from langchain_modelscope.quota import REDIS_TIMEOUT, QuotaKey, QuotaLedger, RedisQuotaStore
    from tests.support.hanging_server import HangingServer

    calls = 50 if sizes.quick else 5000
    key = QuotaKey("modelscope", "0123456789ab", "Qwen/Qwen3-32B")
    result = BenchResult(
        name="ledger",
        title=f"7. Quota ledger with a hung Redis store ({calls} later calls)",
        columns=COLUMNS,
        params={"calls": calls, "redis_timeout_s": REDIS_TIMEOUT},
    )
    log = logging.getLogger("langchain_modelscope.quota")
    level = log.level
    log.setLevel(logging.ERROR)  # the one WARNING is right for users, noise in a table
    try:
        with HangingServer() as server:
            hanging = QuotaLedger(RedisQuotaStore(server.url))
            result.rows.append(_measure(HANGING, hanging, key, calls))
        result.rows.append(_measure(MEMORY, QuotaLedger(), key, calls))
    finally:
        log.setLevel(level)
    sick = result.row(HANGING)
    memory = result.row(MEMORY)
    assert sick is not None
    assert memory is not None
    first_goal = REDIS_TIMEOUT * 1000 + 100
    result.targets.append(
        Target(
            f"first call: within the store timeout ({REDIS_TIMEOUT * 1000:.0f} ms) + 100 ms "
            "(was 15 s)",
            f"{sick.values['first_ms']:.1f} ms",
            sick.values["first_ms"] < first_goal,
        )
    )
    result.targets.append(
        Target(
            "later calls in the cool-down: at memory speed (< 0.1 ms each)",
            f"{sick.values['later_ms']:.4f} ms (in-memory ledger: {memory.values['later_ms']:.4f})",
            sick.values["later_ms"] < 0.1,
        )
    )
    result.targets.append(
        Target(
            "record_success with no throttle to clear: < 1 µs (a set lookup, no store I/O)",
            f"{sick.values['success_us']:.2f} µs",
            sick.values["success_us"] < 1.0,
        )
    )
    result.notes.append(
        "Wall time of QuotaLedger.is_available; 'first call' is one measurement (the one that "
        "meets the hung store), later calls are medians. The hung store is a socket server that "
        "accepts and reads forever; the ledger's cool-down is 30 s (STORE_COOLDOWN)."
    )
    return result
