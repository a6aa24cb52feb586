"""ModelScope's quota clock: daily quotas reset at 00:00 UTC+8, monthly ones on the 1st.

This is the one place that knows the reset rule; the error tree, the quota ledger and the
fallback model all ask it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

#: The time zone in which ModelScope's quotas roll over (China Standard Time, no DST).
RESET_TIMEZONE = timezone(timedelta(hours=8), name="UTC+08:00")


def _as_aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError(
            "naive datetime given to the quota clock: pass an aware datetime, "
            "e.g. datetime.now(timezone.utc)"
        )
    return now


def next_daily_reset(now: datetime | None = None) -> datetime:
    """The next 00:00 UTC+8 strictly after ``now``, as an aware UTC datetime."""
    local = _as_aware(now).astimezone(RESET_TIMEZONE)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + timedelta(days=1)).astimezone(timezone.utc)


def next_monthly_reset(now: datetime | None = None) -> datetime:
    """The next 1st of a month at 00:00 UTC+8 strictly after ``now``, as an aware UTC datetime."""
    local = _as_aware(now).astimezone(RESET_TIMEZONE)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    first = datetime(year, month, 1, tzinfo=RESET_TIMEZONE)
    return first.astimezone(timezone.utc)
