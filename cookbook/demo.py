"""The main job (`make demo`): a tool-calling agent whose primary account runs out of points.

Run:  make demo            (or: python cookbook/demo.py)
      python cookbook/demo.py --no-switch   (emulator: leave the primary's points alone)

The agent of 02_agent.py runs on a FallbackChatModel: CHAT_MODEL on the main token, then on a
backup account, then SECOND_MODEL (see 07_quota_fallback.py). On the emulator (no token set, or
MODELSCOPE_BASE_URL pointing to one), which plays the service as it is now (calls cost points,
modelscope-api.md §2a), the main account's points run out right after the agent's first step,
as they do some afternoon in real life: the next step's call answers 429 "insufficient
balance", the fallback takes over without the agent noticing, the spent account is skipped with
no request from then on, and the script ends with the advice a user gets, in the error's own
words. With a real token nothing is spent on purpose: every step prints which candidate served.
"""

from __future__ import annotations

import argparse
import importlib
from datetime import datetime
from typing import Any

import _runtime
from langchain_core.messages import AIMessage, BaseMessage

from langchain_modelscope.errors import POINTS_ADVICE
from langchain_modelscope.testing import UTC8

# The agent and the chain come from the cookbook scripts themselves (names `import` cannot spell).
agent_example = importlib.import_module("02_agent")
fallback_example = importlib.import_module("07_quota_fallback")


def spend_primary(rt: _runtime.Runtime) -> None:
    """Make the main account's next call answer "insufficient balance", as the service does
    once its points are spent: the emulator sets the account's balance to zero."""
    emulator = rt.steerable
    assert emulator is not None, "only the emulator's points are spent on purpose"
    emulator.set_balance(rt.api_key.get_secret_value(), 0)


class SpendAfterFirstStep:
    """`run_agent`'s after_step: the quota runs out once the agent's first answer is in."""

    def __init__(self, rt: _runtime.Runtime) -> None:
        self.rt = rt
        self.done = False

    def __call__(self, message: BaseMessage) -> None:
        if not self.done and isinstance(message, AIMessage):
            self.done = True
            spend_primary(self.rt)
            print("  (emulator: the main account's points just ran out; the next call sees it)")


def advice(message: AIMessage, names: Any) -> list[str]:
    """What a user reads after a switch: who failed and why, until when, and what to do.

    The why and what to do are the error's own message (the package words it per regime);
    only the reset time, when one is known, is added here.
    """
    report = message.response_metadata.get("fallback") or {}
    lines = []
    for attempt in report.get("attempts", []):
        if attempt["kind"] not in ("quota", "points", "exhausted"):
            continue
        if attempt["until"]:
            until = datetime.fromisoformat(attempt["until"]).astimezone(UTC8)
            when = f"until {until:%Y-%m-%d %H:%M} UTC+8"
        else:
            when = "until its points are back (no reset time is known)"
        said = "answered 429" if attempt["outcome"] == "failed" else "is marked spent"
        lines.append(f"{names(attempt)} {said}; it is skipped with no request {when}.")
        lines.append(f"  the error says: {_runtime.one_line(attempt['message'], 400)}")
        if attempt["kind"] == "points":
            lines.append(f"  what to do: {POINTS_ADVICE}")
    if lines:
        lines.append(
            f"served instead by {names(report['served_by'])}. To keep a spent quota from "
            f"stopping you: add a second account ({_runtime.BACKUP_TOKEN_ENV_VAR}), a second "
            "model or another provider to FallbackChatModel, and share its QuotaLedger "
            "(SQLiteQuotaStore / RedisQuotaStore) between processes."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--no-switch",
        action="store_true",
        help="emulator: do not run the primary's quota out (every step on the primary)",
    )
    args = parser.parse_args(argv)

    _runtime.show_fallback_logs()
    rt = _runtime.setup()
    tokens = [rt.api_key]
    backup = _runtime.backup_token(rt)
    if backup is not None:
        tokens.append(backup)
    model = fallback_example.modelscope_chain(rt, tokens)
    names = fallback_example.Names(model, ["main", "backup"])
    chain = " -> ".join(names(info.as_dict()) for info in model.candidate_infos)
    _runtime.section(f"agent with fallback chain: {chain}")

    spend = SpendAfterFirstStep(rt) if rt.offline and not args.no_switch else None
    last: list[AIMessage] = []

    def after_step(message: BaseMessage) -> None:
        if isinstance(message, AIMessage):
            last.append(message)
        if spend is not None:
            spend(message)

    answer = agent_example.run_agent(
        agent_example.build_agent(model), label=names, after_step=after_step
    )
    tips = advice(last[-1], names) if last else []
    if tips:
        _runtime.section("the primary's quota ran out: what happened, and what to do")
        for line in tips:
            print(f"  {line}")
    where = "the local emulator" if rt.offline else f"ModelScope ({rt.token_source})"
    print(f"\nran on {where}")
    _runtime.final(answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
