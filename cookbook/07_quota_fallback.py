"""07 - Quota fallback: backup token, second model, then another provider; skip and reset.

Run:  python cookbook/07_quota_fallback.py
      Offline (no token): the emulator plays ModelScope in its daily-counter regime (the
      service of 2025 to mid-2026, which a deployment may still show) and a SECOND emulator
      plays another OpenAI-compatible provider; quotas are spent on purpose and the clock is
      moved past 00:00 UTC+8, so the switch, the skip and the reset all show (about 10
      emulated calls). `make demo` shows today's points regime, where a spent balance has no
      reset time.
      Online (token set): 2 real calls. Spending a real quota to show the switch would waste
      it, so the script marks the primary as spent in the quota ledger by hand instead.

In the daily-counter regime ModelScope's free quotas are per account and per model, and reset
at 00:00 UTC+8; a spent one answers 429 until then. (Since 2026-08 calls cost points instead,
granted by activity on modelscope.cn, with no fixed reset: see demo.py.) `FallbackChatModel`
tries its candidates in order and keeps a quota ledger: a candidate that answered "quota spent"
is skipped, with no request at all, until the reset. (LangChain's `with_fallbacks` has no
memory: it would call the spent model first on every request.)

Online extras: MODELSCOPE_BACKUP_API_KEY (a second account's token) adds the backup token;
OPENAI_API_KEY (with OPENAI_BASE_URL and COOKBOOK_OTHER_MODEL for any OpenAI-compatible
service) adds the other provider.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import _runtime
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.fallback import FallbackChatModel
from langchain_modelscope.quota import QuotaLedger
from langchain_modelscope.testing import UTC8, EmulatorClock, ModelScopeEmulator

PROMPT = "Say hello in one short sentence."
OTHER_MODEL = os.environ.get("COOKBOOK_OTHER_MODEL", "qwen-plus")
SPENT = 1_000_000  # a call count beyond any daily limit


def modelscope_chain(
    rt: _runtime.Runtime,
    tokens: Sequence[SecretStr],
    *,
    then: Sequence[BaseChatModel] = (),
    ledger: QuotaLedger | None = None,
) -> FallbackChatModel:
    """CHAT_MODEL then SECOND_MODEL on each token, then `then`; one chat model for the lot.

    order="accounts_first" tries the first model on every account before the second model:
    main token, backup token, second model (main, backup), then the other providers.
    """
    return FallbackChatModel.from_modelscope(
        [_runtime.CHAT_MODEL, _runtime.SECOND_MODEL],
        tokens=list(tokens),
        order="accounts_first",
        then=list(then),
        # The default ledger is in memory, for this process. For several processes or runs,
        # share one: QuotaLedger(SQLiteQuotaStore(path)) or RedisQuotaStore.
        ledger=ledger,
        # Every other keyword goes to each ChatModelScope.
        base_url=rt.base_url,
    )


def other_provider(base_url: str, api_key: SecretStr) -> BaseChatModel:
    """Another OpenAI-compatible provider through ChatOpenAI (langchain-openai), if installed."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        # Without langchain-openai, any chat model will do; ChatModelScope speaks the same API.
        print("(langchain-openai is not installed: ChatModelScope stands in for ChatOpenAI)")
        return ChatModelScope(model=OTHER_MODEL, base_url=base_url, api_key=api_key)
    # The openai SDK retries every 429, quota ones included; the fallback moves on by itself.
    return ChatOpenAI(model=OTHER_MODEL, base_url=base_url, api_key=api_key, max_retries=1)


class Names:
    """Readable names for candidates: "main"/"backup" instead of account fingerprints."""

    def __init__(self, chain: FallbackChatModel, account_names: Sequence[str]) -> None:
        modelscope = [i for i in chain.candidate_infos if i.provider == "modelscope"]
        fingerprints = list(dict.fromkeys(i.account for i in modelscope))
        self.accounts = dict(zip(fingerprints, account_names, strict=False))

    def __call__(self, info: dict[str, Any]) -> str:
        if info["provider"] == "modelscope":
            account = self.accounts.get(info["account"], info["account"])
            return f"{info['model'].rsplit('/', 1)[-1]}@{account}"
        return f"{info['provider']}:{info['model']}"


def ask(chain: FallbackChatModel, name: Names) -> str:
    """One call through the chain; prints what was skipped or failed, and who served."""
    reply: BaseMessage = chain.invoke(PROMPT)
    report = reply.response_metadata["fallback"]
    for attempt in report["attempts"]:
        if attempt["outcome"] == "skipped":
            until = datetime.fromisoformat(attempt["until"]).astimezone(UTC8)
            print(
                f"  skipped {name(attempt)}: spent until {until:%Y-%m-%d %H:%M} UTC+8, no request"
            )
        else:
            print(f"  failed  {name(attempt)}: {attempt['kind']}, {attempt['message'][:70]}...")
    served = name(report["served_by"])
    print(f"  served by {served}: {_runtime.one_line(reply.text, 80)}")
    return served


def calls_to(emulator: ModelScopeEmulator, model: str, token: SecretStr) -> int:
    """Requests the emulator received for (model, token), failed ones included."""
    return len(emulator.requests_for(model=model, token=token.get_secret_value()))


