"""The fallback's decisions, against fake models and a ledger on a fake clock (no network)."""

from __future__ import annotations

import json
import logging
import pickle
from datetime import timedelta
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableLambda
from pydantic import SecretStr

from langchain_modelscope import quota
from langchain_modelscope._reset import next_daily_reset
from langchain_modelscope.errors import (
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    ModelScopeError,
    QuotaExceededError,
    RateLimitError,
)
from langchain_modelscope.fallback import (
    AllCandidatesFailedError,
    Candidate,
    FallbackChatModel,
    FallbackEmbeddings,
)
from langchain_modelscope.quota import QuotaKey, QuotaLedger, account_fingerprint
from tests.fallback.fakes import (
    HTTPStatusError,
    NoToolsChat,
    ScriptedChat,
    ScriptedEmbeddings,
    StreamBreakError,
)
from tests.support.clock import FakeClock

pytestmark = pytest.mark.disable_socket

TOKEN_A = "ms-aaaaaaaa-0000-4000-8000-000000000001"
TOKEN_B = "ms-bbbbbbbb-0000-4000-8000-000000000002"
LOGGER = "langchain_modelscope.fallback"


def quota_error(clock: FakeClock, scope: str = "model") -> QuotaExceededError:
    return QuotaExceededError(
        "You have exceeded today's quota for model a,  please try again tomorrow",
        scope=scope,  # type: ignore[arg-type]
        reset_at=next_daily_reset(clock()),
        status_code=429,
        model="a",
    )


def chat(model: str, token: str | None = TOKEN_A, **kwargs: Any) -> ScriptedChat:
    return ScriptedChat(
        model=model,
        api_key=SecretStr(token) if token else None,
        reply=f"answer from {model}",
        **kwargs,
    )


def fallback(ledger: QuotaLedger, *models: Any, **kwargs: Any) -> FallbackChatModel:
    return FallbackChatModel(candidates=list(models), ledger=ledger, **kwargs)


def report(message: Any) -> dict[str, Any]:
    return message.response_metadata["fallback"]  # type: ignore[no-any-return]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]


# --- identity ---------------------------------------------------------------------------------


def test_identity_uses_a_fingerprint_never_the_token(ledger: QuotaLedger) -> None:
    model = fallback(ledger, chat("a"), chat("b", token=None), Candidate(chat("c"), account="x"))
    infos = model.candidate_infos
    assert infos[0].account == account_fingerprint(TOKEN_A)
    assert infos[0].provider == "scripted"  # from the model's own ls_provider
    assert infos[1].account == "default"
    assert (infos[2].account, infos[2].model) == ("x", "c")
    assert TOKEN_A not in repr(model._identifying_params)


def test_candidate_overrides_and_rejections(ledger: QuotaLedger) -> None:
    model = fallback(ledger, Candidate(chat("a"), provider="dashscope", model_name="qwen-plus"))
    assert model.candidate_infos[0].key == QuotaKey(
        "dashscope", account_fingerprint(TOKEN_A), "qwen-plus"
    )
    with pytest.raises(TypeError, match="itself a fallback"):
        fallback(ledger, model)
    with pytest.raises(TypeError, match="must be a BaseChatModel"):
        fallback(ledger, "not a model")
    with pytest.raises(ValueError, match="at least one candidate"):
        FallbackChatModel(candidates=[], ledger=ledger)
    with pytest.raises(ValueError, match="looks like an API token"):
        fallback(ledger, Candidate(chat("a"), account=TOKEN_A))


# --- moving on, and remembering -----------------------------------------------------------


def test_primary_serves_when_it_can(ledger: QuotaLedger) -> None:
    primary, backup = chat("a"), chat("b")
    answer = fallback(ledger, primary, backup).invoke("hi")
    assert answer.content == "answer from a"
    assert report(answer) == {"served_by": report(answer)["served_by"], "attempts": []}
    assert report(answer)["served_by"]["model"] == "a"
    assert len(backup.calls) == 0


