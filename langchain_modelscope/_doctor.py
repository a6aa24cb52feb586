"""`doctor`: is the live service still what this package expects?

The package is built against a service its builders cannot reach, from the facts sheet
(modelscope-api.md); the first to see the service change is a user. `doctor` checks, with that
user's token, each fact the package relies on, and says for each "as expected", "different"
(what was seen, verbatim, with the token and request ids taken out) or "not checked" (why).

Free checks always run. Paid checks (one small chat call each, up to `MAX_POINTS_PER_CALL`
points) run only within ``spend`` points and, when ``confirm`` is given, once it agrees. A check
that cannot run is skipped with its reason; nothing here raises for what the service answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any, Final

from pydantic import SecretStr

from langchain_modelscope._balance import PointsBalance, points_balance
from langchain_modelscope._client import ModelScopeClient, resolve_api_key, resolve_base_url
from langchain_modelscope._doctor_facts import (
    MAX_POINTS_PER_CALL,
    Finding,
    Redactor,
    Status,
    facts,
)
from langchain_modelscope._doctor_free import check_balance, check_listed_models, list_models
from langchain_modelscope._doctor_paid import PAID_CHECKS, PaidCheck, Probe, not_checked
from langchain_modelscope._version import __version__
from langchain_modelscope.errors import APIError, MissingAPIKeyError

__all__ = ["MAX_POINTS_PER_CALL", "DoctorReport", "FactReport", "PlannedCheck", "doctor"]

#: seconds per request: enough for a slow first byte, short enough for a diagnostic
DEFAULT_DOCTOR_TIMEOUT: Final = 60.0


@dataclass(frozen=True, slots=True)
class FactReport:
    """One fact of the drift report: what the package expects, and what was seen."""

    id: str
    title: str
    section: str
    expected: str
    status: Status
    observed: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedCheck:
    """A paid check: its model, what it may cost, and why it did not run (None: it ran)."""

    name: str
    what: str
    model: str | None
    max_points: float
    skipped: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    """The drift report; `exit_code` is 0 (no drift), 1 (drift) or 2 (could not run)."""

    version: str
    base_url: str
    checked_at: datetime
    spend: float
    facts: tuple[FactReport, ...]
    checks: tuple[PlannedCheck, ...]
    #: points the paid checks cost, from the balance before and after (None: unknown)
    points_spent: float | None
    #: why the doctor could not check what it is for (no token, service unreachable)
    could_not_run: str | None

    @property
    def drifted(self) -> tuple[FactReport, ...]:
        """The facts seen different from what the package expects."""
        return tuple(fact for fact in self.facts if fact.status == "different")

    @property
    def exit_code(self) -> int:
        if self.drifted:
            return 1
        return 2 if self.could_not_run else 0

    def fact(self, fact_id: str) -> FactReport:
        """The entry of one fact, by id."""
        return next(fact for fact in self.facts if fact.id == fact_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json``)."""
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat(timespec="seconds")
        data["drifted"] = [fact.id for fact in self.drifted]
        data["exit_code"] = self.exit_code
        return data

    def to_text(self) -> str:
        """The human form."""
        from langchain_modelscope._doctor_render import as_text

        return as_text(self)

    def to_markdown(self) -> str:
        """The form to paste into an issue."""
        from langchain_modelscope._doctor_render import as_markdown

        return as_markdown(self)


def _budget(spend: float) -> float:
    if isinstance(spend, bool) or not isinstance(spend, int | float) or math.isnan(spend):
        raise ValueError(f"spend must be a number of points, 0 or more, got {spend!r}")
    if spend < 0:
        raise ValueError(f"spend must be 0 or more points, got {spend!r}")
    return float(spend)


def _plan(
    listed: Sequence[str] | None, spend: float, blocked: str | None
) -> list[tuple[PaidCheck, PlannedCheck]]:
    """Every paid check with its model, cut by what blocks them and by the budget."""
    plan: list[tuple[PaidCheck, PlannedCheck]] = []
    reserved = 0.0
    for check in PAID_CHECKS:
        model = check.pick(listed) if listed is not None else None
        if model is None and check.no_model is None:
            continue
        skipped: str | None = None
        if blocked is not None:
            skipped = blocked
        elif model is None:
            skipped = check.no_model
        elif spend == 0:
            skipped = (
                f"a paid check: run with --spend (it costs up to {MAX_POINTS_PER_CALL:g} points)"
            )
        elif reserved + MAX_POINTS_PER_CALL > spend:
            skipped = (
                f"over the --spend budget of {spend:g} points "
                f"(it costs up to {MAX_POINTS_PER_CALL:g}; {max(spend - reserved, 0):g} left)"
            )
        else:
            reserved += MAX_POINTS_PER_CALL
        planned = PlannedCheck(check.name, check.what, model, MAX_POINTS_PER_CALL, skipped)
        plan.append((check, planned))
    return plan


