"""The fallback against the ModelScope emulator: requests counted in the emulator's own log.

429 bodies come from the facts sheet (``tests/support/modelscope_facts.py``) through
``Fault.status``, so the tests hold for the real service's wording, not the emulator's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_modelscope._reset import next_daily_reset
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import StreamInterruptedError
from langchain_modelscope.fallback import (
    AllCandidatesFailedError,
    Candidate,
    FallbackChatModel,
    FallbackEmbeddings,
)
from langchain_modelscope.quota import (
    InMemoryQuotaStore,
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    SQLiteQuotaStore,
    account_fingerprint,
)
from langchain_modelscope.testing import (
    Fault,
    ModelScopeEmulator,
    RecordedRequest,
    ScriptedReply,
    ScriptedToolCall,
)
from tests.support import modelscope_facts as facts
from tests.support.clock import FakeClock, future_start

PRIMARY = "Qwen/Qwen2.5-72B-Instruct"
SECOND = "deepseek-ai/DeepSeek-V3.2"
THIRD = "ZhipuAI/GLM-4.6"
EMBEDDING = "Qwen/Qwen3-Embedding-0.6B"
LOGGER = "langchain_modelscope.fallback"


@pytest.fixture
def mem_ledger() -> QuotaLedger:
    """A private in-memory ledger on the real clock, like a user's default one."""
    return QuotaLedger(InMemoryQuotaStore())


def modelscope(emu: ModelScopeEmulator, model: str, token: str, **kwargs: Any) -> ChatModelScope:
    settings: dict[str, Any] = {"max_retries": 0, **kwargs}
    return ChatModelScope(model=model, base_url=emu.base_url, api_key=token, **settings)


def quota_429(message: str = facts.QUOTA_DAILY) -> Fault:
    return Fault.status(429, facts.errors_envelope(message))


def account_429() -> Fault:
    return Fault.status(429, facts.error_envelope(facts.INSUFFICIENT_QUOTA, "insufficient_quota"))


def served_model(answer: Any) -> str:
    return str(answer.response_metadata["fallback"]["served_by"]["model"])


def chat_calls(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if r.path.endswith("/chat/completions")]


def last_user_text(request: RecordedRequest) -> str:
    return str(request.body["messages"][-1]["content"])


# --- zero wasted calls ------------------------------------------------------------------------


def test_model_quota_429_then_100_calls_send_nothing_to_the_primary(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    emu.queue_fault(quota_429(), model=PRIMARY)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    first = model.invoke("first")
    assert served_model(first) == SECOND
    assert first.response_metadata["fallback"]["attempts"][0]["kind"] == "quota"
    before = len(emu.requests_for(model=PRIMARY))
    answers = [model.invoke(f"call {i}") for i in range(100)]
    assert len(emu.requests_for(model=PRIMARY)) == before == 1
    assert len(chat_calls(emu.requests_for(model=SECOND))) == 101
    assert {served_model(a) for a in answers} == {SECOND}
    switches = [r for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]
    assert len(switches) == 1  # one switch, one line; the 100 skips are silent
    assert emu.token not in caplog.text


@pytest.mark.parametrize(
    "message", [facts.QUOTA_DAILY_SHORT, facts.QUOTA_MONTHLY, facts.REQUEST_LIMIT]
)
def test_every_quota_wording_is_remembered(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger, message: str
) -> None:
    emu.queue_fault(Fault.status(429, facts.error_envelope(message)), model=PRIMARY)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    for index in range(5):
        assert served_model(model.invoke(f"call {index}")) == SECOND
    assert len(emu.requests_for(model=PRIMARY)) == 1


def test_account_429_skips_every_model_of_that_account(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    backup = emu.add_account()
    emu.queue_fault(account_429(), model=PRIMARY)
    model = FallbackChatModel.from_modelscope(
        [PRIMARY, SECOND],
        tokens=[emu.token, backup],
        order="models_first",
        base_url=emu.base_url,
        max_retries=0,
        ledger=mem_ledger,
    )
    first = model.invoke("first")
    assert first.response_metadata["fallback"]["served_by"]["account"] == account_fingerprint(
        backup
    )
    for index in range(100):
        answer = model.invoke(f"call {index}")
        assert answer.response_metadata["fallback"]["served_by"]["index"] == 2
    assert len(emu.requests_for(token=emu.token)) == 1  # neither model of the spent account
    assert len(chat_calls(emu.requests_for(token=backup))) == 101


def test_remaining_zero_header_marks_before_any_429(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    token = emu.add_account(model_limits={PRIMARY: 3})  # headers on: remaining counts down
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, token), modelscope(emu, SECOND, token)],
        ledger=mem_ledger,
    )
    served = [served_model(model.invoke(f"call {i}")) for i in range(103)]
    assert served == [PRIMARY] * 3 + [SECOND] * 100
    primary = emu.requests_for(model=PRIMARY)
    assert [r.status for r in primary] == [200, 200, 200]  # no 429 was ever needed


