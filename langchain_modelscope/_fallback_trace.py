"""The trace of one fallback call: who was skipped or failed, who served, and the switch logs.

It becomes ``response_metadata["fallback"]`` on the answer, or :class:`AllCandidatesFailedError`
when nobody could answer. It lives for one call only; what outlives the call is in the ledger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from langchain_modelscope._fallback_candidates import CandidateInfo, Slot
from langchain_modelscope._fallback_classify import Failure
from langchain_modelscope.errors import AllCandidatesFailedError
from langchain_modelscope.quota import QuotaEntry

#: One logger for every fallback module: users filter on the public module's name.
logger = logging.getLogger("langchain_modelscope.fallback")

Outcome = Literal["skipped", "failed"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """A candidate that did not serve a call: skipped (the ledger said so) or failed."""

    candidate: CandidateInfo
    outcome: Outcome
    #: ``exhausted`` for a skip; the failure's kind (quota, auth, transient, ...) otherwise
    kind: str
    message: str
    #: when the candidate may be tried again (None: at once, for a failure of this call only)
    until: datetime | None = None
    status_code: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as shown in ``response_metadata["fallback"]["attempts"]``."""
        return {
            **self.candidate.as_dict(),
            "outcome": self.outcome,
            "kind": self.kind,
            "message": self.message,
            "until": None if self.until is None else self.until.isoformat(),
            "status_code": self.status_code,
        }

    def describe(self) -> str:
        """One line for logs and errors."""
        when = "" if self.until is None else f", until {self.until.isoformat(timespec='minutes')}"
        return f"{self.candidate.label}: {self.outcome} ({self.kind}{when}): {self.message}"


class Trace:
    """What happened to each candidate during one call."""

    __slots__ = ("attempts", "pending")

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        #: the failure that made the walk move on, logged as a switch when the next call starts
        self.pending: tuple[Slot, Failure] | None = None

    def skipped(self, slot: Slot, entry: QuotaEntry, claimed_until: datetime | None = None) -> None:
        """``slot`` was not called: the ledger's ``entry`` blocks it (or another caller holds
        its check or probe until ``claimed_until``). A points mark has no clock: no until."""
        reason = entry.reason or f"{entry.scope} exhausted"
        until = entry.until if entry.has_clock else None
        if claimed_until is not None and entry.kind == "throttle":
            until = claimed_until
        logger.debug("fallback: skipping %s (%s mark)", slot.info.label, entry.kind)
        self.attempts.append(Attempt(slot.info, "skipped", "exhausted", reason, until))

    def failed(self, slot: Slot, failure: Failure, until: datetime | None) -> None:
        """``slot`` failed with ``failure`` and the walk moves on; ``until``: its mark, if any."""
        self.attempts.append(
            Attempt(slot.info, "failed", failure.kind, failure.message, until, failure.status_code)
        )
        self.pending = (slot, failure)

    def calling(self, slot: Slot) -> None:
        """About to call ``slot``: if an earlier candidate failed, this is a switch; log it."""
        if self.pending is None:
            return
        failed, failure = self.pending
        self.pending = None
        skipped = [a.candidate.label for a in self.attempts if a.outcome == "skipped"]
        logger.warning(
            "fallback: switching from %s (%s: %s) to %s%s",
            failed.info.label,
            failure.kind,
            failure.message,
            slot.info.label,
            f" (skipped as exhausted: {', '.join(skipped)})" if skipped else "",
        )

    def report(self, slot: Slot) -> dict[str, Any]:
        """What ``response_metadata["fallback"]`` says about this call."""
        return {
            "served_by": slot.info.as_dict(),
            "attempts": [attempt.as_dict() for attempt in self.attempts],
        }

    def exhausted(self) -> AllCandidatesFailedError:
        """The one error for "nobody could answer"."""
        return AllCandidatesFailedError(self.attempts)


def with_report(message: BaseMessage, report: dict[str, Any]) -> BaseMessage:
    """``message`` carrying the report; its ``model_name`` names the candidate that served.

    A candidate's own ``model_name`` (the id the service answered with) is kept when it set one.
    """
    message.response_metadata = {
        "model_name": report["served_by"]["model"],
        **message.response_metadata,
        "fallback": report,
    }
    return message


def first_chunks(head: list[AIMessageChunk], report: dict[str, Any]) -> list[ChatGenerationChunk]:
    """The buffered head of a stream, the report riding on its first chunk (once only).

    No ``model_name`` is added here: chunks merge their string metadata by concatenation.
    """
    if not head:
        head = [AIMessageChunk(content="")]
    first = head[0]
    first.response_metadata = {**first.response_metadata, "fallback": report}
    return [ChatGenerationChunk(message=chunk) for chunk in head]
