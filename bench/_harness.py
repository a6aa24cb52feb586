"""Measurement plumbing shared by every benchmark: servers in their own processes, interleaved
rounds, CPU clocks, medians, and the result rows every report is built from.

Why interleaved rounds: on a shared machine load comes and goes; running A B C, B C A, ...
spreads that drift over every contender instead of landing on whichever ran during a spike,
and medians drop the rounds a spike hit anyway.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 60.0


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One contender's line in a table: machine-readable values and their display cells."""

    contender: str
    values: dict[str, float]
    cells: dict[str, str]


@dataclass
class Target:
    """One goal of the issue, with what was measured and whether it holds."""

    goal: str
    measured: str
    passed: bool | None  # None: could not be judged (a contender was missing)


@dataclass
class BenchResult:
    """Everything one benchmark reports."""

    name: str
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self, contender: str) -> Row | None:
        return next((r for r in self.rows if r.contender == contender), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "params": self.params,
            "seconds": self.seconds,
            "rows": [{"contender": r.contender, "values": r.values} for r in self.rows],
            "targets": [
                {"goal": t.goal, "measured": t.measured, "passed": t.passed} for t in self.targets
            ],
            "notes": self.notes,
        }


# --------------------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(min, max): shown beside each median so a noisy figure is visible as such."""
    return (min(values), max(values)) if values else (float("nan"), float("nan"))


def ratio_median(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median of per-round ratios: each ratio compares contenders measured moments apart."""
    pairs = [n / d for n, d in zip(numerators, denominators, strict=True) if d > 0]
    return median(pairs)


def fmt(value: float, digits: int = 2) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}×"


# --------------------------------------------------------------------------- clocks


@dataclass
class Clock:
    """CPU (this process, all threads) and wall time of one measured block."""

    cpu: float = 0.0
    wall: float = 0.0
    #: wall time spent in the cyclic garbage collector during the block (part of `cpu`)
    gc: float = 0.0


class _GCTimer:
    """Adds up the time `gc` collections take while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


@contextlib.contextmanager
def measure() -> Iterator[Clock]:
    """Time a block; collects garbage first so one contender's litter is not billed to the next.

    Collections the block itself triggers stay in its figures (every real program pays them),
    and their time is reported apart in `Clock.gc`.
    """
    gc.collect()
    clock = Clock()
    timer = _GCTimer()
    gc.callbacks.append(timer)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        yield clock
    finally:
        clock.cpu = time.process_time() - cpu0
        clock.wall = time.perf_counter() - wall0
        gc.callbacks.remove(timer)
        clock.gc = timer.total


def interleave(
    contenders: Mapping[str, Callable[[], Clock]], rounds: int
) -> dict[str, list[Clock]]:
    """Run each contender's block once per round, rotating the order every round."""
    names = list(contenders)
    out: dict[str, list[Clock]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            out[name].append(contenders[name]())
    return out


# --------------------------------------------------------------------------- processes


def raise_fd_limit() -> None:
    """Hundreds of concurrent sockets plus idle pools outgrow a 1,024 soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def server_process(module_argv: list[str], *, label: str) -> Iterator[str]:
    """Start ``python -m <module_argv> --ready-file F`` in a new process group, yield the URL
    it writes to F, and always stop the whole group afterwards (errors and Ctrl-C included)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ready = Path(tmp) / "ready"
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", *module_argv, "--ready-file", str(ready)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + SERVER_START_TIMEOUT
                while not ready.exists():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        output = log_path.read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"{label} did not start:\n{output}")
                    time.sleep(0.02)
                yield ready.read_text(encoding="utf-8").strip()
            finally:
                stop_group(proc)


def emulator_process(config: Mapping[str, Any]) -> contextlib.AbstractContextManager[str]:
    """The package's emulator in its own process, configured by `config` (an
    ``EmulatorConfig`` as JSON); yields its ``.../v1`` URL."""
    argv = ["langchain_modelscope.testing", "--port", "0", "--config-json", json.dumps(config)]
    return server_process(argv, label="the emulator")


def run_python(code: str, *, timeout: float = 120.0, env: Mapping[str, str] | None = None) -> str:
    """Run ``python -c code`` in a fresh interpreter (own process group); return its stdout.

    It runs in a neutral directory, so the package is imported the way users get it (the
    install, or a copy named by PYTHONPATH), not from the working directory."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tempfile.gettempdir(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=dict(env) if env is not None else None,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        stop_group(proc)
        raise RuntimeError(f"subprocess timed out after {timeout}s") from exc
    finally:
        stop_group(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return out.decode()


def clean_env() -> dict[str, str]:
    """The environment for child interpreters: no real ModelScope settings leak in."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("MODELSCOPE_") or name.startswith("OPENAI_"):
            env.pop(name)
    return env
