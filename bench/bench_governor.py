"""Benchmark 8: what the concurrency governor costs a call that never waits.

Every call on a shared API-Inference host takes a slot of its account (``_governor``) before
it is sent and gives it back after; when slots are free this must cost next to nothing beside
a round trip of hundreds of milliseconds. Measured: entering and leaving the hook the request
path uses (``Gate.hold`` / ``Gate.ahold``), against ``nullcontext()`` (what a model with
``max_concurrent_requests=None`` runs), in batches of calls.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from contextlib import nullcontext

from pydantic import SecretStr

from bench._config import Sizes
from bench._harness import BenchResult, Row, Target, fmt

COLUMNS = ["per call µs (median)", "overhead µs"]
TARGET_MS = 0.05


def _sync_batches(enter: object, batches: int, per_batch: int) -> list[float]:
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(per_batch):
            with enter():  # type: ignore[operator]
                pass
        times.append((time.perf_counter() - start) / per_batch)
    return times


async def _async_batches(enter: object, batches: int, per_batch: int) -> list[float]:
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(per_batch):
            async with enter():  # type: ignore[operator]
                pass
        times.append((time.perf_counter() - start) / per_batch)
    return times


def bench_governor(sizes: Sizes) -> BenchResult:
    """The governor's cost per call when a slot is free, sync and async."""
    from langchain_modelscope._governor import gate_for

    batches, per_batch = (5, 200) if sizes.quick else (50, 2000)
    gate = gate_for(SecretStr("ms-bench-governor"), "https://api-inference.modelscope.cn/v1", 2, 60)
    assert gate is not None
    result = BenchResult(
        name="governor",
        title=f"8. Concurrency governor, a call that never waits ({batches * per_batch:,} calls)",
        columns=COLUMNS,
        params={"batches": batches, "per_batch": per_batch},
    )
    measured = {
        "no limit (nullcontext, reference)": _sync_batches(nullcontext, batches, per_batch),
        "Gate.hold (sync)": _sync_batches(gate.hold, batches, per_batch),
        "no limit, async (reference)": asyncio.run(_async_batches(nullcontext, batches, per_batch)),
        "Gate.ahold (async)": asyncio.run(_async_batches(gate.ahold, batches, per_batch)),
    }
    medians = {name: statistics.median(times) * 1e6 for name, times in measured.items()}
    references = {
        "Gate.hold (sync)": "no limit (nullcontext, reference)",
        "Gate.ahold (async)": "no limit, async (reference)",
    }
    for name, median in medians.items():
        reference = references.get(name)
        overhead = median - medians[reference] if reference else 0.0
        result.rows.append(
            Row(
                contender=name,
                values={"per_call_us": median, "overhead_us": overhead},
                cells={
                    "per call µs (median)": fmt(median, 2),
                    "overhead µs": fmt(overhead, 2) if reference else "",
                },
            )
        )
    worst = max(medians[n] - medians[r] for n, r in references.items())
    result.targets.append(
        Target(
            f"governor overhead per call when it never waits: < {TARGET_MS} ms",
            f"{worst / 1000:.4f} ms (worst of sync and async)",
            worst / 1000 < TARGET_MS,
        )
    )
    result.notes.append(
        "Median over batches of the mean time to enter and leave the hook with no other call "
        "in flight; the overhead is that minus the same loop around nullcontext(). Slots shared "
        "through a store (set_concurrency_store) add one store round trip each way and are not "
        "measured here."
    )
    return result
