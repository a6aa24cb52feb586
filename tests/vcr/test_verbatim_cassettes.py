"""ModelScope's verbatim error answers, replayed from cassettes through `ChatModelScope`.

Each cassette (``cassettes/verbatim/``, built by ``build_verbatim_cassettes.py``) holds a body
copied from the facts sheet; these tests make the same calls a user would (invoke, ainvoke,
stream, astream) and check the typed error, or the behaviour, the package promises for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import pytest
from langchain_core.messages import AIMessage
from vcr.cassette import Cassette
from vcr.serializers import yamlserializer

from langchain_modelscope._reset import next_daily_reset, next_monthly_reset
from langchain_modelscope.chat_models import ChatModelScope
from langchain_modelscope.errors import (
    TOKEN_PAGE,
    APIStatusError,
    AuthenticationError,
    EmptyResponseError,
    ModelNotFoundError,
    ModelRetiredError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ThrottledError,
)
from tests.support import modelscope_facts as facts
from tests.vcr.build_verbatim_cassettes import path_of, render
from tests.vcr.vcr_support import PLACEHOLDER_TOKEN
from tests.vcr.verbatim_cases import (
    ALL_CASES,
    ANSWER,
    CHOICES_NULL,
    ERROR_CASES,
    PROMPT,
    REASONING,
    THINKING_CASES,
    UNKNOWN_THINKER,
    Case,
    structured,
)

#: Replay from the case's cassette. record_mode="none" here beats any --record-mode: these
#: cassettes are built, never recorded (nor deleted by a rewrite).
replay = pytest.mark.vcr(record_mode="none")
#: One event loop for the module: the client pools one httpx.AsyncClient per loop, and building
#: one (its TLS context) costs more than a replayed call.
module_loop = pytest.mark.asyncio(loop_scope="module")

Driver = Literal["invoke", "ainvoke", "stream", "astream"]
DRIVERS: tuple[Driver, ...] = ("invoke", "ainvoke", "stream", "astream")


@dataclass(frozen=True)
class Expect:
    """What a user gets for one verbatim answer."""

    error: type[APIStatusError]
    status: int
    message: str | None  # the server's words exactly; None for the bodiless 429
    scope: Literal["model", "account"] | None = None
    reset: Literal["daily", "monthly"] | None = None
    hint: str | None = None


EXPECTED: dict[str, Expect] = {
    "429-quota-daily": Expect(
        QuotaExceededError, 429, facts.QUOTA_DAILY, scope="model", reset="daily"
    ),
    "429-quota-daily-short": Expect(
        QuotaExceededError, 429, facts.QUOTA_DAILY_SHORT, scope="model", reset="daily"
    ),
    "429-quota-monthly": Expect(
        QuotaExceededError, 429, facts.QUOTA_MONTHLY, scope="model", reset="monthly"
    ),
    "429-request-limit": Expect(
        QuotaExceededError, 429, facts.REQUEST_LIMIT, scope="model", reset="daily"
    ),
    # The account headers on the same answer say the account, not the model, is spent.
    "429-request-limit-account-spent": Expect(
        QuotaExceededError, 429, facts.REQUEST_LIMIT, scope="account", reset="daily"
    ),
    # No counter headers on the answer: no regime shown, so no reset is invented.
    "429-insufficient-quota": Expect(
        QuotaExceededError, 429, facts.INSUFFICIENT_QUOTA, scope="account"
    ),
    # The points regime: no reset time exists.
    "429-insufficient-balance": Expect(
        QuotaExceededError, 429, facts.INSUFFICIENT_BALANCE, scope="account"
    ),
    "429-rate-limit": Expect(ThrottledError, 429, facts.RATE_LIMITED),
    "429-no-body": Expect(RateLimitError, 429, None),
    "401-authentication-failed": Expect(
        AuthenticationError, 401, facts.AUTH_FAILED, hint=TOKEN_PAGE
    ),
    "401-account-not-bound": Expect(
        AuthenticationError, 401, facts.UNBOUND, hint="Bind an Alibaba Cloud account"
    ),
    "403-not-real-name-verified": Expect(
        PermissionDeniedError, 403, facts.UNVERIFIED, hint="Real-name verify"
    ),
    "400-invalid-model": Expect(
        ModelNotFoundError, 400, facts.INVALID_MODEL, hint="Check the model id"
    ),
    "400-no-provider": Expect(ModelRetiredError, 400, facts.NO_PROVIDER, hint="no longer served"),
}


def expected(case: Case) -> Expect:
    return EXPECTED[case.name.split(".")[0]]


def _ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """``cassettes/verbatim/<case>.yaml``, whichever case the test is parametrized with."""
    case: Case = request.getfixturevalue("case")
    return f"verbatim/{case.name}"


async def drive(model: ChatModelScope, driver: Driver) -> list[Any]:
    """One call the way a user makes it; stream results are drained."""
    if driver == "invoke":
        return [model.invoke(PROMPT)]
    if driver == "ainvoke":
        return [await model.ainvoke(PROMPT)]
    if driver == "stream":
        return list(model.stream(PROMPT))
    return [chunk async for chunk in model.astream(PROMPT)]


def _reset_bounds(kind: str, before: datetime, after: datetime) -> set[datetime]:
    clock: Callable[[datetime], datetime] = (
        next_daily_reset if kind == "daily" else next_monthly_reset
    )
    return {clock(before), clock(after)}


def test_every_case_has_an_expectation() -> None:
    assert {case.name.split(".")[0] for case in ERROR_CASES} == set(EXPECTED)


@replay
@module_loop
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("case", ERROR_CASES, ids=_ids(ERROR_CASES))
async def test_verbatim_error_becomes_typed_error(case: Case, driver: Driver) -> None:
    want = expected(case)
    model = case.model()
    before = datetime.now(timezone.utc)
    with pytest.raises(want.error) as caught:
        await drive(model, driver)
    after = datetime.now(timezone.utc)
    error = caught.value

    assert type(error) is want.error
    assert error.status_code == want.status
    assert error.model == facts.MODEL
    if want.message is None:
        assert isinstance(error, RateLimitError)
        assert error.bodiless
        assert error.is_retryable
        assert error.request_id is None
    else:
        assert error.message == want.message
        assert error.request_id == facts.REQUEST_ID
    if want.scope is not None:
        assert isinstance(error, QuotaExceededError)
        assert error.scope == want.scope
        assert error.is_retryable is False
        if want.reset is None:
            assert error.reset_at is None
        else:
            assert error.reset_at in _reset_bounds(want.reset, before, after)
            assert error.reset_at.tzinfo is not None
    if isinstance(error, RateLimitError):
        assert error.is_retryable  # the passing kind: backed off and retried
    if want.hint is not None:
        assert error.hint is not None
        assert want.hint in error.hint
        assert want.hint in str(error)
    assert PLACEHOLDER_TOKEN not in str(error)
    assert PLACEHOLDER_TOKEN not in repr(error)


@replay
@module_loop
@pytest.mark.parametrize(
    "case", [c for c in ERROR_CASES if c.name == "429-no-body"], ids=["429-no-body"]
)
async def test_bodiless_429_that_persists_is_taken_as_the_model_quota(
    case: Case, vcr: Cassette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retried once (the cassette answers the same again), then a quota error: no third call."""
    model = case.model(max_retries=1)
    monkeypatch.setattr(model.client, "_wait", lambda state: 0.0)  # no backoff in a test
    with pytest.raises(QuotaExceededError) as caught:
        model.invoke(PROMPT)
    assert caught.value.scope == "model"
    assert caught.value.status_code == 429
    assert vcr.play_count == 2


