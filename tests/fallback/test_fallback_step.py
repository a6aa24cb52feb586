"""The fallback's pure step: every decision as a table (candidate, ledger view, failure → step).

No models, no ledger store, no I/O: ``decide`` is a function of its arguments. The walk that
drives it is covered, sync and async, by the unit and emulator tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from langchain_modelscope._fallback_candidates import CandidateInfo, Slot
from langchain_modelscope._fallback_classify import Failure
from langchain_modelscope._fallback_step import Claim, LedgerView, Mark, Rules, Step, decide
from langchain_modelscope.quota import QuotaEntry, QuotaKey, throttle_cooldown

pytestmark = pytest.mark.disable_socket

NOW = datetime(2031, 3, 10, 8, 0, tzinfo=timezone.utc)
RESET = datetime(2031, 3, 10, 16, 0, tzinfo=timezone.utc)
RULES = Rules(
    quota_cooldown=timedelta(hours=1),
    auth_cooldown=timedelta(hours=2),
    not_found_cooldown=timedelta(hours=3),
    fallback_on_unknown_errors=False,
)


def slot(index: int, account: str = "acct-a", model: str = "m1", provider: str = "p") -> Slot:
    info = CandidateInfo(index=index, provider=provider, account=account, model=model)
    return Slot(info, info.key, None, None)


A = slot(0)  # p:m1@acct-a
B = slot(1, account="acct-b")  # the same model on another account
C = slot(2, model="m2")  # another model on the first account
D = slot(3, provider="q")  # the same model name at another provider
PEERS = (A, B, C, D)
MODEL_KEY = QuotaKey("p", "acct-a", "m1")
ACCOUNT_KEY = MODEL_KEY.account_wide()


def entry(key: QuotaKey = MODEL_KEY) -> QuotaEntry:
    return QuotaEntry(key=key, until=RESET, reason="quota: spent", recorded_at=NOW)


def failure(kind: str, *, scope: str = "model", until: datetime | None = None) -> Failure:
    return Failure(kind, "it failed", "SomeError", 429, scope, until)  # type: ignore[arg-type]


# --- before the call: the ledger's view decides ----------------------------------------------

BEFORE = [
    ("no mark: try", LedgerView(NOW), "try"),
    ("the model's mark: skip", LedgerView(NOW, entry()), "skip"),
    ("the account's mark: skip", LedgerView(NOW, entry(ACCOUNT_KEY)), "skip"),
    ("store unreadable: try without it", LedgerView(NOW, None, readable=False), "try"),
]


@pytest.mark.parametrize(("case", "view", "action"), BEFORE, ids=[c[0] for c in BEFORE])
def test_before_the_call(case: str, view: LedgerView, action: str) -> None:
    step = decide(A, view, None, RULES)
    assert step.action == action
    assert step.marks == ()


# --- after a failure: the failure's kind decides, and what the ledger learns -----------------

AFTER = [
    (
        "quota with a known reset: mark the model until it",
        failure("quota", until=RESET),
        Step("move_on", (Mark(MODEL_KEY, RESET, "quota: it failed"),)),
    ),
    (
        "quota with no reset: the quota cooldown",
        failure("quota"),
        Step("move_on", (Mark(MODEL_KEY, NOW + timedelta(hours=1), "quota: it failed"),)),
    ),
    (
        "an account's quota: mark the whole account",
        failure("quota", scope="account", until=RESET),
        Step("move_on", (Mark(ACCOUNT_KEY, RESET, "quota: it failed"),)),
    ),
    (
        "refused token: the account, for the auth cooldown",
        failure("auth", scope="account"),
        Step("move_on", (Mark(ACCOUNT_KEY, NOW + timedelta(hours=2), "auth: it failed"),)),
    ),
    (
        "unknown model: every account of that provider's model",
        failure("not_found"),
        Step(
            "move_on",
            tuple(
                Mark(key, NOW + timedelta(hours=3), "not_found: it failed")
                for key in (MODEL_KEY, QuotaKey("p", "acct-b", "m1"))
            ),
        ),
    ),
    ("transient: move on, nothing marked", failure("transient"), Step("move_on")),
    ("failed (this call only): move on, nothing marked", failure("failed"), Step("move_on")),
    ("bad request: raise, it would fail everywhere", failure("bad_request"), Step("raise")),
    ("unknown error: raise by default", failure("unknown"), Step("raise")),
]


@pytest.mark.parametrize(("case", "given", "expected"), AFTER, ids=[c[0] for c in AFTER])
def test_after_a_failure(case: str, given: Failure, expected: Step) -> None:
    step = decide(A, LedgerView(NOW), given, RULES, peers=PEERS)
    assert (step.action, step.marks) == (expected.action, expected.marks)
    assert step.failure == given


def test_an_unknown_error_moves_on_when_the_user_opted_in() -> None:
    rules = Rules(timedelta(hours=1), timedelta(hours=1), timedelta(hours=1), True)
    step = decide(A, LedgerView(NOW), failure("unknown"), rules)
    assert step.action == "move_on"
    assert step.marks == ()
    assert step.failure is not None
    assert step.failure.kind == "failed"


@pytest.mark.parametrize("kind", ["quota", "auth", "not_found", "transient", "failed"])
def test_a_started_stream_raises_whatever_failed_yet_the_ledger_learns(kind: str) -> None:
    moved_on = decide(A, LedgerView(NOW), failure(kind), RULES, peers=PEERS)
    started = decide(A, LedgerView(NOW), failure(kind), RULES, peers=PEERS, started=True)
    assert started.action == "raise"
    assert started.marks == moved_on.marks


def test_the_step_does_no_io_and_keeps_no_state() -> None:
    """The same question twice gets the same answer: the ledger is the only state."""
    given = failure("quota", until=RESET)
    assert decide(A, LedgerView(NOW), given, RULES) == decide(A, LedgerView(NOW), given, RULES)


# --- marks with their own ending: points, throttles, retired models -------------------------


class ChatModelScope:  # named like the package's model: decide() offers it a balance check
    def __init__(self) -> None:
        self.api_key = SecretStr("ms-token-of-the-test")
        self.base_url = "http://127.0.0.1:1/v1"


MS_INFO = CandidateInfo(index=0, provider="modelscope", account="acct-a", model="m1")
MS = Slot(MS_INFO, MS_INFO.key, ChatModelScope(), None)  # a ModelScope candidate
BLIND = Slot(MS_INFO, MS_INFO.key, None, None)  # the same account, no balance endpoint to ask
MS_ACCOUNT = MS_INFO.key.account_wide()
POINTS = QuotaEntry(MS_ACCOUNT, NOW + timedelta(days=7), "points: spent", NOW, kind="points")
THROTTLE = QuotaEntry(
    MS_INFO.key, NOW, "throttle: busy", NOW - timedelta(seconds=30), kind="throttle", strikes=2
)
BALANCE_CLAIM = Claim(MS_ACCOUNT.claim_name("balance"), NOW + RULES.balance_check_interval)

MARKED = [
    ("a points mark: claim this interval's check", MS, LedgerView(NOW, POINTS), "claim"),
    ("another caller holds the check: skip", MS, LedgerView(NOW, POINTS, claimed=False), "skip"),
    ("won: ask the free endpoint", MS, LedgerView(NOW, POINTS, claimed=True), "check_balance"),
    (
        "points are back: lift the mark",
        MS,
        LedgerView(NOW, POINTS, claimed=True, balance="points"),
        "lift",
    ),
    ("still empty: skip", MS, LedgerView(NOW, POINTS, claimed=True, balance="empty"), "skip"),
    (
        "the endpoint is unusable: this call probes",
        MS,
        LedgerView(NOW, POINTS, claimed=True, balance="unknown"),
        "try",
    ),
    ("no endpoint to ask: this call probes", BLIND, LedgerView(NOW, POINTS, claimed=True), "try"),
    ("a cooldown ended: claim the probe", MS, LedgerView(NOW, probe=THROTTLE), "claim"),
    ("the probe is ours: try", MS, LedgerView(NOW, probe=THROTTLE, claimed=True), "try"),
    ("another probes: skip", MS, LedgerView(NOW, probe=THROTTLE, claimed=False), "skip"),
]


@pytest.mark.parametrize(("case", "at", "view", "action"), MARKED, ids=[c[0] for c in MARKED])
def test_marks_that_need_a_claim(case: str, at: Slot, view: LedgerView, action: str) -> None:
    assert decide(at, view, None, RULES).action == action


def test_the_claims_are_per_account_for_points_and_per_cooldown_for_probes() -> None:
    assert decide(MS, LedgerView(NOW, POINTS), None, RULES).claim == BALANCE_CLAIM
    probe = decide(MS, LedgerView(NOW, probe=THROTTLE), None, RULES).claim
    assert probe == Claim(MS_INFO.key.claim_name("probe"), NOW + throttle_cooldown(2))
    lift = decide(MS, LedgerView(NOW, POINTS, claimed=True, balance="points"), None, RULES)
    assert lift.lifts == (MS_ACCOUNT,)


def test_spent_points_mark_the_account_without_a_clock_and_defer_the_first_check() -> None:
    step = decide(MS, LedgerView(NOW), failure("points", scope="account"), RULES, peers=(MS,))
    assert step.action == "move_on"
    assert step.marks == (Mark(MS_ACCOUNT, None, "points: it failed", "points"),)
    assert step.claim == BALANCE_CLAIM


def test_another_providers_spent_balance_is_a_quota_cooldown() -> None:
    step = decide(A, LedgerView(NOW), failure("points", scope="account"), RULES, peers=PEERS)
    assert step.marks == (Mark(ACCOUNT_KEY, NOW + timedelta(hours=1), "points: it failed"),)


def test_a_throttle_asks_the_ledger_for_its_escalating_cooldown() -> None:
    step = decide(MS, LedgerView(NOW), failure("throttle"), RULES, peers=(MS,))
    assert step.action == "move_on"
    assert step.marks == (Mark(MS_INFO.key, None, "throttle: it failed", "throttle"),)


def test_a_retired_model_is_parked_on_every_account_with_a_retired_mark() -> None:
    step = decide(A, LedgerView(NOW), failure("retired"), RULES, peers=PEERS)
    assert step.marks == tuple(
        Mark(key, None, "retired: it failed", "retired")
        for key in (MODEL_KEY, QuotaKey("p", "acct-b", "m1"))
    )


def test_a_daily_quota_is_marked_with_its_kind() -> None:
    given = Failure("quota", "spent", "QuotaExceededError", 429, "model", RESET, "day")
    assert decide(A, LedgerView(NOW), given, RULES).marks == (
        Mark(MODEL_KEY, RESET, "quota: spent", "daily"),
    )