def test_quota_moves_on_and_is_remembered_until_the_reset(
    ledger: QuotaLedger, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    primary = chat("a", script=[quota_error(clock)])
    backup = chat("b")
    model = fallback(ledger, primary, backup)
    caplog.set_level(logging.WARNING, logger=LOGGER)

    first = model.invoke("hi")
    assert first.content == "answer from b"
    [failed] = report(first)["attempts"]
    assert (failed["outcome"], failed["kind"], failed["model"]) == ("failed", "quota", "a")
    assert failed["until"] == next_daily_reset(clock()).isoformat()

    for _ in range(100):
        answer = model.invoke("again")
        assert answer.content == "answer from b"
        [skipped] = report(answer)["attempts"]
        assert (skipped["outcome"], skipped["kind"]) == ("skipped", "exhausted")
    assert len(primary.calls) == 1
    assert len(warnings_of(caplog)) == 1  # one switch, not one per skip

    clock.set(next_daily_reset(clock()))  # 00:00 UTC+8: the mark lifts
    assert model.invoke("tomorrow").content == "answer from a"
    assert len(primary.calls) == 2


def test_account_quota_blocks_every_model_of_the_account(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    big = chat("big", script=[quota_error(clock, scope="account")])
    small_same_account = chat("small")
    other_account = chat("big", token=TOKEN_B)
    model = fallback(ledger, big, small_same_account, other_account)
    assert model.invoke("hi").content == "answer from big"
    assert other_account.calls
    assert not small_same_account.calls
    assert not ledger.is_available(QuotaKey("scripted", account_fingerprint(TOKEN_A), "small"))


def test_auth_failure_cools_the_account_down(ledger: QuotaLedger, clock: FakeClock) -> None:
    refused = chat("a", script=[AuthenticationError("Authentication failed", status_code=401)])
    backup = chat("b", token=TOKEN_B)
    model = fallback(ledger, refused, backup, auth_cooldown=timedelta(minutes=10))
    for _ in range(5):
        assert model.invoke("hi").content == "answer from b"
    assert len(refused.calls) == 1
    clock.advance(minutes=10)
    assert model.invoke("hi").content == "answer from a"


def test_model_not_found_is_remembered_for_every_account(ledger: QuotaLedger) -> None:
    gone_a = chat("gone", script=[ModelNotFoundError("Invalid model id: gone", status_code=400)])
    gone_b = chat("gone", token=TOKEN_B)
    backup = chat("b")
    model = fallback(ledger, gone_a, gone_b, backup)
    assert model.invoke("hi").content == "answer from b"
    assert model.invoke("hi").content == "answer from b"
    assert (len(gone_a.calls), len(gone_b.calls)) == (1, 0)


def test_transient_failure_moves_on_for_this_call_only(ledger: QuotaLedger) -> None:
    busy = chat("a", script=[RateLimitError("We have to rate limit you", status_code=429)])
    backup = chat("b")
    model = fallback(ledger, busy, backup)
    answer = model.invoke("hi")
    assert answer.content == "answer from b"
    assert report(answer)["attempts"][0]["kind"] == "transient"
    assert report(answer)["attempts"][0]["until"] is None
    assert model.invoke("hi").content == "answer from a"  # nothing was marked
    assert ledger.entries() == []


def test_bad_request_is_raised_at_once(ledger: QuotaLedger) -> None:
    bad = BadRequestError("messages: bad role", status_code=400)
    primary, backup = chat("a", script=[bad]), chat("b")
    with pytest.raises(BadRequestError) as caught:
        fallback(ledger, primary, backup).invoke("hi")
    assert caught.value is bad
    assert not backup.calls
    assert ledger.entries() == []


def test_unknown_errors_raise_unless_asked_to_move_on(ledger: QuotaLedger) -> None:
    with pytest.raises(KeyError):
        fallback(ledger, chat("a", script=[KeyError("bug")]), chat("b")).invoke("hi")
    model = fallback(
        ledger, chat("a", script=[KeyError("bug")]), chat("b"), fallback_on_unknown_errors=True
    )
    assert model.invoke("hi").content == "answer from b"


def test_other_provider_quota_uses_its_reset_header_else_the_cooldown(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    body = {"message": "You exceeded your current quota", "code": "insufficient_quota"}
    with_header = chat("x", script=[HTTPStatusError(429, body, {"Retry-After": "90"})])
    without = chat("y", token=TOKEN_B, script=[HTTPStatusError(429, body)])
    model = fallback(
        ledger, with_header, without, chat("z", token=None), quota_cooldown=timedelta(hours=3)
    )
    answer = model.invoke("hi")
    untils = [a["until"] for a in report(answer)["attempts"]]
    assert untils == [
        (clock() + timedelta(seconds=90)).isoformat(),
        (clock() + timedelta(hours=3)).isoformat(),
    ]


def test_remaining_zero_marks_exhaustion_before_the_429(ledger: QuotaLedger) -> None:
    last_call = chat(
        "a",
        extra_metadata={"ratelimit": {"model_requests_remaining": 0, "requests_remaining": 7}},
    )
    backup = chat("b")
    model = fallback(ledger, last_call, backup)
    assert model.invoke("hi").content == "answer from a"  # the last call of the day is served
    assert model.invoke("hi").content == "answer from b"
    assert len(last_call.calls) == 1
    [entry] = ledger.entries()
    assert entry.key.model == "a"


def test_account_remaining_zero_marks_the_account(ledger: QuotaLedger) -> None:
    primary = chat("a", extra_metadata={"ratelimit": {"requests_remaining": 0}})
    same_account, other = chat("c"), chat("b", token=TOKEN_B)
    model = fallback(ledger, primary, same_account, other)
    model.invoke("hi")
    assert model.invoke("hi").content == "answer from b"
    assert not same_account.calls


def test_everything_out_raises_one_error_with_every_reason(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    model = fallback(
        ledger,
        chat("a", script=[quota_error(clock)]),
        chat("b", token=TOKEN_B, script=[RateLimitError("busy", status_code=429)] * 2),
    )
    with pytest.raises(AllCandidatesFailedError) as caught:
        model.invoke("hi")
    error = caught.value
    assert isinstance(error, ModelScopeError)
    assert [(a.outcome, a.kind) for a in error.attempts] == [
        ("failed", "quota"),
        ("failed", "transient"),
    ]
    assert error.earliest_reset == next_daily_reset(clock())
    assert "quota" in str(error)
    assert "transient" in str(error)
    assert error.earliest_reset.isoformat(timespec="minutes") in str(error)
    assert TOKEN_A not in str(error)
    assert TOKEN_B not in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.attempts, str(copy)) == (error.attempts, str(error))

    # The next call makes no request to the exhausted one; the error says when it returns.
    with pytest.raises(AllCandidatesFailedError) as again:
        model.invoke("hi")
    assert again.value.attempts[0].outcome == "skipped"


def test_one_warning_per_switch(
    ledger: QuotaLedger, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    model = fallback(
        ledger,
        chat("a", script=[quota_error(clock)]),
        chat("b", token=TOKEN_B, script=[RateLimitError("busy", status_code=429)]),
        chat("c"),
    )
    model.invoke("hi")
    messages = warnings_of(caplog)
    assert len(messages) == 2
    assert "scripted:a@" in messages[0]
    assert "to scripted:b@" in messages[0]
    assert "scripted:b@" in messages[1]
    assert "to scripted:c@" in messages[1]
    assert all(TOKEN_A not in m and TOKEN_B not in m for m in messages)


class BrokenStore(quota.InMemoryQuotaStore):
    """A store whose server is down: every operation raises."""

    def get_many(self, keys: Any) -> list[quota.QuotaEntry]:
        raise ConnectionError("redis://:secret@10.0.0.1:6379 unreachable")

    def extend(self, entry: quota.QuotaEntry) -> quota.QuotaEntry:
        raise ConnectionError("unreachable")


async def test_a_failing_ledger_store_never_stops_the_calls(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The ledger saves calls; it is not a gate: with its store down it works from memory."""
    broken = QuotaLedger(BrokenStore(), clock=clock)
    primary = chat("a", script=[quota_error(clock), quota_error(clock)], extra_metadata={})
    last = chat("b")
    model = fallback(broken, primary, last)
    caplog.set_level(logging.WARNING)
    assert model.invoke("hi").content == "answer from b"
    assert (await model.ainvoke("hi")).content == "answer from b"
    assert len(primary.calls) == 1  # remembered in process memory while the store is down
    assert caplog.text.count("working from process memory") == 1
    assert "secret" not in caplog.text


def test_default_ledger_is_shared(clock: FakeClock) -> None:
    shared = QuotaLedger(clock=clock)
    quota.set_default_ledger(shared)
    try:
        primary = chat("a", script=[quota_error(clock)])
        FallbackChatModel(candidates=[primary, chat("b")]).invoke("hi")
        # A second fallback model built separately knows it too: the ledger is the state.
        FallbackChatModel(candidates=[primary, chat("b")]).invoke("hi")
        assert len(primary.calls) == 1
    finally:
        quota.set_default_ledger(None)


def test_batch_and_async(ledger: QuotaLedger, clock: FakeClock) -> None:
    primary = chat("a", script=[quota_error(clock)])
    model = fallback(ledger, primary, chat("b"))
    answers = model.batch(["1", "2", "3"], config={"max_concurrency": 1})
    assert [a.content for a in answers] == ["answer from b"] * 3
    assert len(primary.calls) == 1


async def test_ainvoke(ledger: QuotaLedger, clock: FakeClock) -> None:
    primary = chat("a", script=[quota_error(clock)])
    model = fallback(ledger, primary, chat("b"))
    assert (await model.ainvoke("hi")).content == "answer from b"
    assert (await model.ainvoke("hi")).content == "answer from b"
    assert len(primary.calls) == 1
    answers = await model.abatch(["1", "2"])
    assert all(report(a)["attempts"][0]["outcome"] == "skipped" for a in answers)


# --- streaming --------------------------------------------------------------------------------


def test_stream_falls_back_before_the_first_content_chunk(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    primary = chat("a", script=[StreamBreakError("never", 0, quota_error(clock))])
    model = fallback(ledger, primary, chat("b"))
    chunks = list(model.stream("hi"))
    assert "".join(str(c.content) for c in chunks) == "answer from b "
    reports = [c.response_metadata["fallback"] for c in chunks if "fallback" in c.response_metadata]
    assert len(reports) == 1  # on one chunk only, so merging does not double it
    assert reports[0]["served_by"]["model"] == "b"
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert report(merged)["attempts"][0]["kind"] == "quota"


def test_stream_error_after_content_propagates_without_switching(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    cut = RateLimitError("busy", status_code=429)
    primary = chat("a", script=[StreamBreakError("one two three", 2, cut)])
    backup = chat("b")
    seen: list[str] = []

    def consume() -> None:
        for chunk in fallback(ledger, primary, backup).stream("hi"):
            seen.append(str(chunk.content))

    with pytest.raises(RateLimitError):
        consume()
    assert "".join(seen) == "one two "  # nothing lost, nothing repeated
    assert not backup.calls


def test_quota_error_mid_stream_is_still_recorded(ledger: QuotaLedger, clock: FakeClock) -> None:
    primary = chat("a", script=[StreamBreakError("one two", 1, quota_error(clock))])
    model = fallback(ledger, primary, chat("b"))
    with pytest.raises(QuotaExceededError):
        list(model.stream("hi"))
    assert model.invoke("hi").content == "answer from b"
    assert len(primary.calls) == 1


async def test_astream_falls_back_and_propagates_late_errors(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    primary = chat(
        "a",
        script=[
            StreamBreakError("x", 0, quota_error(clock)),
        ],
    )
    model = fallback(ledger, primary, chat("b"))
    text = "".join([str(c.content) async for c in model.astream("hi")])
    assert text == "answer from b "

    late = chat("c", script=[StreamBreakError("one two", 1, RateLimitError("busy"))])
    seen = []

    async def consume() -> None:
        async for chunk in fallback(ledger, late, chat("d")).astream("hi"):
            seen.append(chunk.content)

    with pytest.raises(RateLimitError):
        await consume()
    assert "".join(map(str, seen)) == "one "


async def test_stream_events_report_each_token_once(ledger: QuotaLedger, clock: FakeClock) -> None:
    """Candidates are not handed the caller's streaming handlers: no token shows twice."""
    model = fallback(ledger, chat("a", script=[quota_error(clock)]), chat("b"))
    tokens = [
        event["data"]["chunk"].content
        async for event in model.astream_events("hi", version="v2")
        if event["event"] == "on_chat_model_stream"
    ]
    assert "".join(map(str, tokens)) == "answer from b "


def test_tracers_see_each_candidate_nested_under_the_fallback_run(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

    collector = RunCollectorCallbackHandler()
    model = fallback(ledger, chat("a", script=[quota_error(clock)]), chat("b"))
    model.invoke("hi", config={"callbacks": [collector]})
    [root] = collector.traced_runs
    assert root.name == "FallbackChatModel"
    children = [(run.name, run.error is not None) for run in root.child_runs]
    assert children == [("ScriptedChat", True), ("ScriptedChat", False)]


def test_the_trace_names_the_candidate_that_served_not_candidate_0(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    """The run starts before anyone knows who serves: it says "fallback"; the answer and the
    serving candidate's nested run name the candidate (issue 15: it said candidate 0's model)."""
    from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

    collector = RunCollectorCallbackHandler()
    model = fallback(ledger, chat("a", script=[quota_error(clock)]), chat("b"))
    answer = model.invoke("hi", config={"callbacks": [collector]})
    [root] = collector.traced_runs
    assert root.extra is not None
    assert root.extra["metadata"]["ls_model_name"] == "fallback"
    served = [run for run in root.child_runs if run.error is None]
    assert [run.extra["metadata"]["ls_model_name"] for run in served if run.extra] == ["b"]
    assert answer.response_metadata["model_name"] == "b"
    assert report(answer)["served_by"]["model"] == "b"


class BareChat(ScriptedChat):
    """A candidate whose answers carry no ``model_name`` of their own."""

    def _message(self, text: str) -> AIMessage:
        return AIMessage(content=text)


def test_the_answer_names_the_served_candidate_when_it_set_no_model_name(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    primary = BareChat(model="a", script=[quota_error(clock)])
    answer = fallback(ledger, primary, BareChat(model="b")).invoke("hi")
    assert answer.response_metadata["model_name"] == "b"


# --- tools and structured output ------------------------------------------------------------


def get_weather(city: str) -> str:
    """Weather of a city."""
    return "sunny"


def test_bind_tools_binds_on_each_candidate(ledger: QuotaLedger, clock: FakeClock) -> None:
    primary, backup = chat("a", script=[quota_error(clock)]), chat("b")
    bound = fallback(ledger, primary, backup).bind_tools([get_weather], tool_choice="any")
    assert isinstance(bound, FallbackChatModel)
    bound.invoke("weather?")
    for candidate in (primary, backup):
        assert candidate.calls[-1]["tools"] == ["get_weather"]
        assert candidate.calls[-1]["tool_choice"] == "any"
    bound.invoke("weather?")  # the bound copy reads the same ledger
    assert len(primary.calls) == 1
    with pytest.raises(NotImplementedError, match="cannot bind tools"):
        fallback(ledger, chat("a"), NoToolsChat(model="n")).bind_tools([get_weather])


class StructuredChat(ScriptedChat):
    """A fake whose own ``with_structured_output`` answers a fixed dict (include_raw shape)."""

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kw: Any) -> Any:
        def run(value: Any) -> dict[str, Any]:
            raw = self.invoke(value)
            if self.model == "broken-json":
                return {"raw": raw, "parsed": None, "parsing_error": ValueError("bad json")}
            return {"raw": raw, "parsed": {"from": self.model, **kw}, "parsing_error": None}

        assert include_raw, "the fallback always asks its candidates for the raw message"
        return RunnableLambda(run)


async def test_with_structured_output_uses_each_candidates_own(
    ledger: QuotaLedger, clock: FakeClock
) -> None:
    primary = StructuredChat(model="a", script=[quota_error(clock)])
    model = fallback(ledger, primary, StructuredChat(model="b"))
    structured = model.with_structured_output({"title": "x"}, method="json_mode")
    assert structured.invoke("hi") == {"from": "b", "method": "json_mode"}
    assert await structured.ainvoke("hi") == {"from": "b", "method": "json_mode"}
    assert len(primary.calls) == 1
    raw: Any = model.with_structured_output({"title": "x"}, include_raw=True).invoke("hi")
    assert report(raw["raw"])["served_by"]["model"] == "b"
    broken = fallback(ledger, StructuredChat(model="broken-json"))
    with pytest.raises(ValueError, match="bad json"):
        broken.with_structured_output({"title": "x"}).invoke("hi")


# --- embeddings -------------------------------------------------------------------------------


def test_embeddings_fall_back_and_share_the_ledger(ledger: QuotaLedger, clock: FakeClock) -> None:
    primary = ScriptedEmbeddings(1.0, model="e", key=TOKEN_A)
    backup = ScriptedEmbeddings(2.0, model="e", key=TOKEN_B)
    primary.script = [quota_error(clock)]
    embeddings = FallbackEmbeddings(candidates=[primary, backup], ledger=ledger)
    assert embeddings.embed_documents(["x", "y"]) == [[2.0] * 3] * 2
    assert embeddings.embed_query("x") == [2.0] * 3
    assert primary.calls == 1
    assert embeddings.candidate_infos[0].provider == "scripted"
    assert not ledger.is_available(embeddings.candidate_infos[0].key)


async def test_embeddings_learn_from_last_ratelimit(ledger: QuotaLedger) -> None:
    primary = ScriptedEmbeddings(1.0, model="e", key=TOKEN_A)
    primary.last_ratelimit = {"model_requests_remaining": 0}
    backup = ScriptedEmbeddings(2.0, model="e", key=TOKEN_B)
    embeddings = FallbackEmbeddings(candidates=[primary, backup], ledger=ledger)
    assert await embeddings.aembed_query("x") == [1.0] * 3
    assert await embeddings.aembed_documents(["x"]) == [[2.0] * 3]
    assert primary.calls == 1


def test_embeddings_warn_when_models_differ(ledger: QuotaLedger) -> None:
    with pytest.warns(UserWarning, match="not comparable"):
        FallbackEmbeddings(
            candidates=[ScriptedEmbeddings(1, model="e1"), ScriptedEmbeddings(2, model="e2")],
            ledger=ledger,
        )


# --- cost -------------------------------------------------------------------------------------


def test_a_spent_primary_is_never_called_again(ledger: QuotaLedger, clock: FakeClock) -> None:
    """The hop's cost is measured by ``make bench`` (fallback benchmark), not asserted here."""
    primary, backup = chat("a", script=[quota_error(clock)]), chat("b")
    model = fallback(ledger, primary, backup)
    for _ in range(300):
        model.invoke("through the fallback")
    assert len(primary.calls) == 1
    assert len(backup.calls) == 300


def test_metadata_is_json_ready_and_token_free(ledger: QuotaLedger, clock: FakeClock) -> None:
    answer = fallback(ledger, chat("a", script=[quota_error(clock)]), chat("b")).invoke("hi")
    text = json.dumps(report(answer))
    assert TOKEN_A not in text
    assert isinstance(answer, AIMessage)
    assert not isinstance(answer, AIMessageChunk)
