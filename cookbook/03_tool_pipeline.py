"""03 - Tool calling without an agent: bind_tools, run the calls, send back ToolMessages.

Run:  python cookbook/03_tool_pipeline.py
      (ModelScope when MODELSCOPE_API_KEY is set, else the local emulator; 2-4 calls)

The loop `create_agent` runs for you (02_agent.py), written out by hand: useful when you want
to check, log or veto each call yourself. Uses the same two tools as 02.
"""

from __future__ import annotations

import importlib

import _runtime
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_modelscope.chat_models import ChatModelScope

# The tools live in 02_agent.py (a file name that `import` cannot spell, hence importlib).
agent_example = importlib.import_module("02_agent")
TOOLS_BY_NAME = {t.name: t for t in agent_example.TOOLS}
MAX_ROUNDS = 3


def main() -> None:
    rt = _runtime.setup()
    llm = ChatModelScope(model=_runtime.CHAT_MODEL, temperature=0, **rt.connection)
    # ModelScope takes OpenAI-style tools; tool_choice="auto" is the one choice documented to
    # work on every model, and it is the default.
    llm_with_tools = llm.bind_tools(agent_example.TOOLS)

    messages: list[BaseMessage] = [
        SystemMessage(agent_example.SYSTEM_PROMPT),
        HumanMessage(agent_example.QUESTION),
    ]
    print(f"question: {agent_example.QUESTION}")
    ai = llm_with_tools.invoke(messages)
    # A model may ask for more tools after seeing results: loop, but never forever.
    for round_number in range(1, MAX_ROUNDS + 1):
        if not ai.tool_calls:
            break
        _runtime.section(f"round {round_number}: the model asks for {len(ai.tool_calls)} call(s)")
        messages.append(ai)
        # Arguments that are not valid JSON come back in ai.invalid_tool_calls, never as an
        # exception: decide what to do with them here (this script just shows them).
        for bad in ai.invalid_tool_calls:
            print(f"  invalid call {bad['name']}: {bad['error']}")
        for call in ai.tool_calls:
            result = TOOLS_BY_NAME[call["name"]].invoke(call["args"])
            print(f"  {call['name']}({call['args']}) -> {_runtime.one_line(result, 120)}")
            # tool_call_id ties each result to its call, as in OpenAI's API.
            messages.append(ToolMessage(content=str(result), tool_call_id=call["id"]))
        ai = llm_with_tools.invoke(messages)

    _runtime.section("the model answers from the results")
    if ai.tool_calls:
        print(f"  (still asking for tools after {MAX_ROUNDS} rounds: stopped here)")
    print(f"  {_runtime.one_line(ai.text)}")
    _runtime.final(ai.text)


if __name__ == "__main__":
    main()
