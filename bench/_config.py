"""Iteration counts: the real ones for ``make bench`` and tiny ones for the smoke run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does; `quick` keeps every code path at a fraction."""

    quick: bool
    #: (1) rounds of `invoke_calls` sequential invokes per contender, after `invoke_warmup`
    invoke_rounds: int
    invoke_calls: int
    invoke_warmup: int
    #: (2) rounds of `streams` streamed answers of `stream_chunks` chunks per contender
    stream_rounds: int
    streams: int
    stream_chunks: int
    #: (3) rounds of `concurrent` simultaneous ainvoke calls per contender
    concurrent_rounds: int
    concurrent: int
    #: (4) fresh interpreters per import subject (after one warm-up), constructions timed
    import_runs: int
    constructs: int
    #: (5) rounds of embedding `embed_texts` texts of `embed_dimensions` floats each
    embed_rounds: int
    embed_texts: int
    embed_dimensions: int
    #: (6) sequential calls through each fallback contender
    fallback_calls: int
    #: (8) calls in all over `points_workers` processes, one every `points_pace` s in each,
    #: the grant after half of them; balance checks at most every `points_interval` s
    points_calls: int
    points_workers: int
    points_pace: float
    points_interval: float
    #: (9) calls through each contender over one hour of throttle window (emulator clock)
    throttle_calls: int


FULL = Sizes(
    quick=False,
    invoke_rounds=7,
    invoke_calls=200,
    invoke_warmup=50,
    stream_rounds=7,
    streams=8,
    stream_chunks=1000,
    concurrent_rounds=5,
    concurrent=500,
    import_runs=9,
    constructs=2000,
    embed_rounds=3,
    embed_texts=10_000,
    embed_dimensions=1024,
    fallback_calls=100,
    points_calls=500,
    points_workers=4,
    points_pace=0.2,
    points_interval=2.0,
    throttle_calls=200,
)

QUICK = Sizes(
    quick=True,
    invoke_rounds=2,
    invoke_calls=10,
    invoke_warmup=3,
    stream_rounds=1,
    streams=1,
    stream_chunks=1000,
    concurrent_rounds=1,
    concurrent=50,
    import_runs=1,
    constructs=50,
    embed_rounds=1,
    embed_texts=300,
    embed_dimensions=256,
    fallback_calls=2,
    points_calls=40,
    points_workers=4,
    points_pace=0.1,
    points_interval=1.0,
    throttle_calls=20,
)
