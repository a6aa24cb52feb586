"""Benchmark 4: cold import time and model construction time, each in fresh interpreters.

Import: every subject is timed inside its own new interpreter (``perf_counter`` around the
import statement, so interpreter start-up is left out), subjects interleaved run by run, the
first run of each thrown away (it may compile bytecode). ``python -X importtime`` then names
the modules the package adds on top of the floor, heaviest first.

Construction: a fresh interpreter with an audit hook on every ``socket.*`` event builds the
model against an unroutable base URL with no server anywhere; any socket activity, or a
construction slow enough to have waited on the network, shows in the table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from typing import Final

from bench._config import Sizes
from bench._harness import (
    BenchResult,
    Row,
    Target,
    clean_env,
    fmt,
    median,
    run_python,
    spread,
)

FLOOR_IMPORT = "floor: langchain_core chat_models + httpx"
EMBEDDINGS_IMPORT = "langchain_modelscope.embeddings"
PACKAGE_IMPORT = "langchain_modelscope + ChatModelScope"
SUBJECTS: Final[dict[str, str]] = {
    FLOOR_IMPORT: "import langchain_core.language_models.chat_models, httpx",
    PACKAGE_IMPORT: (
        "import langchain_modelscope\n"
        "try:\n"
        "    from langchain_modelscope import ChatModelScope\n"
        "except ImportError:\n"
        "    from langchain_modelscope.chat_models import ChatModelScope"
    ),
    EMBEDDINGS_IMPORT: "from langchain_modelscope.embeddings import ModelScopeEmbeddings",
    "langchain_modelscope.fallback": "from langchain_modelscope.fallback import FallbackChatModel",
    "langchain_openai (reference)": "from langchain_openai import ChatOpenAI",
}

#: Timed in an interpreter that has imported the floor first: what the import adds on top of
#: it, measured directly (differences between separate interpreters are far noisier).
ON_FLOOR: Final[dict[str, str]] = {
    "langchain_modelscope + ChatModelScope, after the floor": SUBJECTS[PACKAGE_IMPORT],
    "langchain_openai, after the floor (reference)": "from langchain_openai import ChatOpenAI",
}
ON_FLOOR_PACKAGE = "langchain_modelscope + ChatModelScope, after the floor"

#: Subjects that load the chat-model stack, so that the floor's import is part of theirs.
CHAT_SUBJECTS: Final = frozenset(SUBJECTS) - {FLOOR_IMPORT, EMBEDDINGS_IMPORT}

_TIMER = """
import json, time
{before}
_c0, _w0 = time.process_time(), time.perf_counter()
exec(compile({code!r}, "<import>", "exec"))
print(json.dumps({{"wall": time.perf_counter() - _w0, "cpu": time.process_time() - _c0}}))
"""

#: Port 9 (discard) on an address no route leads to: a connect attempt would hang, not fail fast.
UNROUTABLE: Final = "http://10.255.255.1:9/v1"

_CONSTRUCT = """
import json, sys, time
_events = []
def _hook(event, args):
    if event.startswith("socket."):
        _events.append(event)
sys.addaudithook(_hook)
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.embeddings import ModelScopeEmbeddings
from langchain_openai import ChatOpenAI
URL = {url!r}
N = {n}
builders = {{
    "ChatModelScope": lambda: ChatModelScope(model="Qwen/Qwen2.5-72B-Instruct", api_key="ms-x",
                                             base_url=URL),
    "ModelScopeEmbeddings": lambda: ModelScopeEmbeddings(model="Qwen/Qwen3-Embedding-0.6B",
                                                        api_key="ms-x", base_url=URL),
    "ChatOpenAI (reference)": lambda: ChatOpenAI(model="Qwen/Qwen2.5-72B-Instruct",
                                                api_key="ms-x", base_url=URL),
}}
out = {{}}
for name, build in builders.items():
    before = len(_events)
    t0 = time.perf_counter()
    build()
    first = time.perf_counter() - t0
    times = []
    for _ in range(N):
        t0 = time.perf_counter()
        build()
        times.append(time.perf_counter() - t0)
    times.sort()
    out[name] = {{"first": first, "median": times[len(times) // 2],
                 "socket_events": _events[before:]}}
print(json.dumps(out))
"""


def _import_env(cache: str) -> dict[str, str]:
    """Child interpreters that read and write bytecode in `cache`, whatever the caller's setting.

    With ``PYTHONDONTWRITEBYTECODE`` set (as on some CI machines), an editable install would be
    compiled from source on every cold import while site-packages load from the bytecode pip
    wrote: the package would be billed for compiling itself, which no user installing a wheel
    pays. One cache for every subject, filled by the warm-up run, keeps the comparison even.
    """
    env = clean_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _import_times(sizes: Sizes, env: dict[str, str]) -> dict[str, list[float]]:
    programs = {name: _TIMER.format(before="", code=code) for name, code in SUBJECTS.items()}
    floor = SUBJECTS[FLOOR_IMPORT]
    programs.update(
        {name: _TIMER.format(before=floor, code=code) for name, code in ON_FLOOR.items()}
    )
    names = list(programs)
    times: dict[str, list[float]] = {name: [] for name in names}
    warmup = 0 if sizes.quick else 1  # run 0 warms the page cache and writes bytecode
    for index in range(sizes.import_runs + warmup):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            out = run_python(programs[name], env=env)
            if index >= warmup:
                times[name].append(json.loads(out.strip().splitlines()[-1])["wall"])
    return times


def _importtime_modules(code: str, env: dict[str, str]) -> dict[str, int]:
    """Module -> self time (µs) from ``python -X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
        start_new_session=True,
    )
    found: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s+(.*)$", line)
        if match:
            found[match.group(3).strip()] = int(match.group(1))
    return found


