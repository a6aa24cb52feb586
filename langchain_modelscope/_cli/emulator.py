"""``emulator``: serve the offline emulator, as ``python -m langchain_modelscope.testing``."""

from __future__ import annotations

import argparse

from langchain_modelscope._cli._common import Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    """Listed for help only: the arguments go to the emulator as they are."""
    parser.add_argument(
        "options",
        nargs="*",
        help="the emulator's own options (--host, --port, --token, --config-json, "
        "--ready-file); see langchain-modelscope emulator --help",
    )


def _run(args: argparse.Namespace) -> int:
    from langchain_modelscope.testing.__main__ import main

    return main(list(args.extra))


COMMAND = Command(
    "emulator", "serve the offline ModelScope emulator", _add_arguments, _run, passthrough=True
)
