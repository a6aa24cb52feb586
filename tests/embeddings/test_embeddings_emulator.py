"""ModelScopeEmbeddings against the ModelScope emulator over loopback.

The emulator's request log shows what went over the wire (batches, bodies, requests in
flight). Where a test needs an exact answer (base64, a wrong count, a verbatim 429) it
scripts it with ``Fault.status``, so the assertion rests on the facts sheet, not on the
emulator's own choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from langchain_modelscope.embeddings import (
    EmbeddingInputError,
    EmbeddingResponseError,
    ModelScopeEmbeddings,
)
from langchain_modelscope.errors import (
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
    QuotaExceededError,
)
from langchain_modelscope.testing import Fault, ModelScopeEmulator
from tests.embeddings.fakes import float32_base64, texts
from tests.support import modelscope_facts as facts

MODEL = "Qwen/Qwen3-Embedding-0.6B"
PATH = "/v1/embeddings"


@pytest.fixture(autouse=True)
def _close_own_clients() -> Iterator[None]:
    yield
    while _OWN_CLIENTS:
        _OWN_CLIENTS.pop().close()


_OWN_CLIENTS: list[httpx.Client] = []


def embeddings_for(
    emulator: ModelScopeEmulator, *, on_response: Callable[[], None] | None = None, **params: Any
) -> ModelScopeEmbeddings:
    """A client of the emulator; ``on_response`` runs once, after the first answer."""
    settings: dict[str, Any] = {
        "model": MODEL,
        "base_url": emulator.base_url,
        "api_key": emulator.token,
    }
    settings.update(params)
    if on_response is not None:
        pending = [on_response]

        def hook(response: httpx.Response) -> None:
            if pending:
                pending.pop()()

        client = httpx.Client(event_hooks={"response": [hook]})
        _OWN_CLIENTS.append(client)
        settings["http_client"] = client
    return ModelScopeEmbeddings(**settings)


def sent_inputs(emulator: ModelScopeEmulator) -> list[list[str]]:
    return [request.body["input"] for request in emulator.requests_for(path=PATH)]


def test_batches_keep_order_and_always_ask_for_floats(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    items = texts(10)
    embeddings = embeddings_for(modelscope_emulator, batch_size=3)
    vectors = embeddings.embed_documents(items)
    assert sent_inputs(modelscope_emulator) == [items[0:3], items[3:6], items[6:9], items[9:10]]
    for request in modelscope_emulator.requests_for(path=PATH):
        assert request.body["encoding_format"] == "float"
        assert "dimensions" not in request.body
        assert request.body["model"] == MODEL
    # each vector is the one its text gets when embedded alone
    assert vectors == [embeddings.embed_query(t) for t in items]


async def test_async_batches_keep_order(modelscope_emulator: ModelScopeEmulator) -> None:
    items = texts(10)
    embeddings = embeddings_for(modelscope_emulator, batch_size=4, max_concurrency=3)
    vectors = await embeddings.aembed_documents(items)
    assert sorted(sent_inputs(modelscope_emulator)) == sorted([items[0:4], items[4:8], items[8:]])
    assert vectors == [await embeddings.aembed_query(t) for t in items]


def test_empty_input_sends_nothing(modelscope_emulator: ModelScopeEmulator) -> None:
    assert embeddings_for(modelscope_emulator).embed_documents([]) == []
    assert modelscope_emulator.requests == []


def test_dimensions_are_sent_when_set(modelscope_emulator: ModelScopeEmulator) -> None:
    vectors = embeddings_for(modelscope_emulator, dimensions=256).embed_documents(["a", "b"])
    (request,) = modelscope_emulator.requests_for(path=PATH)
    assert request.body["dimensions"] == 256
    assert request.body["encoding_format"] == "float"
    assert {len(v) for v in vectors} == {256}


def test_a_host_that_ignores_dimensions_gives_an_error(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    modelscope_emulator.config.honour_dimensions = False  # [unknown] in the facts sheet
    with pytest.raises(EmbeddingResponseError, match="256 dimensions were asked for but 1024"):
        embeddings_for(modelscope_emulator, dimensions=256).embed_query("a")


@pytest.mark.parametrize("limit", [1, 3])
async def test_requests_in_flight_are_bounded_by_max_concurrency(
    modelscope_emulator: ModelScopeEmulator, limit: int
) -> None:
    modelscope_emulator.config.response_delay = 0.05  # so that requests overlap
    embeddings = embeddings_for(modelscope_emulator, batch_size=1, max_concurrency=limit)
    await embeddings.aembed_documents(texts(2 * limit + 1))
    log = modelscope_emulator.requests_for(path=PATH)
    assert len(log) == 2 * limit + 1
    assert modelscope_emulator.max_in_flight(MODEL) == limit
    assert max(request.concurrency for request in log) == limit


def test_a_spent_model_quota_is_typed_and_names_the_batch(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    token = modelscope_emulator.add_account(model_daily_limit=2)
    embeddings = embeddings_for(modelscope_emulator, api_key=token, batch_size=2, max_retries=2)
    with pytest.raises(QuotaExceededError) as caught:
        embeddings.embed_documents(texts(8))
    assert caught.value.scope == "model"
    assert caught.value.batch_index == 2  # type: ignore[attr-defined]
    assert caught.value.batch_range == range(4, 6)  # type: ignore[attr-defined]
    assert "embedding batch 3 of 4 (texts 4-5)" in str(caught.value)
    assert len(modelscope_emulator.requests_for(path=PATH)) == 3  # a quota 429 is not retried


def test_a_verbatim_quota_429_on_batch_two(modelscope_emulator: ModelScopeEmulator) -> None:
    body = facts.errors_envelope(facts.QUOTA_DAILY.replace(facts.MODEL, MODEL))
    embeddings = embeddings_for(
        modelscope_emulator,
        batch_size=2,
        on_response=lambda: modelscope_emulator.queue_fault(Fault.status(429, body)),
    )
    with pytest.raises(QuotaExceededError) as caught:
        embeddings.embed_documents(texts(6))
    assert caught.value.request_id == facts.REQUEST_ID
    assert caught.value.batch_range == range(2, 4)  # type: ignore[attr-defined]
    assert sent_inputs(modelscope_emulator) == [texts(6)[0:2], texts(6)[2:4]]


def test_a_wrong_token_is_an_authentication_error(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    embeddings = embeddings_for(
        modelscope_emulator, api_key="ms-00000000-0000-4000-8000-00000000dead"
    )
    with pytest.raises(AuthenticationError):
        embeddings.embed_query("a")
    assert len(modelscope_emulator.requests_for(path=PATH)) == 1


@pytest.mark.parametrize(
    ("state", "expected", "advice"),
    [("unbound", AuthenticationError, "Bind"), ("unverified", PermissionDeniedError, "verify")],
)
def test_account_problems_are_typed_with_advice(
    modelscope_emulator: ModelScopeEmulator,
    state: str,
    expected: type[Exception],
    advice: str,
) -> None:
    token = modelscope_emulator.add_account(state=state)  # type: ignore[arg-type]
    with pytest.raises(expected, match=advice):
        embeddings_for(modelscope_emulator, api_key=token).embed_query("a")


def test_base64_answers_are_decoded(modelscope_emulator: ModelScopeEmulator) -> None:
    first, second = [0.5, -0.25, 2.0], [-1.0, 0.125, 4.0]
    answer = {
        "object": "list",
        "model": MODEL,
        "data": [
            {"object": "embedding", "index": 1, "embedding": float32_base64(second)},
            {"object": "embedding", "index": 0, "embedding": float32_base64(first)},
        ],
    }
    modelscope_emulator.queue_fault(Fault.status(200, answer))
    assert embeddings_for(modelscope_emulator).embed_documents(["x", "y"]) == [first, second]


def test_a_wrong_number_of_vectors_is_an_error(modelscope_emulator: ModelScopeEmulator) -> None:
    answer = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(2)],
    }
    modelscope_emulator.queue_fault(Fault.status(200, answer))
    with pytest.raises(EmbeddingResponseError, match="3 texts were sent but 2 vectors"):
        embeddings_for(modelscope_emulator).embed_documents(["x", "y", "z"])


def test_a_transient_5xx_on_batch_two_is_retried_alone(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    items = texts(6)
    embeddings = embeddings_for(
        modelscope_emulator,
        batch_size=2,
        on_response=lambda: modelscope_emulator.queue_fault(Fault.server_error(503)),
    )
    vectors = embeddings.embed_documents(items)
    assert len(vectors) == 6
    log = modelscope_emulator.requests_for(path=PATH)
    assert [r.body["input"] for r in log] == [items[0:2], items[2:4], items[2:4], items[4:6]]
    # the fault is marked when the request arrives (its status only once the answer is out)
    assert [r.fault for r in log] == [None, "status", None, None]


def test_a_too_long_text_is_named(modelscope_emulator: ModelScopeEmulator) -> None:
    modelscope_emulator.config.max_embedding_words = 20
    items = texts(7)
    items[4] = "word " * 30
    with pytest.raises(EmbeddingInputError) as caught:
        embeddings_for(modelscope_emulator, batch_size=3).embed_documents(items)
    assert caught.value.index == 4
    assert caught.value.batch_range == range(3, 6)  # type: ignore[attr-defined]


def test_a_host_without_embeddings_is_a_bad_request_blaming_no_text(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    modelscope_emulator.config.embeddings_enabled = False
    with pytest.raises(BadRequestError) as caught:
        embeddings_for(modelscope_emulator).embed_documents(["a", "bb"])
    assert not isinstance(caught.value, EmbeddingInputError)


def test_ratelimit_headers_of_the_last_answer(modelscope_emulator: ModelScopeEmulator) -> None:
    embeddings = embeddings_for(modelscope_emulator, batch_size=1)
    embeddings.embed_documents(texts(3))
    info = embeddings.last_ratelimit
    assert info is not None
    assert info.model_requests_limit is not None
    assert info.model_requests_remaining == info.model_requests_limit - 3


def test_base64_can_be_asked_for_and_gives_the_same_vectors(
    modelscope_emulator: ModelScopeEmulator,
) -> None:
    texts = ["quota resets at midnight", "qwen answers questions"]
    as_floats = embeddings_for(modelscope_emulator).embed_documents(texts)
    as_base64 = embeddings_for(modelscope_emulator, encoding_format="base64").embed_documents(texts)
    sent = [r.body["encoding_format"] for r in modelscope_emulator.requests_for(path=PATH)]
    assert sent == ["float", "base64"]
    for a, b in zip(as_floats, as_base64, strict=True):
        assert a == pytest.approx(b, abs=1e-6)