def test_remaining_zero_header_verbatim_from_the_facts_sheet(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    """A 200 carrying the facts sheet's four headers, model remaining 0: marked at once."""
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": PRIMARY,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "last one today"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
    }
    emu.queue_fault(Fault.status(200, completion, facts.RATELIMIT_HEADERS), model=PRIMARY)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    assert model.invoke("first").content == "last one today"
    for index in range(100):
        assert served_model(model.invoke(f"call {index}")) == SECOND
    assert len(emu.requests_for(model=PRIMARY)) == 1


def test_sqlite_marks_survive_a_new_ledger_and_model(
    emu: ModelScopeEmulator, tmp_path: Any
) -> None:
    """In-process stand-in for a restart (the real restart runs in test_fallback_processes)."""
    path = tmp_path / "quota.sqlite3"
    emu.queue_fault(quota_429(), model=PRIMARY)

    def build() -> FallbackChatModel:
        return FallbackChatModel(
            candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
            ledger=QuotaLedger(SQLiteQuotaStore(path)),
        )

    assert served_model(build().invoke("before the restart")) == SECOND
    fresh = build()
    assert all(served_model(fresh.invoke(f"after {i}")) == SECOND for i in range(20))
    assert len(emu.requests_for(model=PRIMARY)) == 1


def test_refused_token_and_unknown_model_move_on(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    unbound = emu.add_account(state="unbound")
    model = FallbackChatModel(
        candidates=[
            modelscope(emu, PRIMARY, unbound),
            modelscope(emu, "Qwen/No-Such-Model", emu.token),
            modelscope(emu, SECOND, emu.token),
        ],
        ledger=mem_ledger,
    )
    first = model.invoke("hi")
    kinds = [a["kind"] for a in first.response_metadata["fallback"]["attempts"]]
    assert kinds == ["auth", "not_found"]
    for index in range(10):
        assert served_model(model.invoke(f"call {index}")) == SECOND
    assert len(emu.requests_for(token=unbound)) == 1
    assert len(emu.requests_for(model="Qwen/No-Such-Model")) == 1


def test_bad_request_is_not_sent_to_other_candidates(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    emu.queue_fault(
        Fault.status(400, facts.errors_envelope(facts.ENCODING_FORMAT_400)), model=PRIMARY
    )
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    with pytest.raises(Exception, match="encoding_format"):
        model.invoke("hi")
    assert emu.requests_for(model=SECOND) == []


def test_all_out_is_one_error_with_the_earliest_reset(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger, caplog: pytest.LogCaptureFixture
) -> None:
    emu.queue_fault(quota_429(), model=PRIMARY)
    emu.queue_fault(quota_429(facts.QUOTA_MONTHLY), model=SECOND)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with pytest.raises(AllCandidatesFailedError) as caught:
        model.invoke("hi")
    assert caught.value.earliest_reset == next_daily_reset()
    assert facts.QUOTA_MONTHLY.split(":")[0] in str(caught.value)
    assert emu.token not in str(caught.value)
    assert emu.token not in caplog.text
    with pytest.raises(AllCandidatesFailedError):
        model.invoke("again")
    assert len(emu.requests) == 2  # the second call sent nothing


# --- midnight UTC+8 -----------------------------------------------------------------------------


def test_crossing_midnight_utc8_brings_the_primary_back(emu: ModelScopeEmulator) -> None:
    start = future_start()  # 23:30 UTC+8
    emu.clock.set(start)
    clock = FakeClock(start)
    emu.config.send_ratelimit_headers = False  # learn it from the 429 this time
    token = emu.add_account(model_limits={PRIMARY: 1})
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, token), modelscope(emu, SECOND, token)],
        ledger=QuotaLedger(clock=clock),
    )
    assert served_model(model.invoke("one")) == PRIMARY
    assert served_model(model.invoke("two")) == SECOND  # the emulator's own daily 429
    emu.clock.advance(timedelta(minutes=29))
    clock.advance(minutes=29)  # 23:59 UTC+8: still spent, still skipped
    assert served_model(model.invoke("three")) == SECOND
    emu.clock.advance(timedelta(minutes=2))
    clock.advance(minutes=2)  # 00:01 UTC+8: a new quota day
    assert served_model(model.invoke("four")) == PRIMARY
    assert [r.status for r in emu.requests_for(model=PRIMARY)] == [200, 429, 200]