def move_past_reset(clock: EmulatorClock, ledger: QuotaLedger, chain: FallbackChatModel) -> None:
    """Move the clock to just after the primary's mark lifts: the next 00:00 UTC+8."""
    mark = ledger.blocked_until(chain.candidate_infos[0].key)
    assert mark is not None, "the primary should be marked as spent here"
    clock.advance(mark.until - clock.now() + timedelta(minutes=1))
    print(f"  clock moved to {clock.now().astimezone(UTC8):%Y-%m-%d %H:%M} UTC+8")


def offline(rt: _runtime.Runtime, emulator: ModelScopeEmulator) -> None:
    # A second emulator stands in for another OpenAI-compatible provider (DashScope, DeepSeek,
    # OpenRouter...): its own token, and a model id of its own.
    other = ModelScopeEmulator(token="sk-other-provider-0000000000000001", regime="daily").start()
    other.add_model(OTHER_MODEL)
    main_token, backup = rt.api_key, _runtime.backup_token(rt)
    assert backup is not None
    # The ledger reads the emulator's clock, so moving that one clock moves both.
    ledger = QuotaLedger(clock=emulator.clock.now)
    chain = modelscope_chain(
        rt,
        [main_token, backup],
        then=[other_provider(other.base_url, SecretStr(other.token))],
        ledger=ledger,
    )
    name = Names(chain, ["main", "backup"])
    print("candidates, in order:", ", ".join(name(i.as_dict()) for i in chain.candidate_infos))
    first, second = _runtime.CHAT_MODEL, _runtime.SECOND_MODEL
    story = []

    _runtime.section("1. all quotas fresh: the primary serves")
    story.append(f"primary {ask(chain, name)}")

    _runtime.section(f"2. {first} spent on the main account -> backup token")
    emulator.set_usage(main_token.get_secret_value(), first, SPENT)  # as if used up today
    story.append(f"switch to {ask(chain, name)}")

    _runtime.section("3. again: the ledger skips the spent candidate without calling it")
    before = calls_to(emulator, first, main_token)
    ask(chain, name)
    after = calls_to(emulator, first, main_token)
    print(f"  requests for {first} with the main token: {before} before this call, {after} after")
    story.append(f"skip: {after - before} calls to the spent candidate")

    _runtime.section(f"4. {first} spent on the backup account too -> second model")
    emulator.set_usage(backup.get_secret_value(), first, SPENT)
    story.append(f"second model {ask(chain, name)}")

    _runtime.section("5. both ModelScope accounts spent entirely -> another provider")
    emulator.set_usage(main_token.get_secret_value(), None, SPENT)
    emulator.set_usage(backup.get_secret_value(), None, SPENT)
    story.append(f"other provider {ask(chain, name)}")
    print("  requests each candidate received so far (429s included):")
    for model in (first, second):
        for token, account in ((main_token, "main"), (backup, "backup")):
            print(f"    {model}@{account}: {calls_to(emulator, model, token)}")
    print(f"    {OTHER_MODEL} at the other provider: {len(other.requests)}")

    _runtime.section("6. the reset: past 00:00 UTC+8 every quota is fresh again")
    move_past_reset(emulator.clock, ledger, chain)
    story.append(f"after the reset {ask(chain, name)} serves again")
    other.stop()
    _runtime.final("; ".join(story))


def online(rt: _runtime.Runtime) -> None:
    backup = _runtime.backup_token(rt)
    then: list[BaseChatModel] = []
    if os.environ.get("OPENAI_API_KEY"):
        then.append(
            other_provider(
                os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                SecretStr(os.environ["OPENAI_API_KEY"]),
            )
        )
    print(
        f"backup token: {'yes' if backup else 'no (set MODELSCOPE_BACKUP_API_KEY)'}; "
        f"other provider: {'yes' if then else 'no (set OPENAI_API_KEY)'}"
    )
    clock = EmulatorClock()  # the wall clock, movable: only the ledger reads it here
    ledger = QuotaLedger(clock=clock.now)
    chain = modelscope_chain(
        rt, [rt.api_key, *([backup] if backup else [])], then=then, ledger=ledger
    )
    name = Names(chain, ["main", "backup"])
    print("candidates, in order:", ", ".join(name(i.as_dict()) for i in chain.candidate_infos))

    _runtime.section("1. the primary serves (real call 1 of 2)")
    first = ask(chain, name)

    _runtime.section("2. the primary marked as spent in the ledger -> skipped (real call 2 of 2)")
    # What a 429 "exceeded today's quota" would write, without spending your quota on it.
    primary = chain.candidate_infos[0].key
    ledger.mark_exhausted(primary, reason="marked by hand: pretend today's quota is spent")
    switched = ask(chain, name)

    _runtime.section("3. the reset (no call: checked in the ledger)")
    move_past_reset(clock, ledger, chain)
    back = ledger.is_available(primary)
    print(f"  primary available again: {back}; the next call would go to {first}")
    _runtime.final(
        f"primary {first}; skip: the spent primary got no request, {switched} served; "
        f"after the reset the primary is {'available' if back else 'still blocked'} (2 calls)"
    )


def main() -> None:
    _runtime.show_fallback_logs()
    rt = _runtime.setup(regime="daily")  # this script is about the daily reset
    if rt.emulator is not None:
        offline(rt, rt.emulator)
    else:
        online(rt)


if __name__ == "__main__":
    main()
