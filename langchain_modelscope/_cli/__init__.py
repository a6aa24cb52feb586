"""The ``langchain-modelscope`` command line: models, points balance, quota ledger, emulator.

Each subcommand is one module exposing a `Command` (name, help, arguments, run); `COMMANDS`
lists them in help order, so a new one (e.g. ``doctor``) is a module plus one line here.
Expected failures (no token, service unreachable, a refused token) print one line to stderr
and exit with a code from `_common`, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from langchain_modelscope._cli import balance, doctor, emulator, models, quota
from langchain_modelscope._cli._common import EXIT_CODES_HELP, EXIT_USAGE, CliError, Command
from langchain_modelscope._version import __version__

#: Every subcommand, in the order help lists them.
COMMANDS: tuple[Command, ...] = (
    models.COMMAND,
    balance.COMMAND,
    quota.COMMAND,
    doctor.COMMAND,
    emulator.COMMAND,
)

PROG = "langchain-modelscope"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ModelScope API-Inference from the shell: served models, points balance, "
        "what a quota ledger holds, and an offline emulator.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # The retry warnings of the HTTP core are for long-running apps; here the outcome is shown.
    logging.getLogger("langchain_modelscope").setLevel(logging.ERROR)
    passthrough = {c.name: c for c in COMMANDS if c.passthrough}
    if argv and argv[0] in passthrough:
        # Everything after the name is the command's own (e.g. the emulator's --port).
        command = passthrough[argv[0]]
        args = argparse.Namespace(extra=argv[1:])
    else:
        parser = _parser()
        args = parser.parse_args(argv)
        found: Command | None = getattr(args, "_command", None)
        if found is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        command = found
    try:
        return command.run(args)
    except CliError as error:
        sys.stderr.write(f"{PROG} {command.name}: error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `langchain-modelscope models | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