# --- streaming --------------------------------------------------------------------------------


def test_stream_falls_back_before_content_and_not_after(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    emu.queue_fault(quota_429(), model=PRIMARY)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    chunks = list(model.stream("stream to me"))
    assert sum(1 for c in chunks if "fallback" in c.response_metadata) == 1
    assert served_model(chunks[0]) == SECOND

    cut = FallbackChatModel(
        candidates=[modelscope(emu, THIRD, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    emu.queue_fault(Fault.stream_cut(3), model=THIRD)
    before = len(emu.requests_for(model=SECOND))
    received: list[str] = []

    def consume() -> None:
        for chunk in cut.stream("a long answer please"):
            received.append(str(chunk.content))

    with pytest.raises(StreamInterruptedError):
        consume()
    assert "".join(received)  # content arrived, then the cut: it propagates
    assert len(emu.requests_for(model=SECOND)) == before  # and nothing was asked twice


async def test_astream_falls_back(emu: ModelScopeEmulator, mem_ledger: QuotaLedger) -> None:
    emu.queue_fault(quota_429(), model=PRIMARY)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    chunks = [chunk async for chunk in model.astream("stream to me")]
    assert served_model(chunks[0]) == SECOND
    assert "".join(str(c.content) for c in chunks)


# --- tools, structured output, agents -------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"It is sunny in {city}."


def test_tools_reach_the_fallback_candidate_in_each_providers_format(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    """Bound on the fallback, the tools reach ChatOpenAI at "another provider" too."""
    chat_openai = pytest.importorskip("langchain_openai").ChatOpenAI
    with ModelScopeEmulator() as other:
        emu.queue_fault(quota_429(), model=PRIMARY)
        other.queue_reply(
            ScriptedReply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Hangzhou"})])
        )
        openai_model = chat_openai(
            model=SECOND, base_url=other.base_url, api_key=other.token, max_retries=0
        )
        model = FallbackChatModel(
            candidates=[
                modelscope(emu, PRIMARY, emu.token),
                Candidate(openai_model, provider="dashscope"),
            ],
            ledger=mem_ledger,
        )
        answer = model.bind_tools([get_weather], tool_choice="auto").invoke("weather?")
        assert isinstance(answer, AIMessage)
        assert answer.tool_calls[0]["args"] == {"city": "Hangzhou"}
        assert answer.response_metadata["fallback"]["served_by"]["provider"] == "dashscope"
        [request] = other.requests_for(model=SECOND)
        assert [t["function"]["name"] for t in request.body["tools"]] == ["get_weather"]
        assert request.body["tool_choice"] == "auto"
        [primary_request] = emu.requests_for(model=PRIMARY)
        assert primary_request.body["tools"][0]["function"]["name"] == "get_weather"


class Person(BaseModel):
    """Someone mentioned in the text."""

    name: str
    age: int


def test_with_structured_output_on_the_fallback(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    emu.queue_fault(quota_429(), model=PRIMARY)
    emu.queue_reply(
        ScriptedReply(tool_calls=[ScriptedToolCall("Person", {"name": "Ada", "age": 36})]),
        model=SECOND,
    )
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, emu.token), modelscope(emu, SECOND, emu.token)],
        ledger=mem_ledger,
    )
    result = model.with_structured_output(Person).invoke("Ada is 36.")
    assert result == Person(name="Ada", age=36)
    [request] = emu.requests_for(model=SECOND)
    assert request.body["tools"][0]["function"]["name"] == "Person"

    emu.queue_reply(ScriptedReply(content=json.dumps({"name": "Bo", "age": 7})), model=SECOND)
    raw: Any = model.with_structured_output(Person, method="json_mode", include_raw=True).invoke(
        "Bo"
    )
    assert raw["parsed"] == Person(name="Bo", age=7)
    assert raw["raw"].response_metadata["fallback"]["attempts"][0]["outcome"] == "skipped"
    assert len(emu.requests_for(model=PRIMARY)) == 1


def test_create_agent_keeps_working_when_the_primary_runs_out_mid_task(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    create_agent = pytest.importorskip("langchain.agents").create_agent
    emu.config.send_ratelimit_headers = False
    token = emu.add_account(model_limits={PRIMARY: 1})  # one call left today
    emu.queue_reply(
        ScriptedReply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Hangzhou"})]),
        model=PRIMARY,
    )
    emu.queue_reply(ScriptedReply(content="Sunny in Hangzhou."), model=SECOND)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, token), modelscope(emu, SECOND, token)],
        ledger=mem_ledger,
    )
    agent = create_agent(model, tools=[get_weather])
    result = agent.invoke({"messages": [HumanMessage("What is the weather in Hangzhou?")]})
    final = result["messages"][-1]
    assert final.content == "Sunny in Hangzhou."
    assert served_model(final) == SECOND
    assert [r.status for r in emu.requests_for(model=PRIMARY)] == [200, 429]
    [second] = emu.requests_for(model=SECOND)
    assert second.body["tools"][0]["function"]["name"] == "get_weather"
    assert second.body["messages"][-1]["role"] == "tool"  # the task went on where it stopped


# --- the comparison with with_fallbacks ------------------------------------------------------


def test_with_fallbacks_calls_the_dead_primary_every_time_this_calls_it_once(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    calls = 20
    emu.queue_fault(quota_429(), model=PRIMARY, times=10 * calls)  # dead all day
    # As a user would set them up: the model's own retries left at their default.
    primary = ChatModelScope(model=PRIMARY, base_url=emu.base_url, api_key=emu.token)
    backup = ChatModelScope(model=SECOND, base_url=emu.base_url, api_key=emu.token)

    plain = primary.with_fallbacks([backup])
    for index in range(calls):
        plain.invoke(f"with_fallbacks {index}")
    assert len(emu.requests_for(model=PRIMARY)) == calls

    emu.clear_log()
    ours = FallbackChatModel(candidates=[primary, backup], ledger=mem_ledger)
    for index in range(calls):
        ours.invoke(f"fallback {index}")
    assert len(emu.requests_for(model=PRIMARY)) == 1
    assert len(emu.requests_for(model=SECOND)) == calls


# --- embeddings -------------------------------------------------------------------------------


def test_embeddings_fall_back_to_a_backup_account(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    backup = emu.add_account()
    emu.queue_fault(quota_429(), model=EMBEDDING)
    embeddings = FallbackEmbeddings.from_modelscope(
        EMBEDDING,
        tokens=[emu.token, backup],
        base_url=emu.base_url,
        max_retries=0,
        ledger=mem_ledger,
    )
    for index in range(10):
        assert len(embeddings.embed_query(f"text {index}")) == 1024
    assert len(emu.requests_for(token=emu.token)) == 1
    assert len(emu.requests_for(token=backup)) == 10


async def test_embeddings_learn_remaining_zero_from_the_headers(
    emu: ModelScopeEmulator, mem_ledger: QuotaLedger
) -> None:
    spent_soon = emu.add_account(model_limits={EMBEDDING: 2})
    embeddings = FallbackEmbeddings.from_modelscope(
        EMBEDDING,
        tokens=[spent_soon, emu.token],
        base_url=emu.base_url,
        max_retries=0,
        ledger=mem_ledger,
    )
    for index in range(6):
        assert len(await embeddings.aembed_documents([f"text {index}"])) == 1
    assert [r.status for r in emu.requests_for(token=spent_soon)] == [200, 200]
    assert len(emu.requests_for(token=emu.token)) == 4


# --- concurrency ------------------------------------------------------------------------------


class RecordingStore(InMemoryQuotaStore):
    """Counts the ledger reads for ``watched`` before its first mark, and signals that mark."""

    def __init__(self, watched: QuotaKey, marked: asyncio.Event) -> None:
        super().__init__()
        self.watched = watched
        self.marked = marked
        self.reads_before_mark = 0

    def get_many(self, keys: Any) -> list[QuotaEntry]:
        if self.watched in keys and not self.marked.is_set():
            self.reads_before_mark += 1
        return super().get_many(keys)

    def extend(self, entry: QuotaEntry) -> QuotaEntry:
        if entry.key == self.watched:
            self.marked.set()  # in-memory store: called on the event loop's thread
        return super().extend(entry)


async def test_50_concurrent_calls_while_the_quota_runs_out(emu: ModelScopeEmulator) -> None:
    """Half the calls start together; the other half start the moment the first 429 lands.

    Every call gets one answer; the primary only ever sees calls that had already been sent
    its way when the 429 arrived, and none of the later ones.
    """
    emu.config.send_ratelimit_headers = False  # the 429 is what tells
    emu.config.response_delay = 0.02  # so that calls overlap on the server
    token = emu.add_account(model_limits={PRIMARY: 10})
    marked = asyncio.Event()
    store = RecordingStore(QuotaKey("modelscope", account_fingerprint(token), PRIMARY), marked)
    model = FallbackChatModel(
        candidates=[modelscope(emu, PRIMARY, token), modelscope(emu, SECOND, token)],
        ledger=QuotaLedger(store),
    )
    first_wave = 25

    async def call(index: int) -> AIMessage:
        if index >= first_wave:
            await marked.wait()
        return await model.ainvoke(f"concurrent {index}")

    answers = await asyncio.gather(*(call(i) for i in range(50)))

    # One answer per call, none twice: each prompt got exactly one 200 across the log.
    assert len(answers) == 50
    served = [last_user_text(r) for r in chat_calls(emu.requests) if r.status == 200]
    assert sorted(served) == sorted(f"concurrent {i}" for i in range(50))
    primary = emu.requests_for(model=PRIMARY)
    assert sum(r.status == 200 for r in primary) == 10
    assert emu.max_in_flight(PRIMARY) >= 2  # they really were in flight together
    # The primary got exactly the calls that had passed the ledger before the mark ...
    assert len(primary) == store.reads_before_mark <= first_wave
    # ... and not one of the calls that started after its first 429 arrived.
    late = {f"concurrent {i}" for i in range(first_wave, 50)}
    assert not late & {last_user_text(r) for r in primary}
    for answer in answers[first_wave:]:
        assert answer.response_metadata["fallback"]["attempts"][0]["outcome"] == "skipped"
