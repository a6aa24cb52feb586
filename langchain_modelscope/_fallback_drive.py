"""The fallback's effects and the only two places that perform them: :func:`drive` (sync) and
:func:`adrive` (async).

:class:`~._fallback_walk.Walk` yields effects (read the ledger, write a mark, win a claim,
check a balance, call a candidate) and never does I/O itself; each effect knows its sync and
its async form, so one walk serves invoke, ainvoke, stream and astream, the way httpx drives
one ``BaseClient`` from ``Client`` and ``AsyncClient``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_modelscope._balance import PointsBalance, apoints_balance, points_balance
from langchain_modelscope._client import no_throttle_retries
from langchain_modelscope._fallback_candidates import Slot, balance_source
from langchain_modelscope._fallback_step import Claim, Mark
from langchain_modelscope.quota import QuotaEntry, QuotaKey, QuotaLedger, QuotaLookup

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ReadMarks:
    """Look up the marks on ``key`` (its own and its account's)."""

    key: QuotaKey

    def run(self, ledger: QuotaLedger) -> QuotaLookup:
        return ledger.lookup(self.key)

    async def arun(self, ledger: QuotaLedger) -> QuotaLookup:
        return await ledger.alookup(self.key)


@dataclass(frozen=True, slots=True)
class WriteMark:
    """Write a mark :func:`~._fallback_step.decide` asked for (a throttle escalates)."""

    mark: Mark

    def run(self, ledger: QuotaLedger) -> QuotaEntry:
        mark = self.mark
        if mark.kind == "throttle":
            return ledger.mark_throttled(mark.key, reason=mark.reason, retry_after=mark.retry_after)
        return ledger.mark_exhausted(mark.key, mark.until, reason=mark.reason, kind=mark.kind)

    async def arun(self, ledger: QuotaLedger) -> QuotaEntry:
        mark = self.mark
        if mark.kind == "throttle":
            return await ledger.amark_throttled(
                mark.key, reason=mark.reason, retry_after=mark.retry_after
            )
        return await ledger.amark_exhausted(
            mark.key, mark.until, reason=mark.reason, kind=mark.kind
        )


@dataclass(frozen=True, slots=True)
class RecordRemaining:
    """An answer said ``remaining: 0``: the key is spent before the 429 comes."""

    key: QuotaKey
    remaining: int
    limit: int | None

    def run(self, ledger: QuotaLedger) -> QuotaEntry | None:
        return ledger.record_remaining(self.key, self.remaining, self.limit)

    async def arun(self, ledger: QuotaLedger) -> QuotaEntry | None:
        return await ledger.arecord_remaining(self.key, self.remaining, self.limit)


@dataclass(frozen=True, slots=True)
class WinClaim:
    """Try to win a claim: exactly one caller across processes does."""

    claim: Claim

    def run(self, ledger: QuotaLedger) -> bool:
        return ledger.claim(self.claim.name, self.claim.until)

    async def arun(self, ledger: QuotaLedger) -> bool:
        return await ledger.aclaim(self.claim.name, self.claim.until)


@dataclass(frozen=True, slots=True)
class LiftPoints:
    """Points are back: remove the points mark on ``key``."""

    key: QuotaKey

    def run(self, ledger: QuotaLedger) -> None:
        ledger.lift(self.key, kind="points")

    async def arun(self, ledger: QuotaLedger) -> None:
        await ledger.alift(self.key, kind="points")


@dataclass(frozen=True, slots=True)
class RecordSuccess:
    """A call to ``key`` succeeded: a throttle mark on it is cleared (cheap when none)."""

    key: QuotaKey

    def run(self, ledger: QuotaLedger) -> None:
        ledger.record_success(self.key)

    async def arun(self, ledger: QuotaLedger) -> None:
        await ledger.arecord_success(self.key)


@dataclass(frozen=True, slots=True)
class CheckBalance:
    """Ask the free balance endpoint for the account of a ModelScope candidate (no points)."""

    slot: Slot

    def run(self, ledger: QuotaLedger) -> PointsBalance:
        token, base_url = self._source()
        return points_balance(token, base_url=base_url)

    async def arun(self, ledger: QuotaLedger) -> PointsBalance:
        token, base_url = self._source()
        return await apoints_balance(token, base_url=base_url)

    def _source(self) -> tuple[Any, str]:
        source = balance_source(self.slot.model)
        if source is None:  # decide() asks only for candidates that have one
            raise LookupError(f"{self.slot.info.label} has no balance endpoint")
        return source


@dataclass(frozen=True, slots=True)
class CallCandidate:
    """Call a candidate: the one effect the public shells say how to perform."""

    slot: Slot


LedgerEffect = (
    ReadMarks | WriteMark | RecordRemaining | WinClaim | LiftPoints | RecordSuccess | CheckBalance
)
Effect = LedgerEffect | CallCandidate
Steps = Generator[Effect, Any, _T]


def _no_call(slot: Slot) -> Any:
    raise AssertionError(f"this part of the walk calls no candidate ({slot.info.label})")


@dataclass(frozen=True, slots=True)
class _Done:
    value: Any


def _resume(steps: Steps[Any], value: Any, error: Exception | None) -> Effect | _Done:
    """Hand ``steps`` the last effect's value (or its error); its next effect, or its result."""
    try:
        return steps.send(value) if error is None else steps.throw(error)
    except StopIteration as stop:
        return _Done(stop.value)


def drive(steps: Steps[_T], ledger: QuotaLedger, call: Callable[[Slot], Any] = _no_call) -> _T:
    """Run ``steps`` synchronously: every ledger effect on ``ledger``, every call by ``call``."""
    value: Any = None
    error: Exception | None = None
    while not isinstance(effect := _resume(steps, value, error), _Done):
        value, error = None, None
        try:
            if isinstance(effect, CallCandidate):
                with no_throttle_retries():  # a fallback moves on; it never waits out a throttle
                    value = call(effect.slot)
            else:
                value = effect.run(ledger)
        except Exception as caught:
            error = caught
    result: _T = effect.value
    return result


async def adrive(
    steps: Steps[_T],
    ledger: QuotaLedger,
    call: Callable[[Slot], Awaitable[Any]] = _no_call,
) -> _T:
    """Async :func:`drive`: the same steps, the ledger's async twins, an awaitable ``call``."""
    value: Any = None
    error: Exception | None = None
    while not isinstance(effect := _resume(steps, value, error), _Done):
        value, error = None, None
        try:
            if isinstance(effect, CallCandidate):
                with no_throttle_retries():
                    value = await call(effect.slot)
            else:
                value = await effect.arun(ledger)
        except Exception as caught:
            error = caught
    result: _T = effect.value
    return result
