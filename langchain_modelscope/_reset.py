"""When a spent quota comes back: ModelScope's clock, and what reset headers say.

Daily quotas reset at 00:00 UTC+8, monthly ones on the 1st. This is the one place that knows
the reset rule and the one parser of ``Retry-After``-style headers; the error tree, the quota
ledger and the fallback model all ask it. Every function takes ``now`` from its caller, so a
ledger with an injected clock gets times on that clock.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_modelscope._wording import QuotaPeriod

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


def next_reset(period: QuotaPeriod | None, now: datetime | None = None) -> datetime | None:
    """The next reset of a ``"day"`` or ``"month"`` quota; None for a quota with no clock."""
    if period == "month":
        return next_monthly_reset(now)
    if period == "day":
        return next_daily_reset(now)
    return None


#: Headers that can say when a spent quota comes back, in the order they are trusted.
RESET_HEADERS = ("retry-after", "x-ratelimit-reset", "ratelimit-reset")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _parse_duration(value: str) -> float | None:
    """``"6m0s"``, ``"1h2m"``, ``"20ms"`` (OpenAI-style) in seconds."""
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def parse_reset_header(value: str, now: datetime) -> datetime | None:
    """When a ``Retry-After``/``X-RateLimit-Reset`` value says to come back, seen from ``now``.

    Accepts seconds to wait, a Unix time (seconds or milliseconds), a duration such as
    ``"6m0s"``, an HTTP date and an ISO 8601 time.
    """
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number < 0:  # NaN or negative: meaningless
            return None
        if number >= 1e12:  # Unix time in milliseconds
            return datetime.fromtimestamp(number / 1000, timezone.utc)
        if number >= 1e9:  # Unix time in seconds
            return datetime.fromtimestamp(number, timezone.utc)
        return now + timedelta(seconds=number)
    seconds = _parse_duration(text)
    if seconds is not None:
        return now + timedelta(seconds=seconds)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def reset_from_headers(
    headers: Mapping[str, str], now: datetime, names: tuple[str, ...] = RESET_HEADERS
) -> datetime | None:
    """The first reset time the headers ``names`` state (default :data:`RESET_HEADERS`)."""
    for name in names:
        value = headers.get(name)
        if value is not None:
            moment = parse_reset_header(value, now)
            if moment is not None:
                return moment
    return None
