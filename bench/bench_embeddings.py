"""Benchmark 5: embedding 10,000 short texts with batching and concurrency, against
``OpenAIEmbeddings(check_embedding_ctx_length=False)`` at the same fast server.

Both are used as a user would: default batch sizes and concurrency. Each asks for the wire
format it asks for by default (the openai SDK: base64; this package: float JSON), and the
server answers in kind, so the cost of that choice is part of what is measured.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx

from bench._config import Sizes
from bench._contenders import POOL_LIMITS
from bench._harness import (
    BenchResult,
    Clock,
    Row,
    Target,
    fmt,
    fmt_ratio,
    median,
    ratio_median,
    spread,
)
from bench._server import EMBEDDING_MODEL
from bench.bench_chat import TOKEN, fast_server

PKG_ASYNC = "ModelScopeEmbeddings (async)"
OAI_ASYNC = "OpenAIEmbeddings (async)"
PKG_SYNC = "ModelScopeEmbeddings (sync)"
PKG_B64 = "ModelScopeEmbeddings (async, encoding_format=base64)"
OAI_SYNC = "OpenAIEmbeddings (sync)"
BARE_ASYNC = "bare httpx (async, 64/batch, 4 in flight, float, stdlib json)"
BARE_BATCH: Final = 64
BARE_CONCURRENCY: Final = 4


def texts(count: int) -> list[str]:
    """Short, distinct texts, like chunks of a small document set."""
    return [
        f"Passage {i}: a short text about topic {i % 97} for the benchmark." for i in range(count)
    ]


class BareEmbeddings:
    """The floor: the same batches over plain httpx, decoding the JSON, nothing else."""

    def __init__(self, base_url: str, token: str) -> None:
        self.url = base_url.rstrip("/") + "/embeddings"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.client: httpx.AsyncClient | None = None

    async def aembed_documents(self, items: list[str]) -> list[list[float]]:
        if self.client is None:
            self.client = httpx.AsyncClient(limits=POOL_LIMITS, timeout=120)
        client = self.client
        limiter = asyncio.Semaphore(BARE_CONCURRENCY)

        async def one(batch: list[str]) -> list[list[float]]:
            body = {"model": EMBEDDING_MODEL, "input": batch, "encoding_format": "float"}
            async with limiter:
                response = await client.post(
                    self.url, content=json.dumps(body).encode(), headers=self.headers
                )
            response.raise_for_status()
            return [item["embedding"] for item in json.loads(response.content)["data"]]

        batches = [items[i : i + BARE_BATCH] for i in range(0, len(items), BARE_BATCH)]
        results = await asyncio.gather(*(one(b) for b in batches))
        return [vector for part in results for vector in part]

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


def bench_embeddings(sizes: Sizes) -> BenchResult:
    """Throughput (texts/s, wall) and client CPU of embedding `embed_texts` texts."""
    n = sizes.embed_texts
    result = BenchResult(
        name="embeddings",
        title=f"5. Embeddings of {n:,} short texts ({sizes.embed_dimensions} dimensions)",
        columns=["texts/s (median)", "min–max", "wall s", "CPU s", "vs OpenAIEmbeddings"],
        params={
            "rounds": sizes.embed_rounds,
            "texts": n,
            "dimensions": sizes.embed_dimensions,
        },
    )
    loop = asyncio.new_event_loop()
    try:
        with fast_server(sizes) as url:
            clocks = _rounds(loop, url, sizes)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    rate = {name: [n / c.wall for c in series] for name, series in clocks.items()}
    for name, series in clocks.items():
        ref = rate[OAI_SYNC] if "(sync)" in name else rate[OAI_ASYNC]
        vs = ratio_median(rate[name], ref)
        low, high = spread(rate[name])
        result.rows.append(
            Row(
                contender=name,
                values={
                    "texts_per_s": median(rate[name]),
                    "wall_s": median([c.wall for c in series]),
                    "cpu_s": median([c.cpu for c in series]),
                    "vs_openai": vs,
                },
                cells={
                    "texts/s (median)": fmt(median(rate[name]), 0),
                    "min–max": f"{fmt(low, 0)}–{fmt(high, 0)}",
                    "wall s": fmt(median([c.wall for c in series]), 3),
                    "CPU s": fmt(median([c.cpu for c in series]), 3),
                    "vs OpenAIEmbeddings": fmt_ratio(vs),
                },
            )
        )
    for name in (PKG_ASYNC, PKG_SYNC):
        row = result.row(name)
        assert row is not None
        value = row.values["vs_openai"]
        result.targets.append(
            Target(f"{name} throughput ≥ OpenAIEmbeddings'", fmt_ratio(value, 3), value >= 1.0)
        )
    result.notes.append(
        "Async rows compare with OpenAIEmbeddings (async), sync rows with OpenAIEmbeddings (sync). "
        "Defaults throughout (the targets judge those): ModelScopeEmbeddings batch_size=64, "
        "max_concurrency=4, encoding_format=float; OpenAIEmbeddings chunk_size=1000, batches one "
        "after another, encoding_format=base64 (the openai SDK's default). The base64 row is "
        "ModelScopeEmbeddings with its encoding_format option, for comparison."
    )
    return result


def _rounds(loop: asyncio.AbstractEventLoop, url: str, sizes: Sizes) -> dict[str, list[Clock]]:
    from langchain_openai import OpenAIEmbeddings

    from langchain_modelscope.embeddings import ModelScopeEmbeddings

    items = texts(sizes.embed_texts)
    package = ModelScopeEmbeddings(model=EMBEDDING_MODEL, api_key=TOKEN, base_url=url)
    openai_kwargs: dict[str, Any] = {"api_key": TOKEN, "base_url": url}  # aliases of its fields
    openai = OpenAIEmbeddings(
        model=EMBEDDING_MODEL, check_embedding_ctx_length=False, **openai_kwargs
    )
    bare = BareEmbeddings(url, TOKEN)
    async_runs: dict[str, Callable[[], Awaitable[list[list[float]]]]] = {
        PKG_ASYNC: lambda: package.aembed_documents(items),
        OAI_ASYNC: lambda: openai.aembed_documents(items),
        BARE_ASYNC: lambda: bare.aembed_documents(items),
    }
    runs = [PKG_ASYNC, OAI_ASYNC, PKG_SYNC, OAI_SYNC, BARE_ASYNC]
    if "encoding_format" in ModelScopeEmbeddings.model_fields:  # the opt-in, where it exists
        package_b64 = ModelScopeEmbeddings(
            model=EMBEDDING_MODEL, api_key=TOKEN, base_url=url, encoding_format="base64"
        )
        async_runs[PKG_B64] = lambda: package_b64.aembed_documents(items)
        runs.insert(1, PKG_B64)
    sync_runs: dict[str, Callable[[], list[list[float]]]] = {
        PKG_SYNC: lambda: package.embed_documents(items),
        OAI_SYNC: lambda: openai.embed_documents(items),
    }

    def once(name: str) -> Clock:
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if name in async_runs:
            vectors = loop.run_until_complete(async_runs[name]())
        else:
            vectors = sync_runs[name]()
        clock = Clock(time.process_time() - cpu0, time.perf_counter() - wall0)
        if len(vectors) != len(items) or len(vectors[-1]) != sizes.embed_dimensions:
            raise RuntimeError(f"{name} returned a wrong shape")
        return clock

    try:
        for name in runs:  # warm-up: pools, the server's answer cache, shape check
            once(name)
        names = runs
        out: dict[str, list[Clock]] = {name: [] for name in names}
        for index in range(sizes.embed_rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                out[name].append(once(name))
        return out
    finally:
        loop.run_until_complete(bare.aclose())
