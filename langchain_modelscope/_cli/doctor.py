"""``doctor``: check the live service against the facts the package relies on.

Free checks always run; ``--spend N`` allows paid checks worth up to N points, after a prompt
on the terminal unless ``--yes``. With no terminal to ask on and no ``--yes``, the paid checks
are skipped with that reason. The exit code is the report's: 0 no drift, 1 drift, 2 could not
run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from langchain_modelscope._cli._common import (
    EXIT_USAGE,
    CliError,
    Command,
    add_base_url,
    print_json,
)
from langchain_modelscope._doctor import DEFAULT_DOCTOR_TIMEOUT, PlannedCheck, doctor

NO_TERMINAL = "no terminal to confirm on: pass --yes to spend points"


def _points(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of points: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more points, got {text!r}")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spend",
        type=_points,
        default=0.0,
        metavar="N",
        help="points the paid checks may cost (default 0: free checks only; each paid "
        "check is one small call, up to 2 points)",
    )
    parser.add_argument("--yes", action="store_true", help="spend without asking")
    add_base_url(parser)
    parser.add_argument("--site-url", default=None, help="the site serving the balance")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_DOCTOR_TIMEOUT,
        help=f"seconds per request (default {DEFAULT_DOCTOR_TIMEOUT:g})",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the report as JSON")
    form.add_argument("--markdown", action="store_true", help="print Markdown for an issue")


def _ask(checks: Sequence[PlannedCheck]) -> bool | str:
    """Ask on the terminal before spending; without one, say why nothing was spent."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return NO_TERMINAL
    total = sum(check.max_points for check in checks)
    sys.stderr.write(f"The paid checks may cost up to {total:g} points:\n")
    for check in checks:
        sys.stderr.write(
            f"  {check.name}: {check.what} ({check.model}), up to {check.max_points:g}\n"
        )
    sys.stderr.write("Spend them? [y/N] ")
    sys.stderr.flush()
    try:
        reply = sys.stdin.readline()
    except (OSError, KeyboardInterrupt):
        return "not confirmed"
    return reply.strip().lower() in ("y", "yes")


def _run(args: argparse.Namespace) -> int:
    try:
        report = doctor(
            base_url=args.base_url,
            site_url=args.site_url,
            spend=args.spend,
            confirm=None if args.yes else _ask,
            timeout=args.timeout,
        )
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    if args.json:
        print_json(report.to_dict())
    else:
        sys.stdout.write(report.to_markdown() if args.markdown else report.to_text())
    return report.exit_code


COMMAND = Command(
    "doctor",
    "check the live service against what this package expects (free unless --spend)",
    _add_arguments,
    _run,
)
