"""The emulator against the facts sheet: catalogue, auth, models, quotas, headers, concurrency.

Plain httpx on purpose: the package's own client must not be what checks the server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from langchain_modelscope.testing import (
    DEFAULT_TOKEN,
    RATELIMIT_HEADERS,
    EmulatorConfig,
    ModelScopeEmulator,
    utc8_day,
)
from langchain_modelscope.testing import _messages as msg
from tests.emulator.plain_http import hello_body, one_off_get

CHAT_MODEL = "Qwen/Qwen2.5-72B-Instruct"


def chat(
    client: httpx.Client, model: str = CHAT_MODEL, token: str | None = None, **extra: Any
) -> httpx.Response:
    body = hello_body(model, **extra)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return client.post("/chat/completions", json=body, headers=headers)


def error_message(response: httpx.Response) -> str:
    body = response.json()
    if "errors" in body:
        return str(body["errors"]["message"])
    return str(body["error"]["message"])


# ----------------------------------------------------------------- lifecycle


def test_defaults_and_lifecycle() -> None:
    emu = ModelScopeEmulator()
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    with emu:
        assert emu.running
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.base_url.endswith("/v1")
        assert emu.token == DEFAULT_TOKEN
        assert one_off_get(emu.base_url + "/models").status_code == 200
    assert not emu.running
    emu.stop()  # idempotent


def test_stop_drops_keepalive_connections() -> None:
    with ModelScopeEmulator() as emu, httpx.Client(base_url=emu.base_url) as client:
        assert client.get("/models").status_code == 200
        emu.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/models")


# ----------------------------------------------------------------- catalogue


def test_catalogue_without_and_with_wrong_token(emu: ModelScopeEmulator) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = one_off_get(emu.base_url + "/models", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["object"] == "list"
        ids = {entry["id"] for entry in body["data"]}
        for entry in body["data"]:
            assert set(entry) == {"id", "object", "created", "owned_by"}
            assert entry["object"] == "model"
        assert {"Qwen/Qwen3-8B", "Qwen/QwQ-32B", "Qwen/Qwen3-VL-8B-Instruct"} <= ids
        assert {"Qwen/Qwen3-Embedding-8B", "Qwen/Qwen-Image"} <= ids
    assert emu.requests[0].path == "/v1/models"


def test_catalogue_switches_and_single_model(emu: ModelScopeEmulator) -> None:
    emu.config.list_image_models = False
    emu.config.list_embedding_models = False
    ids = {e["id"] for e in one_off_get(emu.base_url + "/models").json()["data"]}
    assert "Qwen/Qwen-Image" not in ids
    assert "Qwen/Qwen3-Embedding-8B" not in ids
    one = one_off_get(emu.base_url + "/models/Qwen/Qwen3-8B")
    assert one.status_code == 200
    assert one.json()["owned_by"] == "Qwen"
    assert one_off_get(emu.base_url + "/models/nope/nope").status_code == 404


def test_add_retire_remove_models(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.add_model("acme/New-Chat-1")
    assert chat(client, "acme/New-Chat-1").status_code == 200
    emu.retire_model("acme/New-Chat-1")
    retired = chat(client, "acme/New-Chat-1")
    assert retired.status_code == 400
    assert error_message(retired) == "Model id has no provider supported"
    ids = {e["id"] for e in client.get("/models").json()["data"]}
    assert "acme/New-Chat-1" not in ids
    emu.remove_model("acme/New-Chat-1")
    assert error_message(chat(client, "acme/New-Chat-1")) == "Invalid model id: acme/New-Chat-1"
    with pytest.raises(ValueError, match="dimension"):
        emu.add_model("acme/emb", kind="embedding")


def test_unknown_model(client: httpx.Client) -> None:
    response = chat(client, "nobody/No-Such-Model")
    assert response.status_code == 400
    assert error_message(response) == "Invalid model id: nobody/No-Such-Model"


# ----------------------------------------------------------------- auth


def test_auth_states(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    missing = client.post(
        "/chat/completions",
        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": ""},
    )
    assert missing.status_code == 401
    assert error_message(missing) == msg.SHEET_AUTH_FAILED
    wrong = chat(client, token="ms-11111111-1111-4111-8111-111111111111")
    assert wrong.status_code == 401
    assert error_message(wrong) == (
        "Authentication failed, please make sure that a valid ModelScope token is supplied."
    )
    unbound = chat(client, token=emu.add_account(state="unbound"))
    assert unbound.status_code == 401
    assert error_message(unbound) == "Please bind your Alibaba Cloud account before use."
    unverified = chat(client, token=emu.add_account(state="unverified"))
    assert unverified.status_code == 403
    assert error_message(unverified) == (
        "To use API-Inference, please make sure your associated Aliyun account is "
        "real-name verified."
    )
    fresh = emu.add_account()
    assert fresh.startswith("ms-")
    assert chat(client, token=fresh).status_code == 200
    assert emu.add_account("my-token") == "my-token"
    with pytest.raises(ValueError, match="state"):
        emu.add_account(state="banned")  # type: ignore[arg-type]


def test_error_envelopes_and_request_ids(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    plural = chat(client, token="bad")
    body = plural.json()
    assert set(body) == {"errors"}
    assert body["errors"]["request_id"] == plural.headers["x-request-id"]
    emu.config.error_envelope = "error"
    singular = chat(client, token="bad")
    body = singular.json()
    assert body["error"]["message"] == msg.SHEET_AUTH_FAILED
    assert body["request_id"] == singular.headers["x-request-id"]
    assert {"message", "code", "type"} <= set(body["error"])
    ok = chat(client)
    assert ok.headers["x-request-id"]
    assert emu.requests[-1].request_id == ok.headers["x-request-id"]


def test_provider_suffix(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    response = chat(client, "Qwen/Qwen2.5-72B-Instruct:DashScope")
    assert response.status_code == 200
    assert response.json()["model"] == "Qwen/Qwen2.5-72B-Instruct:DashScope"
    assert RATELIMIT_HEADERS[0] not in response.headers
    assert emu.usage(emu.token) == 0
    emu.config.count_provider_suffix_calls = True
    counted = chat(client, "Qwen/Qwen2.5-72B-Instruct:DashScope")
    assert counted.headers["modelscope-ratelimit-model-requests-remaining"] == "499"
    assert emu.usage(emu.token, CHAT_MODEL) == 1
    assert len(emu.requests_for(model=CHAT_MODEL)) == 2


def test_echo_model_lowercase(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.config.echo_model_name_lowercase = True
    response = chat(client, "Qwen/Qwen2.5-Coder-32B-Instruct")
    assert response.json()["model"] == "qwen2.5-coder-32b-instruct"
    assert emu.usage(emu.token, "Qwen/Qwen2.5-Coder-32B-Instruct") == 1


# ----------------------------------------------------------------- quotas


def test_ratelimit_headers_count_down(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    first = chat(client)
    assert first.headers["modelscope-ratelimit-requests-limit"] == "2000"
    assert first.headers["modelscope-ratelimit-requests-remaining"] == "1999"
    assert first.headers["modelscope-ratelimit-model-requests-limit"] == "500"
    assert first.headers["modelscope-ratelimit-model-requests-remaining"] == "499"
    second = chat(client, "Qwen/Qwen3-235B-A22B-Instruct-2507")
    assert second.headers["modelscope-ratelimit-requests-remaining"] == "1998"
    assert second.headers["modelscope-ratelimit-model-requests-limit"] == "200"
    assert second.headers["modelscope-ratelimit-model-requests-remaining"] == "199"
    emu.config.send_ratelimit_headers = False
    assert RATELIMIT_HEADERS[1] not in chat(client).headers


def test_stream_headers_switch(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    with client.stream("POST", "/chat/completions", json=_stream_body()) as response:
        assert response.headers["modelscope-ratelimit-requests-remaining"] == "1999"
        response.read()
    emu.config.ratelimit_headers_on_stream = False
    with client.stream("POST", "/chat/completions", json=_stream_body()) as response:
        assert RATELIMIT_HEADERS[1] not in response.headers
        response.read()


def _stream_body() -> dict[str, Any]:
    return {
        "model": CHAT_MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": "Hello"}],
    }


def test_model_quota_styles(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.add_account("t", model_daily_limit=1)
    assert chat(client, token="t").status_code == 200
    expected = {
        "daily": (
            f"You have exceeded today's quota for model {CHAT_MODEL},  please try again "
            "tomorrow, or consider using other models"
        ),
        "daily_short": (
            f"You have exceeded today's quota for model {CHAT_MODEL},  please try again tomorrow"
        ),
        "request_limit": "Request limit exceeded.",
        "monthly": (
            f"Rate limit exceeded: You have exceeded this month's quota for model {CHAT_MODEL}, "
            "please try again next month, or consider using other models"
        ),
    }
    for style, text in expected.items():
        emu.config.quota_error_style = style  # type: ignore[assignment]
        for envelope in ("errors", "error"):
            emu.config.error_envelope = envelope
            response = chat(client, token="t")
            assert response.status_code == 429
            assert error_message(response) == text
            assert RATELIMIT_HEADERS[0] not in response.headers
    emu.config.quota_error_style = "no_body"
    empty = chat(client, token="t")
    assert empty.status_code == 429
    assert empty.content == b""
    # another model of the same account is still served
    assert chat(client, "ZhipuAI/GLM-4.6", token="t").status_code == 200
    # refused calls were not counted
    assert emu.usage("t", CHAT_MODEL) == 1
    assert emu.usage("t") == 2


def test_account_quota_styles(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.add_account("a", daily_limit=2)
    assert chat(client, token="a").status_code == 200
    assert chat(client, "ZhipuAI/GLM-4.6", token="a").status_code == 200
    spent = chat(client, "moonshotai/Kimi-K2.5", token="a")
    assert spent.status_code == 429
    body = spent.json()
    assert body["errors"]["message"] == (
        "You exceeded your current quota, please check your plan and billing details."
    )
    assert body["errors"]["code"] == "insufficient_quota"
    emu.config.error_envelope = "error"
    assert chat(client, token="a").json()["error"]["code"] == "insufficient_quota"
    emu.config.errors_envelope_code = False
    emu.config.error_envelope = "errors"
    assert "code" not in chat(client, token="a").json()["errors"]
    emu.config.account_quota_style = "insufficient_balance"
    balance = chat(client, token="a")
    assert balance.status_code == 429
    assert error_message(balance) == "insufficient balance"


def test_headers_on_429_switch(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.set_usage(emu.token, CHAT_MODEL, 500)
    assert RATELIMIT_HEADERS[3] not in chat(client).headers
    emu.config.ratelimit_headers_on_429 = True
    refused = chat(client)
    assert refused.status_code == 429
    assert refused.headers["modelscope-ratelimit-model-requests-remaining"] == "0"
    assert refused.headers["modelscope-ratelimit-requests-remaining"] == "2000"


def test_limits_precedence(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    big = "Qwen/Qwen3-Coder-480B-A35B-Instruct"
    assert chat(client, big).headers[RATELIMIT_HEADERS[2]] == "100"
    emu.config.model_limits[CHAT_MODEL] = 7
    assert chat(client).headers[RATELIMIT_HEADERS[2]] == "7"
    emu.add_account("p", daily_limit=50, model_daily_limit=5, model_limits={big: 3})
    assert chat(client, big, token="p").headers[RATELIMIT_HEADERS[2]] == "3"
    response = chat(client, token="p")
    assert response.headers[RATELIMIT_HEADERS[2]] == "5"
    assert response.headers[RATELIMIT_HEADERS[0]] == "50"
    emu.config = EmulatorConfig(regime="daily", account_daily_limit=10)
    assert chat(client).headers[RATELIMIT_HEADERS[0]] == "10"


def test_set_usage_and_4xx_not_counted(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.set_usage(emu.token, None, 1990)
    emu.set_usage(emu.token, CHAT_MODEL, 490)
    response = chat(client)
    assert response.headers["modelscope-ratelimit-requests-remaining"] == "9"
    assert response.headers["modelscope-ratelimit-model-requests-remaining"] == "9"
    assert chat(client, "Qwen/Qwen3-8B").status_code == 400  # thinking 400
    assert chat(client, "nobody/x").status_code == 400
    assert emu.usage(emu.token) == 1991


def test_rollover_at_1600_utc(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.clock.set(datetime(2025, 3, 1, 15, 59, 59, tzinfo=timezone.utc))
    emu.add_account("r", model_daily_limit=1)
    assert chat(client, token="r").status_code == 200
    assert chat(client, token="r").status_code == 429
    emu.clock.advance(timedelta(seconds=1))  # 16:00:00 UTC = 00:00 UTC+8
    assert emu.clock.now() == datetime(2025, 3, 1, 16, 0, 0, tzinfo=timezone.utc)
    again = chat(client, token="r")
    assert again.status_code == 200
    assert again.headers["modelscope-ratelimit-model-requests-remaining"] == "0"


def test_day_boundary_in_utc8(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    utc8 = timezone(timedelta(hours=8))
    # 00:30 and 23:30 UTC+8 on the same local day: one quota day, though UTC dates differ
    emu.clock.set(datetime(2025, 6, 10, 0, 30, tzinfo=utc8))
    emu.add_account("d", model_daily_limit=2)
    assert chat(client, token="d").status_code == 200
    emu.clock.set(datetime(2025, 6, 10, 23, 30, tzinfo=utc8))
    assert chat(client, token="d").status_code == 200
    assert chat(client, token="d").status_code == 429
    emu.clock.set(datetime(2025, 6, 11, 0, 0, tzinfo=utc8))
    assert chat(client, token="d").status_code == 200
    assert utc8_day(datetime(2025, 6, 10, 15, 59, tzinfo=timezone.utc)).day == 10
    assert utc8_day(datetime(2025, 6, 10, 16, 0, tzinfo=timezone.utc)).day == 11


def test_clock_behaviour(emu: ModelScopeEmulator) -> None:
    moment = datetime(2030, 1, 1, tzinfo=timezone.utc)
    emu.clock.set(moment)
    assert emu.clock.frozen
    assert emu.clock.now() == moment
    emu.clock.advance(60)
    assert emu.clock.now() == moment + timedelta(minutes=1)
    emu.clock.resume()
    assert not emu.clock.frozen
    assert emu.clock.now() >= moment + timedelta(minutes=1)
    emu.clock.set(datetime(2030, 1, 1), frozen=False)  # naive means UTC
    assert emu.clock.now().year == 2030
    emu.clock.reset()
    assert abs(emu.clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=5)


# ----------------------------------------------------------------- concurrency


def _parallel(emu: ModelScopeEmulator, count: int, model: str = CHAT_MODEL) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def worker() -> None:
        with httpx.Client(base_url=emu.base_url, timeout=10, verify=False) as c:
            barrier.wait()
            status = chat(c, model, token=emu.token).status_code
        with lock:
            statuses.append(status)

    _run_together(worker, count)
    return statuses


def _run_together(worker: Callable[[], None], count: int) -> None:
    """Run `worker` in `count` threads at once, and wait for them all."""
    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_max_in_flight_and_concurrency_limit(emu: ModelScopeEmulator) -> None:
    emu.config.response_delay = 0.3
    statuses = _parallel(emu, 6)
    assert statuses == [200] * 6
    assert emu.max_in_flight(CHAT_MODEL) >= 4
    assert emu.max_in_flight() >= emu.max_in_flight(CHAT_MODEL)
    assert emu.max_in_flight("ZhipuAI/GLM-4.6") == 0
    assert max(r.concurrency for r in emu.requests) == emu.max_in_flight(CHAT_MODEL)
    emu.clear_log()
    assert emu.max_in_flight() == 0
    emu.config.max_concurrent_per_model = 1
    statuses = _parallel(emu, 4)
    assert statuses.count(200) >= 1
    assert 429 in statuses
    refused = [r for r in emu.requests if r.status == 429]
    assert refused
    emu.config.response_delay = 0
    emu.config.max_concurrent_per_model = 1
    with httpx.Client(base_url=emu.base_url) as c:
        body = chat(c, token="x" + emu.token)  # auth fails before the limit
        assert body.status_code == 401


def test_concurrency_429_text(emu: ModelScopeEmulator) -> None:
    emu.config.max_concurrent_per_model = 0
    with httpx.Client(base_url=emu.base_url) as c:
        response = chat(c, token=emu.token)
    assert response.status_code == 429
    assert error_message(response) == (
        f"We have to rate limit you for model {CHAT_MODEL}. If you need higher limits, "
        "please consider other (commercial) API providers."
    )
    assert emu.usage(emu.token) == 0


def test_many_connections(emu: ModelScopeEmulator) -> None:
    count = 200
    emu.config.response_delay = 0.3
    statuses: list[int] = []
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    with httpx.Client(base_url=emu.base_url, timeout=30, limits=limits, verify=False) as shared:
        barrier = threading.Barrier(count)

        def worker() -> None:
            barrier.wait()
            status = chat(shared, token=emu.token).status_code
            with lock:
                statuses.append(status)

        _run_together(worker, count)
    assert statuses == [200] * count
    assert emu.max_in_flight(CHAT_MODEL) >= 10  # overlap, however slow the machine


# ----------------------------------------------------------------- log and reset


def test_request_log(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    chat(client)
    with client.stream("POST", "/chat/completions", json=_stream_body()) as response:
        response.read()
    chat(client, token="other")
    records = emu.requests
    assert [r.status for r in records] == [200, 200, 401]
    first = records[0]
    assert first.method == "POST"
    assert first.path == "/v1/chat/completions"
    assert first.headers["authorization"] == f"Bearer {emu.token}"
    assert first.body["messages"][0]["content"] == "Hello"
    assert first.model == CHAT_MODEL
    assert first.token == emu.token
    assert not first.streamed
    assert records[1].streamed
    assert first.ended_at is not None
    assert first.ended_at >= first.started_at
    assert first.concurrency == 1
    assert len(emu.requests_for(token="other")) == 1
    assert len(emu.requests_for(path="/chat/completions")) == 3
    assert len(emu.requests_for(model="ZhipuAI/GLM-4.6")) == 0
    records.clear()  # a copy
    assert len(emu.requests) == 3
    emu.clear_log()
    assert emu.requests == []


def test_reset(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    token = emu.add_account()
    emu.config.error_envelope = "error"
    emu.clock.set(datetime(2031, 1, 1, tzinfo=timezone.utc))
    emu.add_model("acme/tmp")
    chat(client)
    emu.reset()
    assert emu.requests == []
    assert emu.usage(emu.token) == 0
    assert emu.config.to_dict()["error_envelope"] is None
    assert emu.config.resolved_envelope == "errors"
    assert not emu.clock.frozen
    assert chat(client, token=token).status_code == 401
    assert chat(client, "acme/tmp").status_code == 400


def test_session_fixture(modelscope_emulator_session: ModelScopeEmulator) -> None:
    modelscope_emulator_session.reset()
    response = one_off_get(modelscope_emulator_session.base_url + "/models")
    assert response.status_code == 200
    assert len(modelscope_emulator_session.requests) == 1


def test_not_found(client: httpx.Client) -> None:
    response = client.get("/nothing/here")
    assert response.status_code == 404
    assert "errors" in response.json()
    assert client.post("/chat/completions", content=b"not json").status_code == 400


def test_internal_error_is_reported(
    emu: ModelScopeEmulator, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr("langchain_modelscope.testing._server._route", lambda method, path: broken)
    response = chat(client)
    assert response.status_code == 500
    assert "emulator internal error" in error_message(response)
    assert chat(client, "Qwen/Qwen3-Embedding-8B").status_code == 500
    monkeypatch.undo()
    assert chat(client).status_code == 200


def test_sequential_calls_never_overlap(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    for _ in range(30):
        chat(client)
        with client.stream("POST", "/chat/completions", json=_stream_body()) as response:
            response.read()
        assert emu.requests[-1].status == 200
    assert emu.max_in_flight() == 1
    assert all(r.ended_at is not None for r in emu.requests)
