"""The fallback's pure step: given a candidate, the ledger's view and the last failure, what now.

:func:`decide` says ``skip``, ``try``, ``claim``, ``check_balance``, ``lift``, ``move_on`` or
``raise``, and which ledger marks to write first. Every rule of the fallback is here and nothing
here does I/O; a new kind of mark (a points balance, a throttle cooldown, a concurrency lease)
is a new case here. :mod:`._fallback_walk` asks it, :mod:`._fallback_drive` acts on the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from langchain_modelscope._fallback_candidates import MODELSCOPE, Slot, balance_source
from langchain_modelscope._fallback_classify import Failure
from langchain_modelscope.quota import MarkKind, QuotaEntry, QuotaKey, throttle_cooldown

Action = Literal["skip", "try", "claim", "check_balance", "lift", "move_on", "raise"]

#: How often one caller (across every process sharing the ledger) asks the free balance
#: endpoint whether a spent account has points again. Points come back when the user is
#: active on modelscope.cn (§2a), a human timescale: five minutes brings the account back
#: within minutes of a login, and costs at most 288 free requests a day per account.
DEFAULT_BALANCE_CHECK_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Rules:
    """The user's settings that decide what a failure costs a candidate."""

    quota_cooldown: timedelta
    auth_cooldown: timedelta
    not_found_cooldown: timedelta
    fallback_on_unknown_errors: bool
    balance_check_interval: timedelta = DEFAULT_BALANCE_CHECK_INTERVAL


#: What a balance check said: points to spend, none, or nothing usable (the endpoint failed).
BalanceState = Literal["points", "empty", "unknown"]


@dataclass(frozen=True, slots=True)
class LedgerView:
    """What the ledger (and the checks it allowed) say about one candidate, at ``now``."""

    now: datetime
    #: the mark that blocks the candidate (its own or its account's), if any
    entry: QuotaEntry | None = None
    #: False when the store could not be read: the call goes on without it
    readable: bool = True
    #: the candidate's throttle mark whose cooldown ended: one call may probe it
    probe: QuotaEntry | None = None
    #: the outcome of the claim the last step asked for (None: none asked yet)
    claimed: bool | None = None
    #: what the balance check the last step asked for said (None: not checked)
    balance: BalanceState | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """A ledger write the step asks for: ``key`` is marked ``kind`` until ``until``.

    ``until`` None: the ledger's default for the kind (points: until lifted; retired: a day;
    throttle: the escalating cooldown, at least ``retry_after`` seconds).
    """

    key: QuotaKey
    until: datetime | None
    reason: str
    kind: MarkKind = "other"
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A ledger claim the step asks for: exactly one caller across processes wins it."""

    name: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with a candidate now, and what to write to the ledger before.

    Before a call: ``skip``, ``try``, ``claim`` (win ``claim`` first, then decide again),
    ``check_balance`` (ask the free balance endpoint, then decide again) or ``lift`` (remove
    the points mark in ``lifts``, then look again). After a failure: ``move_on`` or ``raise``.
    """

    action: Action
    marks: tuple[Mark, ...] = ()
    #: the failure as the rules see it (an unknown error may count as ``failed``)
    failure: Failure | None = None
    claim: Claim | None = None
    lifts: tuple[QuotaKey, ...] = ()


#: How long a quota, auth or not-found failure parks a candidate when nothing says longer.
DEFAULT_COOLDOWN = timedelta(hours=1)
#: The rules of a walk nobody configured (the image generator's one-candidate walk).
DEFAULT_RULES = Rules(DEFAULT_COOLDOWN, DEFAULT_COOLDOWN, DEFAULT_COOLDOWN, False)

_TRY = Step("try")
_SKIP = Step("skip")
_CHECK_BALANCE = Step("check_balance")
_MARK_KIND_OF_PERIOD: dict[str | None, MarkKind] = {"day": "daily", "month": "monthly"}


def decide(
    slot: Slot,
    view: LedgerView,
    failure: Failure | None,
    rules: Rules,
    *,
    peers: Sequence[Slot] = (),
    started: bool = False,
) -> Step:
    """The fallback's every decision about ``slot``, with no I/O.

    ``failure`` None: before the call, from the ledger's ``view`` (see :func:`_admission`).
    Otherwise after it failed: raise a failure that would fail everywhere, else mark the
    ledger and move on. ``started``: the candidate had streamed content, so it raises
    whatever the failure (the ledger still learns from it). ``peers``: every candidate of the
    call (an unknown model is unknown on every account of its provider).
    """
    if failure is None:
        return _admission(slot, view, rules)
    if failure.kind == "unknown" and rules.fallback_on_unknown_errors:
        failure = replace(failure, kind="failed")
    if not failure.moves_on:
        return Step("raise", failure=failure)
    marks = _marks(slot, failure, view.now, rules, peers)
    claim = balance_claim(slot, view.now, rules) if failure.kind == "points" else None
    return Step("raise" if started else "move_on", marks, failure, claim)


