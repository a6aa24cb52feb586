"""The governor against the emulator: the server never sees more of an account's calls in
flight than ``max_concurrent_requests`` (modelscope-api.md §2a: more than one or two at a time
opens hours-long throttle windows)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from langchain_modelscope import ChatModelScope, FallbackChatModel, ModelScopeEmbeddings
from langchain_modelscope._governor import in_flight
from langchain_modelscope.errors import ConcurrencyLimitTimeoutError
from langchain_modelscope.testing import EmulatorConfig, ModelScopeEmulator

MODEL = "Qwen/Qwen3-32B"


def chat(
    emu: ModelScopeEmulator, limit: int | None, token: str | None = None, **kw: object
) -> ChatModelScope:
    return ChatModelScope(
        model=MODEL,
        api_key=token or emu.token,
        base_url=emu.base_url,
        max_concurrent_requests=limit,
        max_retries=0,
        **kw,
    )


async def test_twenty_ainvoke_over_two_instances_sharing_a_token_stay_under_the_cap(
    emu: ModelScopeEmulator,
) -> None:
    first, second = chat(emu, 2), chat(emu, 2, temperature=0.5)  # two instances, one token
    calls = [(first if i % 2 else second).ainvoke(f"hi {i}") for i in range(20)]
    answers = await asyncio.gather(*calls)

    assert len(answers) == 20
    assert len(emu.requests_for(model=MODEL)) == 20
    assert 1 <= emu.max_in_flight(MODEL) <= 2
    assert in_flight(emu.token) == 0  # every slot given back


async def test_without_a_limit_the_same_calls_overlap_past_it(emu: ModelScopeEmulator) -> None:
    # The control: what the test above would see without the governor (the emulator's host
    # gets no limit by default, and None turns any limit off).
    emu.config = EmulatorConfig(regime="daily", response_delay=0.2)
    first, second = (
        chat(emu, None),
        ChatModelScope(model=MODEL, api_key=emu.token, base_url=emu.base_url, max_retries=0),
    )
    await asyncio.gather(*((first if i % 2 else second).ainvoke("hi") for i in range(20)))
    assert emu.max_in_flight(MODEL) > 2


def test_a_twenty_input_batch_stays_under_the_cap_and_opens_no_throttle(
    emu: ModelScopeEmulator,
) -> None:
    # The emulator opens an hours-long window above 2 calls in flight, as 6 did in 2026-08.
    emu.config = EmulatorConfig(regime="daily", response_delay=0.05, throttle_above=2)
    model = chat(emu, 2)
    answers = model.batch([f"question {i}" for i in range(20)])  # threads, up to ~32 at once

    assert len(answers) == 20
    assert emu.max_in_flight(MODEL) <= 2
    assert all(r.status == 200 for r in emu.requests_for(model=MODEL))


async def test_an_async_batch_of_embeddings_and_chat_share_the_account(
    emu: ModelScopeEmulator,
) -> None:
    embeddings = ModelScopeEmbeddings(
        api_key=emu.token, base_url=emu.base_url, max_concurrent_requests=1, batch_size=1
    )
    model = chat(emu, 1)
    await asyncio.gather(
        embeddings.aembed_documents([f"text {i}" for i in range(6)]),
        model.abatch([f"q {i}" for i in range(6)]),
    )
    assert emu.max_in_flight() == 1


def test_a_stream_holds_its_slot_until_it_is_closed_and_a_second_token_is_not_held_back(
    emu: ModelScopeEmulator,
) -> None:
    other = emu.add_account()
    short_wait = httpx.Timeout(30.0, pool=0.2)
    holder = chat(emu, 1)
    same_account = chat(emu, 1, timeout=short_wait)
    other_account = chat(emu, 1, token=other, timeout=short_wait)

    stream = holder.stream("tell me a story")
    next(stream)  # the stream is open: its slot is held
    assert in_flight(emu.token) == 1

    assert other_account.invoke("hi").content  # another account goes at once
    with pytest.raises(ConcurrencyLimitTimeoutError) as caught:
        same_account.invoke("hi")
    error = caught.value
    assert error.limit == 1
    assert error.waited == pytest.approx(0.2)
    assert "max_concurrent_requests=1" in str(error)
    assert emu.token not in str(error)
    assert emu.token not in repr(error)

    stream.close()  # closing the stream frees the slot
    assert in_flight(emu.token) == 0
    assert same_account.invoke("hi").content


async def test_a_cancelled_holder_and_a_cancelled_waiter_free_what_they_hold(
    emu: ModelScopeEmulator,
) -> None:
    emu.config = EmulatorConfig(regime="daily", response_delay=0.5)
    model = chat(emu, 1)
    # The first call holds the only slot while the server takes 0.5 s; the second waits for
    # it. Both are cancelled (by wait_for) while so.
    outcomes = await asyncio.gather(
        asyncio.wait_for(model.ainvoke("holder"), 0.2),
        asyncio.wait_for(model.ainvoke("waiter"), 0.2),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes] == [asyncio.TimeoutError, asyncio.TimeoutError]
    assert in_flight(emu.token) == 0
    emu.config = EmulatorConfig(regime="daily")
    assert (await model.ainvoke("next")).content
    assert len(emu.requests_for(model=MODEL)) == 2  # the waiter never sent anything


def test_the_fallback_passes_the_limit_to_every_candidate(emu: ModelScopeEmulator) -> None:
    fallback = FallbackChatModel.from_modelscope(
        [MODEL, "Qwen/Qwen3-8B"],
        tokens=[emu.token],
        base_url=emu.base_url,
        max_concurrent_requests=1,
    )
    assert [c.max_concurrent_requests for c in fallback.candidates] == [1, 1]
    fallback.batch([f"q {i}" for i in range(8)])
    assert emu.max_in_flight() == 1
