"""``python -m bench --profile NAME``: where ChatModelScope's client CPU goes, for one benchmark.

cProfile with ``time.process_time`` as its clock, so time the machine spends on other
processes is not billed to a function (the profiles in findings.md were taken on a busy
machine). With ``--profile NAME:pyinstrument`` (pyinstrument installed) a call tree is printed
instead; it samples wall time, so prefer a quiet machine for it.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time
from collections.abc import Callable
from typing import Any

from bench._config import Sizes
from bench._contenders import PROMPT, package_chat
from bench.bench_chat import TOKEN, fast_server

_WHAT = ("invoke", "stream", "concurrency", "embeddings")


def _report(profiler: cProfile.Profile, label: str, per: int, top: int = 30) -> None:
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n{label}: {total * 1000 / per:.3f} ms CPU per operation ({per} operations)")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"--- top {top} by {order} (times are totals over {per} operations)")
        print(out.getvalue().split("\n", 6)[-1].rstrip())


def _run(body: Callable[[], Any], per: int, label: str, tree: bool) -> None:
    if tree:
        from pyinstrument import Profiler

        sampler = Profiler(interval=0.0005)
        sampler.start()
        body()
        sampler.stop()
        print(sampler.output_text(unicode=True, color=False, show_all=False))
        return
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    body()
    profiler.disable()
    _report(profiler, label, per)


def profile(spec: str, sizes: Sizes) -> int:
    """Profile the package contender of one benchmark; returns an exit status."""
    name, _, tool = spec.partition(":")
    if name not in _WHAT or tool not in ("", "pyinstrument"):
        print(f"--profile takes one of {', '.join(_WHAT)}, optionally with ':pyinstrument'")
        return 2
    tree = tool == "pyinstrument"
    with fast_server(sizes) as url:
        if name == "embeddings":
            return _profile_embeddings(url, sizes, tree)
        model = package_chat(url, TOKEN)
        if name == "invoke":
            calls = sizes.invoke_calls * 5
            for _ in range(sizes.invoke_warmup):
                model.invoke(PROMPT)

            def invoke_body() -> None:
                for _ in range(calls):
                    model.invoke(PROMPT)

            _run(invoke_body, calls, "ChatModelScope.invoke", tree)
        elif name == "stream":
            streams = max(sizes.streams, 3)
            for _ in model.stream(PROMPT):
                pass

            def stream_body() -> None:
                for _ in range(streams):
                    for _ in model.stream(PROMPT):
                        pass

            _run(stream_body, streams, "ChatModelScope.stream", tree)
        else:
            loop = asyncio.new_event_loop()
            n = sizes.concurrent

            async def batch() -> None:
                await asyncio.gather(*(model.ainvoke(PROMPT) for _ in range(n)))

            try:
                loop.run_until_complete(batch())
                _run(lambda: loop.run_until_complete(batch()), n, "ChatModelScope.ainvoke", tree)
            finally:
                loop.close()
    return 0


def _profile_embeddings(url: str, sizes: Sizes, tree: bool) -> int:
    from bench._server import EMBEDDING_MODEL
    from bench.bench_embeddings import texts
    from langchain_modelscope.embeddings import ModelScopeEmbeddings

    items = texts(sizes.embed_texts)
    model = ModelScopeEmbeddings(model=EMBEDDING_MODEL, api_key=TOKEN, base_url=url)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(model.aembed_documents(items))
        _run(
            lambda: loop.run_until_complete(model.aembed_documents(items)),
            1,
            f"ModelScopeEmbeddings.aembed_documents({len(items)} texts)",
            tree,
        )
    finally:
        loop.close()
    return 0
