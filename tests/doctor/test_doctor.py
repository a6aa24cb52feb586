"""`doctor()` against the emulator: both regimes, each deviation flagged alone, the budget.

The expected drift of each deviation is the fact the facts sheet names for it (modelscope-api.md
§2a headers, §3 thinking texts, §3/§4 json_schema, §5 a retired model); the rest must stay
"as expected", so a deviation is flagged exactly where it is and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest

from langchain_modelscope import _wording
from langchain_modelscope._answers import RATELIMIT_HEADERS
from langchain_modelscope._doctor import DoctorReport, PlannedCheck, doctor
from langchain_modelscope._doctor_facts import facts
from langchain_modelscope.chat_models import DEFAULT_MODEL
from langchain_modelscope.testing import ModelScopeEmulator

#: enough for every paid check (each reserves up to 2 points)
ALL = 20.0
PAID_FACTS = {
    "regime",
    "ratelimit_headers",
    "served_model_name",
    "usage",
    "stream_usage",
    "stream_delta_usage",
    "hybrid_thinking_400",
    "thinking_only_400",
    "json_schema",
    "tool_call_deltas",
}


def run(emu: ModelScopeEmulator, spend: float = ALL, **kwargs: object) -> DoctorReport:
    return doctor(emu.token, base_url=emu.base_url, spend=spend, **kwargs)  # type: ignore[arg-type]


def statuses(report: DoctorReport) -> dict[str, str]:
    return {fact.id: fact.status for fact in report.facts}


def drifted(report: DoctorReport) -> set[str]:
    return {fact.id for fact in report.drifted}


def test_one_entry_per_fact_in_the_registry_order(emu: ModelScopeEmulator) -> None:
    report = run(emu, spend=0)
    assert [fact.id for fact in report.facts] == [fact.id for fact in facts()]


def test_points_regime_nothing_drifts_and_every_fact_is_checked(emu: ModelScopeEmulator) -> None:
    report = run(emu)
    assert drifted(report) == set()
    assert report.exit_code == 0
    seen = statuses(report)
    assert not [fact for fact, status in seen.items() if status == "not_checked"]
    assert seen["regime"] == "as_expected"
    assert seen["ratelimit_headers"] == "as_expected"
    assert report.points_spent is not None
    assert report.points_spent > 0
    assert all(check.skipped is None for check in report.checks)


def test_daily_regime_is_information_not_drift(emu: ModelScopeEmulator) -> None:
    # The package handles both regimes (§2: "the client must handle both"), so the older one
    # is told, not flagged: a drift is what the package would suffer.
    emu.config.regime = "daily"
    report = run(emu)
    assert drifted(report) == set()
    assert report.exit_code == 0
    regime = report.fact("regime")
    assert regime.status == "info"
    assert regime.observed is not None
    assert "daily" in regime.observed
    assert report.fact("ratelimit_headers").status == "as_expected"
    assert report.points_spent == 0


DEVIATIONS: dict[str, tuple[Callable[[ModelScopeEmulator], None], set[str]]] = {
    "headers in the points regime": (
        lambda emu: setattr(emu.config, "ratelimit_headers_in_points", True),
        {"ratelimit_headers"},
    ),
    "a changed hybrid thinking 400": (
        lambda emu: setattr(
            emu.config, "hybrid_thinking_message", "thinking is available in streaming mode only"
        ),
        {"hybrid_thinking_400"},
    ),
    "a changed thinking-only 400": (
        lambda emu: setattr(emu.config, "thinking_only_message", "this model requires stream=true"),
        {"thinking_only_400"},
    ),
    "json_schema answering normally": (
        lambda emu: setattr(emu.config, "json_schema_quirk", False),
        {"json_schema"},
    ),
    "a retired default model": (lambda emu: emu.retire_model(DEFAULT_MODEL), {"default_model"}),
}


@pytest.mark.parametrize("name", list(DEVIATIONS))
def test_a_deviation_flags_exactly_its_fact(emu: ModelScopeEmulator, name: str) -> None:
    deviate, expected = DEVIATIONS[name]
    deviate(emu)
    report = run(emu)
    assert drifted(report) == expected
    assert report.exit_code == 1
    for fact in report.drifted:
        assert fact.observed, fact


def test_a_changed_thinking_text_is_shown_verbatim(emu: ModelScopeEmulator) -> None:
    emu.config.hybrid_thinking_message = "thinking is available in streaming mode only"
    fact = run(emu).fact("hybrid_thinking_400")
    assert fact.observed == "400 thinking is available in streaming mode only"
    assert fact.note is not None
    assert "BadRequestError" in fact.note


def test_a_retired_default_model_is_flagged_for_free_and_the_rest_still_checked(
    emu: ModelScopeEmulator,
) -> None:
    emu.retire_model(DEFAULT_MODEL)
    free = run(emu, spend=0)
    assert drifted(free) == {"default_model"}
    paid = run(emu)
    default = paid.fact("default_model")
    assert default.observed is not None
    assert "has no provider supported" in default.observed
    # another listed chat model stood in for the regime, stream, json_schema and tool checks
    plain = next(check for check in paid.checks if check.name == "plain")
    assert plain.model not in (None, DEFAULT_MODEL)
    assert statuses(paid)["regime"] == "as_expected"


def test_an_unlisted_default_that_still_answers_is_as_expected(
    emu: ModelScopeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The list is curated (§5: a model missing from it answered when called).
    from langchain_modelscope import _doctor

    real = _doctor.list_models

    def without_default(*args: object) -> object:
        listed, found, stop = real(*args)  # type: ignore[arg-type]
        return [m for m in listed or [] if m != DEFAULT_MODEL], found, stop

    monkeypatch.setattr(_doctor, "list_models", without_default)
    assert drifted(run(emu, spend=0)) == {"default_model"}
    paid = run(emu)
    assert drifted(paid) == set()
    assert paid.fact("default_model").status == "as_expected"
    assert next(c.name for c in paid.checks) == "default_model_call"


def test_a_removed_default_model_is_confirmed_by_the_paid_check(emu: ModelScopeEmulator) -> None:
    emu.remove_model(DEFAULT_MODEL)
    report = run(emu)
    assert drifted(report) == {"default_model"}
    assert "invalid model id" in (report.fact("default_model").observed or "").lower()


def test_spend_zero_makes_no_billable_request(emu: ModelScopeEmulator) -> None:
    report = run(emu, spend=0)
    assert emu.requests_for(billable=True) == []
    assert {(r.method, r.path) for r in emu.requests} <= {
        ("GET", "/v1/models"),
        ("GET", "/openapi/v1/magicubes/balance"),
    }
    assert report.exit_code == 0
    assert report.points_spent is None
    assert {fact.id for fact in report.facts if fact.status == "not_checked"} == PAID_FACTS
    assert all(check.skipped and "--spend" in check.skipped for check in report.checks)


def test_the_budget_cuts_the_paid_checks_in_order(emu: ModelScopeEmulator) -> None:
    report = run(emu, spend=4)
    ran = [check.name for check in report.checks if check.skipped is None]
    assert ran == ["plain", "stream"]
    assert len(emu.requests_for(billable=True)) == 2
    assert report.fact("json_schema").status == "not_checked"
    assert report.points_spent is not None
    assert report.points_spent <= 4


def test_a_declined_confirmation_spends_nothing(emu: ModelScopeEmulator) -> None:
    asked: list[Sequence[PlannedCheck]] = []

    def confirm(checks: Sequence[PlannedCheck]) -> bool | str:
        asked.append(checks)
        return "no terminal"

    report = run(emu, confirm=confirm)
    assert len(asked) == 1
    assert all(check.max_points == 2 for check in asked[0])
    assert emu.requests_for(billable=True) == []
    assert {check.skipped for check in report.checks} == {"no terminal"}
    assert report.exit_code == 0


def test_without_a_token_only_the_list_is_checked_and_it_could_not_run(
    emu: ModelScopeEmulator,
) -> None:
    report = doctor(base_url=emu.base_url, spend=ALL)
    assert report.fact("models_list").status == "as_expected"
    assert report.fact("token").status == "not_checked"
    assert report.could_not_run is not None
    assert "no token" in report.could_not_run
    assert report.exit_code == 2
    assert emu.requests_for(billable=True) == []


def test_a_refused_token_could_not_run(emu: ModelScopeEmulator) -> None:
    report = doctor("ms-not-a-known-token", base_url=emu.base_url, spend=ALL)
    assert report.fact("token").status == "info"
    assert report.exit_code == 2
    assert emu.requests_for(billable=True) == []


def test_an_unreachable_service_could_not_run() -> None:
    report = doctor("ms-x", base_url="http://127.0.0.1:9/v1", spend=ALL, timeout=2)
    assert report.exit_code == 2
    assert report.fact("models_list").status == "not_checked"
    assert "could not reach" in (report.could_not_run or "")


def test_an_unusable_balance_endpoint_is_its_own_drift(emu: ModelScopeEmulator) -> None:
    emu.config.balance_endpoint = "html"
    report = run(emu)
    assert drifted(report) == {"balance"}
    # without a balance the regime is told by the headers alone, as the package does
    assert report.fact("regime").status == "as_expected"
    assert report.fact("regime").note is not None


def test_the_token_and_request_ids_never_show(emu: ModelScopeEmulator) -> None:
    emu.config.hybrid_thinking_message = f"bad call for {emu.token}"
    report = run(emu)
    forms = (report.to_text(), report.to_markdown(), json.dumps(report.to_dict()))
    ids = {r.request_id for r in emu.requests if r.request_id}
    assert ids
    for form in forms:
        assert emu.token not in form
        assert not [request_id for request_id in ids if request_id in form]
    # the HTTP core scrubs an echoed token ("***") before the doctor's own redaction ("<token>")
    observed = report.fact("hybrid_thinking_400").observed or ""
    assert "***" in observed or "<token>" in observed, observed


def test_expected_values_come_from_the_package_homes(emu: ModelScopeEmulator) -> None:
    report = run(emu, spend=0)
    assert DEFAULT_MODEL in report.fact("default_model").expected
    for header in RATELIMIT_HEADERS.values():
        assert header in report.fact("ratelimit_headers").expected
    for phrase in _wording.HYBRID_THINKING_PHRASES:
        assert phrase in report.fact("hybrid_thinking_400").expected
    for part in _wording.THINKING_ONLY_PARTS:
        assert part in report.fact("thinking_only_400").expected


@pytest.mark.parametrize("spend", [-1, float("nan"), "3", True])
def test_a_bad_budget_is_a_value_error(spend: object) -> None:
    with pytest.raises(ValueError, match="spend"):
        doctor("ms-x", base_url="http://127.0.0.1:9/v1", spend=spend)  # type: ignore[arg-type]


def test_the_forms_carry_the_verdict(emu: ModelScopeEmulator) -> None:
    emu.config.json_schema_quirk = False
    report = run(emu)
    assert "json_schema" in report.to_text().splitlines()[1]
    markdown = report.to_markdown()
    assert "| `json_schema` | DIFFERENT |" in markdown
    data = report.to_dict()
    assert data["drifted"] == ["json_schema"]
    assert data["exit_code"] == 1