def _admission(slot: Slot, view: LedgerView, rules: Rules) -> Step:
    """Before a call: skip a marked candidate, except for the one check or probe a mark's
    kind allows per interval (claimed across processes, so a fleet makes one)."""
    if not view.readable:
        return _TRY
    entry = view.entry
    if entry is not None and entry.kind == "points":
        return _points_admission(slot, view, rules)
    if entry is not None:
        return _SKIP
    probe = view.probe
    if probe is None:
        return _TRY
    if view.claimed is None:  # a throttle's cooldown ended: one call probes, for one cooldown
        until = view.now + throttle_cooldown(probe.strikes)
        return Step("claim", claim=Claim(slot.key.claim_name("probe"), until))
    return _TRY if view.claimed else _SKIP


def _points_admission(slot: Slot, view: LedgerView, rules: Rules) -> Step:
    """A spent balance has no clock: once per interval one caller asks the free balance
    endpoint (or, when it cannot, sends this one call as a billable probe)."""
    if view.claimed is None:
        return Step("claim", claim=balance_claim(slot, view.now, rules))
    if not view.claimed or view.balance == "empty":
        return _SKIP
    if view.balance is None and balance_source(slot.model) is not None:
        return _CHECK_BALANCE
    if view.balance == "points":
        return Step("lift", lifts=(slot.key.account_wide(),))
    return _TRY  # the endpoint is unusable (or the candidate has none): this call probes


def balance_claim(slot: Slot, now: datetime, rules: Rules) -> Claim:
    """The claim that makes one caller per interval check ``slot``'s account's balance."""
    name = slot.key.account_wide().claim_name("balance")
    return Claim(name, now + rules.balance_check_interval)


def _marks(
    slot: Slot, failure: Failure, now: datetime, rules: Rules, peers: Sequence[Slot]
) -> tuple[Mark, ...]:
    """Ledger marks a failure calls for (none for one that holds for this call only)."""
    reason = f"{failure.kind}: {failure.message}"
    kind = failure.kind
    if kind == "points" and slot.info.provider != MODELSCOPE:
        # Another provider's "insufficient balance": no balance check exists for it.
        kind = "quota"
    if kind == "points":
        return (Mark(slot.key.account_wide(), None, reason, "points"),)
    if kind == "throttle":
        wait = failure.retry_after if failure.retry_after else None  # 0 s: no wait said
        return (Mark(slot.key, None, reason, "throttle", wait),)
    if kind == "quota":
        until = failure.until or now + rules.quota_cooldown
        key = slot.key.account_wide() if failure.scope == "account" else slot.key
        return (Mark(key, until, reason, _MARK_KIND_OF_PERIOD.get(failure.period, "other")),)
    if kind == "auth":
        return (Mark(slot.key.account_wide(), now + rules.auth_cooldown, reason),)
    if kind in ("not_found", "retired"):
        parked: datetime | None = None if kind == "retired" else now + rules.not_found_cooldown
        mark_kind: MarkKind = "retired" if kind == "retired" else "other"
        same = {
            peer.key
            for peer in (*peers, slot)
            if peer.info.provider == slot.info.provider and peer.info.model == slot.info.model
        }
        ordered = sorted(same, key=lambda k: k.account)
        return tuple(Mark(key, parked, reason, mark_kind) for key in ordered)
    return ()


def ratelimit_marks(slot: Slot, ratelimit: Any) -> list[tuple[QuotaKey, int, int | None]]:
    """Keys a ``remaining: 0`` in ``response_metadata["ratelimit"]`` says are spent."""
    if ratelimit is None:
        return []

    def field(name: str) -> Any:
        if isinstance(ratelimit, Mapping):
            return ratelimit.get(name)
        return getattr(ratelimit, name, None)

    marks = []
    for remaining_name, limit_name, account_wide in (
        ("model_requests_remaining", "model_requests_limit", False),
        ("requests_remaining", "requests_limit", True),
    ):
        remaining = field(remaining_name)
        if isinstance(remaining, int) and not isinstance(remaining, bool) and remaining <= 0:
            limit = field(limit_name)
            key = slot.key.account_wide() if account_wide else slot.key
            marks.append((key, 0, limit if isinstance(limit, int) else None))
    return marks


def message_ratelimit(message: Any) -> Any:
    """The ``ratelimit`` an answer's ``response_metadata`` carries, if any."""
    metadata = getattr(message, "response_metadata", None)
    return metadata.get("ratelimit") if isinstance(metadata, Mapping) else None
