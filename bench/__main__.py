"""``python -m bench``: run the benchmarks, print the tables, write ``bench/results.md``.

python -m bench                   every benchmark, real counts, writes results.md
python -m bench --quick           every benchmark, tiny counts (seconds); writes nothing
python -m bench --only stream     one benchmark (repeat --only, or comma-separate)
python -m bench --json out.json   also dump machine-readable results (the smoke test)
python -m bench --profile invoke  profile ChatModelScope's hot path for one benchmark
python -m bench --package-path DIR --only stream
                                  measure a patched copy of the package (before/after)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from bench._config import FULL, QUICK, Sizes
from bench._harness import BenchResult, raise_fd_limit
from bench._report import RESULTS, load, machine, render, table, verdict, write

BENCHMARKS: dict[str, Callable[[Sizes], BenchResult]] = {}


def _register() -> None:
    from bench.bench_chat import bench_concurrency, bench_invoke, bench_stream
    from bench.bench_embeddings import bench_embeddings
    from bench.bench_fallback import bench_fallback
    from bench.bench_governor import bench_governor
    from bench.bench_import import bench_import
    from bench.bench_ledger import bench_ledger
    from bench.bench_points import bench_points
    from bench.bench_throttle import bench_throttle

    BENCHMARKS.update(
        {
            "invoke": bench_invoke,
            "stream": bench_stream,
            "concurrency": bench_concurrency,
            "import": bench_import,
            "embeddings": bench_embeddings,
            "fallback": bench_fallback,
            "ledger": bench_ledger,
            "governor": bench_governor,
            "points": bench_points,
            "throttle": bench_throttle,
        }
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the harness")
    parser.add_argument("--only", action="append", default=[], help="benchmark name(s) to run")
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write bench/results.md (default: yes for full runs, no for --quick)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where --write writes")
    parser.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="concurrent calls for the concurrency benchmark (default: 500; quick: 50)",
    )
    parser.add_argument(
        "--package-path",
        type=Path,
        default=None,
        metavar="DIR",
        help="import langchain_modelscope from DIR (a patched copy) instead of the install",
    )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="NAME",
        help="profile ChatModelScope for invoke, stream, concurrency or embeddings, and exit",
    )
    return parser


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so every `finally` stops its server process.
    raise SystemExit(128 + signum)


def _use_package_path(directory: Path) -> None:
    """Measure the package found in `directory` (here and in child interpreters)."""
    path = str(directory.resolve())
    if not (directory / "langchain_modelscope" / "__init__.py").exists():
        raise SystemExit(f"--package-path: no langchain_modelscope package in {path}")
    if "langchain_modelscope" in sys.modules:
        raise SystemExit("--package-path: langchain_modelscope was imported too early")
    sys.path.insert(0, path)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [path, os.environ.get("PYTHONPATH")]))


def main(argv: list[str] | None = None) -> int:
    """Run what was asked; exit status 1 when a benchmark could not run (misses are not errors)."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    raise_fd_limit()
    if args.package_path is not None:
        _use_package_path(args.package_path)
    sizes = QUICK if args.quick else FULL
    if args.concurrency is not None:
        sizes = dataclasses.replace(sizes, concurrent=args.concurrency)
    if args.profile:
        from bench._profile import profile

        return profile(args.profile, sizes)
    _register()
    wanted = [name for item in args.only for name in item.split(",") if name] or list(BENCHMARKS)
    unknown = [name for name in wanted if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    info = machine()
    info["load average at start (1/5/15 min)"] = load()
    print(f"bench: {'quick' if args.quick else 'full'} run of {', '.join(wanted)}", flush=True)
    results: list[BenchResult] = []
    failures: dict[str, str] = {}
    started = time.perf_counter()
    for name in wanted:
        print(f"\n== {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            result = BENCHMARKS[name](sizes)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        result.seconds = time.perf_counter() - t0
        results.append(result)
        print(f"{result.title} ({result.seconds:.1f} s)")
        print(table(result))
        for target in result.targets:
            print(f"  [{verdict(target.passed)}] {target.goal}: {target.measured}")
        for note in result.notes:
            print(f"  note: {note.strip()}")
    total = time.perf_counter() - started
    info["load average at end (1/5/15 min)"] = load()
    info["total run time"] = f"{total:.0f} s"
    print(f"\nbench: done in {total:.1f} s; load average now {load()}")
    if failures:
        print(f"bench: FAILED to run: {', '.join(failures)}")
    write_md = args.write if args.write is not None else not args.quick
    if write_md:
        mode = "quick run" if args.quick else "full run"
        if args.package_path is not None:
            mode += f" of the package in {args.package_path}"
        write(render(results, info, mode, failures), args.output)
        print(f"bench: wrote {args.output}")
    if args.json is not None:
        payload = {
            "quick": args.quick,
            "machine": info,
            "failures": failures,
            "benchmarks": {r.name: r.as_dict() for r in results},
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
