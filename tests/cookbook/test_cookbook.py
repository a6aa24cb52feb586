"""The cookbook scripts run end to end on the emulator, and target ModelScope when a token is set.

Every script is started once, all in parallel, as a user would start it
(``python cookbook/NN_name.py``), with no token and no base URL in its environment: each must
start its own emulator, say so in its banner, exit 0 and print the expected ``FINAL:`` line.
The target choice itself (real base URL, token source) is checked in-process, without any call.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import SecretStr

from langchain_modelscope._client import (
    API_KEY_ENV_VARS,
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    resolve_api_key,
)

COOKBOOK = Path(__file__).resolve().parents[2] / "cookbook"
SCRIPT_TIMEOUT = 180.0
TOKEN = "ms-11111111-2222-4333-8444-555555555555"
EMULATOR_BANNER = "[cookbook] target: the local ModelScope emulator at http://127.0.0.1:"

#: name -> command-line arguments after the script path
RUNS: dict[str, tuple[str, list[str]]] = {
    "01": ("01_quickstart.py", []),
    "02": ("02_agent.py", []),
    "03": ("03_tool_pipeline.py", []),
    "04": ("04_rag.py", []),
    "05": ("05_structured_output.py", []),
    "06": ("06_thinking.py", []),
    "07": ("07_quota_fallback.py", []),
    "08": ("08_image_agent.py", []),
    "demo": ("demo.py", []),
    "demo-no-switch": ("demo.py", ["--no-switch"]),
}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def final(self) -> str:
        finals = [line for line in self.stdout.splitlines() if line.startswith("FINAL: ")]
        assert finals, f"no FINAL line in the output:\n{self.describe()}"
        assert self.stdout.rstrip().splitlines()[-1].startswith("FINAL: "), self.describe()
        return finals[-1].removeprefix("FINAL: ")

    def describe(self) -> str:
        return (
            f"exit {self.returncode} after {self.seconds:.1f}s\n--- stdout\n{self.stdout}"
            f"\n--- stderr\n{self.stderr}"
        )


def offline_env() -> dict[str, str]:
    """The test's environment without any token, base URL or cookbook override."""
    drop = {*API_KEY_ENV_VARS, BASE_URL_ENV_VAR, "MODELSCOPE_BACKUP_API_KEY", "OPENAI_API_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("COOKBOOK_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    """Every script, started together (imports dominate their run time), waited for."""
    env = offline_env()
    started = {}
    for name, (script, args) in RUNS.items():
        process = subprocess.Popen(
            [sys.executable, str(COOKBOOK / script), *args],
            cwd=COOKBOOK.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        started[name] = (process, time.monotonic())
    results = {}
    for name, (process, start) in started.items():
        try:
            stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results[name] = Run(process.returncode, stdout, stderr, time.monotonic() - start)
    return results


def check(run: Run) -> str:
    """Exit 0, the emulator banner first, no traceback; returns the FINAL text."""
    assert run.returncode == 0, run.describe()
    first = run.stdout.splitlines()[0] if run.stdout else ""
    assert first.startswith(EMULATOR_BANNER), run.describe()
    assert "no ModelScope token found" in first
    assert "MODELSCOPE_API_KEY" in first  # how to use the real service
    assert "Traceback" not in run.stderr, run.describe()
    return run.final


# --- each script ----------------------------------------------------------------------------


def test_01_quickstart(runs: dict[str, Run]) -> None:
    final = check(runs["01"])
    assert "invoke, stream, ainvoke and batch answered" in final
    # The points regime (the emulator's default, the service since 2026-08): no rate-limit
    # headers, so the quota left is the free balance, with no reset time (§2a).
    assert re.search(r"\d+(\.\d+)? points available \(\d+(\.\d+)? held", final), final
    assert "no fixed reset" in final
    assert "calls left today" not in final
    for heading in ("== invoke", "== stream", "== async", "== batch", "== quota"):
        assert heading in runs["01"].stdout


def assert_agent_answer(run: Run, final: str, *, agent: bool = True) -> None:
    """The model asked for both tools, the tools answered, and the answer uses both results."""
    assert "calculator({'expression': '1234 * 5678'})" in run.stdout
    assert "search_notes({'query': 'daily quota reset'})" in run.stdout
    if agent:  # the agent's step printout
        assert "tool calculator -> 7006652" in run.stdout
        assert "tool search_notes -> quotas.txt:" in run.stdout
    else:  # the hand-written loop's printout
        assert "calculator({'expression': '1234 * 5678'}) -> 7006652" in run.stdout
        assert "search_notes({'query': 'daily quota reset'}) -> quotas.txt:" in run.stdout
    assert "7006652" in final
    assert "00:00 UTC+8" in final


def test_02_agent(runs: dict[str, Run]) -> None:
    final = check(runs["02"])
    assert_agent_answer(runs["02"], final)


def test_03_tool_pipeline(runs: dict[str, Run]) -> None:
    final = check(runs["03"])
    assert "round 1: the model asks for 2 call(s)" in runs["03"].stdout
    assert_agent_answer(runs["03"], final, agent=False)


def test_04_rag(runs: dict[str, Run]) -> None:
    final = check(runs["04"])
    assert re.search(r"\| sources: quotas\.txt", final), final
    assert "[1] quotas.txt" in runs["04"].stdout


def test_05_structured_output(runs: dict[str, Run]) -> None:
    final = check(runs["05"])
    film = "Spirited Away (2001, Hayao Miyazaki)"
    assert f"function_calling: {film}" in final
    assert f"json_mode: {film}" in final
    assert f"json_schema->function_calling: {film}" in final
    assert "json_schema raised EmptyResponseError, switched to function_calling" in final
    assert "choices: null" in runs["05"].stdout  # the error explains itself


def test_06_thinking(runs: dict[str, Run]) -> None:
    final = check(runs["06"])
    match = re.search(r"answer after (\d+) characters of reasoning: (.+)", final)
    assert match, final
    assert int(match.group(1)) > 0
    assert match.group(2).strip()
    assert "[reasoning] " in runs["06"].stdout
    assert "[answer] " in runs["06"].stdout


def test_07_quota_fallback(runs: dict[str, Run]) -> None:
    final = check(runs["07"])
    out = runs["07"].stdout
    assert "primary Qwen3-235B-A22B-Instruct-2507@main" in final
    assert "switch to Qwen3-235B-A22B-Instruct-2507@backup" in final
    assert "skip: 0 calls to the spent candidate" in final
    assert "second model DeepSeek-V4-Flash@main" in final
    assert re.search(r"other provider (openai:qwen-plus|qwen-plus@)", final), final
    assert "after the reset Qwen3-235B-A22B-Instruct-2507@main serves again" in final
    # the skip, as the emulator counted it: no request between "before" and "after"
    assert re.search(r"with the main token: (\d+) before this call, \1 after", out), out
    assert "no request" in out
    assert "00:01 UTC+8" in out  # the clock moved past the reset


def test_08_image_agent(runs: dict[str, Run]) -> None:
    final = check(runs["08"])
    assert re.search(r"drew http://127\.0\.0\.1:\d+/\S+\.png \| answer: .*\.png", final), final
    assert "model -> generate_image('a red panda reading a book under a maple tree')" in (
        runs["08"].stdout
    )


def test_demo_shows_the_primary_running_out_and_the_fallback_taking_over(
    runs: dict[str, Run],
) -> None:
    """`make demo` by default, in the points regime: step 1 on the primary, the main account's
    points run out, step 2 on the backup account."""
    final = check(runs["demo"])
    out = runs["demo"].stdout
    assert "agent with fallback chain: Qwen3-235B-A22B-Instruct-2507@main -> " in out
    first, second = (line for line in out.splitlines() if line.startswith("  model ["))
    assert first.startswith("  model [served by Qwen3-235B-A22B-Instruct-2507@main]")
    assert second.startswith(
        "  model [served by Qwen3-235B-A22B-Instruct-2507@backup; "
        "Qwen3-235B-A22B-Instruct-2507@main failed (points)]"
    )
    assert "log: fallback: switching from" in out  # the one WARNING per switch
    # the advice: the 429, that the primary is skipped, and the error's own words, which carry
    # the server's text ("insufficient balance", §3) and what the package says to do
    advice = out.split("what to do", 1)[1].split("\nran on ", 1)[0]
    assert "Qwen3-235B-A22B-Instruct-2507@main answered 429; it is skipped with no request" in (
        advice
    )
    assert re.search(r"the error says: .*insufficient balance", advice, re.IGNORECASE), advice
    assert "today's quota" not in advice  # not the daily regime's 429
    assert "no reset time is known" in advice  # §2a: points have no fixed reset
    assert "log in at modelscope.cn" in advice  # what to do, in the package's words
    assert "MODELSCOPE_BACKUP_API_KEY" in advice
    assert "ran on the local emulator" in out
    assert_agent_answer(runs["demo"], final)


def test_demo_without_the_switch_stays_on_the_primary(runs: dict[str, Run]) -> None:
    final = check(runs["demo-no-switch"])
    out = runs["demo-no-switch"].stdout
    assert out.count("[served by Qwen3-235B-A22B-Instruct-2507@main]") == 2
    assert "what to do" not in out
    assert_agent_answer(runs["demo-no-switch"], final)


def test_cookbook_stays_fast(runs: dict[str, Run]) -> None:
    slowest = max(runs.items(), key=lambda item: item[1].seconds)
    assert slowest[1].seconds < 90, f"{slowest[0]} took {slowest[1].seconds:.0f}s"


def test_every_script_is_tested() -> None:
    scripts = {p.name for p in COOKBOOK.glob("*.py") if not p.name.startswith("_")}
    assert scripts == {script for script, _ in RUNS.values()}


def test_readme_lists_every_script() -> None:
    readme = (COOKBOOK / "README.md").read_text(encoding="utf-8")
    for script, _ in RUNS.values():
        assert f"python cookbook/{script}" in readme, script


# --- the target choice, without any call ----------------------------------------------------


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """cookbook/_runtime.py imported as the scripts import it, with no decision cached."""
    monkeypatch.syspath_prepend(str(COOKBOOK))
    module = importlib.import_module("_runtime")
    monkeypatch.setattr(module, "_runtime", None)
    for name in list(os.environ):
        if name.startswith("COOKBOOK_") or name == "MODELSCOPE_BACKUP_API_KEY":
            monkeypatch.delenv(name)
    return module


def test_choose_target_picks_modelscope_with_modelscope_api_key(runtime: ModuleType) -> None:
    target = runtime.choose_target({"MODELSCOPE_API_KEY": TOKEN})
    assert target.offline is False
    assert target.base_url == DEFAULT_BASE_URL == "https://api-inference.modelscope.cn/v1"
    assert target.token_source == "MODELSCOPE_API_KEY"


@pytest.mark.parametrize("position", range(len(API_KEY_ENV_VARS)))
def test_choose_target_reads_the_token_vars_in_order(runtime: ModuleType, position: int) -> None:
    """Each var alone is found; with several set, the first in the order wins."""
    alone = API_KEY_ENV_VARS[position]
    assert runtime.choose_target({alone: TOKEN}).token_source == alone
    from_here_on = {name: TOKEN for name in API_KEY_ENV_VARS[position:]}
    target = runtime.choose_target(from_here_on)
    assert target.token_source == alone
    assert target.base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize("name", API_KEY_ENV_VARS)
def test_choose_target_agrees_with_resolve_api_key(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", "   ")  # blank: skipped by both
    monkeypatch.setenv(name, TOKEN)
    assert runtime.choose_target().token_source == resolve_api_key(None)[1] == name


def test_setup_recognises_an_emulator_named_by_exported_variables(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The variables `python -m langchain_modelscope.testing` prints lead to an emulator banner."""
    from langchain_modelscope.testing import ModelScopeEmulator

    with ModelScopeEmulator() as emulator:
        monkeypatch.setenv("MODELSCOPE_API_KEY", emulator.token)
        monkeypatch.setenv(BASE_URL_ENV_VAR, emulator.base_url)
        rt = runtime.setup()
        banner = capsys.readouterr().out.strip()
        assert rt.offline is True
        assert rt.steerable is not None
        assert banner.startswith(
            f"[cookbook] target: the local ModelScope emulator at {emulator.base_url}"
        )
        assert emulator.token not in banner


def test_a_loopback_url_that_is_no_emulator_stays_online(runtime: ModuleType) -> None:
    assert runtime.running_emulator("http://127.0.0.1:9/v1") is None  # nothing listens there
    assert runtime.running_emulator(DEFAULT_BASE_URL) is None  # never asked


def test_choose_target_without_a_token_uses_the_emulator(runtime: ModuleType) -> None:
    target = runtime.choose_target({"MODELSCOPE_API_KEY": "  ", BASE_URL_ENV_VAR: "https://x/v1"})
    assert target.offline is True
    assert target.base_url is None
    assert target.token_source is None
    assert target.reason == "no ModelScope token found"


def test_choose_target_honours_base_url_and_the_offline_switch(runtime: ModuleType) -> None:
    dedicated = "https://ms-ens-abc.api-inference.modelscope.cn/v1/"
    target = runtime.choose_target({"MODELSCOPE_SDK_TOKEN": TOKEN, BASE_URL_ENV_VAR: dedicated})
    assert target.base_url == dedicated.rstrip("/")
    assert target.token_source == "MODELSCOPE_SDK_TOKEN"
    forced = runtime.choose_target({"MODELSCOPE_API_KEY": TOKEN, "COOKBOOK_OFFLINE": "1"})
    assert forced.offline is True


def test_setup_with_a_token_targets_modelscope_without_calling_it(
    runtime: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` builds with MODELSCOPE_API_KEY set: no emulator, real URL, env token.

    pytest-socket would fail this test on any connection to the real host.
    """
    monkeypatch.setenv("MODELSCOPE_API_KEY", TOKEN)
    rt = runtime.setup()
    assert rt.offline is False
    assert rt.emulator is None
    assert rt.base_url == DEFAULT_BASE_URL
    assert rt.token_source == "MODELSCOPE_API_KEY"
    assert isinstance(rt.api_key, SecretStr)
    assert rt.api_key.get_secret_value() == TOKEN
    banner = capsys.readouterr().out.strip()
    assert banner == (
        f"[cookbook] target: ModelScope (token from MODELSCOPE_API_KEY) at {DEFAULT_BASE_URL}"
    )
    assert TOKEN not in banner
    assert runtime.setup() is rt  # decided once

    # The demo's fallback chain: every candidate on the real endpoint with the env token.
    fallback_example = importlib.import_module("07_quota_fallback")
    chain = fallback_example.modelscope_chain(rt, [rt.api_key])
    candidates = chain.candidates
    assert [c.model for c in candidates] == [runtime.CHAT_MODEL, runtime.SECOND_MODEL]
    for candidate in candidates:
        assert candidate.base_url == DEFAULT_BASE_URL
        assert candidate.api_key.get_secret_value() == TOKEN
