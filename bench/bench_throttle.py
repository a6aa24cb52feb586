"""Benchmark 10: one hour of "We have to rate limit you" on the primary model, and what each
fallback spends on it (issue 14).

The emulator runs in its own process, its clock frozen and moved by hand: the primary model is
throttled for 3,600 s of that clock with no call let through, and the calls are spread evenly
over the hour (one every 3600 / calls seconds). The package's ledger gets a clock moved in the
same steps, so its cooldowns (30 s doubling) end when they would over a real hour, in seconds of
wall time. Requests are counted in the emulator's log; the cooldowns that ended are read from
the ledger after every call (each distinct end of a throttle mark on the primary is one), so
"requests = 1 + cooldowns that ended" compares two independent counts.

"The package before this change" is the same scenario run in a fresh interpreter that imports
``langchain_modelscope`` from ``git archive BEFORE_COMMIT`` (the emulator is the current one).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from bench._anchors import LITELLM_COOLDOWN, Backoff, CooldownRouter, recorded_backoff
from bench._config import Sizes
from bench._contenders import PROMPT, openai_chat
from bench._harness import (
    ROOT,
    BenchResult,
    Row,
    Target,
    clean_env,
    emulator_process,
    fmt,
    run_python,
)
from bench.bench_fallback import quiet

#: Plain (non-thinking) models, so ChatOpenAI needs no `enable_thinking` to reach the throttle.
PRIMARY: Final = "Qwen/Qwen2.5-72B-Instruct"
BACKUP: Final = "deepseek-ai/DeepSeek-V3.2"
WINDOW: Final = 3600.0
#: main before the throttle cooldowns (issue 14) were written.
BEFORE_COMMIT: Final = "82f57d1"
PACKAGE_FB: Final = "FallbackChatModel"
BEFORE_FB: Final = f"FallbackChatModel, package before this change ({BEFORE_COMMIT})"
OPENAI_FB: Final = "ChatOpenAI.with_fallbacks"
LITELLM: Final = f"LiteLLM-style cooldowns ({LITELLM_COOLDOWN:g} s)"
COLUMNS: Final = [
    "requests to the throttled model",
    "of which billable",
    "cooldowns that ended",
    "1 + cooldowns",
    "match",
    "requests to the backup",
    "calls answered",
]


@dataclass
class SimClock:
    """The hour both sides see: the emulator's clock and the ledger's, moved together."""

    start: datetime
    elapsed: float = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def seconds(self) -> float:
        return self.elapsed


@dataclass
class Run:
    """What one contender's hour produced (JSON-ready, so a child interpreter can send it)."""

    figures: dict[str, float] = field(default_factory=dict)
    note: str = ""


def _setup(remote: Any) -> tuple[str, SimClock]:
    """A fresh emulator: the clock frozen at its now, a rich account, the primary throttled."""
    remote.reset()
    start = remote.set_clock(remote.now())
    token = str(remote.token)
    remote.set_balance(token, 10**6)
    remote.throttle(token, PRIMARY, WINDOW)
    remote.clear_log()
    return token, SimClock(start)


def _hour(
    remote: Any, clock: SimClock, calls: int, call: Callable[[], Any], after: Callable[[], None]
) -> dict[str, float]:
    """`calls` calls evenly over the window, both clocks moved between them; then the counts."""
    step = WINDOW / calls
    answered = 0
    for _ in range(calls):
        try:
            answer = call()
            answered += 1 if getattr(answer, "content", None) else 0
        except Exception:  # a contender that gives up on a call: counted as unanswered
            pass
        after()
        clock.elapsed += step
        remote.set_clock(advance=step)
    primary = remote.requests(model=PRIMARY)
    return {
        "primary_requests": float(len(primary)),
        "primary_billable": float(sum(1 for r in primary if r.billable)),
        "backup_requests": float(len(remote.requests(model=BACKUP))),
        "answered": float(answered),
    }


def run_fallback(url: str, calls: int) -> dict[str, Any]:
    """The hour through FallbackChatModel, with whichever package this interpreter imports."""
    import langchain_modelscope
    from langchain_modelscope.fallback import FallbackChatModel
    from langchain_modelscope.quota import QuotaLedger
    from langchain_modelscope.testing import EmulatorRemote

    remote = EmulatorRemote(url)
    token, clock = _setup(remote)
    ledger = QuotaLedger(clock=clock.now)
    model = FallbackChatModel.from_modelscope(
        [PRIMARY, BACKUP], tokens=[token], ledger=ledger, base_url=url
    )
    key = model.candidate_infos[0].key
    ends: set[datetime] = set()

    def observe() -> None:
        seen = ledger.lookup(key)
        for entry in (seen.blocking, seen.probe):
            if entry is not None and getattr(entry, "kind", None) == "throttle":
                ends.add(entry.until)

    with quiet("langchain_modelscope"), recorded_backoff() as backoff:
        figures = _hour(remote, clock, calls, lambda: model.invoke(PROMPT), observe)
    # Ended by the last call (a cooldown ending after it had no call left to probe it).
    last_call = clock.now() - timedelta(seconds=WINDOW / calls)
    figures["cooldowns_ended"] = float(sum(1 for end in ends if end <= last_call))
    return {
        "figures": figures,
        "package": str(Path(langchain_modelscope.__file__).parent),
        "retries": backoff.retries,
        "backoff_s": backoff.seconds,
    }


def _run_openai(url: str, calls: int) -> Run:
    from langchain_modelscope.testing import EmulatorRemote

    remote = EmulatorRemote(url)
    token, clock = _setup(remote)
    model = openai_chat(url, token, PRIMARY).with_fallbacks([openai_chat(url, token, BACKUP)])
    with recorded_backoff() as backoff:
        figures = _hour(remote, clock, calls, lambda: model.invoke(PROMPT), lambda: None)
    return Run(figures, backoff.note(OPENAI_FB))


