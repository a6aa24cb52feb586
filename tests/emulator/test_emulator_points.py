"""The points regime (the default; facts sheet §2a), §3 bodies, throttle windows, §1 images,
and the switches that let the emulator deviate from the facts (for the doctor)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from langchain_modelscope.testing import (
    BALANCE_PATH,
    RATELIMIT_HEADERS,
    SHEET_BODY_NAMES,
    EmulatorConfig,
    EmulatorRemote,
    Fault,
    ModelScopeEmulator,
)
from langchain_modelscope.testing import _messages as msg
from tests.emulator.plain_http import hello_body, one_off_get

LIGHT = "Qwen/Qwen3-8B"  # 0.5 a call in the emulator's tiers
MAINSTREAM = "Qwen/Qwen2.5-72B-Instruct"  # 1
FLAGSHIP = "Qwen/Qwen3-235B-A22B-Instruct-2507"  # 2
IMAGE = "Qwen/Qwen-Image"
NOON = datetime(2026, 10, 4, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def modelscope_emulator_config() -> EmulatorConfig | None:
    """This module tests the defaults: the points regime."""
    return None


def chat(client: httpx.Client, model: str = MAINSTREAM, **extra: Any) -> httpx.Response:
    token = extra.pop("token", None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/chat/completions", json=hello_body(model, **extra), headers=headers)


def balance(emu: ModelScopeEmulator, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return one_off_get(emu.root_url + BALANCE_PATH, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error", "request_id"}  # the 2026 envelope by default
    inner: dict[str, Any] = body["error"]
    return inner


# ----------------------------------------------------------------- regime and points


def test_points_is_the_default_and_sends_no_ratelimit_headers(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    assert emu.config.regime == "points"
    ok = chat(client)
    assert ok.status_code == 200
    refused = chat(client, token="wrong")
    listed = one_off_get(emu.base_url + "/models")
    for response in (ok, refused, listed):
        assert not set(RATELIMIT_HEADERS) & set(response.headers)
        assert response.headers["date"].endswith("GMT")
    assert refused.status_code == 401


def test_cost_per_tier_and_billable_log(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    assert emu.points(emu.token) == 200
    for model in (LIGHT, MAINSTREAM, FLAGSHIP):
        assert chat(client, model, enable_thinking=False).status_code == 200
    assert emu.points(emu.token) == 200 - 0.5 - 1 - 2
    assert [r.points for r in emu.requests] == [0.5, 1.0, 2.0]
    assert all(r.billable for r in emu.requests)
    one_off_get(emu.base_url + "/models")
    assert len(emu.requests_for(billable=True)) == 3
    assert len(emu.requests_for(billable=False)) == 1


def test_grants_expire_after_24h_closest_to_expiry_first(emu: ModelScopeEmulator) -> None:
    emu.clock.set(NOON)
    token = emu.add_account(points=0)
    assert emu.points(token) == 0
    emu.grant_points(token, 3, expires_in=timedelta(hours=1))
    emu.grant_points(token, 10)  # 24 h
    assert emu.points(token) == 13
    with httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert chat(c).status_code == 200
        assert chat(c).status_code == 200
    assert emu.points(token) == 11
    emu.clock.advance(timedelta(hours=2))  # the 1-h grant (1 point left of it) expires
    assert emu.points(token) == 10
    emu.clock.advance(timedelta(hours=22))  # the 24-h grant expires too
    assert emu.points(token) == 0


def test_default_grant_set_balance_and_new_accounts(emu: ModelScopeEmulator) -> None:
    emu.config.default_grant = 5
    token = emu.add_account()
    assert emu.points(token) == 5
    emu.set_balance(token, 1.5)
    assert emu.points(token) == 1.5
    with pytest.raises(ValueError, match="no account"):
        emu.points("ms-unknown")
    with pytest.raises(ValueError, match="negative"):
        emu.grant_points(token, -1)


def test_spent_balance_answers_insufficient_balance(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    emu.set_balance(emu.token, 1.5)
    assert chat(client, FLAGSHIP).status_code == 429  # costs 2
    refused = chat(client, FLAGSHIP)
    assert refused.status_code == 429
    error = error_of(refused)
    assert error["message"] == "insufficient balance"
    assert error["code"] is None  # §3 gives this body no code
    assert not emu.requests[-1].billable
    assert emu.points(emu.token) == 1.5  # a refused call for want of points costs none
    assert chat(client, MAINSTREAM).status_code == 200  # 1 point is still there


def test_failed_calls_cost_points_unless_switched_off(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    hybrid = chat(client, "Qwen/Qwen3-32B")  # non-streamed hybrid thinking call: 400
    assert hybrid.status_code == 400
    assert emu.points(emu.token) == 199
    assert emu.requests[-1].billable
    assert chat(client, "No/Such-Model").status_code == 400  # unknown model: nothing to bill
    assert chat(client, token="wrong").status_code == 401
    assert emu.points(emu.token) == 199
    emu.config.failed_calls_cost = False
    assert chat(client, "Qwen/Qwen3-32B").status_code == 400
    assert emu.points(emu.token) == 199
    assert not emu.requests[-1].billable


def test_billable_in_the_daily_regime_means_counted(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    emu.config.regime = "daily"
    assert chat(client).status_code == 200
    assert chat(client, "Qwen/Qwen3-32B").status_code == 400  # not counted in this regime
    assert [r.billable for r in emu.requests] == [True, False]
    assert [r.points for r in emu.requests] == [0, 0]
    assert emu.points(emu.token) == 200


def test_provider_suffix_calls_cost_no_points(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    assert chat(client, MAINSTREAM + ":DashScope").status_code == 200
    assert emu.points(emu.token) == 200
    assert not emu.requests[-1].billable


# ----------------------------------------------------------------- balance endpoint


def test_balance_endpoint_shape_and_it_is_free(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    chat(client)
    response = balance(emu, emu.token)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["request_id"]
    assert body["data"] == {"total_balance": 199, "available_balance": 199, "frozen_amount": 0}
    assert emu.points(emu.token) == 199
    assert not emu.requests_for(path=BALANCE_PATH)[0].billable


@pytest.mark.parametrize("token", [None, "ms-wrong"])
def test_balance_endpoint_401(emu: ModelScopeEmulator, token: str | None) -> None:
    response = balance(emu, token)
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "InvalidAuthentication"
    assert body["message"]


def test_balance_endpoint_can_be_unusable(emu: ModelScopeEmulator) -> None:
    emu.config.balance_endpoint = "not_found"
    assert balance(emu, emu.token).status_code == 404
    emu.config.balance_endpoint = "html"
    page = balance(emu, emu.token)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    emu.config.balance_endpoint = "unsuccessful"
    failed = balance(emu, emu.token)
    assert failed.status_code == 200
    assert failed.json()["success"] is False


def test_balance_shows_frozen_points_of_a_call_in_flight(emu: ModelScopeEmulator) -> None:
    emu.queue_fault(Fault.slow_first_byte(0.5))
    started = threading.Event()
    done = threading.Event()

    def slow_call() -> None:
        with httpx.Client(
            base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.token}"}
        ) as c:
            started.set()
            chat(c)
        done.set()

    thread = threading.Thread(target=slow_call)
    thread.start()
    started.wait(5)
    seen: dict[str, Any] = {}
    while not done.is_set():
        data = balance(emu, emu.token).json()["data"]
        if data["frozen_amount"]:
            seen = data
            break
    thread.join(5)
    if seen:  # the call may finish before a poll lands; when one does, the shape holds
        assert seen == {"total_balance": 200, "available_balance": 199, "frozen_amount": 1}
    assert balance(emu, emu.token).json()["data"]["frozen_amount"] == 0


# ----------------------------------------------------------------- §3 bodies and codes


@pytest.mark.parametrize("name", SHEET_BODY_NAMES)
def test_every_sheet_body_is_selectable(
    emu: ModelScopeEmulator, client: httpx.Client, name: str
) -> None:
    emu.queue_fault(Fault.sheet(name))
    response = chat(client)
    sheet = msg.SHEET_BODIES[name]
    assert response.status_code == sheet.status
    if name == "no_body":
        assert response.content == b""
    elif name == "null_choices":
        assert response.json()["choices"] is None
    elif name == "empty_content":
        assert response.json()["choices"][0]["message"]["content"] == ""
    elif sheet.fixed is not None:
        assert response.json()["error"] == sheet.fixed
    else:
        error = error_of(response)
        assert error["message"] == sheet.message.format(model=MAINSTREAM)
        assert error["code"] == sheet.code


def test_unknown_sheet_body_name() -> None:
    with pytest.raises(ValueError, match="unknown sheet body"):
        Fault.sheet("nope")


def test_quota_429s_carry_no_invented_code(client: httpx.Client, emu: ModelScopeEmulator) -> None:
    emu.config.regime = "daily"
    emu.set_usage(emu.token, MAINSTREAM, 10_000)
    for style in ("daily", "daily_one_space", "request_limit", "monthly"):
        emu.config.quota_error_style = style  # type: ignore[assignment]
        body = chat(client).json()
        assert "rate_limit_exceeded" not in json.dumps(body)
    emu.config.quota_error_style = "daily_one_space"
    message = chat(client).json()["errors"]["message"]
    assert f"model {MAINSTREAM}, please try again tomorrow" in message


def test_retired_models_answer_their_2026_bodies(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    vl = "Qwen/Qwen3-VL-8B-Instruct"
    retired = chat(client, vl)
    assert retired.status_code == 400
    assert error_of(retired)["message"] == f"Model id : {vl} , has no provider supported"
    emu.config.error_envelope = "errors"
    assert chat(client, vl).json()["errors"]["message"] == (
        f"Model id : {vl} , has no provider supported"
    )
    balance_retired = chat(client, "MiniMax/MiniMax-M2.7")
    assert balance_retired.status_code == 429
    assert balance_retired.json()["error"] == {
        "http_code": "429",
        "message": "insufficient balance (1008)",
        "type": "insufficient_balance_error",
    }
    emu.retire_model(FLAGSHIP, style="balance_1008")
    assert chat(client, FLAGSHIP).status_code == 429
    assert emu.points(emu.token) == 200  # nothing billed for unserved models
    listed = {m["id"] for m in one_off_get(emu.base_url + "/models").json()["data"]}
    assert vl not in listed


def test_the_daily_regime_still_serves_the_older_catalogue(client: httpx.Client) -> None:
    daily = ModelScopeEmulator(regime="daily")
    assert daily.config.regime == "daily"
    with daily, httpx.Client(base_url=daily.base_url) as c:
        body = hello_body("Qwen/Qwen3-VL-8B-Instruct")
        ok = c.post(
            "/chat/completions", json=body, headers={"Authorization": f"Bearer {daily.token}"}
        )
        assert ok.status_code == 200
        assert set(RATELIMIT_HEADERS) <= set(ok.headers)


def test_catalogue_has_the_late_2026_ids(emu: ModelScopeEmulator) -> None:
    listed = {m["id"] for m in one_off_get(emu.base_url + "/models").json()["data"]}
    assert {
        "deepseek-ai/DeepSeek-V4-Flash",
        "deepseek-ai/DeepSeek-V4-Pro",
        "ZhipuAI/GLM-5.1",
        "moonshotai/Kimi-K2.5",
        "Qwen/Qwen3-235B-A22B-Instruct-2507",
        "Qwen/Qwen3.5-397B-A17B",
        "Qwen/Qwen3.8-Flash-Next",
        "Qwen/Qwen-Image-2512",
    } <= listed


# ----------------------------------------------------------------- streams and tools


def stream_chunks(client: httpx.Client, **extra: Any) -> list[dict[str, Any]]:
    body = hello_body(MAINSTREAM, stream=True, **extra)
    with client.stream("POST", "/chat/completions", json=body) as response:
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_zero_usage_placeholders_and_final_usage(client: httpx.Client) -> None:
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    plain = stream_chunks(client)
    assert all(chunk["usage"] == zero and chunk["choices"] for chunk in plain)
    counted = stream_chunks(client, stream_options={"include_usage": True})
    *deltas, last = counted
    assert all(chunk["usage"] == zero for chunk in deltas)
    assert last["choices"] == []
    assert last["usage"]["total_tokens"] > 0


WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}


def test_null_delta_fields_and_bare_tool_call_deltas(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    first, second, *_ = stream_chunks(client)
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert second["choices"][0]["delta"] == {
        "content": second["choices"][0]["delta"]["content"],
        "role": None,
        "tool_calls": None,
        "function_calls": None,
    }
    emu.config.bare_tool_call_deltas = True
    chunks = stream_chunks(client, tools=[WEATHER], tool_choice="required")
    parts = [
        part
        for chunk in chunks
        if chunk["choices"]
        for part in chunk["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert parts
    assert all("index" not in part and "id" not in part for part in parts)
    emu.config.null_delta_fields = False
    assert "role" not in stream_chunks(client)[1]["choices"][0]["delta"]


def test_empty_answer_to_required_tool_choice(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    forced = {"tools": [WEATHER], "tool_choice": "required"}
    assert chat(client, **forced).json()["choices"][0]["message"].get("tool_calls")
    emu.config.empty_on_required_tool_choice = True
    message = chat(client, **forced).json()["choices"][0]["message"]
    assert message["content"] == ""
    assert "tool_calls" not in message
    assert chat(client, tools=[WEATHER], tool_choice="auto").status_code == 200


# ----------------------------------------------------------------- throttle windows

THROTTLE_TEXT = msg.SHEET_CONCURRENCY.format(model=MAINSTREAM)


def test_throttle_window_with_let_through(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.clock.set(NOON)
    emu.throttle(emu.token, MAINSTREAM, 3600, let_through_every=3)
    statuses = [chat(client).status_code for _ in range(6)]
    assert statuses == [429, 429, 200, 429, 429, 200]
    assert error_of(chat(client))["message"] == THROTTLE_TEXT
    assert chat(client, LIGHT, enable_thinking=False).status_code == 200  # other models pass
    other = emu.add_account()
    assert chat(client, token=other).status_code == 200  # other tokens pass
    emu.clock.advance(3601)
    assert chat(client).status_code == 200


def test_throttle_429s_cost_points_and_can_be_closed(
    emu: ModelScopeEmulator, client: httpx.Client
) -> None:
    emu.throttle(emu.token, MAINSTREAM, 60)
    assert chat(client).status_code == 429
    assert emu.points(emu.token) == 199
    emu.throttle(emu.token, MAINSTREAM, 0)
    assert chat(client).status_code == 200
    with pytest.raises(ValueError, match="let_through_every"):
        emu.throttle(emu.token, MAINSTREAM, 60, let_through_every=0)


def test_concurrency_opens_a_window(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.clock.set(NOON)
    emu.config.throttle_above = 1
    emu.config.throttle_window_seconds = 600
    emu.queue_fault(Fault.slow_first_byte(0.5))
    thread = threading.Thread(target=chat, args=(client,))
    thread.start()
    while not emu.requests or not emu.requests[0].billable:  # the slow call is admitted
        pass
    assert chat(client).status_code == 429  # a second call in flight opens the window
    thread.join(5)
    assert chat(client).status_code == 429  # ... which outlasts the burst
    emu.clock.advance(601)
    assert chat(client).status_code == 200


# ----------------------------------------------------------------- images (§1)


def generate(client: httpx.Client, model: str = IMAGE, **extra: Any) -> httpx.Response:
    body = {"model": model, "prompt": "a cat", **extra}
    return client.post(
        "/images/generations", json=body, headers={"X-ModelScope-Async-Mode": "true"}
    )


def poll(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(
        f"/tasks/{task_id}", headers={"X-ModelScope-Task-Type": "image_generation"}
    )
    result: dict[str, Any] = response.json()
    return result


def test_image_flow_and_points_per_image(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.config.image_task_states = ("PENDING", "RUNNING", "PROCESSING")
    emu.config.image_task_polls = 3
    accepted = generate(client, seed=42).json()
    assert accepted["task_status"] == "SUCCEED"  # accepted, not done
    polls = [poll(client, accepted["task_id"]) for _ in range(4)]
    assert [p["task_status"] for p in polls] == ["PENDING", "RUNNING", "PROCESSING", "SUCCEED"]
    assert polls[2]["outputs"] == {}
    assert polls[3]["seed"] == 42
    assert polls[3]["output_images"]
    assert emu.points(emu.token) == 198  # one image, flagship tier; polls are free
    emu.set_balance(emu.token, 1)
    refused = generate(client)
    assert refused.status_code == 429
    assert error_of(refused)["message"] == "insufficient balance"


@pytest.mark.parametrize(
    ("model", "size", "ok"),
    [
        ("black-forest-labs/FLUX.1-Krea-dev", "1024x1024", True),
        ("black-forest-labs/FLUX.1-Krea-dev", "1280x1280", False),
        ("Qwen/Qwen-Image", "1664x1664", True),
        ("Qwen/Qwen-Image", "2048x2048", False),
        ("Tongyi-MAI/Z-Image-Turbo", "2048x2048", True),
        ("Tongyi-MAI/Z-Image-Turbo", "big", False),
    ],
)
def test_image_size_ranges(client: httpx.Client, model: str, size: str, ok: bool) -> None:
    assert (generate(client, model, size=size).status_code == 200) is ok


def test_image_parameter_checks(client: httpx.Client) -> None:
    assert generate(client, seed=-1).status_code == 400
    assert generate(client, seed=2**31).status_code == 400
    assert generate(client, prompt="x" * 2000).status_code == 400
    assert generate(client, seed=2**31 - 1).status_code == 200


# ----------------------------------------------------------------- deviations for the doctor


def test_deviation_switches(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    emu.config.ratelimit_headers_in_points = True
    assert set(RATELIMIT_HEADERS) <= set(chat(client).headers)
    emu.config.hybrid_thinking_message = "thinking must be off"
    assert error_of(chat(client, "Qwen/Qwen3-32B"))["message"] == "thinking must be off"
    emu.config.thinking_only_message = "stream it"
    assert error_of(chat(client, "Qwen/QwQ-32B"))["message"] == "stream it"
    emu.config.json_schema_quirk = False
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    answered = chat(client, response_format=schema).json()
    assert answered["choices"][0]["message"]["content"]


# ----------------------------------------------------------------- remote control


def test_remote_points_and_throttle(emu: ModelScopeEmulator, client: httpx.Client) -> None:
    remote = EmulatorRemote(emu.base_url)
    remote.set_balance(emu.token, 4)
    remote.grant_points(emu.token, 2, expires_in=timedelta(hours=1))
    assert remote.points(emu.token) == 6
    token = remote.add_account(points=3)
    assert remote.points(token) == 3
    remote.throttle(emu.token, MAINSTREAM, 60, let_through_every=2)
    assert [chat(client).status_code for _ in range(2)] == [429, 200]
    assert len(remote.requests(billable=True)) == 2
    assert remote.configure(regime="daily").regime == "daily"
    assert set(RATELIMIT_HEADERS) <= set(chat(client, LIGHT, enable_thinking=False).headers)
    remote.retire_model(LIGHT, style="balance_1008")
    assert chat(client, LIGHT).status_code == 429
    remote.queue_fault(Fault.sheet("upstream_cap"))
    assert chat(client).json()["error"]["code"] == "too_many_requests"
