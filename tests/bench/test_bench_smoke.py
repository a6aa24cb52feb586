"""The benchmark harness still runs end to end: a quick run fills every table.

Speed is never asserted here (only ``make bench`` measures, on a quiet machine): this checks
that every benchmark ran and produced a row for every contender, so the harness cannot rot
while the package changes under it.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results.md"
CHAT = ["ChatModelScope", "ChatOpenAI", "bare httpx", "langchain-core cost", "floor (httpx + core)"]
EXPECTED: dict[str, list[str]] = {
    "invoke": CHAT,
    "stream": [
        *CHAT,
        "core cost + building chunks (reference)",
        "floor with chunks built (reference)",
    ],
    "concurrency": CHAT,
    "import": [
        "import floor: langchain_core chat_models + httpx",
        "import langchain_modelscope + ChatModelScope",
        "import langchain_modelscope.embeddings",
        "import langchain_modelscope.fallback",
        "import langchain_openai (reference)",
        "import langchain_modelscope + ChatModelScope, after the floor",
        "import langchain_openai, after the floor (reference)",
        "construct ChatModelScope",
        "construct ModelScopeEmbeddings",
        "construct ChatOpenAI (reference)",
    ],
    "embeddings": [
        "ModelScopeEmbeddings (async)",
        "OpenAIEmbeddings (async)",
        "ModelScopeEmbeddings (sync)",
        "OpenAIEmbeddings (sync)",
        "bare httpx (async, 64/batch, 4 in flight, float, stdlib json)",
    ],
    "fallback": ["FallbackChatModel", "ChatOpenAI.with_fallbacks"],
    "ledger": [
        "QuotaLedger on a Redis that never answers",
        "QuotaLedger in memory (reference)",
    ],
    "governor": [
        "no limit (nullcontext, reference)",
        "Gate.hold (sync)",
        "no limit, async (reference)",
        "Gate.ahold (async)",
    ],
    "points": [
        "FallbackChatModel (SQLite ledger)",
        "ChatOpenAI.with_fallbacks",
        "LiteLLM-style cooldowns (5 s, per process)",
    ],
    "throttle": [
        "FallbackChatModel",
        "FallbackChatModel, package before this change (82f57d1)",
        "ChatOpenAI.with_fallbacks",
        "LiteLLM-style cooldowns (5 s)",
    ],
}
TIMEOUT = 240.0


def _run_quick(json_path: Path) -> subprocess.CompletedProcess[str]:
    """``python -m bench --quick``; on a hang, SIGTERM lets the harness stop its servers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "--quick", "--json", str(json_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        pytest.fail(f"quick bench run exceeded {TIMEOUT:.0f}s:\n{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_quick_run_fills_every_table(tmp_path: Path) -> None:
    pytest.importorskip("langchain_openai", reason="the bench extra (langchain-openai) is needed")
    before = RESULTS.stat().st_mtime_ns if RESULTS.exists() else None
    json_path = tmp_path / "bench.json"

    done = _run_quick(json_path)

    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["quick"] is True
    assert data["failures"] == {}
    benchmarks = data["benchmarks"]
    assert sorted(benchmarks) == sorted(EXPECTED)
    for name, contenders in EXPECTED.items():
        rows = {row["contender"]: row["values"] for row in benchmarks[name]["rows"]}
        missing = sorted(set(contenders) - set(rows))
        assert not missing, f"{name}: no row for {missing}"
        for contender, values in rows.items():
            assert values, (name, contender)
            assert all(isinstance(v, float | int) and not math.isnan(v) for v in values.values()), (
                name,
                contender,
                values,
            )
        assert benchmarks[name]["targets"], f"{name} judged no target"
    # A quick run never overwrites the real figures.
    assert (RESULTS.stat().st_mtime_ns if RESULTS.exists() else None) == before