@replay
@module_loop
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("case", THINKING_CASES, ids=_ids(THINKING_CASES))
async def test_thinking_400_is_followed_by_one_streamed_retry(
    case: Case, asynchronous: bool, vcr: Cassette
) -> None:
    """An unknown model refusing ``stream: false`` is streamed, and remembered as such."""
    model = case.model()
    for _ in range(2):
        message = await model.ainvoke(PROMPT) if asynchronous else model.invoke(PROMPT)
        assert isinstance(message, AIMessage)
        assert message.content == "".join(ANSWER)
        assert message.additional_kwargs["reasoning_content"] == "".join(REASONING)
        assert any(block["type"] == "reasoning" for block in message.content_blocks)
        assert message.response_metadata["model_name"] == UNKNOWN_THINKER
        assert message.usage_metadata is not None
        assert message.usage_metadata["total_tokens"] == 35
    # Interaction 0 is the refused non-streamed call: once only; the second invoke streams.
    assert vcr.play_counts[0] == 1
    assert vcr.play_counts[1] == 2


@replay
@module_loop
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("case", [CHOICES_NULL], ids=[CHOICES_NULL.name])
async def test_choices_null_is_a_clear_empty_response_error(case: Case, asynchronous: bool) -> None:
    runnable = structured(case.model())

    async def call() -> Any:
        return await runnable.ainvoke(PROMPT) if asynchronous else runnable.invoke(PROMPT)

    with pytest.raises(EmptyResponseError) as caught:
        await call()
    error = caught.value
    assert error.status_code == 200
    assert "choices: null" in error.message
    assert "json_schema" in error.message
    assert error.hint is not None
    assert "function_calling" in error.hint
    assert "json_mode" in error.hint
    assert not isinstance(error, TypeError)


@pytest.mark.parametrize("case", ALL_CASES, ids=_ids(ALL_CASES))
def test_cassette_is_up_to_date(case: Case) -> None:
    """The cassette on disk is what the builder makes now: same requests, verbatim answers.

    When this fails, the client's request bodies changed: run
    ``python -m tests.vcr.build_verbatim_cassettes`` and review the diff.
    """
    on_disk = yamlserializer.deserialize(path_of(case).read_text(encoding="utf-8"))
    fresh = yamlserializer.deserialize(render(case))
    for interactions in (on_disk, fresh):
        for interaction in interactions["interactions"]:
            interaction["request"].pop("headers")  # user-agent carries the package version
    assert on_disk == fresh, (
        f"{path_of(case).name} is stale: run `python -m tests.vcr.build_verbatim_cassettes`"
    )
