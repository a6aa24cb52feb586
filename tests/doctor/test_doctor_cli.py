"""The installed ``langchain-modelscope doctor`` in a subprocess, against the emulator."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from langchain_modelscope._cli.doctor import NO_TERMINAL
from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR
from langchain_modelscope.testing import ModelScopeEmulator
from tests.cli.test_cli import CLI, Result

pytestmark = pytest.mark.skipif(
    not CLI.exists(), reason="the entry point is not installed: pip install -e ."
)


def doctor(emu: ModelScopeEmulator | None, *args: str) -> Result:
    """Run with no stdin, as from a script: a prompt would find no terminal."""
    env = {k: v for k, v in os.environ.items() if k not in (*API_KEY_ENV_VARS, BASE_URL_ENV_VAR)}
    if emu is not None:
        env[BASE_URL_ENV_VAR] = emu.base_url
        env["MODELSCOPE_API_KEY"] = emu.token
    done = subprocess.run(
        [str(CLI), "doctor", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    if emu is not None:
        assert emu.token not in done.stdout + done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


def test_json_free_checks_exit_0_and_spend_nothing(emu: ModelScopeEmulator) -> None:
    result = doctor(emu, "--json")
    assert result.code == 0, result.err
    data: Any = result.json()
    assert data["exit_code"] == 0
    assert data["drifted"] == []
    assert {fact["id"]: fact["status"] for fact in data["facts"]}["default_model"] == "as_expected"
    assert emu.requests_for(billable=True) == []


def test_markdown_of_a_deviating_run_exits_1(emu: ModelScopeEmulator) -> None:
    emu.config.ratelimit_headers_in_points = True
    result = doctor(emu, "--markdown", "--spend", "2", "--yes")
    assert result.code == 1, result.err
    assert result.out.startswith("### `langchain-modelscope doctor`")
    assert "| `ratelimit_headers` | DIFFERENT |" in result.out
    assert len(emu.requests_for(billable=True)) == 1


def test_spending_without_a_terminal_or_yes_is_skipped_with_the_reason(
    emu: ModelScopeEmulator,
) -> None:
    result = doctor(emu, "--spend", "20")
    assert result.code == 0, result.err
    assert NO_TERMINAL in result.out
    assert emu.requests_for(billable=True) == []


def test_the_human_form_lists_every_fact(emu: ModelScopeEmulator) -> None:
    result = doctor(emu, "--spend", "20", "--yes")
    assert result.code == 0, result.err
    assert "nothing drifted" in result.out
    for fact in ("models_list", "regime", "json_schema", "tool_call_deltas"):
        assert fact in result.out


def test_no_token_exits_2(emu: ModelScopeEmulator) -> None:
    env_less = doctor(None, "--base-url", emu.base_url, "--json")
    assert env_less.code == 2
    data: Any = env_less.json()
    assert "no token" in data["could_not_run"]


@pytest.mark.parametrize("args", [["--spend", "-1"], ["--spend", "x"], ["--json", "--markdown"]])
def test_bad_usage_exits_2(emu: ModelScopeEmulator, args: list[str]) -> None:
    result = doctor(emu, *args)
    assert result.code == 2
    assert result.out == ""
