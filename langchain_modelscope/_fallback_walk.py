"""The fallback's candidate walk, written once: one call's way down the candidate list.

:class:`Walk` holds the walk as generators that *yield* what they need done (read the ledger,
write a mark, win a claim, check a balance, call a candidate) and never do I/O themselves. It
asks :func:`~._fallback_step.decide` (the pure step) what every view or failure means, and
only :func:`~._fallback_drive.drive` / :func:`~._fallback_drive.adrive` perform its effects.
The public shells (invoke, ainvoke, stream, astream, structured output, embeddings, the image
generator's one-candidate walk) only say how to call a candidate.

A ledger that fails never stops a call: the walk logs it and goes on without the ledger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from langchain_modelscope._fallback_candidates import Slot
from langchain_modelscope._fallback_classify import classify_error, redact
from langchain_modelscope._fallback_drive import (
    CallCandidate,
    CheckBalance,
    LedgerEffect,
    LiftPoints,
    ReadMarks,
    RecordRemaining,
    RecordSuccess,
    Steps,
    WinClaim,
    WriteMark,
    adrive,
    drive,
)
from langchain_modelscope._fallback_step import (
    BalanceState,
    Claim,
    LedgerView,
    Rules,
    Step,
    decide,
    ratelimit_marks,
)
from langchain_modelscope._fallback_trace import Trace, logger
from langchain_modelscope.quota import QuotaEntry, QuotaLedger

_T = TypeVar("_T")


def _ledger_unavailable(what: str, slot: Slot, error: BaseException) -> None:
    """The ledger is a saving, not a gate: when its store fails, calls go on without it."""
    logger.warning(
        "fallback: could not %s the quota ledger for %s (%s: %s); going on without it",
        what,
        slot.info.label,
        type(error).__name__,
        redact(str(error)),
    )


def _later(first: datetime | None, second: datetime) -> datetime:
    return second if first is None or second > first else first


class Walk:
    """One call's walk down the candidate list; the generators yield, the drivers act."""

    __slots__ = ("ledger", "rules", "slots", "trace")

    def __init__(self, ledger: QuotaLedger, rules: Rules, slots: Sequence[Slot]) -> None:
        self.ledger = ledger
        self.rules = rules
        self.slots = slots
        self.trace = Trace()

    def steps(self, ratelimits_of: Callable[[Slot, Any], Iterable[Any]]) -> Steps[tuple[Any, Slot]]:
        """Try candidates in order until one answers; learn from its answer's rate limits."""
        for slot in self.slots:
            admitted, view = yield from self._admit(slot)
            if not admitted:
                continue
            # a call admitted past a points mark is the probe standing in for a balance check
            points = view.entry is not None and view.entry.kind == "points"
            self.trace.calling(slot)
            try:
                result = yield CallCandidate(slot)
            except Exception as error:
                step = yield from self.failing(slot, error)
                if step.action == "raise":
                    raise
                continue
            yield from self._succeeded(slot, points)
            for ratelimit in ratelimits_of(slot, result):
                yield from self.learning(slot, ratelimit)
            return result, slot
        raise self.trace.exhausted()

    def _admit(self, slot: Slot) -> Steps[tuple[bool, LedgerView]]:
        """Look, then run the claim / balance check / lift :func:`decide` asks for, until it
        says try (True) or skip (False, traced here), with the last view."""
        view = yield from self._look(slot)
        claim: Claim | None = None
        while True:
            step = decide(slot, view, None, self.rules)
            if step.action == "try":
                return True, view
            if step.action == "skip":
                entry = view.entry or view.probe
                assert entry is not None  # a skip always has the mark that caused it
                self.trace.skipped(slot, entry, None if claim is None else claim.until)
                return False, replace(view, entry=entry)
            if step.action == "claim":
                assert step.claim is not None
                claim = step.claim
                won = yield from self._claiming(slot, step.claim)
                view = replace(view, claimed=won)
            elif step.action == "check_balance":
                view = replace(view, balance=(yield from self._checking(slot)))
            else:  # lift: points are back; look again (another mark may still hold)
                for key in step.lifts:
                    yield from self._guarded("write", slot, LiftPoints(key))
                logger.info("fallback: %s has points again; trying it", slot.info.label)
                view = yield from self._look(slot)
                claim = None

    def _look(self, slot: Slot) -> Steps[LedgerView]:
        now = self.ledger.now()
        try:
            found = yield ReadMarks(slot.key)
        except Exception as error:
            _ledger_unavailable("read", slot, error)
            return LedgerView(now, readable=False)
        return LedgerView(now, found.blocking, probe=found.probe)

    def _claiming(self, slot: Slot, claim: Claim) -> Steps[bool]:
        try:
            won = yield WinClaim(claim)
        except Exception as error:  # no ledger to agree with: this process decides alone
            _ledger_unavailable("claim", slot, error)
            return True
        return bool(won)

    def _checking(self, slot: Slot) -> Steps[BalanceState]:
        try:
            balance = yield CheckBalance(slot)
        except Exception as error:  # best-effort endpoint (§2a): a probe call stands in
            logger.info(
                "fallback: the points balance of %s is unknown (%s: %s); one call probes it",
                slot.info.label,
                type(error).__name__,
                redact(str(error)),
            )
            return "unknown"
        return "points" if balance.available > 0 else "empty"

    def _guarded(self, what: str, slot: Slot, effect: LedgerEffect) -> Steps[Any]:
        try:
            return (yield effect)
        except Exception as error:
            _ledger_unavailable(what, slot, error)
            return None

    def _succeeded(self, slot: Slot, points_probe: bool) -> Steps[None]:
        """A call answered: clear its throttle; a points probe that passed lifts the mark."""
        yield from self._guarded("write", slot, RecordSuccess(slot.key))
        if points_probe:
            yield from self._guarded("write", slot, LiftPoints(slot.key.account_wide()))

    def failing(self, slot: Slot, error: BaseException, *, started: bool = False) -> Steps[Step]:
        """Classify ``error``, decide, write the marks the decision asks for, record it."""
        now = self.ledger.now()
        failure = classify_error(error, now)
        step = decide(slot, LedgerView(now), failure, self.rules, peers=self.slots, started=started)
        until: datetime | None = None
        for mark in step.marks:
            entry = yield from self._guarded("write", slot, WriteMark(mark))
            if entry is not None and entry.has_clock:
                until = _later(until, entry.until)
            elif entry is None and mark.until is not None:
                until = _later(until, mark.until)
        if step.claim is not None:  # the next balance check comes an interval from now
            yield from self._claiming(slot, step.claim)
        if step.action == "move_on" and step.failure is not None:
            self.trace.failed(slot, step.failure, until)
        return step

    def learning(self, slot: Slot, ratelimit: Any) -> Steps[None]:
        """``remaining: 0`` in an answer's rate-limit info: spent before the 429 comes."""
        for key, remaining, limit in ratelimit_marks(slot, ratelimit):
            try:
                yield RecordRemaining(key, remaining, limit)
            except Exception as error:  # an answer in hand is never lost to the ledger
                _ledger_unavailable("write", slot, error)

    # -- sync and async entry points, all through the two drivers

    def run(
        self, call: Callable[[Slot], _T], ratelimits_of: Callable[[Slot, _T], Iterable[Any]]
    ) -> tuple[_T, Slot]:
        """The first answer of a candidate, and who gave it."""
        result: tuple[_T, Slot] = drive(self.steps(ratelimits_of), self.ledger, call)
        return result

    async def arun(
        self,
        call: Callable[[Slot], Awaitable[_T]],
        ratelimits_of: Callable[[Slot, _T], Iterable[Any]],
    ) -> tuple[_T, Slot]:
        """Async :meth:`run`; ``call`` returns an awaitable."""
        result: tuple[_T, Slot] = await adrive(self.steps(ratelimits_of), self.ledger, call)
        return result

    def learn(self, slot: Slot, ratelimit: Any) -> None:
        """Sync :meth:`learning` (a stream's later chunks)."""
        if ratelimit is not None:
            drive(self.learning(slot, ratelimit), self.ledger)

    async def alearn(self, slot: Slot, ratelimit: Any) -> None:
        """Async :meth:`learning`."""
        if ratelimit is not None:
            await adrive(self.learning(slot, ratelimit), self.ledger)

    def blocking(self, slot: Slot) -> QuotaEntry | None:
        """The mark that makes the walk skip ``slot`` now, if any (one candidate's walk)."""
        admitted, view = drive(self._admit(slot), self.ledger)
        return None if admitted else view.entry

    async def ablocking(self, slot: Slot) -> QuotaEntry | None:
        """Async :meth:`blocking`."""
        admitted, view = await adrive(self._admit(slot), self.ledger)
        return None if admitted else view.entry

    def fail(self, slot: Slot, error: BaseException) -> Step:
        """``slot`` failed outside :meth:`run`: classify, mark the ledger, say what follows."""
        return drive(self.failing(slot, error), self.ledger)

    async def afail(self, slot: Slot, error: BaseException) -> Step:
        """Async :meth:`fail`."""
        return await adrive(self.failing(slot, error), self.ledger)

    def fail_started(self, slot: Slot, error: BaseException) -> None:
        """A stream failed after its first content: the ledger learns, the error propagates."""
        drive(self.failing(slot, error, started=True), self.ledger)

    async def afail_started(self, slot: Slot, error: BaseException) -> None:
        """Async :meth:`fail_started`."""
        await adrive(self.failing(slot, error, started=True), self.ledger)
