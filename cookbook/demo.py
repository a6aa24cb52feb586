"""The main job (`make demo`): the tool-calling agent of 02_agent.py behind a quota fallback.

Run:  make demo            (or: python cookbook/demo.py)
      python cookbook/demo.py --spend-primary   (emulator only: the primary's quota is spent
                                                 first, so the agent switches mid-run)

With MODELSCOPE_API_KEY (or another token variable) set, it runs on ModelScope API-Inference;
without one, on the local emulator, and the first line says so. The model is a
FallbackChatModel: CHAT_MODEL on the main token, then on MODELSCOPE_BACKUP_API_KEY's account if
set, then SECOND_MODEL (see 07_quota_fallback.py), so a spent daily quota does not stop it.
Each step prints which candidate served it.
"""

from __future__ import annotations

import argparse
import importlib

import _runtime

# The agent and the chain come from the cookbook scripts themselves (names `import` cannot spell).
agent_example = importlib.import_module("02_agent")
fallback_example = importlib.import_module("07_quota_fallback")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--spend-primary",
        action="store_true",
        help="emulator only: spend the primary's daily quota first, to show the switch",
    )
    args = parser.parse_args(argv)

    _runtime.show_fallback_logs()
    rt = _runtime.setup()
    tokens = [rt.api_key]
    backup = _runtime.backup_token(rt)
    if backup is not None:
        tokens.append(backup)
    model = fallback_example.modelscope_chain(rt, tokens)
    accounts = ["main", "backup"]
    names = fallback_example.Names(model, accounts)
    chain = " -> ".join(names(info.as_dict()) for info in model.candidate_infos)
    _runtime.section(f"agent with fallback chain: {chain}")

    if args.spend_primary:
        if rt.emulator is None:
            parser.error("--spend-primary only works on the emulator (no token set)")
        # As if today's calls of the primary model on the main account were all used.
        rt.emulator.set_usage(rt.api_key.get_secret_value(), _runtime.CHAT_MODEL, 1_000_000)
        print("(emulator: the primary's daily quota is spent; watch the agent switch)")

    answer = agent_example.run_agent(agent_example.build_agent(model), label=names)
    where = "the local emulator" if rt.offline else f"ModelScope ({rt.token_source})"
    print(f"\nran on {where}")
    _runtime.final(answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
