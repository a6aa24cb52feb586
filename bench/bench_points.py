"""Benchmark 9: an account out of points, four processes sharing one SQLite ledger, then a
grant part-way (issue 13).

The emulator (points regime, the service since 2026-08) runs in its own process on real time;
the first account has 0 points (every chat call answers 429 ``insufficient balance``), the second
plenty. `points_workers` processes make `points_calls` calls in all, each one call every
`points_pace` seconds, through a fallback over [empty account, backup account] of one model;
the package's workers share a ``QuotaLedger(SQLiteQuotaStore(path))``. After 60 % of the calls
the parent grants the empty account 200 points (enough for the calls left, so it does not run
out again). Everything is counted in the emulator's request log:

* requests to the empty account that started after its first 429 had been answered and before
  the grant, and how many of them were billable;
* requests to the free balance endpoint, from every process: the most in any one interval
  (a window of `balance_check_interval` less ``TOLERANCE``, the jitter between a claim in the
  ledger and its request reaching the emulator);
* time from the grant (the moment the emulator had applied it) to the end of the first call the
  empty account served.

Real time, not the emulator clock: four processes would each need the ledger's clock moved in
step, and a 2 s interval keeps the run to seconds anyway.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from bench._anchors import LITELLM_COOLDOWN, CooldownRouter, recorded_backoff
from bench._config import Sizes
from bench._contenders import PROMPT, openai_chat
from bench._harness import ROOT, BenchResult, Row, Target, emulator_process, fmt, stop_group

#: A plain (non-thinking) model, so ChatOpenAI needs no ``enable_thinking``; 1 point a call.
MODEL: Final = "Qwen/Qwen2.5-72B-Instruct"
GRANT: Final = 200.0
GRANT_AFTER: Final = 0.6
BALANCE_PATH: Final = "/openapi/v1/magicubes/balance"
TOLERANCE: Final = 0.1
PACKAGE: Final = "package"
OPENAI: Final = "openai"
LITELLM: Final = "litellm"
NAMES: Final = {
    PACKAGE: "FallbackChatModel (SQLite ledger)",
    OPENAI: "ChatOpenAI.with_fallbacks",
    LITELLM: f"LiteLLM-style cooldowns ({LITELLM_COOLDOWN:g} s, per process)",
}
COLUMNS: Final = [
    "requests to the empty account after its 429",
    "of which billable",
    "balance checks",
    "most checks in one interval",
    "grant → first call it serves s",
    "calls answered",
]
WORKER_TIMEOUT: Final = 600.0


# --------------------------------------------------------------------------- one worker process


def _build(spec: dict[str, Any]) -> tuple[Any, str]:
    """The contender a worker calls through, and a note on how it was configured."""
    url, empty, backup = spec["url"], spec["empty"], spec["backup"]
    if spec["contender"] == OPENAI:
        model = openai_chat(url, empty, MODEL).with_fallbacks([openai_chat(url, backup, MODEL)])
        return model, ""
    if spec["contender"] == LITELLM:
        deployments = [openai_chat(url, t, MODEL, max_retries=0) for t in (empty, backup)]
        return CooldownRouter(deployments), ""
    from langchain_modelscope.fallback import FallbackChatModel
    from langchain_modelscope.quota import QuotaLedger, SQLiteQuotaStore

    def build(**extra: Any) -> Any:
        return FallbackChatModel.from_modelscope(
            [MODEL],
            tokens=[empty, backup],
            ledger=QuotaLedger(SQLiteQuotaStore(spec["ledger"])),
            base_url=url,
            **extra,
        )

    if "balance_check_interval" not in FallbackChatModel.model_fields:
        return build(), "balance_check_interval: not supported by this package version"
    try:
        return build(balance_check_interval=spec["interval"]), ""
    except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        first = str(exc).strip().splitlines()[0]
        return build(), f"balance_check_interval={spec['interval']} refused ({first})"


def _say(kind: str, payload: Any = None) -> None:
    print(json.dumps([kind, payload]), flush=True)


def worker(spec_json: str) -> None:
    """One process of the run: build, say ready, wait for go, make the calls on schedule."""
    import logging

    logging.getLogger("langchain_modelscope").setLevel(logging.ERROR)
    spec = json.loads(spec_json)
    model, note = _build(spec)
    _say("ready", note)
    start = float(json.loads(sys.stdin.readline()))
    failures = 0
    with recorded_backoff() as backoff:
        for index in range(spec["calls"]):
            delay = start + index * spec["pace"] - time.time()
            if delay > 0:
                time.sleep(delay)
            try:
                answered = bool(getattr(model.invoke(PROMPT), "content", None))
            except Exception:  # a contender that gives up on a call: counted as unanswered
                answered = False
            failures += 0 if answered else 1
            _say("done", answered)
    _say("end", {"failures": failures, "retries": backoff.retries, "backoff_s": backoff.seconds})


# --------------------------------------------------------------------------- the parent


@dataclass
class Outcome:
    """What the parent saw of one contender's run."""

    grant_at: datetime
    note: str = ""
    answered: int = 0
    retries: int = 0
    backoff_s: float = 0.0
    ends: list[dict[str, Any]] = field(default_factory=list)


