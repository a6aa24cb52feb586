"""The installed ``langchain-modelscope`` command, run in a subprocess against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from langchain_modelscope._client import API_KEY_ENV_VARS, BASE_URL_ENV_VAR
from langchain_modelscope.quota import QuotaKey, QuotaLedger, SQLiteQuotaStore, account_fingerprint
from langchain_modelscope.testing import ModelScopeEmulator

BIN = Path(sys.executable).parent
CLI = BIN / "langchain-modelscope"

pytestmark = pytest.mark.skipif(
    not CLI.exists(), reason="the entry point is not installed: pip install -e ."
)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


def run(*args: str, emu: ModelScopeEmulator | None = None, token: str | None = None) -> Result:
    env = {k: v for k, v in os.environ.items() if k not in (*API_KEY_ENV_VARS, BASE_URL_ENV_VAR)}
    if emu is not None:
        env[BASE_URL_ENV_VAR] = emu.base_url
        env["MODELSCOPE_API_KEY"] = token or emu.token
    done = subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


def test_help_lists_every_subcommand_and_the_exit_codes() -> None:
    result = run("--help")
    assert result.code == 0
    for name in ("models", "balance", "quota", "emulator"):
        assert name in result.out
    assert "exit codes" in result.out
    assert run().code == 2


# --- models -----------------------------------------------------------------------------------


def test_models_table_and_json(emu: ModelScopeEmulator) -> None:
    emu.add_model("Qwen/Qwen2.5-7B-Instruct")  # retired in 2026 (§5), still listed here
    table = run("models", emu=emu)
    assert table.code == 0, table.err
    assert "Qwen/Qwen3-235B-A22B-Thinking-2507" in table.out
    assert table.out.splitlines()[0].split()[:2] == ["id", "kind"]
    rows = {row["id"]: row for row in run("models", "--json", emu=emu).json()["models"]}
    thinking = rows["Qwen/Qwen3-235B-A22B-Thinking-2507"]
    assert thinking["reasoning"] is True
    assert thinking["tools"] is True
    assert thinking["retired"] is False
    assert rows["Qwen/Qwen2.5-7B-Instruct"]["retired"] is True
    live = {m["id"] for m in httpx.get(f"{emu.base_url}/models").json()["data"]}
    assert set(rows) == live


def test_models_unreachable_is_exit_4_without_traceback() -> None:
    env_emu = type("E", (), {"base_url": "http://127.0.0.1:9/v1", "token": "ms-x"})()
    result = run("models", emu=env_emu)  # type: ignore[arg-type]
    assert result.code == 4
    assert "could not reach 127.0.0.1" in result.err


# --- balance ----------------------------------------------------------------------------------


def test_balance_shows_a_fingerprint_never_the_token(emu: ModelScopeEmulator) -> None:
    emu.set_balance(emu.token, 42)
    table = run("balance", emu=emu)
    data = run("balance", "--json", emu=emu).json()
    for text in (table.out, table.err, json.dumps(data)):
        assert emu.token not in text
    (row,) = data["balances"]  # type: ignore[index]
    assert row["account"] == account_fingerprint(emu.token)
    assert account_fingerprint(emu.token) in table.out
    assert table.code == 0
    assert row["available"] == 42


def test_balance_for_each_line_of_a_token_file(emu: ModelScopeEmulator, tmp_path: Path) -> None:
    other = emu.add_account()
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"{emu.token}\n\n# a comment\n{other}\n", encoding="utf-8")
    result = run("balance", "--token-file", str(tokens), "--json", emu=emu)
    rows = result.json()["balances"]  # type: ignore[index]
    assert [r["account"] for r in rows] == [
        account_fingerprint(emu.token),
        account_fingerprint(other),
    ]
    assert emu.token not in result.out
    assert other not in result.out


def test_balance_without_a_token_is_exit_3() -> None:
    result = run("balance")
    assert result.code == 3
    assert "No ModelScope token found" in result.err


def test_balance_with_a_missing_token_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run("balance", "--token-file", str(tmp_path / "nope"))
    assert result.code == 2
    assert "cannot read --token-file" in result.err


# --- quota ------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> tuple[Path, QuotaKey]:
    path = tmp_path / "ledger.db"
    ledger = QuotaLedger(SQLiteQuotaStore(path))
    key = QuotaKey.for_token("ms-00000000-0000-4000-8000-00000000abcd", "Qwen/Qwen3-32B")
    ledger.mark_exhausted(key, ledger.now() + timedelta(hours=2), reason="quota: today's quota")
    ledger.mark_exhausted(
        QuotaKey.for_token("ms-00000000-0000-4000-8000-00000000abce"),
        ledger.now() + timedelta(minutes=5),
        reason="transient: We have to rate limit you",
    )
    ledger.store.close()
    return path, key


def test_quota_lists_a_sqlite_ledger(sqlite_ledger: tuple[Path, QuotaKey]) -> None:
    path, key = sqlite_ledger
    table = run("quota", "--sqlite", str(path))
    assert table.code == 0, table.err
    assert key.account in table.out
    assert "Qwen/Qwen3-32B" in table.out
    assert "spent" in table.out
    entries = run("quota", "--sqlite", str(path), "--json").json()["entries"]  # type: ignore[index]
    states = {(e["account"], e["model"]): e["state"] for e in entries}
    assert states[(key.account, "Qwen/Qwen3-32B")] == "spent"
    assert "throttled" in states.values()
    entry = next(e for e in entries if e["model"] == "Qwen/Qwen3-32B")
    assert entry["since"]
    assert entry["until"]
    assert "today's quota" in entry["why"]


def test_quota_clear_lifts_one_entry(sqlite_ledger: tuple[Path, QuotaKey]) -> None:
    path, key = sqlite_ledger
    cleared = run(
        "quota", "--sqlite", str(path), "--clear", key.account, "--model", key.model, "--json"
    )
    assert cleared.code == 0
    assert cleared.json()["cleared"] is True
    entries = run("quota", "--sqlite", str(path), "--json").json()["entries"]  # type: ignore[index]
    assert [e["model"] for e in entries] == ["*"]
    again = run("quota", "--sqlite", str(path), "--clear", key.account, "--model", key.model)
    assert again.code == 0
    assert "had no mark" in again.out


def test_quota_default_ledger_and_bad_paths(tmp_path: Path) -> None:
    result = run("quota", "--json")
    assert result.code == 0
    assert result.json()["entries"] == []
    missing = run("quota", "--sqlite", str(tmp_path / "none.db"))
    assert missing.code == 2
    assert "no ledger file" in missing.err


def test_quota_on_redis(redis_url: str) -> None:
    from langchain_modelscope.quota import RedisQuotaStore

    prefix = "cli-test:"
    ledger = QuotaLedger(RedisQuotaStore(redis_url, prefix=prefix))
    key = QuotaKey.for_token("ms-00000000-0000-4000-8000-00000000beef")
    ledger.mark_exhausted(
        key, ledger.now() + timedelta(hours=1), reason="quota: insufficient balance"
    )
    try:
        rows = run("quota", "--redis", redis_url, "--redis-prefix", prefix, "--json").json()
        assert [e["account"] for e in rows["entries"]] == [key.account]  # type: ignore[index]
        assert (
            run(
                "quota", "--redis", redis_url, "--redis-prefix", prefix, "--clear", key.account
            ).code
            == 0
        )
        assert ledger.entries() == []
    finally:
        ledger.clear_all()


def test_quota_unreachable_redis_is_exit_4() -> None:
    result = run("quota", "--redis", "redis://127.0.0.1:9/0")
    assert result.code == 4, result.err


# --- emulator ---------------------------------------------------------------------------------


def test_emulator_subcommand_serves_until_stopped(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [str(CLI), "emulator", "--port", "0", "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        base_url = ready.read_text(encoding="utf-8").strip()
        assert httpx.get(f"{base_url}/models").status_code == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.startswith("MODELSCOPE_BASE_URL=")


def test_modelscope_emulator_still_works() -> None:
    done = subprocess.run(
        [str(BIN / "modelscope-emulator"), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "--ready-file" in done.stdout