def _added_modules(env: dict[str, str], limit: int = 10) -> list[str]:
    floor = _importtime_modules(SUBJECTS[FLOOR_IMPORT], env)
    # A plain import statement: -X importtime does not see importlib.import_module, which the
    # package's lazy __getattr__ uses, so the user's spelling would hide chat_models itself.
    package = _importtime_modules("import langchain_modelscope.chat_models", env)
    added = {name: us for name, us in package.items() if name not in floor}
    total = sum(added.values())
    top = sorted(added.items(), key=lambda item: item[1], reverse=True)[:limit]
    lines = [
        f"`-X importtime`: the package import loads {len(added)} modules the floor does not, "
        f"{total / 1000:.0f} ms of self time in all (one run, noisy); heaviest:"
    ]
    lines.extend(f"  `{name}` {us / 1000:.1f} ms" for name, us in top)
    return lines


def _added_cell(name: str, added_ms: float) -> str:
    if name == FLOOR_IMPORT:
        return "—"
    if name in ON_FLOOR:
        return fmt(added_ms, 0) + " (measured directly)"
    if name not in CHAT_SUBJECTS:
        return "— (loads no chat model)"
    return fmt(added_ms, 0)


def bench_import(sizes: Sizes) -> BenchResult:
    """Cold import of the package against the floor, and construction cost."""
    result = BenchResult(
        name="import",
        title="4. Cold import time and model construction",
        columns=["median ms", "min–max", "added over floor ms"],
        params={"runs": sizes.import_runs, "constructions": sizes.constructs},
    )
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        env = _import_env(cache)
        times = _import_times(sizes, env)
        _import_rows(result, times)
        _construction_rows(result, sizes, env)
        if not sizes.quick:
            try:
                result.notes.extend(_added_modules(env))
            except (OSError, subprocess.SubprocessError, ValueError) as exc:  # diagnostics only
                result.notes.append(f"-X importtime diagnostics failed: {exc}")
    return result


def _import_rows(result: BenchResult, times: dict[str, list[float]]) -> None:
    floor = times[FLOOR_IMPORT]
    for name, series in times.items():
        ms = [t * 1000 for t in series]
        if name in ON_FLOOR:  # already the added cost
            added = ms
        else:
            added = [(t - f) * 1000 for t, f in zip(series, floor, strict=True)]
        low, high = spread(ms)
        result.rows.append(
            Row(
                contender=f"import {name}",
                values={"import_ms": median(ms), "added_ms": median(added)},
                cells={
                    "median ms": fmt(median(ms), 0),
                    "min–max": f"{fmt(low, 0)}–{fmt(high, 0)}",
                    "added over floor ms": _added_cell(name, median(added)),
                },
            )
        )
    package_row = result.row(f"import {ON_FLOOR_PACKAGE}")
    apart_row = result.row(f"import {PACKAGE_IMPORT}")
    assert package_row is not None
    assert apart_row is not None
    added_ms = package_row.values["added_ms"]
    result.targets.append(
        Target(
            "the package adds < 100 ms to the floor's import",
            f"{added_ms:.0f} ms after the floor in one interpreter "
            f"({apart_row.values['added_ms']:.0f} ms between separate interpreters)",
            added_ms < 100,
        )
    )


def _construction_rows(result: BenchResult, sizes: Sizes, env: dict[str, str]) -> None:
    out = json.loads(
        run_python(_CONSTRUCT.format(url=UNROUTABLE, n=sizes.constructs), env=env)
        .strip()
        .splitlines()[-1]
    )
    for name, data in out.items():
        events = data["socket_events"]
        result.rows.append(
            Row(
                contender=f"construct {name}",
                values={
                    "construct_first_ms": data["first"] * 1000,
                    "construct_ms": data["median"] * 1000,
                    "socket_events": float(len(events)),
                },
                cells={
                    "median ms": fmt(data["median"] * 1000, 3),
                    "min–max": f"first: {fmt(data['first'] * 1000, 3)}",
                    "added over floor ms": f"socket events: {len(events)}",
                },
            )
        )
    chat = out["ChatModelScope"]
    result.targets.append(
        Target(
            "constructing ChatModelScope makes no network call",
            f"{len(chat['socket_events'])} socket events",
            not chat["socket_events"],
        )
    )
    result.targets.append(
        Target(
            "constructing ChatModelScope costs < 1 ms",
            f"{chat['median'] * 1000:.3f} ms (first: {chat['first'] * 1000:.2f} ms)",
            chat["median"] < 0.001,
        )
    )
    result.notes.append(
        f"Construction uses base_url {UNROUTABLE} with no server: a network call would block "
        "there; socket events are counted by an audit hook (`socket.__new__`, `socket.connect`, "
        "`socket.getaddrinfo`, ...)."
    )
