"""`points_balance`: the free balance endpoint of modelscope-api.md §2a, and its site."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

import langchain_modelscope
from langchain_modelscope import (
    BalanceUnavailableError,
    PointsBalance,
    apoints_balance,
    points_balance,
)
from langchain_modelscope._balance import BALANCE_PATH, balance_site
from langchain_modelscope.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    MissingAPIKeyError,
    PermissionDeniedError,
)
from langchain_modelscope.testing import ModelScopeEmulator
from tests.balance.scripted_server import Scripted, ScriptedServer, scripted_server

TOKEN = "ms-12345678-aaaa-4bbb-8ccc-1234567890ab"
OK = {
    "success": True,
    "request_id": "req-1",
    "data": {"total_balance": 143, "available_balance": 143, "frozen_amount": 0},
}


@pytest.fixture
def site() -> Iterator[ScriptedServer]:
    with scripted_server() as server:
        yield server


def _read(site: ScriptedServer, *answers: Scripted) -> PointsBalance:
    site.script(BALANCE_PATH, *answers)
    return points_balance(TOKEN, base_url=f"{site.url}/v1")


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api-inference.modelscope.cn/v1", "https://modelscope.cn"),
        ("https://api-inference.modelscope.ai/v1", "https://modelscope.ai"),
        ("https://ms-ens-abc123.api-inference.modelscope.cn/v1", "https://modelscope.cn"),
        ("https://API-Inference.ModelScope.cn/v1/", "https://modelscope.cn"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("https://proxy.example.com/modelscope/v1", "https://proxy.example.com"),
        ("http://localhost/v1", "http://localhost"),
    ],
)
def test_the_site_is_derived_from_the_base_url(base_url: str, expected: str) -> None:
    assert balance_site(base_url) == expected


def test_the_default_base_url_gives_the_cn_site(monkeypatch: pytest.MonkeyPatch) -> None:
    assert balance_site() == "https://modelscope.cn"
    monkeypatch.setenv("MODELSCOPE_BASE_URL", "http://127.0.0.1:9/v1")
    assert balance_site() == "http://127.0.0.1:9"


def test_success_reads_the_three_numbers_with_the_bearer_token(site: ScriptedServer) -> None:
    balance = _read(site, Scripted(body=OK))
    assert (balance.available, balance.total, balance.frozen) == (143, 143, 0)
    assert balance.has_points
    assert balance.read_at.tzinfo is not None
    assert balance.request_id == "req-1"
    assert balance.url == f"{site.url}{BALANCE_PATH}"
    method, path, headers = site.seen[-1]
    assert (method, path) == ("GET", BALANCE_PATH)
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(balance)


def test_fractional_points_are_kept(site: ScriptedServer) -> None:
    body = {
        "success": True,
        "data": {"total_balance": 12.5, "available_balance": 10.5, "frozen_amount": 2},
    }
    balance = _read(site, Scripted(body=body))
    assert (balance.available, balance.total, balance.frozen) == (10.5, 12.5, 2)


def test_zero_available_is_a_balance_not_an_error(site: ScriptedServer) -> None:
    body = {
        "success": True,
        "data": {"total_balance": 0, "available_balance": 0, "frozen_amount": 0},
    }
    assert _read(site, Scripted(body=body)).has_points is False


def test_site_url_overrides_the_derivation(site: ScriptedServer) -> None:
    site.script(BALANCE_PATH, Scripted(body=OK))
    balance = points_balance(
        TOKEN, base_url="https://api-inference.modelscope.cn/v1", site_url=site.url + "/"
    )
    assert balance.available == 143


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"Code": "InvalidAuthentication", "Message": "unauthorized"}, AuthenticationError),
        (403, {"errors": {"message": "real-name verified"}}, PermissionDeniedError),
    ],
)
def test_refused_tokens_raise_the_auth_errors(
    site: ScriptedServer, status: int, body: dict[str, Any], kind: type[Exception]
) -> None:
    with pytest.raises(kind):
        _read(site, Scripted(status, body))


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Scripted(404, "<html>Not Found</html>", "text/html"), "not_found"),
        (Scripted(200, "<!doctype html><html>login</html>", "text/html"), "not_json"),
        (
            Scripted(
                200,
                {
                    "success": False,
                    "Code": "QuotaLimitExceed",
                    "Message": "magicube balance exhausted",
                },
            ),
            "unsuccessful",
        ),
        (Scripted(200, {"success": True, "data": {"available_balance": 3}}), "missing_fields"),
        (Scripted(200, {"success": True}), "missing_fields"),
        (
            Scripted(
                200,
                {
                    "success": True,
                    "data": {"total_balance": "x", "available_balance": 1, "frozen_amount": 0},
                },
            ),
            "missing_fields",
        ),
        (Scripted(200, [1, 2]), "bad_shape"),
    ],
)
def test_anything_unusable_raises_one_typed_error_saying_why(
    site: ScriptedServer, answer: Scripted, reason: str
) -> None:
    with pytest.raises(BalanceUnavailableError) as caught:
        _read(site, answer)
    assert caught.value.reason == reason
    assert BALANCE_PATH in str(caught.value)


def test_the_token_never_appears_in_errors(site: ScriptedServer) -> None:
    echo = {"success": False, "message": f"bad token {TOKEN}"}
    for answer in (Scripted(200, echo), Scripted(500, echo), Scripted(401, echo)):
        site.script(BALANCE_PATH, answer)
        with pytest.raises(APIError) as caught:
            points_balance(TOKEN, base_url=f"{site.url}/v1", timeout=5)
        for text in (str(caught.value), repr(caught.value)):
            assert TOKEN not in text
        assert TOKEN.encode() not in pickle.dumps(caught.value)


def test_unreachable_site_is_a_connection_error() -> None:
    with pytest.raises(APIConnectionError):
        points_balance(TOKEN, base_url="http://127.0.0.1:9/v1", timeout=2)


def test_no_token_fails_before_any_request() -> None:
    with pytest.raises(MissingAPIKeyError):
        points_balance(base_url="http://127.0.0.1:9/v1")


async def test_async_reads_the_same(site: ScriptedServer) -> None:
    site.script(BALANCE_PATH, Scripted(body=OK))
    balance = await apoints_balance(TOKEN, base_url=f"{site.url}/v1")
    assert balance.available == 143
    site.script(BALANCE_PATH, Scripted(401, {"message": "no"}))
    with pytest.raises(AuthenticationError):
        await apoints_balance(TOKEN, base_url=f"{site.url}/v1")


def test_exported_from_the_package() -> None:
    assert langchain_modelscope.points_balance is points_balance
    assert "points_balance" in langchain_modelscope.__all__


# --- on the emulator (its balance endpoint is on its own origin) ------------------------------


def test_emulator_balance_is_read_on_its_own_origin(emu: ModelScopeEmulator) -> None:
    emu.set_balance(emu.token, 7.5)
    balance = points_balance(emu.token, base_url=emu.base_url)
    assert balance.available == 7.5
    emu.grant_points(emu.token, 10)
    assert points_balance(emu.token, base_url=emu.base_url).available == 17.5
    assert emu.points(emu.token) == 17.5


def test_emulator_balance_costs_nothing(emu: ModelScopeEmulator) -> None:
    emu.set_balance(emu.token, 3)
    for _ in range(3):
        points_balance(emu.token, base_url=emu.base_url)
    assert emu.points(emu.token) == 3


def test_emulator_refuses_a_wrong_token(emu: ModelScopeEmulator) -> None:
    with pytest.raises(AuthenticationError):
        points_balance("ms-99999999-9999-4999-8999-999999999999", base_url=emu.base_url)
