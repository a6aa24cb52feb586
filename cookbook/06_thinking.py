"""06 - Thinking models: the reasoning streamed beside the answer.

Run:  python cookbook/06_thinking.py
      (ModelScope when MODELSCOPE_API_KEY is set, else the local emulator; 2 calls)

Thinking models on ModelScope (the *-Thinking-* models, QwQ, Qwen3 hybrids, DeepSeek-R1...)
stream `reasoning_content` before the answer. ChatModelScope puts it in each chunk's
`additional_kwargs["reasoning_content"]` (and in `content_blocks` as "reasoning" blocks).

Two ModelScope rules the package handles for you:
- thinking-only models refuse non-streaming calls, and Qwen3 hybrids refuse them unless
  enable_thinking=False: invoke() streams under the hood, so it just works;
- the first byte can take over a minute on a reasoning model: the default read timeout is 300 s.
"""

from __future__ import annotations

import _runtime

from langchain_modelscope.chat_models import ChatModelScope

QUESTION = "How many times does the letter r appear in the word strawberry?"


def main() -> None:
    rt = _runtime.setup()
    # thinking_budget=N would cap the reasoning tokens, on models that honour it (sent as is).
    thinker = ChatModelScope(model=_runtime.THINKING_MODEL, **rt.connection)

    _runtime.section(f"streaming {thinker.model}")
    print(f"question: {QUESTION}")
    reasoning: list[str] = []
    answer: list[str] = []
    phase = ""
    for chunk in thinker.stream(QUESTION):
        piece = chunk.additional_kwargs.get("reasoning_content", "")
        if piece:
            if phase != "reasoning":
                print("\n[reasoning] ", end="")
                phase = "reasoning"
            reasoning.append(piece)
            print(piece, end="", flush=True)
        if chunk.text:
            if phase != "answer":
                print("\n[answer] ", end="")
                phase = "answer"
            answer.append(chunk.text)
            print(chunk.text, end="", flush=True)
    print()
    reasoning_text, answer_text = "".join(reasoning), "".join(answer)

    _runtime.section(f"{_runtime.HYBRID_MODEL} with enable_thinking=False: a plain, quicker answer")
    # enable_thinking is a top-level body field on ModelScope; False also allows stream=false.
    quick = ChatModelScope(model=_runtime.HYBRID_MODEL, enable_thinking=False, **rt.connection)
    reply = quick.invoke("In one word: is strawberry a fruit?")
    reasoned = len(reply.additional_kwargs.get("reasoning_content", ""))
    print(f"  {reply.text}  (reasoning: {reasoned} chars)")

    _runtime.final(
        f"answer after {len(reasoning_text)} characters of reasoning: {answer_text.strip()}"
    )


if __name__ == "__main__":
    main()
