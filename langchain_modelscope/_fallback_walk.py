"""The fallback's candidate walk, written once: one pure decision, driven sync or async.

Three layers, the way httpx drives one ``BaseClient`` from ``Client`` and ``AsyncClient``:

* :func:`decide` is the pure step. Given a candidate, the ledger's view of it and the last
  failure (None before the call), it says what to do: ``skip``, ``try``, ``move_on`` or
  ``raise``, and which ledger marks to write first. Every rule of the fallback is here; a new
  kind of mark (a points balance, a throttle cooldown, a concurrency lease) is a new case here.
* :class:`Walk` holds the walk as generators that *yield* what they need done (read the ledger,
  write a mark, win a claim, check a balance, call a candidate) and never do I/O themselves.
* :func:`drive` and :func:`adrive` are the only places that do it: one sync, one async. The
  public shells (invoke, ainvoke, stream, astream, structured output, embeddings) only say how to
  call a candidate.

A ledger that fails never stops a call: the walk logs it and goes on without the ledger.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from langchain_core.messages import AIMessageChunk

from langchain_modelscope._balance import PointsBalance, apoints_balance, points_balance
from langchain_modelscope._client import no_throttle_retries
from langchain_modelscope._fallback_candidates import MODELSCOPE, Slot, balance_source
from langchain_modelscope._fallback_classify import Failure, classify_error, redact
from langchain_modelscope._fallback_trace import Trace, logger
from langchain_modelscope.quota import (
    MarkKind,
    QuotaEntry,
    QuotaKey,
    QuotaLedger,
    QuotaLookup,
    throttle_cooldown,
)

_T = TypeVar("_T")

Action = Literal["skip", "try", "claim", "check_balance", "lift", "move_on", "raise"]

#: How often one caller (across every process sharing the ledger) asks the free balance
#: endpoint whether a spent account has points again. Points come back when the user is
#: active on modelscope.cn (§2a), a human timescale: five minutes brings the account back
#: within minutes of a login, and costs at most 288 free requests a day per account.
DEFAULT_BALANCE_CHECK_INTERVAL = timedelta(minutes=5)


# --------------------------------------------------------------------------- the pure step


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


# --------------------------------------------------------------------------- a stream's head

_S = TypeVar("_S")
#: An opened stream and the chunks read from it up to its first content.
Head = tuple[_S, list[AIMessageChunk]]


def has_content(chunk: Any) -> bool:
    """True once a chunk carries something the user sees: text, reasoning or a tool call."""
    if getattr(chunk, "content", None):
        return True
    if getattr(chunk, "tool_call_chunks", None) or getattr(chunk, "invalid_tool_calls", None):
        return True
    extra = getattr(chunk, "additional_kwargs", None)
    return isinstance(extra, Mapping) and any(bool(value) for value in extra.values())


def read_head(stream: Iterator[AIMessageChunk]) -> Head[Iterator[AIMessageChunk]]:
    """Read ``stream`` up to its first content chunk: until then, a failure may move on."""
    head: list[AIMessageChunk] = []
    try:
        for chunk in stream:
            head.append(chunk)
            if has_content(chunk):
                break
    except BaseException:
        close_stream(stream)
        raise
    return stream, head


async def aread_head(
    stream: AsyncIterator[AIMessageChunk],
) -> Head[AsyncIterator[AIMessageChunk]]:
    """Async :func:`read_head`."""
    head: list[AIMessageChunk] = []
    try:
        async for chunk in stream:
            head.append(chunk)
            if has_content(chunk):
                break
    except BaseException:
        await aclose_stream(stream)
        raise
    return stream, head


def close_stream(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


async def aclose_stream(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class _Read:
    key: QuotaKey

    def run(self, ledger: QuotaLedger) -> QuotaLookup:
        return ledger.lookup(self.key)

    async def arun(self, ledger: QuotaLedger) -> QuotaLookup:
        return await ledger.alookup(self.key)


@dataclass(frozen=True, slots=True)
class _Write:
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
class _Remaining:
    key: QuotaKey
    remaining: int
    limit: int | None

    def run(self, ledger: QuotaLedger) -> QuotaEntry | None:
        return ledger.record_remaining(self.key, self.remaining, self.limit)

    async def arun(self, ledger: QuotaLedger) -> QuotaEntry | None:
        return await ledger.arecord_remaining(self.key, self.remaining, self.limit)


@dataclass(frozen=True, slots=True)
class _Claim:
    claim: Claim

    def run(self, ledger: QuotaLedger) -> bool:
        return ledger.claim(self.claim.name, self.claim.until)

    async def arun(self, ledger: QuotaLedger) -> bool:
        return await ledger.aclaim(self.claim.name, self.claim.until)


@dataclass(frozen=True, slots=True)
class _Lift:
    key: QuotaKey

    def run(self, ledger: QuotaLedger) -> None:
        ledger.lift(self.key, kind="points")

    async def arun(self, ledger: QuotaLedger) -> None:
        await ledger.alift(self.key, kind="points")


@dataclass(frozen=True, slots=True)
class _Success:
    """A call to ``key`` succeeded: a throttle mark on it is cleared (cheap when none)."""

    key: QuotaKey

    def run(self, ledger: QuotaLedger) -> None:
        ledger.record_success(self.key)

    async def arun(self, ledger: QuotaLedger) -> None:
        await ledger.arecord_success(self.key)


@dataclass(frozen=True, slots=True)
class _CheckBalance:
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
class _Call:
    slot: Slot


_LedgerEffect = _Read | _Write | _Remaining | _Claim | _Lift | _Success | _CheckBalance
Effect = _LedgerEffect | _Call
Steps = Generator[Effect, Any, _T]


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


# --------------------------------------------------------------------------- the walk


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
                result = yield _Call(slot)
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
                    yield from self._guarded("write", slot, _Lift(key))
                logger.info("fallback: %s has points again; trying it", slot.info.label)
                view = yield from self._look(slot)
                claim = None

    def _look(self, slot: Slot) -> Steps[LedgerView]:
        now = self.ledger.now()
        try:
            found = yield _Read(slot.key)
        except Exception as error:
            _ledger_unavailable("read", slot, error)
            return LedgerView(now, readable=False)
        return LedgerView(now, found.blocking, probe=found.probe)

    def _claiming(self, slot: Slot, claim: Claim) -> Steps[bool]:
        try:
            won = yield _Claim(claim)
        except Exception as error:  # no ledger to agree with: this process decides alone
            _ledger_unavailable("claim", slot, error)
            return True
        return bool(won)

    def _checking(self, slot: Slot) -> Steps[BalanceState]:
        try:
            balance = yield _CheckBalance(slot)
        except Exception as error:  # best-effort endpoint (§2a): a probe call stands in
            logger.info(
                "fallback: the points balance of %s is unknown (%s: %s); one call probes it",
                slot.info.label,
                type(error).__name__,
                redact(str(error)),
            )
            return "unknown"
        return "points" if balance.available > 0 else "empty"

    def _guarded(self, what: str, slot: Slot, effect: _LedgerEffect) -> Steps[Any]:
        try:
            return (yield effect)
        except Exception as error:
            _ledger_unavailable(what, slot, error)
            return None

    def _succeeded(self, slot: Slot, points_probe: bool) -> Steps[None]:
        """A call answered: clear its throttle; a points probe that passed lifts the mark."""
        yield from self._guarded("write", slot, _Success(slot.key))
        if points_probe:
            yield from self._guarded("write", slot, _Lift(slot.key.account_wide()))

    def failing(self, slot: Slot, error: BaseException, *, started: bool = False) -> Steps[Step]:
        """Classify ``error``, decide, write the marks the decision asks for, record it."""
        now = self.ledger.now()
        failure = classify_error(error, now)
        step = decide(slot, LedgerView(now), failure, self.rules, peers=self.slots, started=started)
        until: datetime | None = None
        for mark in step.marks:
            entry = yield from self._guarded("write", slot, _Write(mark))
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
                yield _Remaining(key, remaining, limit)
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
            if isinstance(effect, _Call):
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
            if isinstance(effect, _Call):
                with no_throttle_retries():
                    value = await call(effect.slot)
            else:
                value = await effect.arun(ledger)
        except Exception as caught:
            error = caught
    result: _T = effect.value
    return result
