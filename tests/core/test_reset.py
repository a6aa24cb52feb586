"""The reset clock: 00:00 UTC+8 daily, the 1st of the month for monthly quotas."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from langchain_modelscope._reset import next_daily_reset, next_monthly_reset

pytestmark = pytest.mark.disable_socket

UTC = timezone.utc


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Just before 16:00 UTC (= 23:59:59 UTC+8): reset a second later.
        (datetime(2026, 3, 10, 15, 59, 59, tzinfo=UTC), datetime(2026, 3, 10, 16, 0, tzinfo=UTC)),
        # Exactly at the reset: the next one is a day later.
        (datetime(2026, 3, 10, 16, 0, 0, tzinfo=UTC), datetime(2026, 3, 11, 16, 0, tzinfo=UTC)),
        # Just after: tomorrow's 16:00 UTC.
        (datetime(2026, 3, 10, 16, 0, 1, tzinfo=UTC), datetime(2026, 3, 11, 16, 0, tzinfo=UTC)),
        # Morning UTC is already afternoon in UTC+8: reset at 16:00 UTC the same day.
        (datetime(2026, 3, 10, 1, 0, tzinfo=UTC), datetime(2026, 3, 10, 16, 0, tzinfo=UTC)),
        # Across a month and a year end.
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), datetime(2027, 1, 1, 16, 0, tzinfo=UTC)),
    ],
)
def test_next_daily_reset(now: datetime, expected: datetime) -> None:
    assert next_daily_reset(now) == expected


def test_daily_reset_accepts_other_time_zones() -> None:
    beijing = timezone(timedelta(hours=8))
    assert next_daily_reset(datetime(2026, 3, 10, 23, 30, tzinfo=beijing)) == datetime(
        2026, 3, 10, 16, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 30 Nov 15:59 UTC is still November in UTC+8: reset on 1 Dec 00:00 UTC+8.
        (datetime(2026, 11, 30, 15, 59, tzinfo=UTC), datetime(2026, 11, 30, 16, 0, tzinfo=UTC)),
        # 30 Nov 16:00 UTC is already 1 Dec in UTC+8: the next reset is 1 Jan.
        (datetime(2026, 11, 30, 16, 0, tzinfo=UTC), datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),
        (datetime(2026, 12, 15, 0, 0, tzinfo=UTC), datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),
        (datetime(2028, 2, 28, 20, 0, tzinfo=UTC), datetime(2028, 2, 29, 16, 0, tzinfo=UTC)),
    ],
)
def test_next_monthly_reset(now: datetime, expected: datetime) -> None:
    assert next_monthly_reset(now) == expected


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        next_daily_reset(datetime(2026, 1, 1))
