"""Benchmark 6: what an exhausted primary costs over many calls, and what a fallback hop adds.

The emulator runs in its own process; every request to the primary model answers the
verbatim ModelScope daily-quota 429. Requests are counted in the emulator's request log.
Each fallback call is followed by a direct call to the fallback candidate, so the latency a
hop adds is measured as per-call differences between neighbours in time.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from bench._config import Sizes
from bench._contenders import PROMPT, openai_chat, package_chat
from bench._harness import BenchResult, Row, Target, emulator_process, fmt

PRIMARY: Final = "Qwen/Qwen3-32B"
BACKUP: Final = "Qwen/Qwen2.5-72B-Instruct"
#: Verbatim from ModelScope (two spaces after the comma included).
QUOTA_BODY: Final = {
    "errors": {
        "message": (
            "You have exceeded today's quota for model Qwen/Qwen3-32B,  please try again "
            "tomorrow, or consider using other models"
        )
    }
}
PACKAGE_FB = "FallbackChatModel"
OPENAI_FB = "ChatOpenAI.with_fallbacks"


@contextmanager
def quiet(name: str) -> Iterator[None]:
    """The fallback logs one WARNING per switch: right for users, noise in a table."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _walk(
    calls: int, fallback: Callable[[], Any], direct: Callable[[], Any]
) -> tuple[list[float], list[float]]:
    """Alternate one fallback call and one direct call to the candidate, `calls` times."""
    via: list[float] = []
    straight: list[float] = []
    for _ in range(calls):
        seconds, answer = _timed(fallback)
        if not getattr(answer, "content", None):
            raise RuntimeError(f"the fallback returned no answer: {answer!r}")
        via.append(seconds)
        straight.append(_timed(direct)[0])
    return via, straight


def bench_fallback(sizes: Sizes) -> BenchResult:
    """Requests and time spent on an exhausted primary, and the added latency per hop."""
    n = sizes.fallback_calls
    result = BenchResult(
        name="fallback",
        title=f"6. Fallback over {n} calls with an exhausted primary",
        columns=[
            "requests to primary",
            "time on primary s (total)",
            "first call added ms",
            "added per hop after the first ms (median)",
        ],
        params={"calls": n, "primary": PRIMARY, "fallback": BACKUP},
    )
    config = {
        "regime": "daily",
        "account_daily_limit": 10**9,
        "model_daily_limit": 10**9,
        "model_limits": {},
    }
    with emulator_process(config) as url, quiet("langchain_modelscope"):
        from langchain_modelscope.fallback import FallbackChatModel
        from langchain_modelscope.quota import QuotaLedger
        from langchain_modelscope.testing import EmulatorRemote, Fault

        remote = EmulatorRemote(url)
        token = remote.token
        remote.queue_fault(Fault.status(429, body=QUOTA_BODY), model=PRIMARY, times=10**9)

        def run(name: str, fallback: Any, direct: Any) -> None:
            direct.invoke(PROMPT)  # warm-up: the connection pool, not the primary
            remote.clear_log()
            via, straight = _walk(n, lambda: fallback.invoke(PROMPT), lambda: direct.invoke(PROMPT))
            primary = len(remote.requests(model=PRIMARY))
            added = [v - s for v, s in zip(via, straight, strict=True)]
            later = added[1:] or added
            hop_ms = statistics.median(later) * 1000
            result.rows.append(
                Row(
                    contender=name,
                    values={
                        "primary_requests": float(primary),
                        "primary_seconds": sum(added),
                        "first_added_ms": added[0] * 1000,
                        "hop_added_ms": hop_ms,
                        "direct_ms": statistics.median(straight) * 1000,
                    },
                    cells={
                        "requests to primary": str(primary),
                        "time on primary s (total)": fmt(sum(added), 3),
                        "first call added ms": fmt(added[0] * 1000, 1),
                        "added per hop after the first ms (median)": fmt(hop_ms, 2),
                    },
                )
            )

        run(
            PACKAGE_FB,
            FallbackChatModel(
                candidates=[package_chat(url, token, PRIMARY), package_chat(url, token, BACKUP)],
                ledger=QuotaLedger(),
            ),
            package_chat(url, token, BACKUP),
        )
        run(
            OPENAI_FB,
            openai_chat(url, token, PRIMARY).with_fallbacks([openai_chat(url, token, BACKUP)]),
            openai_chat(url, token, BACKUP),
        )
    package = result.row(PACKAGE_FB)
    openai = result.row(OPENAI_FB)
    assert package is not None
    assert openai is not None
    result.targets.append(
        Target(
            f"FallbackChatModel: 1 request to the exhausted primary over {n} calls",
            f"{package.values['primary_requests']:.0f} (with_fallbacks: "
            f"{openai.values['primary_requests']:.0f})",
            package.values["primary_requests"] == 1,
        )
    )
    result.targets.append(
        Target(
            "FallbackChatModel: < 2 ms added latency per hop after the first",
            f"{package.values['hop_added_ms']:.2f} ms",
            package.values["hop_added_ms"] < 2.0,
        )
    )
    result.notes.append(
        f"Latencies are wall time; 'added' is each fallback call minus the direct call to "
        f"{BACKUP} made right after it (ChatModelScope for FallbackChatModel, ChatOpenAI for "
        "with_fallbacks). with_fallbacks keeps no memory: every call pays the primary's "
        "429 plus the openai SDK's default 2 retries with exponential backoff."
    )
    result.notes.append(
        f"Direct call to the candidate, median: ChatModelScope "
        f"{package.values['direct_ms']:.2f} ms, ChatOpenAI {openai.values['direct_ms']:.2f} ms "
        "(the emulator is a thread-per-connection server: these include its time)."
    )
    return result