def _declined(plan: list[tuple[PaidCheck, PlannedCheck]], reason: str) -> None:
    for position, (check, planned) in enumerate(plan):
        if planned.skipped is None:
            plan[position] = (check, replace(planned, skipped=reason))


def _run_check(check: PaidCheck, probe: Probe, model: str) -> dict[str, Finding]:
    """One paid check; whatever goes wrong becomes "not checked", never a traceback."""
    try:
        return check.run(probe, model)
    except APIError as error:
        note = probe.redact(f"the call failed: {type(error).__name__}: {error}")
    except Exception as error:  # a diagnostic must report, not crash, on an odd answer
        note = probe.redact(f"the check failed on an unexpected answer: {type(error).__name__}")
    return not_checked(check.facts, note)


def doctor(
    api_key: SecretStr | str | None = None,
    *,
    base_url: str | None = None,
    site_url: str | None = None,
    spend: float = 0,
    confirm: Callable[[Sequence[PlannedCheck]], bool | str] | None = None,
    timeout: float = DEFAULT_DOCTOR_TIMEOUT,
) -> DoctorReport:
    """Check the live service against the facts the package relies on.

    Free checks always run; paid checks (up to `MAX_POINTS_PER_CALL` points each) run within
    ``spend`` points, after ``confirm(checks)`` returns True when it is given (False, or a
    string saying why, skips them all). The token comes
    from ``api_key`` or the usual environment variables; without one only the free model list
    is checked. Raises ValueError for a bad ``base_url``, ``spend`` or ``timeout`` only.
    """
    budget = _budget(spend)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    base = resolve_base_url(base_url)
    checked_at = datetime.now(timezone.utc)
    token: SecretStr | None
    try:
        token, _ = resolve_api_key(api_key)
    except MissingAPIKeyError:
        token = None
    redact = Redactor(token.get_secret_value() if token is not None else None)

    found: dict[str, Finding] = {}
    listed, seen, unreachable = list_models(base, float(timeout), redact)
    found.update(seen)
    if listed is not None:
        found.update(check_listed_models(listed))
    before: PointsBalance | None = None
    no_token: str | None = None
    if unreachable is None:
        before, seen, no_token = check_balance(token, base, site_url, float(timeout), redact)
        found.update(seen)
    blocked = unreachable or no_token

    plan = _plan(listed, budget, blocked)
    runnable = [planned for _, planned in plan if planned.skipped is None]
    answer = confirm(runnable) if runnable and confirm is not None else True
    if answer is not True:
        _declined(plan, answer if isinstance(answer, str) else "not confirmed")
        runnable = []

    spent: float | None = None
    if runnable and token is not None and listed is not None:

        def read_balance() -> PointsBalance | None:
            if before is None:
                return None
            try:
                return points_balance(token, base_url=base, site_url=site_url, timeout=timeout)
            except (APIError, ValueError):
                return None

        client = ModelScopeClient(api_key=token, base_url=base, timeout=timeout, max_retries=0)
        probe = Probe(client, redact, read_balance, before)
        for check, planned in plan:
            if planned.skipped is None and planned.model is not None:
                found.update(_run_check(check, probe, planned.model))
        after = read_balance()
        if before is not None and after is not None:
            spent = round(before.available - after.available, 6)

    for check, planned in plan:
        if planned.skipped is not None:
            for fact in check.facts:
                found.setdefault(fact, Finding("not_checked", note=planned.skipped))
    missing = Finding("not_checked", note=blocked or "not checked")
    report_facts = tuple(
        FactReport(fact.id, fact.title, fact.section, fact.expected, **asdict(finding))
        for fact in facts()
        for finding in (found.get(fact.id, missing),)
    )
    return DoctorReport(
        version=__version__,
        base_url=base,
        checked_at=checked_at,
        spend=budget,
        facts=report_facts,
        checks=tuple(planned for _, planned in plan),
        points_spent=spent,
        could_not_run=blocked,
    )
