"""Time as a collaborator, so use cases can be tested at any instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at = self.at + timedelta(**delta)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(at: datetime, tz: str | None) -> date:
    return at.astimezone(zone(tz)).date()


def quarter_bounds(at: datetime, tz: str | None) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the calendar quarter containing `at` in zone `tz`."""
    local = at.astimezone(zone(tz))
    first_month = 3 * ((local.month - 1) // 3) + 1
    start = local.replace(month=first_month, day=1, hour=0, minute=0, second=0, microsecond=0)
    end_year, end_month = (
        (start.year + 1, 1) if first_month == 10 else (start.year, first_month + 3)
    )
    end = start.replace(year=end_year, month=end_month)
    return start.astimezone(UTC), end.astimezone(UTC)