def _read(proc: subprocess.Popen[str], index: int, lines: queue.Queue[Any]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        with contextlib.suppress(ValueError):
            lines.put((index, *json.loads(line)))
    lines.put((index, "exit", proc.wait()))


@contextlib.contextmanager
def _workers(specs: Sequence[dict[str, Any]]) -> Iterator[list[subprocess.Popen[str]]]:
    code = (
        f"import sys\nsys.path.append({str(ROOT)!r})\n"
        "from bench.bench_points import worker\nworker(sys.argv[1])\n"
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        for spec in specs:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", code, json.dumps(spec)],
                    cwd=tempfile.gettempdir(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            )
        yield procs
    finally:
        for proc in procs:
            stop_group(proc)


def _run(remote: Any, specs: list[dict[str, Any]], grant_after: int, empty: str) -> Outcome:
    """Start the workers, let them go together, grant part-way, collect what they say."""
    lines: queue.Queue[Any] = queue.Queue()
    outcome = Outcome(grant_at=datetime.max.replace(tzinfo=timezone.utc))
    deadline = time.monotonic() + WORKER_TIMEOUT
    with _workers(specs) as procs:
        for index, proc in enumerate(procs):
            threading.Thread(target=_read, args=(proc, index, lines), daemon=True).start()

        def next_line() -> tuple[Any, ...]:
            item: tuple[Any, ...] = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            if item[1] == "exit" and item[2] != 0:
                raise RuntimeError(f"points worker {item[0]} exited with status {item[2]}")
            return item

        ready = 0
        while ready < len(procs):
            _, kind, payload = next_line()
            if kind == "ready":
                ready += 1
                outcome.note = outcome.note or payload
        start = time.time() + 0.2
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
        done = ended = 0
        while ended < len(procs):
            _, kind, payload = next_line()
            if kind == "done":
                done += 1
                outcome.answered += 1 if payload else 0
                if done == grant_after:
                    remote.grant_points(empty, GRANT)
                    outcome.grant_at = datetime.now(timezone.utc)
            elif kind == "end":
                ended += 1
                outcome.retries += int(payload["retries"])
                outcome.backoff_s += float(payload["backoff_s"])
    return outcome


def _most_in_window(times: Sequence[datetime], window: float) -> int:
    """The most of `times` inside any half-open window of `window` seconds."""
    stamps = sorted(t.timestamp() for t in times)
    most = 0
    low = 0
    for high, stamp in enumerate(stamps):
        while stamp - stamps[low] >= window:
            low += 1
        most = max(most, high - low + 1)
    return most


def _measure(name: str, log: Sequence[Any], empty: str, outcome: Outcome, interval: float) -> Row:
    """The row of one contender, from the emulator's log."""
    grant = outcome.grant_at
    chat = [r for r in log if r.path.endswith("/chat/completions") and r.token == empty]
    refused = [r for r in chat if r.status == 429 and r.ended_at is not None]
    out_at = min((r.ended_at for r in refused), default=grant)
    wasted = [r for r in chat if out_at <= r.started_at < grant]
    billable = sum(1 for r in wasted if r.billable)
    checks = [r.started_at for r in log if r.path == BALANCE_PATH]
    most = _most_in_window(checks, interval - TOLERANCE)
    out_seconds = max((grant - out_at).total_seconds(), 0.0)
    served = [r.ended_at for r in chat if r.status == 200 and r.started_at >= grant and r.ended_at]
    values = {
        "wasted_requests": float(len(wasted)),
        "wasted_billable": float(billable),
        "balance_checks": float(len(checks)),
        "most_checks_per_interval": float(most),
        "out_of_points_s": out_seconds,
        "answered": float(outcome.answered),
    }
    cells = {
        "requests to the empty account after its 429": str(len(wasted)),
        "of which billable": str(billable),
        "balance checks": str(len(checks)),
        "most checks in one interval": str(most),
        "grant → first call it serves s": "never",
        "calls answered": str(outcome.answered),
    }
    if served:
        seconds = (min(served) - grant).total_seconds()
        values["grant_to_served_s"] = seconds
        cells["grant → first call it serves s"] = fmt(seconds, 2)
    return Row(contender=name, values=values, cells=cells)


def bench_points(sizes: Sizes) -> BenchResult:
    """Waste, balance checks and recovery of a spent points balance, across processes."""
    n, workers = sizes.points_calls, sizes.points_workers
    interval, pace = sizes.points_interval, sizes.points_pace
    per_worker = n // workers
    grant_after = int(per_worker * workers * GRANT_AFTER)
    result = BenchResult(
        name="points",
        title=f"8. An account out of points, {workers} processes, {per_worker * workers} calls",
        columns=list(COLUMNS),
        params={
            "calls": per_worker * workers,
            "processes": workers,
            "one call per process every s": fmt(pace, 2),
            "balance_check_interval s": fmt(interval, 1),
            "grant": f"{GRANT:g} points after {grant_after} calls",
            "model": MODEL,
        },
    )
    from langchain_modelscope.testing import EmulatorRemote

    supported = False
    with emulator_process({}) as url, tempfile.TemporaryDirectory(prefix="bench-pts-") as tmp:
        remote = EmulatorRemote(url)
        for contender in (PACKAGE, OPENAI, LITELLM):
            remote.reset()
            empty = remote.add_account(points=0)
            remote.set_balance(empty, 0)
            backup = remote.add_account(points=10**6)
            remote.clear_log()
            spec = {
                "contender": contender,
                "url": url,
                "empty": empty,
                "backup": backup,
                "calls": per_worker,
                "pace": pace,
                "interval": interval,
                "ledger": str(Path(tmp) / f"{contender}.sqlite3"),
            }
            outcome = _run(remote, [spec] * workers, grant_after, empty)
            result.rows.append(
                _measure(NAMES[contender], remote.requests(), empty, outcome, interval)
            )
            if outcome.note:
                result.notes.append(f"{NAMES[contender]}: {outcome.note}.")
            if outcome.retries:
                result.notes.append(
                    f"{NAMES[contender]}: {outcome.retries} retry sleeps "
                    f"({outcome.backoff_s:.0f} s in all) were recorded, not slept."
                )
            if contender == PACKAGE:
                supported = not outcome.note
    _judge(result, interval, supported=supported)
    return result


def _after(seconds: float | None) -> str:
    return "never served after" if seconds is None else f"served {seconds:.2f} s after"


def _judge(result: BenchResult, interval: float, *, supported: bool) -> None:
    mine = result.row(NAMES[PACKAGE])
    assert mine is not None
    v = mine.values
    anchors = "; ".join(
        f"{row.contender}: {row.cells['requests to the empty account after its 429']} requests,"
        f" {_after(row.values.get('grant_to_served_s'))} the grant"
        for row in result.rows
        if row is not mine
    )
    result.targets.append(
        Target(
            "FallbackChatModel: billable requests to the empty account after its 429 = 0",
            f"{v['wasted_billable']:.0f} billable of {v['wasted_requests']:.0f} requests "
            f"in {v['out_of_points_s']:.1f} s out of points ({anchors})",
            v["wasted_billable"] == 0,
        )
    )
    result.targets.append(
        Target(
            "FallbackChatModel: balance checks across all processes ≤ 1 per interval",
            f"{v['most_checks_per_interval']:.0f} at most in one {interval:g} s interval, "
            f"{v['balance_checks']:.0f} in all",
            v["most_checks_per_interval"] <= 1 if supported else None,
        )
    )
    served = v.get("grant_to_served_s")
    result.targets.append(
        Target(
            f"FallbackChatModel: grant → first call it serves ≤ one interval ({interval:g} s)",
            f"{_after(served)} the grant",
            served is not None and served <= interval,
        )
    )
    result.notes.append(
        "Requests after the 429: chat calls to the empty account that started after its "
        "first 429 was answered and before the grant (calls already under way then are not "
        "counted; the other processes' first calls, made before they could read the mark, "
        "are). Over hours out of points the anchors keep paying: with_fallbacks 3 requests a "
        "call (the 429 and the SDK's 2 retries), LiteLLM-style one a process every "
        f"{LITELLM_COOLDOWN:g} s. Billable: what the emulator charged (a spent balance costs "
        "nothing more, so the requests column is the waste of round trips)."
    )
    result.notes.append(
        f"Balance checks: requests to the free {BALANCE_PATH} from every process; 'in one "
        f"interval' counts them in any window of the interval less {TOLERANCE:g} s of "
        "scheduling jitter. LiteLLM-style: each process cools the empty deployment down for "
        f"{LITELLM_COOLDOWN:g} s on each 429, then tries it again with a real call."
    )
