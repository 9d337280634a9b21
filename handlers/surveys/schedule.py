"""Schedule arithmetic: which local-time period is due, and when a person's send time is."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

from handlers.clock import zone
from handlers.surveys.definitions import Survey

# A local time happens first at UTC+14 and last at UTC-12.
_EARLIEST = timedelta(hours=14)
_LATEST = timedelta(hours=12)


def local_period(survey: Survey, now: datetime) -> tuple[str, date] | None:
    """The local-time period whose send time has begun somewhere on Earth and whose round
    is not yet over everywhere: (period key, the local date everyone receives it on)."""
    schedule = survey.schedule
    assert schedule.local_time is not None
    today = now.astimezone(UTC).date()
    # Far enough back to catch a round still open after a long stop, newest first.
    back = math.ceil((_LATEST + survey.open_for) / timedelta(days=1)) + 1
    for offset in range(1, -back - 1, -1):
        day = today + timedelta(days=offset)
        if schedule.local_day is not None and day.weekday() != schedule.local_day:
            continue
        at = datetime.combine(day, schedule.local_time, tzinfo=UTC)
        if at - _EARLIEST <= now < at + _LATEST + survey.open_for:
            if schedule.local_day is None:
                return day.isoformat(), day
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}", day
    return None


def local_send_time(day: date, at: time, tz: str | None) -> datetime:
    """`at` on `day` on the wall clock of `tz`, as UTC (zoneinfo resolves DST gaps)."""
    return datetime.combine(day, at, tzinfo=zone(tz)).astimezone(UTC)
