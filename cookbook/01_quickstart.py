"""01 - Quickstart: invoke, stream, async, batch, token usage and the quota left.

Run:  python cookbook/01_quickstart.py
      (ModelScope when MODELSCOPE_API_KEY is set, else the local emulator; 5 calls)

ModelScope API-Inference serves open models (Qwen, DeepSeek, GLM, Kimi...) free of charge on an
OpenAI-compatible endpoint, within a quota: points per call since 2026-08 (read with the free
`points_balance`), daily call counters before that (sent as response headers). ChatModelScope
is a regular LangChain chat model, so everything below is the usual Runnable API.
"""

from __future__ import annotations

import asyncio

import _runtime
from langchain_core.messages import AIMessage

from langchain_modelscope import points_balance
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import ModelScopeError


def quota_left(message: AIMessage, rt: _runtime.Runtime) -> str:
    """The quota state: the daily headers when the answer carried them, else the points."""
    # In the daily-counter regime ModelScope sent calls per day and calls left, for the account
    # and for this model, with each answer. The points regime sends no such header, so the
    # metadata simply has no "ratelimit" key, hence .get().
    ratelimit = message.response_metadata.get("ratelimit") or {}
    if not ratelimit:
        return points_left(rt)
    return (
        f"{ratelimit.get('requests_remaining', '?')} of {ratelimit.get('requests_limit', '?')} "
        f"calls left today for the account, {ratelimit.get('model_requests_remaining', '?')} "
        f"of {ratelimit.get('model_requests_limit', '?')} for this model "
        "(reset at 00:00 UTC+8)"
    )


def points_left(rt: _runtime.Runtime) -> str:
    """The free balance endpoint: costs no points, and no chat call."""
    try:
        balance = points_balance(rt.api_key, base_url=rt.base_url)
    except ModelScopeError as error:  # best-effort: some accounts cannot read it
        return f"no rate-limit headers, and the balance could not be read ({error})"
    return (
        f"{balance.available:g} points available ({balance.frozen:g} held for calls in "
        "flight); no fixed reset: points come from activity on modelscope.cn"
    )


async def main() -> None:
    rt = _runtime.setup()
    # rt.connection is {base_url, api_key} of the chosen target. With MODELSCOPE_API_KEY set,
    # your own code only needs ChatModelScope(model=...).
    llm = ChatModelScope(model=_runtime.CHAT_MODEL, temperature=0, max_tokens=200, **rt.connection)

    _runtime.section("invoke")
    reply = llm.invoke("Say hello to a LangChain developer in one short sentence.")
    print(reply.content)
    # Standard LangChain usage metadata (from the response's `usage`).
    print("usage:", reply.usage_metadata)

    _runtime.section("stream")
    # The package asks for usage in streams too: exactly one chunk (the last) carries it.
    streamed = None
    for chunk in llm.stream("Write a haiku about rain."):
        print(chunk.text, end="", flush=True)
        streamed = chunk if streamed is None else streamed + chunk
    print()
    if streamed is not None:
        print("usage:", streamed.usage_metadata)

    _runtime.section("async")
    # ainvoke/astream use a pooled async HTTP client; no extra setup.
    areply = await llm.ainvoke("Tell me a joke about cats.")
    print(areply.content)

    _runtime.section("batch")
    # ModelScope promises one request at a time per developer and may answer parallel calls
    # with a passing 429 ("We have to rate limit you"): keep batches small. Such 429s are
    # retried with backoff; a spent quota is not (it raises QuotaExceededError).
    answers = llm.batch(["Hello", "How are you?"], config={"max_concurrency": 2})
    for answer in answers:
        print("-", answer.content)

    _runtime.section("quota")
    left = quota_left(answers[-1], rt)
    print(left)
    print("model that answered:", answers[-1].response_metadata.get("served_model_name"))

    _runtime.final(f"invoke, stream, ainvoke and batch answered; {left}")


if __name__ == "__main__":
    asyncio.run(main())
