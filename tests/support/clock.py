"""A settable clock for quota ledgers, shared by the quota and fallback tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class FakeClock:
    """A settable clock for the ledger: tests cross 00:00 UTC+8 without waiting."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def set(self, when: datetime) -> datetime:
        self.current = when
        return self.current


def future_start() -> datetime:
    """15:30 UTC (23:30 UTC+8) on a day two years ahead: half an hour before a daily reset.

    In the future on purpose: Redis expires marks by its own (real) clock, so marks made under
    the fake clock must not lie in the real past.
    """
    return datetime(datetime.now(timezone.utc).year + 2, 3, 10, 15, 30, tzinfo=timezone.utc)
