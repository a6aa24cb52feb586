"""What every subcommand shares: exit codes, expected errors, tables and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from langchain_modelscope.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    MissingAPIKeyError,
    PermissionDeniedError,
)

EXIT_OK: Final = 0
#: the service answered, but with an error or something unusable
EXIT_FAILURE: Final = 1
#: bad command line (argparse's own code)
EXIT_USAGE: Final = 2
#: no token found, or the token was refused (401/403)
EXIT_AUTH: Final = 3
#: the service (or Redis) could not be reached
EXIT_UNREACHABLE: Final = 4

EXIT_CODES_HELP: Final = (
    "exit codes: 0 ok, 1 the service answered an error, 2 bad usage, "
    "3 no token or token refused, 4 service unreachable"
)


class CliError(Exception):
    """An expected failure: one line for the user, and the exit code that says which."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        self.exit_code = exit_code
        super().__init__(message)


@dataclass(frozen=True)
class Command:
    """One subcommand: its arguments and what it does."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    #: unknown arguments are handed to the command (``emulator`` passes them on)
    passthrough: bool = False


def exit_code_for(error: BaseException) -> int:
    """The exit code an error of the package means."""
    if isinstance(error, MissingAPIKeyError | AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH
    if isinstance(error, APIConnectionError):
        return EXIT_UNREACHABLE
    return EXIT_FAILURE


def cli_error(error: APIError | MissingAPIKeyError) -> CliError:
    """The package's error as a one-line CLI failure (its text never holds a token)."""
    return CliError(str(error), exit_code_for(error))


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_base_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        default=None,
        help="API-Inference base URL (default: MODELSCOPE_BASE_URL, else the public endpoint)",
    )


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    json.dump(jsonable(value), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def say(text: str) -> None:
    """One line for the user on stdout."""
    sys.stdout.write(text + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Aligned columns with a header line; ``-`` for an unknown value."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [columns, *cells]
    for line in lines:
        sys.stdout.write(
            "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=False)).rstrip() + "\n"
        )
