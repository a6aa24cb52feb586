"""``balance``: the free points balance of each token, shown by fingerprint, never by value."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from langchain_modelscope._balance import BalanceUnavailableError, points_balance
from langchain_modelscope._cli._common import (
    EXIT_AUTH,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Command,
    add_base_url,
    add_json_flag,
    cli_error,
    exit_code_for,
    print_json,
    print_table,
)
from langchain_modelscope._client import resolve_api_key
from langchain_modelscope.errors import APIError, MissingAPIKeyError
from langchain_modelscope.quota import account_fingerprint

COLUMNS: Final = ("account", "available", "total", "frozen", "read_at", "error")


def _tokens(args: argparse.Namespace) -> list[SecretStr]:
    if args.token_file is None:
        try:
            return [resolve_api_key(None)[0]]
        except MissingAPIKeyError as error:
            raise cli_error(error) from None
    path = Path(args.token_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(
            f"cannot read --token-file {str(path)!r}: {exc.strerror}", EXIT_USAGE
        ) from None
    tokens = [
        SecretStr(line.strip()) for line in lines if line.strip() and not line.startswith("#")
    ]
    if not tokens:
        raise CliError(f"--token-file {str(path)!r} holds no token (one per line)", EXIT_AUTH)
    return tokens


def _row(token: SecretStr, args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    row: dict[str, Any] = {"account": account_fingerprint(token)}
    try:
        balance = points_balance(
            token, base_url=args.base_url, site_url=args.site_url, timeout=args.timeout
        )
    except (APIError, ValueError) as error:
        message = str(error).replace(token.get_secret_value(), "***")
        row["error"] = message
        if isinstance(error, BalanceUnavailableError):
            row["reason"] = error.reason
        return row, exit_code_for(error)
    row.update(
        available=balance.available,
        total=balance.total,
        frozen=balance.frozen,
        read_at=balance.read_at,
        url=balance.url,
    )
    return row, EXIT_OK


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token-file",
        default=None,
        help="a file with one token per line (default: the token in the environment)",
    )
    add_base_url(parser)
    parser.add_argument("--site-url", default=None, help="the site serving the balance")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per request")
    add_json_flag(parser)


def _run(args: argparse.Namespace) -> int:
    results = [_row(token, args) for token in _tokens(args)]
    rows = [row for row, _ in results]
    if args.json:
        print_json({"balances": rows})
    else:
        print_table(rows, COLUMNS)
    return max(code for _, code in results)


COMMAND = Command(
    "balance", "the free points balance of each account (costs no points)", _add_arguments, _run
)
