"""Recognition next to a business KPI, week by week, and how closely the two move together.

What it gives is a correlation over weeks, with the number of weeks behind it and the
smallest coefficient that chance alone would rarely give; never a cause. Both series can
follow the calendar (launch seasons, holidays), headcount and how completely a CTMS or CRM
reports, and a week of one may answer to an earlier week of the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, distinct, func
from sqlmodel import Session, col, select

from handlers import rollups
from handlers.collaboration import execute, months
from storage.models import KpiEvent, Member, Recognition, RecognitionRecipient
from storage.models.recognition import PUBLISHED

FEWEST_WEEKS = 8  # fewer, and a coefficient says next to nothing
LATEST = 20


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    kudos: int  # published kudos (to the team's people, when a team is chosen)
    events: int
    value: Decimal  # the events' values added up (0 when they carry none)


@dataclass(frozen=True)
class Correlation:
    """Pearson's r between weekly kudos and weekly events over `weeks` weeks; `chance`:
    the |r| that two unrelated series reach about one time in twenty (Fisher's z)."""

    r: float | None  # None: too few weeks, or a series that never changes
    weeks: int
    chance: float | None
    why_not: str | None = None


@dataclass(frozen=True)
class Trend:
    kind: str | None
    team: str | None
    weeks: list[Week]
    correlation: Correlation
    kinds: list[str]
    teams: list[str]
    latest: list[KpiEvent]
    held: bool = False  # the team has fewer people than the threshold: no kudos shown
    as_of: datetime | None = None  # kudos from the kept rollups, computed then


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's correlation coefficient, or None when either series is constant."""
    n = len(xs)
    if n != len(ys) or n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def correlation(weeks: Sequence[Week]) -> Correlation:
    n = len(weeks)
    if n < FEWEST_WEEKS:
        return Correlation(None, n, None, f"fewer than {FEWEST_WEEKS} weeks")
    kudos = [float(w.kudos) for w in weeks]
    events = [float(w.value if any(x.value for x in weeks) else w.events) for w in weeks]
    r = pearson(kudos, events)
    chance = math.tanh(1.96 / math.sqrt(n - 3))
    if r is None:
        return Correlation(None, n, chance, "one of the two series never changes")
    return Correlation(round(r, 2), n, round(chance, 2))


def published_on(first: date, last: date) -> tuple[ColumnElement[bool], ...]:
    """Published kudos (not taken back) given on the giver's days `first` to `last`, also
    bounded by `created_at` with a day's margin each side for time zones, so its index
    serves."""
    since = datetime.combine(first - timedelta(days=1), time(0), UTC)
    until = datetime.combine(last + timedelta(days=2), time(0), UTC)
    day = col(Recognition.giver_local_date)
    return (
        col(Recognition.created_at) >= since,
        col(Recognition.created_at) < until,
        col(Recognition.outcome).in_(PUBLISHED),
        col(Recognition.revoked_at).is_(None),
        day >= first,
        day <= last,
    )


def _kept_by_day(
    session: Session, first: date, last: date, team: str | None
) -> tuple[dict[date, int], datetime] | None:
    """Published kudos by the giver's day from `first` to `last`, for everyone or to one
    team, from the kept months (a giver's day is within a day of the UTC one, so the
    months holding those days and one more each side hold every such kudos); None unless
    all of them are kept; with when the oldest was computed."""
    since = datetime.combine(first - timedelta(days=1), time(0), UTC)
    until = datetime.combine(last + timedelta(days=2), time(0), UTC)
    labels = [b.label for b in months(since, until)]
    found = execute(
        session,
        select(rollups.PERIOD.c.computed_at).where(
            rollups.PERIOD.c.every == "month", rollups.PERIOD.c.label.in_(labels)
        ),
    ).all()
    if len(found) < len(labels):
        return None
    rows = execute(
        session,
        select(rollups.DAY.c.day, func.sum(rollups.DAY.c.kudos))
        .where(
            rollups.DAY.c.every == "month",
            rollups.DAY.c.label.in_(labels),
            rollups.DAY.c.team == (team or rollups.NOBODY),
            rollups.DAY.c.day >= first,
            rollups.DAY.c.day <= last,
        )
        .group_by(rollups.DAY.c.day),
    )
    return {d: int(n) for d, n in rows}, min(at for (at,) in found)


def _kudos_by_day(
    session: Session, start: date, end: date, team: str | None
) -> tuple[dict[date, int], datetime | None]:
    """Published kudos by the giver's day: from the kept months when they hold the span
    (and when the oldest was computed), else from the recognitions."""
    kept = _kept_by_day(session, start, end, team)
    if kept is not None:
        return kept
    day = col(Recognition.giver_local_date)
    published = published_on(start, end)
    if team is None:
        stmt = select(day, func.count()).where(*published).group_by(day)
    else:
        stmt = (
            select(day, func.count(distinct(col(Recognition.id))))
            .join(RecognitionRecipient, col(RecognitionRecipient.recognition_id) == Recognition.id)
            .join(Member, col(Member.id) == RecognitionRecipient.member_id)
            .where(*published, Member.team == team)
            .group_by(day)
        )
    return {d: int(n) for d, n in session.exec(stmt)}, None


def trend(
    session: Session,
    *,
    today: date,
    weeks: int,
    kind: str | None,
    team: str | None,
    least: int = 1,
) -> Trend:
    """The last `weeks` whole and current weeks of kudos and of `kind`'s events (the most
    reported kind when none is named), for everyone or for one team; a team with fewer
    than `least` active people gets no kudos figures (they would be a person's own)."""
    kinds = [
        k
        for k, _ in session.exec(
            select(KpiEvent.kind, func.count())
            .group_by(KpiEvent.kind)
            .order_by(func.count().desc(), KpiEvent.kind)
        )
    ]
    kind = kind if kind in kinds else (kinds[0] if kinds else None)
    first = monday(today) - timedelta(weeks=weeks - 1)
    events = (
        select(col(KpiEvent.occurred_on), func.count(), func.coalesce(func.sum(KpiEvent.value), 0))
        .where(KpiEvent.kind == kind, col(KpiEvent.occurred_on) >= first)
        .group_by(col(KpiEvent.occurred_on))
    )
    if team is not None:
        events = events.where(KpiEvent.team == team)
    by_week: dict[date, tuple[int, Decimal]] = {}
    for day, count, total in session.exec(events):
        n, v = by_week.get(monday(day), (0, Decimal(0)))
        by_week[monday(day)] = (n + int(count), v + Decimal(total or 0))
    heads = _heads(session, team) if team is not None else least
    held = 0 < heads < least
    kudos: dict[date, int] = {}
    by_day, as_of = ({}, None) if held else _kudos_by_day(session, first, today, team)
    for day, count in by_day.items():
        kudos[monday(day)] = kudos.get(monday(day), 0) + count
    series = [
        Week(s, kudos.get(s, 0), *by_week.get(s, (0, Decimal(0))))
        for s in (first + timedelta(weeks=i) for i in range(weeks))
    ]
    found = correlation(series)
    if held:
        found = Correlation(None, len(series), None, f"fewer than {least} people in the team")
    latest = _latest(session, kind)
    return Trend(kind, team, series, found, kinds, _teams(session), latest, held, as_of)


def _heads(session: Session, team: str) -> int:
    active = (col(Member.active).is_(True), col(Member.is_bot).is_(False), Member.team == team)
    return int(session.exec(select(func.count()).select_from(Member).where(*active)).one())


def _teams(session: Session) -> list[str]:
    found: set[str | None] = set()
    for column in (col(Member.team), col(KpiEvent.team)):
        found.update(session.exec(select(column).where(column.is_not(None)).distinct()))
    return sorted(t for t in found if t)


def _latest(session: Session, kind: str | None) -> list[KpiEvent]:
    stmt = select(KpiEvent).order_by(col(KpiEvent.occurred_on).desc(), col(KpiEvent.id).desc())
    if kind is not None:
        stmt = stmt.where(KpiEvent.kind == kind)
    return list(session.exec(stmt.limit(LATEST)))
