"""ModelScopeEmbeddings against exact, hand-written answers (httpx.MockTransport, no sockets).

Each answer is built from the facts sheet (OpenAI embeddings shape, ModelScope's verbatim error
bodies), so these tests pin the client's behaviour independently of the emulator.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
import types
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from langchain_modelscope._client import RateLimitInfo
from langchain_modelscope.embeddings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EMBEDDING_MODEL,
    EmbeddingInputError,
    EmbeddingResponseError,
    ModelScopeEmbeddings,
)
from langchain_modelscope.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    MissingAPIKeyError,
    ModelNotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)
from tests.embeddings.fakes import (
    BASE_URL,
    MODEL,
    TOKEN,
    Call,
    FakeService,
    embeddings_answer,
    error_answer,
    float32_base64,
    texts,
    vector_for,
)
from tests.support import modelscope_facts as facts

pytestmark = pytest.mark.disable_socket

QUOTA_DAILY = facts.QUOTA_DAILY.replace(facts.MODEL, MODEL)


def batch_starting_with(text: str, response: httpx.Response) -> Any:
    """A responder that answers ``response`` to the batch whose first text is ``text``."""
    return lambda call: response if call.texts[0] == text else None


# --- construction ---------------------------------------------------------------------------------


def test_defaults_are_documented_choices() -> None:
    embeddings = ModelScopeEmbeddings(api_key=TOKEN)
    assert embeddings.model == DEFAULT_EMBEDDING_MODEL == "Qwen/Qwen3-Embedding-8B"
    assert embeddings.batch_size == DEFAULT_BATCH_SIZE
    assert embeddings.base_url == "https://api-inference.modelscope.cn/v1"
    assert embeddings.dimensions is None
    assert embeddings.show_progress is False


def test_model_name_alias_and_api_base_alias() -> None:
    embeddings = ModelScopeEmbeddings(
        model_name="BAAI/bge-large-zh-v1.5", api_base=BASE_URL + "/", api_key=TOKEN
    )
    assert embeddings.model == "BAAI/bge-large-zh-v1.5"
    assert embeddings.base_url == BASE_URL


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": 0},
        {"batch_size": -3},
        {"max_concurrency": 0},
        {"dimensions": 0},
        {"max_retries": -1},
        {"base_url": "api-inference.modelscope.cn/v1"},
        {"unknown_option": 1},
    ],
)
def test_invalid_settings_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ModelScopeEmbeddings(api_key=TOKEN, **params)


def test_missing_token_fails_at_construction_with_the_typed_error(fake: FakeService) -> None:
    with pytest.raises(MissingAPIKeyError, match="MODELSCOPE_API_KEY"):
        ModelScopeEmbeddings()
    assert fake.calls == []


def test_token_env_vars_are_read_in_the_documented_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_ACCESS_TOKEN", "ms-access")
    monkeypatch.setenv("MODELSCOPE_SDK_TOKEN", "ms-sdk")
    assert ModelScopeEmbeddings().api_key == SecretStr("ms-sdk")
    monkeypatch.setenv("MODELSCOPE_API_KEY", "ms-key")
    assert ModelScopeEmbeddings().api_key == SecretStr("ms-key")
    assert ModelScopeEmbeddings(api_key="ms-arg").api_key == SecretStr("ms-arg")


def test_token_never_shows(fake: FakeService) -> None:
    embeddings = fake.embeddings(default_headers={"X-Trace": "1"})
    for text in (repr(embeddings), str(embeddings), embeddings.model_dump_json()):
        assert TOKEN not in text
    assert embeddings.lc_secrets == {"api_key": "MODELSCOPE_API_KEY"}
    fake.responder = lambda call: error_answer(401, facts.errors_envelope(facts.AUTH_FAILED))
    with pytest.raises(AuthenticationError) as caught:
        embeddings.embed_query("hello")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


# --- the request ----------------------------------------------------------------------------------


def test_request_shape_without_dimensions(fake: FakeService) -> None:
    fake.embeddings(timeout=7).embed_documents(["alpha", "beta"])
    (call,) = fake.calls
    assert call.url == BASE_URL + "/embeddings"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.body == {"model": MODEL, "input": ["alpha", "beta"], "encoding_format": "float"}
    assert call.timeout["read"] == 7.0


async def test_dimensions_are_sent_only_when_set(fake: FakeService) -> None:
    fake.responder = lambda call: embeddings_answer([(0, [0.5, 0.25])])
    assert await fake.embeddings(dimensions=2).aembed_query("alpha") == [0.5, 0.25]
    assert fake.calls[0].body["dimensions"] == 2
    assert fake.calls[0].body["encoding_format"] == "float"


def test_default_headers_are_sent_and_cannot_replace_the_token(fake: FakeService) -> None:
    headers = {"X-Trace": "abc", "Authorization": "Bearer not-the-token"}
    fake.embeddings(default_headers=headers).embed_query("alpha")
    assert fake.calls[0].headers["x-trace"] == "abc"
    assert fake.calls[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_empty_list_makes_no_request(fake: FakeService) -> None:
    assert fake.embeddings().embed_documents([]) == []
    assert fake.calls == []


async def test_empty_list_makes_no_request_async(fake: FakeService) -> None:
    assert await fake.embeddings().aembed_documents([]) == []
    assert fake.calls == []


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_texts_are_refused_before_any_call_naming_the_index(
    fake: FakeService, bad: str
) -> None:
    batch = [*texts(5), bad, "last"]
    with pytest.raises(EmbeddingInputError, match="text 5 is empty") as caught:
        fake.embeddings(batch_size=2).embed_documents(batch)
    assert caught.value.index == 5
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, BadRequestError)
    assert fake.calls == []


async def test_empty_query_is_refused_async(fake: FakeService) -> None:
    with pytest.raises(EmbeddingInputError) as caught:
        await fake.embeddings().aembed_query("")
    assert caught.value.index == 0
    assert fake.calls == []


def test_non_text_items_are_refused(fake: FakeService) -> None:
    with pytest.raises(EmbeddingInputError, match="text 1 is a NoneType") as caught:
        fake.embeddings().embed_documents(["fine", None])  # type: ignore[list-item]
    assert caught.value.index == 1
    assert fake.calls == []


# --- batching and order ---------------------------------------------------------------------------


def test_batches_do_not_need_to_divide_the_input_and_order_holds(fake: FakeService) -> None:
    items = texts(11)
    vectors = fake.embeddings(batch_size=4).embed_documents(items)
    assert fake.inputs == [items[0:4], items[4:8], items[8:11]]
    assert vectors == [vector_for(t) for t in items]


async def test_async_order_holds_when_later_batches_answer_first(fake: FakeService) -> None:
    items = texts(10)
    order = {items[i]: n for n, i in enumerate(range(0, 10, 3))}
    fake.delay = lambda call: 0.04 * (len(order) - order[call.texts[0]])
    vectors = await fake.embeddings(batch_size=3, max_concurrency=4).aembed_documents(items)
    assert fake.max_in_flight == 4
    assert vectors == [vector_for(t) for t in items]
    assert [call.texts[0] for call in fake.completed] == [items[9], items[6], items[3], items[0]]


def test_embed_query_is_one_request_of_one_text(fake: FakeService) -> None:
    assert fake.embeddings().embed_query("alpha") == vector_for("alpha")
    assert fake.inputs == [["alpha"]]


def test_texts_are_sent_untouched(fake: FakeService) -> None:
    odd = ["  leading and trailing  ", "中文 文本", "line\nbreak", "emoji 🙂"]
    fake.embeddings().embed_documents(odd)
    assert fake.inputs == [odd]


# --- concurrency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
async def test_requests_in_flight_never_exceed_max_concurrency(
    fake: FakeService, limit: int
) -> None:
    fake.delay = lambda call: 0.02
    items = texts(12)
    vectors = await fake.embeddings(batch_size=1, max_concurrency=limit).aembed_documents(items)
    assert vectors == [vector_for(t) for t in items]
    assert len(fake.calls) == 12
    assert fake.max_in_flight == limit


async def test_the_bound_holds_across_concurrent_calls_of_one_instance(fake: FakeService) -> None:
    fake.delay = lambda call: 0.02
    embeddings = fake.embeddings(batch_size=1, max_concurrency=2)
    first, second = await asyncio.gather(
        embeddings.aembed_documents(texts(6, "one")),
        embeddings.aembed_documents(texts(6, "two")),
    )
    assert first == [vector_for(t) for t in texts(6, "one")]
    assert second == [vector_for(t) for t in texts(6, "two")]
    assert fake.max_in_flight == 2


async def test_a_failed_batch_stops_the_batches_not_yet_sent(fake: FakeService) -> None:
    items = texts(8)
    quota = error_answer(429, facts.errors_envelope(QUOTA_DAILY))
    fake.responder = batch_starting_with(items[2], quota)
    with pytest.raises(QuotaExceededError) as caught:
        await fake.embeddings(batch_size=2, max_concurrency=1).aembed_documents(items)
    assert caught.value.batch_index == 1  # type: ignore[attr-defined]
    assert fake.inputs == [items[0:2], items[2:4]]


# --- answers --------------------------------------------------------------------------------------


def test_base64_answers_are_decoded_as_little_endian_float32(fake: FakeService) -> None:
    first, second = [0.5, -1.25, 3.0], [1e-3, 2.0**-20, -7.5]
    fake.responder = lambda call: embeddings_answer(
        [(1, float32_base64(second)), (0, float32_base64(first))]
    )
    vectors = fake.embeddings().embed_documents(["a b", "c d"])
    assert vectors[0] == first
    assert vectors[1] == pytest.approx(second, rel=1e-6)
    assert all(type(x) is float for v in vectors for x in v)


async def test_base64_answers_are_decoded_async(fake: FakeService) -> None:
    fake.responder = lambda call: embeddings_answer([(0, float32_base64([0.25, -0.5]))])
    assert await fake.embeddings().aembed_query("x") == [0.25, -0.5]


def test_integer_components_come_back_as_floats(fake: FakeService) -> None:
    fake.responder = lambda call: embeddings_answer([(0, [0, 1, -2])])
    vector = fake.embeddings().embed_query("x")
    assert vector == [0.0, 1.0, -2.0]
    assert all(type(x) is float for x in vector)


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([(0, [1.0, 2.0])], "3 texts were sent but 1 vectors came back"),
        ([(i, [1.0, 2.0]) for i in range(4)], "3 texts were sent but 4 vectors came back"),
        ([(0, [1.0]), (1, [1.0]), (1, [1.0])], "index 1"),
        ([(0, [1.0]), (1, [1.0]), (3, [1.0])], "index 3"),
        ([(0, [1.0]), (1, [1.0]), (None, [1.0])], "index None"),
        ([(0, [1.0]), (1, [1.0]), ("2", [1.0])], "index '2'"),
        ([(0, [1.0]), (1, [1.0]), (True, [1.0])], "index True"),
        ([(0, [1.0, 2.0]), (1, [1.0, 2.0]), (2, [1.0])], "mixed dimensions"),
        ([(0, [1.0]), (1, [1.0]), (2, None)], "index 2 is unusable"),
        ([(0, [1.0]), (1, [1.0]), (2, [])], "index 2 is unusable"),
        ([(0, [1.0]), (1, [1.0]), (2, ["x"])], "index 2 is unusable"),
        ([(0, [1.0]), (1, [1.0]), (2, "not base64!")], "index 2 is unusable"),
        ([(0, [1.0]), (1, [1.0]), (2, "AAAAAAA=")], "index 2 is unusable"),
    ],
)
def test_answers_that_do_not_match_the_texts_are_errors(
    fake: FakeService, items: list[tuple[Any, Any]], problem: str
) -> None:
    fake.responder = lambda call: embeddings_answer(items)
    with pytest.raises(EmbeddingResponseError, match=problem) as caught:
        fake.embeddings().embed_documents(["a", "b", "c"])
    assert isinstance(caught.value, ResponseDecodeError)
    assert caught.value.batch_range == range(0, 3)  # type: ignore[attr-defined]
    assert len(fake.calls) == 1  # a malformed answer is not retried


async def test_a_wrong_vector_count_is_an_error_async(fake: FakeService) -> None:
    fake.responder = lambda call: embeddings_answer([(0, [1.0]), (1, [1.0])])
    with pytest.raises(EmbeddingResponseError, match="3 texts were sent but 2 vectors"):
        await fake.embeddings().aembed_documents(["a", "b", "c"])


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list"},
        {"data": None},
        ["not", "an", "object"],
        {"errors": {"message": "Embeddings are broken today", "request_id": "r-1"}},
    ],
)
def test_an_answer_without_data_is_an_error(fake: FakeService, body: Any) -> None:
    fake.responder = lambda call: httpx.Response(200, json=body)
    with pytest.raises(EmbeddingResponseError, match="no 'data' list") as caught:
        fake.embeddings().embed_query("x")
    if isinstance(body, dict) and "errors" in body:
        assert "Embeddings are broken today" in str(caught.value)


def test_a_body_that_is_not_json_is_a_decode_error(fake: FakeService) -> None:
    fake.responder = lambda call: httpx.Response(200, content=b'{"data": [')
    with pytest.raises(ResponseDecodeError):
        fake.embeddings().embed_query("x")


def test_mixed_dimensions_across_batches_are_an_error(fake: FakeService) -> None:
    def answer(call: Call) -> httpx.Response | None:
        size = 2 if call.number == 1 else 3
        return embeddings_answer([(i, [1.0] * size) for i in range(len(call.texts))])

    fake.responder = answer
    with pytest.raises(EmbeddingResponseError, match="across batches") as caught:
        fake.embeddings(batch_size=2).embed_documents(texts(5))
    assert caught.value.batch_index == 1  # type: ignore[attr-defined]
    assert len(fake.calls) == 2  # the job stops at the first disagreeing batch


async def test_mixed_dimensions_across_batches_are_an_error_async(fake: FakeService) -> None:
    def answer(call: Call) -> httpx.Response | None:
        size = 3 if call.texts[0] == texts(5)[4] else 2
        return embeddings_answer([(i, [1.0] * size) for i in range(len(call.texts))])

    fake.responder = answer
    with pytest.raises(EmbeddingResponseError, match="across batches") as caught:
        await fake.embeddings(batch_size=2).aembed_documents(texts(5))
    assert caught.value.batch_range == range(4, 5)  # type: ignore[attr-defined]


def test_an_ignored_dimensions_parameter_is_an_error_not_a_surprise(fake: FakeService) -> None:
    fake.responder = lambda call: embeddings_answer([(0, [0.1] * 8)])
    with pytest.raises(EmbeddingResponseError, match="4 dimensions were asked for but 8"):
        fake.embeddings(dimensions=4).embed_query("x")


# --- errors, typed and placed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, facts.errors_envelope(QUOTA_DAILY), QuotaExceededError),
        (
            429,
            facts.error_envelope(facts.INSUFFICIENT_QUOTA, "insufficient_quota"),
            QuotaExceededError,
        ),
        (401, facts.errors_envelope(facts.AUTH_FAILED), AuthenticationError),
        (401, facts.errors_envelope(facts.UNBOUND), AuthenticationError),
        (403, facts.errors_envelope(facts.UNVERIFIED), PermissionDeniedError),
        (400, facts.errors_envelope(f"Invalid model id: {MODEL}"), ModelNotFoundError),
    ],
)
def test_service_errors_are_typed_and_not_retried(
    fake: FakeService, status: int, body: Any, expected: type[APIError]
) -> None:
    fake.responder = lambda call: error_answer(status, body)
    with pytest.raises(expected) as caught:
        fake.embeddings(max_retries=3).embed_documents(["a", "b"])
    assert caught.value.status_code == status
    assert caught.value.request_id == facts.REQUEST_ID
    assert caught.value.model == MODEL
    assert len(fake.calls) == 1


def test_quota_scopes_follow_the_message(fake: FakeService) -> None:
    fake.responder = lambda call: error_answer(429, facts.errors_envelope(QUOTA_DAILY))
    with pytest.raises(QuotaExceededError) as daily:
        fake.embeddings().embed_query("x")
    assert daily.value.scope == "model"
    fake.responder = lambda call: error_answer(
        429, facts.error_envelope(facts.INSUFFICIENT_QUOTA, "insufficient_quota")
    )
    with pytest.raises(QuotaExceededError) as account:
        fake.embeddings().embed_query("x")
    assert account.value.scope == "account"


def test_a_quota_error_in_batch_two_names_the_batch_and_keeps_its_type(fake: FakeService) -> None:
    items = texts(10)
    fake.responder = batch_starting_with(
        items[3], error_answer(429, facts.errors_envelope(QUOTA_DAILY))
    )
    with pytest.raises(QuotaExceededError) as caught:
        fake.embeddings(batch_size=3).embed_documents(items)
    error = caught.value
    assert error.batch_index == 1  # type: ignore[attr-defined]
    assert error.batch_count == 4  # type: ignore[attr-defined]
    assert error.batch_range == range(3, 6)  # type: ignore[attr-defined]
    assert "embedding batch 2 of 4 (texts 3-5)" in str(error)
    assert QUOTA_DAILY in str(error)
    assert error.scope == "model"
    # batches after the failed one are not sent
    assert fake.inputs == [items[0:3], items[3:6]]


def test_a_batch_error_survives_pickling_with_its_place(fake: FakeService) -> None:
    fake.responder = lambda call: error_answer(429, facts.errors_envelope(QUOTA_DAILY))
    with pytest.raises(QuotaExceededError) as caught:
        fake.embeddings().embed_documents(["a"])
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, QuotaExceededError)
    assert copy.batch_range == range(0, 1)  # type: ignore[attr-defined]
    assert "embedding batch 1 of 1" in repr(copy.args)


def test_a_transient_5xx_is_retried_for_that_batch_alone(fake: FakeService) -> None:
    items = texts(9)
    failures = {"left": 1}

    def flaky(call: Call) -> httpx.Response | None:
        if call.texts[0] == items[3] and failures["left"]:
            failures["left"] -= 1
            return error_answer(503, facts.errors_envelope("Service Unavailable"))
        return None

    fake.responder = flaky
    vectors = fake.embeddings(batch_size=3, max_retries=2).embed_documents(items)
    assert vectors == [vector_for(t) for t in items]
    assert fake.inputs == [items[0:3], items[3:6], items[3:6], items[6:9]]


async def test_a_transient_5xx_is_retried_for_that_batch_alone_async(fake: FakeService) -> None:
    items = texts(9)
    failures = {"left": 1}

    def flaky(call: Call) -> httpx.Response | None:
        if call.texts[0] == items[3] and failures["left"]:
            failures["left"] -= 1
            return error_answer(502, None)
        return None

    fake.responder = flaky
    vectors = await fake.embeddings(batch_size=3).aembed_documents(items)
    assert vectors == [vector_for(t) for t in items]
    sent = [batch[0] for batch in fake.inputs]
    assert sorted(sent.count(items[i]) for i in (0, 3, 6)) == [1, 1, 2]
    assert sent.count(items[3]) == 2


def test_retries_end_with_a_typed_error_naming_the_batch(fake: FakeService) -> None:
    items = texts(6)
    fake.responder = batch_starting_with(items[3], error_answer(500, None))
    with pytest.raises(ServerError) as caught:
        fake.embeddings(batch_size=3, max_retries=2).embed_documents(items)
    assert caught.value.batch_index == 1  # type: ignore[attr-defined]
    assert "embedding batch 2 of 2 (texts 3-5)" in str(caught.value)
    assert fake.inputs == [items[0:3]] + [items[3:6]] * 3


def test_a_passing_rate_limit_is_retried(fake: FakeService) -> None:
    answers = iter([error_answer(429, facts.errors_envelope(facts.RATE_LIMITED))])
    fake.responder = lambda call: next(answers, None)
    assert fake.embeddings().embed_query("x") == vector_for("x")
    assert len(fake.calls) == 2


def test_rate_limit_errors_stay_rate_limit_errors_after_retries(fake: FakeService) -> None:
    fake.responder = lambda call: error_answer(429, facts.errors_envelope(facts.RATE_LIMITED))
    with pytest.raises(RateLimitError) as caught:
        fake.embeddings(max_retries=1).embed_query("x")
    assert caught.value.batch_index == 0  # type: ignore[attr-defined]
    assert len(fake.calls) == 2


def test_connection_errors_are_typed_and_placed(fake: FakeService) -> None:
    def broken(call: Call) -> httpx.Response:
        raise httpx.ConnectError("refused")

    fake.responder = broken
    with pytest.raises(APIError) as caught:
        fake.embeddings(max_retries=0).embed_documents(["a", "b"])
    assert type(caught.value).__name__ == "APIConnectionError"
    assert caught.value.batch_range == range(0, 2)  # type: ignore[attr-defined]


# --- too-long texts: the service decides, the error names the text --------------------------------


def too_long_service(limit: int) -> Any:
    """A service that rejects any request holding a text over ``limit`` characters, with a
    message that names no index (as vLLM's and DashScope's do)."""
    message = f"Range of input length should be [1, {limit}]"

    def answer(call: Call) -> httpx.Response | None:
        if any(len(t) > limit for t in call.texts):
            return error_answer(400, facts.error_envelope(message, "invalid_parameter_error"))
        return None

    return answer


def test_a_too_long_text_is_named_by_its_index(fake: FakeService) -> None:
    items = texts(9)
    items[5] = "long " * 40
    fake.responder = too_long_service(100)
    with pytest.raises(EmbeddingInputError, match="text 5 cannot be embedded") as caught:
        fake.embeddings(batch_size=4).embed_documents(items)
    error = caught.value
    assert error.index == 5
    assert error.status_code == 400
    assert error.batch_range == range(4, 8)  # type: ignore[attr-defined]
    assert isinstance(error, BadRequestError)
    # the batch, then the suspect alone, then the shortest text alone as a control
    assert fake.inputs[1:] == [items[4:8], [items[5]], [min(items[4:8], key=len)]]


async def test_a_too_long_text_is_named_by_its_index_async(fake: FakeService) -> None:
    items = texts(6)
    items[1] = "long " * 40
    fake.responder = too_long_service(100)
    with pytest.raises(EmbeddingInputError) as caught:
        await fake.embeddings(batch_size=3, max_concurrency=1).aembed_documents(items)
    assert caught.value.index == 1


def test_a_too_long_single_text_names_its_batch(fake: FakeService) -> None:
    fake.responder = too_long_service(10)
    with pytest.raises(BadRequestError, match=r"text 0\)") as caught:
        fake.embeddings().embed_query("much longer than ten characters")
    assert caught.value.batch_range == range(0, 1)  # type: ignore[attr-defined]
    assert len(fake.calls) == 1


def test_a_request_wide_400_blames_no_text(fake: FakeService) -> None:
    fake.responder = lambda call: error_answer(
        400, facts.error_envelope(facts.ENCODING_FORMAT_400, "invalid_parameter_error")
    )
    with pytest.raises(BadRequestError) as caught:
        fake.embeddings().embed_documents(["short", "a much longer text"])
    assert not isinstance(caught.value, EmbeddingInputError)
    assert len(fake.calls) == 3  # the batch, the longest alone, the shortest alone


def test_a_cap_on_inputs_per_call_points_at_batch_size(fake: FakeService) -> None:
    message = "batch size is invalid, it should not be larger than 2"

    def capped(call: Call) -> httpx.Response | None:
        if len(call.texts) > 2:
            return error_answer(400, facts.error_envelope(message, "invalid_parameter_error"))
        return None

    fake.responder = capped
    with pytest.raises(BadRequestError, match="lower batch_size \\(now 3\\)") as caught:
        fake.embeddings(batch_size=3).embed_documents(texts(3))
    assert not isinstance(caught.value, EmbeddingInputError)
    assert len(fake.calls) == 2  # the longest alone passed: no text is to blame


def test_a_probe_that_meets_another_error_leaves_the_batch_error(fake: FakeService) -> None:
    rejected = error_answer(400, facts.error_envelope("input rejected", "invalid_parameter_error"))
    quota = error_answer(429, facts.errors_envelope(QUOTA_DAILY))
    fake.responder = lambda call: rejected if call.number == 1 else quota
    with pytest.raises(BadRequestError, match="input rejected") as caught:
        fake.embeddings().embed_documents(["short", "a much longer text"])
    assert not isinstance(caught.value, EmbeddingInputError)
    assert len(fake.calls) == 2


# --- rate-limit headers ---------------------------------------------------------------------------


def test_the_last_ratelimit_headers_are_kept(fake: FakeService) -> None:
    embeddings = fake.embeddings(batch_size=1)
    assert embeddings.last_ratelimit is None
    fake.headers = dict(facts.RATELIMIT_HEADERS)
    embeddings.embed_documents(["a"])
    assert embeddings.last_ratelimit == RateLimitInfo(
        requests_limit=2000,
        requests_remaining=1999,
        model_requests_limit=500,
        model_requests_remaining=0,
    )
    fake.headers = {"modelscope-ratelimit-requests-remaining": "1500"}
    embeddings.embed_documents(["b"])
    assert embeddings.last_ratelimit == RateLimitInfo(requests_remaining=1500)
    fake.headers = {}
    embeddings.embed_documents(["c"])  # an answer without the headers keeps what was known
    assert embeddings.last_ratelimit == RateLimitInfo(requests_remaining=1500)


# --- progress bar ---------------------------------------------------------------------------------


class _FakeBar:
    bars: list[_FakeBar] = []  # noqa: RUF012

    def __init__(self, *, total: int, **kwargs: Any) -> None:
        self.total = total
        self.done = 0
        self.closed = False
        _FakeBar.bars.append(self)

    def update(self, n: int) -> None:
        self.done += n

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch: pytest.MonkeyPatch) -> type[_FakeBar]:
    package = types.ModuleType("tqdm")
    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = _FakeBar  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm", package)
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    _FakeBar.bars = []
    return _FakeBar


def test_show_progress_without_tqdm_is_a_clear_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="pip install tqdm"):
        ModelScopeEmbeddings(api_key=TOKEN, show_progress=True)


def test_progress_bar_counts_every_text(fake: FakeService, fake_tqdm: type[_FakeBar]) -> None:
    embeddings = fake.embeddings(batch_size=4, show_progress=True)
    embeddings.embed_documents(texts(10))
    (bar,) = fake_tqdm.bars
    assert (bar.total, bar.done, bar.closed) == (10, 10, True)
    embeddings.embed_query("no bar for one query")
    assert len(fake_tqdm.bars) == 1


async def test_progress_bar_counts_every_text_async(
    fake: FakeService, fake_tqdm: type[_FakeBar]
) -> None:
    await fake.embeddings(batch_size=4, show_progress=True).aembed_documents(texts(10))
    (bar,) = fake_tqdm.bars
    assert (bar.total, bar.done, bar.closed) == (10, 10, True)


def test_progress_bar_is_closed_on_failure(fake: FakeService, fake_tqdm: type[_FakeBar]) -> None:
    fake.responder = lambda call: error_answer(500, None)
    with pytest.raises(ServerError):
        fake.embeddings(show_progress=True, max_retries=0).embed_documents(["a", "b"])
    assert fake_tqdm.bars[0].closed


def test_no_progress_bar_by_default(fake: FakeService, fake_tqdm: type[_FakeBar]) -> None:
    fake.embeddings().embed_documents(texts(3))
    assert fake_tqdm.bars == []


# --- configuration changes are honoured -----------------------------------------------------------


def test_a_copy_with_other_settings_uses_them(fake: FakeService) -> None:
    embeddings = fake.embeddings()
    other = embeddings.model_copy(update={"base_url": "http://127.0.0.1:9/v1", "batch_size": 1})
    other.embed_documents(["a", "b"])
    assert [call.url for call in fake.calls] == ["http://127.0.0.1:9/v1/embeddings"] * 2


async def test_a_copy_has_its_own_bound_on_requests_in_flight(fake: FakeService) -> None:
    fake.delay = lambda call: 0.02
    first = fake.embeddings(batch_size=1, max_concurrency=1)
    await first.aembed_query("warm up the first instance's bound")
    second = first.model_copy(update={"max_concurrency": 3})
    fake.max_in_flight = 0
    await asyncio.gather(first.aembed_documents(texts(4)), second.aembed_documents(texts(6)))
    assert fake.max_in_flight == 4  # 1 from the first, 3 from its copy
