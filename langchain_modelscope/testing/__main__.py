"""`python -m langchain_modelscope.testing` / `modelscope-emulator`: run an emulator until stopped.

Prints one line, `MODELSCOPE_BASE_URL=<url> MODELSCOPE_API_KEY=<token>`, so a shell can
`eval` it; `--ready-file` lets scripts start it in the background and wait for the file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from types import FrameType

from langchain_modelscope.testing._server import ModelScopeEmulator
from langchain_modelscope.testing._types import DEFAULT_TOKEN, EmulatorConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelscope-emulator",
        description="Serve an offline emulator of ModelScope API-Inference.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the default account's token")
    parser.add_argument(
        "--config-json", default=None, help="EmulatorConfig fields as a JSON object"
    )
    parser.add_argument(
        "--regime",
        choices=("points", "daily"),
        default=None,
        help="quota regime: points (the service since 2026, default) or daily (the counters)",
    )
    parser.add_argument(
        "--ready-file", default=None, help="write the base URL to this file once listening"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        config = EmulatorConfig.from_dict(json.loads(args.config_json or "{}"))
    except (ValueError, TypeError) as exc:
        print(f"modelscope-emulator: bad --config-json: {exc}", file=sys.stderr)
        return 2
    emulator = ModelScopeEmulator(
        host=args.host, port=args.port, config=config, token=args.token, regime=args.regime
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with contextlib.suppress(ValueError):  # only the main thread may install handlers
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    emulator.start()
    try:
        print(f"MODELSCOPE_BASE_URL={emulator.base_url} MODELSCOPE_API_KEY={emulator.token}")
        sys.stdout.flush()
        if args.ready_file:
            tmp = f"{args.ready_file}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(emulator.base_url + "\n")
            os.replace(tmp, args.ready_file)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
