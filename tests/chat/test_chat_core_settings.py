"""A model's HTTP core follows its settings, and its retries reach LangChain's callbacks.

A copy of a model (``model_copy(update=...)``, ``configurable_fields``, a fallback's candidates)
must send with its own base URL, token, retries and timeout, even after the original has
already sent a call through its own core. Each retry of a call is told to the run's callback
handlers (``on_retry``), so a LangSmith trace shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import ConfigurableField
from tenacity import RetryCallState

from langchain_modelscope import errors
from langchain_modelscope._client import ModelScopeClient
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.embeddings import ModelScopeEmbeddings
from langchain_modelscope.fallback import FallbackChatModel
from langchain_modelscope.testing import Fault, ModelScopeEmulator

MODEL = "Qwen/Qwen2.5-72B-Instruct"
CHAT = "/v1/chat/completions"
#: Refuses non-streaming calls, so `invoke` streams it.
THINKER = "Qwen/Qwen3-235B-A22B-Thinking-2507"


@pytest.fixture
def emu(modelscope_emulator: ModelScopeEmulator) -> ModelScopeEmulator:
    return modelscope_emulator


@pytest.fixture
def other() -> Iterator[ModelScopeEmulator]:
    """A second server, to tell which base URL a call went to."""
    with ModelScopeEmulator() as emulator:
        yield emulator


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ModelScopeClient, "_wait", lambda self, state: 0.0)


def chat_calls(emu: ModelScopeEmulator) -> int:
    return len(emu.requests_for(path=CHAT))


def warm(emu: ModelScopeEmulator, **kwargs: Any) -> ChatModelScope:
    """A model that has already sent one call, so its core is built (and would be cached)."""
    settings: dict[str, Any] = {
        "model": MODEL,
        "api_key": emu.token,
        "base_url": emu.base_url,
        "max_retries": 0,
    }
    llm = ChatModelScope(**{**settings, **kwargs})
    llm.invoke("hi")
    return llm


# --- copies send with their own settings -------------------------------------------------------


def test_a_copy_with_another_base_url_sends_there(
    emu: ModelScopeEmulator, other: ModelScopeEmulator
) -> None:
    other.add_account(emu.token)
    llm = warm(emu)
    copy = llm.model_copy(update={"base_url": other.base_url})
    copy.invoke("to the other server")
    assert (chat_calls(emu), chat_calls(other)) == (1, 1)
    llm.invoke("the original still sends to its own")
    assert (chat_calls(emu), chat_calls(other)) == (2, 1)


async def test_an_async_copy_with_another_base_url_sends_there(
    emu: ModelScopeEmulator, other: ModelScopeEmulator
) -> None:
    other.add_account(emu.token)
    llm = ChatModelScope(model=MODEL, api_key=emu.token, base_url=emu.base_url)
    await llm.ainvoke("hi")
    await llm.model_copy(update={"base_url": other.base_url}).ainvoke("to the other server")
    chunks = [c async for c in llm.model_copy(update={"base_url": other.base_url}).astream("s")]
    assert chunks
    assert (chat_calls(emu), chat_calls(other)) == (1, 2)


def test_a_copy_with_another_token_sends_it(emu: ModelScopeEmulator) -> None:
    second = emu.add_account()
    llm = warm(emu)
    llm.model_copy(update={"api_key": second}).invoke("as the second account")
    assert [r.token for r in emu.requests_for(path=CHAT)] == [emu.token, second]


def test_a_copy_with_more_retries_retries(emu: ModelScopeEmulator, no_backoff: None) -> None:
    llm = warm(emu)  # max_retries=0
    emu.queue_fault(Fault.server_error(503), times=2)
    llm.model_copy(update={"max_retries": 2}).invoke("retried twice")
    assert chat_calls(emu) == 1 + 3
    emu.queue_fault(Fault.server_error(503))
    with pytest.raises(errors.ServerError):
        llm.invoke("the original still does not retry")
    assert chat_calls(emu) == 4 + 1


def test_a_copy_with_a_shorter_timeout_times_out(emu: ModelScopeEmulator) -> None:
    llm = warm(emu, timeout=30.0)
    emu.queue_fault(Fault.slow_first_byte(0.5))
    with pytest.raises(errors.APITimeoutError):
        llm.model_copy(update={"timeout": 0.05}).invoke("too slow for the copy")
    emu.queue_fault(Fault.slow_first_byte(0.5))
    assert llm.invoke("slow, but within the original's timeout").content


def test_a_model_changed_in_place_sends_with_the_new_settings(
    emu: ModelScopeEmulator, other: ModelScopeEmulator
) -> None:
    other.add_account(emu.token)
    llm = warm(emu)
    llm.base_url = other.base_url
    llm.invoke("moved")
    assert (chat_calls(emu), chat_calls(other)) == (1, 1)


def test_configurable_fields_choose_the_server(
    emu: ModelScopeEmulator, other: ModelScopeEmulator
) -> None:
    other.add_account(emu.token)
    llm = warm(emu)
    configurable = llm.configurable_fields(base_url=ConfigurableField(id="base_url"))
    configurable.with_config(configurable={"base_url": other.base_url}).invoke("there")
    configurable.invoke("the default")
    assert (chat_calls(emu), chat_calls(other)) == (2, 1)


def test_fallback_candidates_copied_per_account_send_their_own_token(
    emu: ModelScopeEmulator,
) -> None:
    second = emu.add_account()
    emu.set_balance(emu.token, 0)  # the first account's points are spent
    first = warm(emu, api_key=second)
    model = FallbackChatModel(candidates=[first.model_copy(update={"api_key": emu.token}), first])
    model.invoke("falls back to the second account")
    assert [r.token for r in emu.requests_for(path=CHAT)] == [second, emu.token, second]


def test_an_embeddings_copy_sends_with_its_own_settings(
    emu: ModelScopeEmulator, other: ModelScopeEmulator
) -> None:
    other.add_account(emu.token)
    embeddings = ModelScopeEmbeddings(api_key=emu.token, base_url=emu.base_url, max_retries=0)
    embeddings.embed_query("hi")
    embeddings.model_copy(update={"base_url": other.base_url}).embed_query("there")
    path = "/v1/embeddings"
    assert (len(emu.requests_for(path=path)), len(other.requests_for(path=path))) == (1, 1)


def test_the_core_is_kept_while_the_settings_stay() -> None:
    llm = ChatModelScope(api_key="ms-token", max_retries=1)
    assert llm.client is llm.client
    assert llm.model_copy().client is llm.client
    assert llm.model_copy(update={"max_retries": 3}).client.max_retries == 3
    assert llm.client.max_retries == 1


# --- retries reach the callbacks -------------------------------------------------------------
# langchain-core's `stream()`/`astream()` (and `invoke` with `streaming=True`) give `_stream` no
# run manager (they report the tokens themselves), so the retries of those calls are logged but
# reach no callback. `invoke` of a thinking model streams under the hood with one: checked here.


class RetryRecorder(BaseCallbackHandler):
    """What each ``on_retry`` said when it came (tenacity goes on changing its state object)."""

    def __init__(self) -> None:
        self.retries: list[tuple[int, BaseException | None]] = []

    def on_retry(
        self,
        retry_state: RetryCallState,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        self.retries.append((retry_state.attempt_number, error))


def retrying_model(emu: ModelScopeEmulator, streamed: bool) -> ChatModelScope:
    """A model whose next call meets one 503; a thinking model is streamed under ``invoke``."""
    model = THINKER if streamed else MODEL
    emu.queue_fault(Fault.server_error(503))
    return ChatModelScope(model=model, api_key=emu.token, base_url=emu.base_url, max_retries=2)


def reported_one_retry(emu: ModelScopeEmulator, recorder: RetryRecorder, streamed: bool) -> None:
    assert chat_calls(emu) == 2
    assert emu.requests_for(path=CHAT)[-1].streamed is streamed
    [(attempt, error)] = recorder.retries
    assert attempt == 1
    assert isinstance(error, errors.ServerError)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_retry_is_reported_to_on_retry(
    emu: ModelScopeEmulator, no_backoff: None, streamed: bool
) -> None:
    recorder = RetryRecorder()
    llm = retrying_model(emu, streamed)
    assert llm.invoke("hi", config={"callbacks": [recorder]}).content
    reported_one_retry(emu, recorder, streamed)


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_async_retry_is_reported_to_on_retry(
    emu: ModelScopeEmulator, no_backoff: None, streamed: bool
) -> None:
    recorder = RetryRecorder()
    llm = retrying_model(emu, streamed)
    assert (await llm.ainvoke("hi", config={"callbacks": [recorder]})).content
    reported_one_retry(emu, recorder, streamed)


def test_a_first_try_that_succeeds_reports_no_retry(emu: ModelScopeEmulator) -> None:
    llm = ChatModelScope(model=MODEL, api_key=emu.token, base_url=emu.base_url)
    recorder = RetryRecorder()
    llm.invoke("hi", config={"callbacks": [recorder]})
    assert recorder.retries == []
