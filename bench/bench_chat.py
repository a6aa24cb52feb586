"""Benchmarks 1-3: client CPU per invoke, client CPU per 1,000-chunk stream, and throughput
of many concurrent ainvoke calls, against ChatOpenAI and the floor, on the fast server."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

from bench._config import Sizes
from bench._contenders import (
    BARE,
    CORE,
    CORE_BUILT,
    FLOOR,
    FLOOR_BUILT,
    OPENAI,
    PACKAGE,
    PROMPT,
    BareHttpx,
    NullChatModel,
    openai_chat,
    package_chat,
)
from bench._harness import (
    BenchResult,
    Clock,
    Row,
    Target,
    fmt,
    fmt_ratio,
    interleave,
    measure,
    median,
    ratio_median,
    server_process,
    spread,
)
from bench._server import SHORT_ANSWER

TOKEN = "ms-bench-token"


def fast_server(sizes: Sizes) -> AbstractContextManager[str]:
    """The fast server, in its own process, for one benchmark."""
    return server_process(
        [
            "bench._server",
            "--chunks",
            str(sizes.stream_chunks),
            "--dimensions",
            str(sizes.embed_dimensions),
        ],
        label="the benchmark server",
    )


def _cpu_columns(unit: str, *extra: str) -> list[str]:
    """The columns `_cpu_table` fills, then `extra` ones."""
    return [
        f"CPU {unit} (median)",
        "min–max",
        f"wall {unit}",
        f"of which GC {unit}",
        "vs ChatOpenAI",
        "vs floor",
        *extra,
    ]


def _cpu_table(
    result: BenchResult, clocks: dict[str, list[Clock]], unit: str, scale: float
) -> None:
    """Rows of per-operation CPU: medians, spread, and per-round ratios to ChatOpenAI/floor."""
    cpu = {name: [c.cpu * scale for c in series] for name, series in clocks.items()}
    wall = {name: [c.wall * scale for c in series] for name, series in clocks.items()}
    in_gc = {name: [c.gc * scale for c in series] for name, series in clocks.items()}
    for total, parts in ((FLOOR, (BARE, CORE)), (FLOOR_BUILT, (BARE, CORE_BUILT))):
        if parts[1] not in cpu:
            continue
        for figures in (cpu, wall, in_gc):
            figures[total] = [a + b for a, b in zip(*(figures[p] for p in parts), strict=True)]
    names = [PACKAGE, OPENAI, BARE, CORE, FLOOR]
    if CORE_BUILT in cpu:  # reference only: core's cost when the model builds its chunks
        names += [CORE_BUILT, FLOOR_BUILT]
    for name in names:
        low, high = spread(cpu[name])
        vs_openai = ratio_median(cpu[name], cpu[OPENAI])
        vs_floor = ratio_median(cpu[name], cpu[FLOOR])
        result.rows.append(
            Row(
                contender=name,
                values={
                    f"cpu_{unit}": median(cpu[name]),
                    f"wall_{unit}": median(wall[name]),
                    f"gc_{unit}": median(in_gc[name]),
                    "vs_openai": vs_openai,
                    "vs_floor": vs_floor,
                },
                cells={
                    f"CPU {unit} (median)": fmt(median(cpu[name])),
                    "min–max": f"{fmt(low)}–{fmt(high)}",
                    f"wall {unit}": fmt(median(wall[name])),
                    f"of which GC {unit}": fmt(median(in_gc[name])),
                    "vs ChatOpenAI": fmt_ratio(vs_openai),
                    "vs floor": fmt_ratio(vs_floor),
                },
            )
        )
        if FLOOR_BUILT in cpu:
            # GC aside: what each contender computes, without the collector's share (which
            # grows with the objects a stream keeps alive, and which precomputed chunks skip).
            own = [c - g for c, g in zip(cpu[name], in_gc[name], strict=True)]
            floor_own = [c - g for c, g in zip(cpu[FLOOR], in_gc[FLOOR], strict=True)]
            vs_gc_aside = ratio_median(own, floor_own)
            result.rows[-1].values["vs_floor_gc_aside"] = vs_gc_aside
            result.rows[-1].cells["vs floor, GC aside"] = fmt_ratio(vs_gc_aside)
            vs_built = ratio_median(cpu[name], cpu[FLOOR_BUILT])
            result.rows[-1].values["vs_floor_built"] = vs_built
            result.rows[-1].cells["vs floor (chunks built)"] = fmt_ratio(vs_built)


def _cpu_targets(result: BenchResult, max_vs_openai: float, max_vs_floor: float) -> None:
    row = result.row(PACKAGE)
    assert row is not None
    for goal, key, limit in (
        (f"ChatModelScope ≤ {max_vs_openai} × ChatOpenAI", "vs_openai", max_vs_openai),
        (f"ChatModelScope ≤ {max_vs_floor} × floor", "vs_floor", max_vs_floor),
    ):
        value = row.values[key]
        result.targets.append(Target(goal, fmt_ratio(value, 3), value <= limit))


# --------------------------------------------------------------------------- (1) invoke


def bench_invoke(sizes: Sizes) -> BenchResult:
    """Client CPU per invoke of a short answer."""
    unit = "ms/call"
    result = BenchResult(
        name="invoke",
        title="1. Client CPU per invoke (short answer)",
        columns=_cpu_columns(unit),
        params={"rounds": sizes.invoke_rounds, "calls_per_round": sizes.invoke_calls},
    )
    calls = sizes.invoke_calls
    with fast_server(sizes) as url:
        package = package_chat(url, TOKEN)
        openai = openai_chat(url, TOKEN)
        bare = BareHttpx(url, TOKEN)
        null = NullChatModel()
        try:
            for check in (package.invoke(PROMPT).content, openai.invoke(PROMPT).content):
                if check != SHORT_ANSWER:
                    raise RuntimeError(f"unexpected answer {check!r}")
            fns: dict[str, Callable[[], object]] = {
                PACKAGE: lambda: package.invoke(PROMPT),
                OPENAI: lambda: openai.invoke(PROMPT),
                BARE: bare.invoke,
                CORE: lambda: null.invoke(PROMPT),
            }
            for fn in fns.values():
                for _ in range(sizes.invoke_warmup):
                    fn()

            def block(name: str) -> Callable[[], Clock]:
                fn = fns[name]

                def run() -> Clock:
                    if name == CORE:
                        null.prepare(results=calls)
                    with measure() as clock:
                        for _ in range(calls):
                            fn()
                    return clock

                return run

            clocks = interleave({name: block(name) for name in fns}, sizes.invoke_rounds)
        finally:
            bare.close()
    _cpu_table(
        result,
        {
            name: [Clock(c.cpu / calls, c.wall / calls, c.gc / calls) for c in series]
            for name, series in clocks.items()
        },
        unit,
        1000.0,
    )
    _cpu_targets(result, 0.5, 1.5)
    return result


# --------------------------------------------------------------------------- (2) stream


def bench_stream(sizes: Sizes) -> BenchResult:
    """Client CPU per streamed answer of 1,000 chunks."""
    unit = "ms/stream"
    result = BenchResult(
        name="stream",
        title=f"2. Client CPU per streamed answer of {sizes.stream_chunks:,} chunks",
        columns=_cpu_columns(unit, "vs floor, GC aside", "vs floor (chunks built)"),
        params={
            "rounds": sizes.stream_rounds,
            "streams_per_round": sizes.streams,
            "chunks": sizes.stream_chunks,
        },
    )
    streams = sizes.streams
    with fast_server(sizes) as url:
        package = package_chat(url, TOKEN)
        openai = openai_chat(url, TOKEN)
        bare = BareHttpx(url, TOKEN)
        null = NullChatModel(chunk_count=sizes.stream_chunks)
        builder = NullChatModel(chunk_count=sizes.stream_chunks)  # never prepared: builds
        try:

            def drain(model: Any) -> Callable[[], int]:
                def run() -> int:
                    count = 0
                    for _ in model.stream(PROMPT):
                        count += 1
                    return count

                return run

            fns: dict[str, Callable[[], int]] = {
                PACKAGE: drain(package),
                OPENAI: drain(openai),
                BARE: bare.stream,
                CORE: drain(null),
                CORE_BUILT: drain(builder),
            }
            seen: dict[str, int] = {}
            for name, fn in fns.items():  # warm-up, and proof every contender read it all
                got = fn()
                if got < sizes.stream_chunks:
                    raise RuntimeError(f"{name} saw {got} chunks, expected {sizes.stream_chunks}")
                seen[name] = got

            def block(name: str) -> Callable[[], Clock]:
                fn = fns[name]

                def run() -> Clock:
                    if name == CORE:
                        null.prepare(streams=streams)
                    with measure() as clock:
                        for _ in range(streams):
                            fn()
                    return Clock(clock.cpu / streams, clock.wall / streams, clock.gc / streams)

                return run

            clocks = interleave({name: block(name) for name in fns}, sizes.stream_rounds)
        finally:
            bare.close()
    _cpu_table(result, clocks, unit, 1000.0)
    _cpu_targets(result, 0.25, 1.5)
    result.notes.append(
        "Chunks each contender yielded per stream (content, plus final/usage chunks): "
        + ", ".join(f"{name} {count}" for name, count in seen.items())
        + "."
    )
    result.notes.append(
        "The floor's core half yields chunks built before the timed block, so building chunk "
        f"objects is billed to the model. The rows '{CORE_BUILT}' and '{FLOOR_BUILT}' are a "
        "reference, not a target: the do-nothing model builds its chunks with the public "
        "constructors inside the timed block, as a straightforward chat model would; the "
        "'vs floor (chunks built)' column compares with that."
    )
    return result


# --------------------------------------------------------------------------- (3) concurrency


def bench_concurrency(sizes: Sizes) -> BenchResult:
    """Throughput of N concurrent ainvoke calls on one event loop."""
    n = sizes.concurrent
    result = BenchResult(
        name="concurrency",
        title=f"3. Throughput of {n} concurrent ainvoke calls",
        columns=[
            "calls/s (median)",
            "min–max",
            "wall s per batch",
            "CPU ms/call",
            "vs ChatOpenAI",
            "vs floor",
        ],
        params={"rounds": sizes.concurrent_rounds, "concurrent": n},
    )
    loop = asyncio.new_event_loop()
    try:
        with fast_server(sizes) as url:
            clocks = loop.run_until_complete(_concurrency_rounds(url, sizes))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    wall = {name: [c.wall for c in series] for name, series in clocks.items()}
    cpu = {name: [c.cpu for c in series] for name, series in clocks.items()}
    wall[FLOOR] = [b + c for b, c in zip(wall[BARE], wall[CORE], strict=True)]
    cpu[FLOOR] = [b + c for b, c in zip(cpu[BARE], cpu[CORE], strict=True)]
    rate = {name: [n / w for w in series] for name, series in wall.items()}
    for name in (PACKAGE, OPENAI, BARE, CORE, FLOOR):
        low, high = spread(rate[name])
        vs_openai = ratio_median(rate[name], rate[OPENAI])
        vs_floor = ratio_median(rate[name], rate[FLOOR])
        result.rows.append(
            Row(
                contender=name,
                values={
                    "calls_per_s": median(rate[name]),
                    "wall_s": median(wall[name]),
                    "cpu_ms_per_call": median(cpu[name]) * 1000 / n,
                    "vs_openai": vs_openai,
                    "vs_floor": vs_floor,
                },
                cells={
                    "calls/s (median)": fmt(median(rate[name]), 0),
                    "min–max": f"{fmt(low, 0)}–{fmt(high, 0)}",
                    "wall s per batch": fmt(median(wall[name]), 3),
                    "CPU ms/call": fmt(median(cpu[name]) * 1000 / n),
                    "vs ChatOpenAI": fmt_ratio(vs_openai),
                    "vs floor": fmt_ratio(vs_floor),
                },
            )
        )
    result.notes.append(
        "The bare-httpx 'floor' is no floor here: every contender pays httpcore's pool, whose "
        "cost grows with connections × idle connections; lower concurrency behaves differently "
        "(try --concurrency 50, and see Findings)."
    )
    row = result.row(PACKAGE)
    assert row is not None
    result.targets.append(
        Target(
            "ChatModelScope throughput ≥ 1.5 × ChatOpenAI's",
            fmt_ratio(row.values["vs_openai"], 3),
            row.values["vs_openai"] >= 1.5,
        )
    )
    return result


async def _concurrency_rounds(url: str, sizes: Sizes) -> dict[str, list[Clock]]:
    n = sizes.concurrent
    package = package_chat(url, TOKEN)
    openai = openai_chat(url, TOKEN)
    bare = BareHttpx(url, TOKEN)
    null = NullChatModel()

    async def batch(call: Callable[[], Awaitable[Any]]) -> None:
        answers = await asyncio.gather(*(call() for _ in range(n)))
        if len(answers) != n:
            raise RuntimeError("lost answers")

    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        PACKAGE: lambda: package.ainvoke(PROMPT),
        OPENAI: lambda: openai.ainvoke(PROMPT),
        BARE: bare.ainvoke,
        CORE: lambda: null.ainvoke(PROMPT),
    }
    try:
        for call in calls.values():  # warm-up: opens the pools' connections
            await batch(call)
        names = list(calls)
        out: dict[str, list[Clock]] = {name: [] for name in names}
        for index in range(sizes.concurrent_rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                if name == CORE:
                    null.prepare(results=n)
                gc.collect()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                await batch(calls[name])
                out[name].append(Clock(time.process_time() - cpu0, time.perf_counter() - wall0))
        return out
    finally:
        await bare.aclose()
        bare.close()
