"""02 - A tool-calling agent: `langchain.agents.create_agent` on a ModelScope model.

Run:  python cookbook/02_agent.py
      (ModelScope when MODELSCOPE_API_KEY is set, else the local emulator; 2 model calls)

Two real tools: an exact calculator and a keyword search over the local notes in
cookbook/data/. The agent loop prints each step: the model's tool calls, the tool results and
the final answer. `cookbook/demo.py` (`make demo`) runs this same agent behind a quota fallback.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _runtime
from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool

from langchain_modelscope.chat_models import ChatModelScope

DATA_DIR = Path(__file__).resolve().parent / "data"

# Quoting the expression and the topic helps small models pass them to the tools verbatim;
# the emulator, which is no model, relies on it.
QUESTION = 'What is "1234 * 5678", and when does the "daily quota reset"?'

SYSTEM_PROMPT = (
    "You are a concise assistant. Use the calculator for arithmetic and search_notes for "
    "facts about ModelScope; name the source file of every fact you use."
)

# --- tools ---------------------------------------------------------------------------------

_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(node: ast.AST) -> Any:
    """Numbers and + - * / // % ** only: no names, calls or attributes (no eval())."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:60]}")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly: add, subtract, multiply, divide, powers.

    Args:
        expression: e.g. "1234 * 5678" or "(2 ** 10) / 4"
    """
    cleaned = expression.replace("×", "*").replace("÷", "/").replace("^", "**").replace(",", "")
    try:
        return str(_evaluate(ast.parse(cleaned, mode="eval")))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError) as exc:
        return f"Error: cannot evaluate {expression!r}: {exc}"


def _stems(text: str) -> set[str]:
    # Lower-case words without a plural "s": "quotas" matches "quota", "resets" "reset".
    return {w.lower().rstrip("s") for w in re.findall(r"[A-Za-z0-9_+-]{3,}", text)}


def load_passages() -> list[tuple[str, str]]:
    """(file name, paragraph) for every paragraph of cookbook/data/*.txt."""
    passages = []
    for path in sorted(DATA_DIR.glob("*.txt")):
        for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
            if paragraph.strip():
                passages.append((path.name, " ".join(paragraph.split())))
    return passages


@tool
def search_notes(query: str) -> str:
    """Search the local notes about ModelScope (quota, reset, tokens, thinking models,
    embeddings) and return the best matching passage with its source file.

    Args:
        query: a few keywords, e.g. "daily quota reset"
    """
    wanted = _stems(query)
    scored = [(len(wanted & _stems(text)), name, text) for name, text in load_passages()]
    best = max(scored, key=lambda item: item[0], default=(0, "", ""))
    if best[0] == 0:
        return f"No passage of the notes matches {query!r}."
    return f"{best[1]}: {best[2]}"


TOOLS = [calculator, search_notes]

# --- the agent -----------------------------------------------------------------------------


def build_agent(model: BaseChatModel) -> Any:
    """The agent graph: `create_agent` binds TOOLS on `model` and loops until an answer.

    Any chat model works here, including `FallbackChatModel` (demo.py): it is a real
    BaseChatModel with bind_tools, unlike `with_fallbacks()`, which create_agent rejects.
    """
    return create_agent(model, tools=TOOLS, system_prompt=SYSTEM_PROMPT)


Label = Callable[[dict[str, Any]], str]


def _default_label(candidate: dict[str, Any]) -> str:
    return f"{candidate['provider']}:{candidate['model']}@{candidate['account']}"


def _served_by(message: AIMessage, label: Label) -> str:
    """Which fallback candidate answered (when the model is a FallbackChatModel), and why
    the ones before it did not."""
    report = message.response_metadata.get("fallback")
    if not report:
        return ""
    notes = [f"served by {label(report['served_by'])}"]
    for attempt in report["attempts"]:
        why = "quota spent, no request" if attempt["outcome"] == "skipped" else attempt["kind"]
        notes.append(f"{label(attempt)} {attempt['outcome']} ({why})")
    return f" [{'; '.join(notes)}]"


def print_step(message: BaseMessage, label: Label = _default_label) -> None:
    """One line per agent step."""
    if isinstance(message, AIMessage):
        who = _served_by(message, label)
        if message.tool_calls:
            calls = ", ".join(f"{call['name']}({call['args']})" for call in message.tool_calls)
            print(f"  model{who} -> {calls}")
        else:
            print(f"  model{who}: {_runtime.one_line(message.text)}")
    elif isinstance(message, ToolMessage):
        print(f"  tool {message.name} -> {_runtime.one_line(message.text, 160)}")


def run_agent(
    agent: Any,
    question: str = QUESTION,
    label: Label = _default_label,
    after_step: Callable[[BaseMessage], None] | None = None,
) -> str:
    """Stream the agent's updates, printing each step; returns the final answer's text.

    `label` names a fallback candidate in the printout (demo.py passes friendlier names);
    `after_step` sees each message once printed (demo.py spends a quota there).
    """
    print(f"question: {question}")
    answer = ""
    # stream_mode="updates": one item per graph step ({"model": ...} or {"tools": ...}).
    for update in agent.stream({"messages": [("user", question)]}, stream_mode="updates"):
        for node_output in update.values():
            for message in (node_output or {}).get("messages", []):
                print_step(message, label)
                if after_step is not None:
                    after_step(message)
                if isinstance(message, AIMessage) and not message.tool_calls:
                    answer = message.text
    return answer


def main() -> None:
    rt = _runtime.setup()
    # tool_choice stays "auto" (create_agent's default): ModelScope documents it as working;
    # forced choices returned empty answers on some models.
    model = ChatModelScope(model=_runtime.CHAT_MODEL, temperature=0, **rt.connection)
    _runtime.section(f"agent on {model.model} with tools {[t.name for t in TOOLS]}")
    answer = run_agent(build_agent(model))
    _runtime.final(answer)


if __name__ == "__main__":
    main()