def _run_litellm(url: str, calls: int) -> Run:
    from langchain_modelscope.testing import EmulatorRemote

    remote = EmulatorRemote(url)
    token, clock = _setup(remote)
    router = CooldownRouter(
        [
            openai_chat(url, token, PRIMARY, max_retries=0),
            openai_chat(url, token, BACKUP, max_retries=0),
        ],
        clock=clock.seconds,
    )
    figures = _hour(remote, clock, calls, lambda: router.invoke(PROMPT), lambda: None)
    return Run(figures)


@contextmanager
def package_at(commit: str) -> Iterator[Path | None]:
    """``langchain_modelscope`` as it was at `commit`, in a temporary directory (None: no git)."""
    with tempfile.TemporaryDirectory(prefix="bench-before-") as tmp:
        try:
            tar = subprocess.run(
                ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "langchain_modelscope"],
                capture_output=True,
                timeout=60,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            yield None
            return
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(tmp)  # our own repository's files
        yield Path(tmp)


def _run_before(url: str, calls: int) -> Run | str:
    """run_fallback in a child interpreter importing the package at BEFORE_COMMIT."""
    with package_at(BEFORE_COMMIT) as directory:
        if directory is None:
            return f"not run: no git checkout to take commit {BEFORE_COMMIT} from"
        code = (
            "import json, sys\n"
            f"sys.path.append({str(ROOT)!r})\n"
            "from bench.bench_throttle import run_fallback\n"
            f"print(json.dumps(run_fallback({url!r}, {calls})))\n"
        )
        env = {**clean_env(), "PYTHONPATH": str(directory)}
        out = json.loads(run_python(code, timeout=600.0, env=env).strip().splitlines()[-1])
        if not str(out["package"]).startswith(str(directory)):
            return f"not run: the child imported {out['package']}, not commit {BEFORE_COMMIT}"
        backoff = Backoff(int(out["retries"]), float(out["backoff_s"]))
        return Run({k: float(v) for k, v in out["figures"].items()}, backoff.note(BEFORE_FB))


def _row(name: str, figures: dict[str, float]) -> Row:
    cells = {
        "requests to the throttled model": f"{figures['primary_requests']:.0f}",
        "of which billable": f"{figures['primary_billable']:.0f}",
        "requests to the backup": f"{figures['backup_requests']:.0f}",
        "calls answered": f"{figures['answered']:.0f}",
        "cooldowns that ended": "n/a (none kept)",
        "1 + cooldowns": "n/a",
        "match": "n/a",
    }
    values = dict(figures)
    if "cooldowns_ended" in figures:
        expected = 1 + figures["cooldowns_ended"]
        match = figures["primary_requests"] == expected
        values.update(expected=expected, match=float(match))
        cells.update(
            {
                "cooldowns that ended": f"{figures['cooldowns_ended']:.0f}",
                "1 + cooldowns": f"{expected:.0f}",
                "match": "yes" if match else "no",
            }
        )
    return Row(contender=name, values=values, cells=cells)


def bench_throttle(sizes: Sizes) -> BenchResult:
    """Requests to a model throttled for an hour, through each fallback, over `throttle_calls`."""
    n = sizes.throttle_calls
    result = BenchResult(
        name="throttle",
        title=f"9. An hour's throttle window on the primary, {n} calls",
        columns=list(COLUMNS),
        params={
            "calls": n,
            "window s (emulator clock)": f"{WINDOW:.0f}",
            "one call every s": fmt(WINDOW / n, 1),
            "let through": "none",
            "primary": PRIMARY,
            "backup": BACKUP,
        },
    )
    with emulator_process({}) as url:
        package = run_fallback(url, n)
        result.rows.append(_row(PACKAGE_FB, package["figures"]))
        result.notes.append(Backoff(package["retries"], package["backoff_s"]).note(PACKAGE_FB))
        before = _run_before(url, n)
        if isinstance(before, Run):
            result.rows.append(_row(BEFORE_FB, before.figures))
            result.notes.append(before.note)
        else:
            result.notes.append(f"{BEFORE_FB}: {before}")
        for name, runner in ((OPENAI_FB, _run_openai), (LITELLM, _run_litellm)):
            run = runner(url, n)
            result.rows.append(_row(name, run.figures))
            if run.note:
                result.notes.append(run.note)
    mine = result.row(PACKAGE_FB)
    assert mine is not None
    requests = mine.values["primary_requests"]
    ended = mine.values["cooldowns_ended"]
    others = ", ".join(
        f"{row.contender}: {row.values['primary_requests']:.0f}"
        for row in result.rows
        if row is not mine
    )
    result.targets.append(
        Target(
            "FallbackChatModel: requests to the throttled model = 1 + cooldowns that ended",
            f"{requests:.0f} requests, {ended:.0f} cooldowns ended ({others})",
            bool(ended > 0 and requests == 1 + ended),
        )
    )
    result.notes.append(
        "The primary answers every call with ModelScope's 429 \"We have to rate limit you for "
        "model ...\" for the whole run (the emulator's throttle window, none let through); the "
        "backup is another model of the same account. Billable: the calls the emulator charged "
        "points for (a refused throttle call costs its points, as §2a infers)."
    )
    result.notes.append(
        "A package without throttle cooldowns keeps no mark (cooldowns: n/a or 0): every call "
        "pays the primary's refusal and the client's retries on it."
    )
    result.notes.append(
        f"LiteLLM-style: a {LITELLM_COOLDOWN:g} s cooldown on the emulator clock; with one call "
        f"every {WINDOW / n:.0f} s every call finds it over and pays one refusal."
    )
    return result
