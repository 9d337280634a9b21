"""The quarter on one page, for leadership meetings: participation, the eNPS trend, the
share of kudos across teams and functions, pilots against control, milestones and KPIs.

Every figure comes from the same thresholded sources as the dashboard's pages, so nothing
here shows a group smaller than the anonymity threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from handlers import collaboration, engagement, kpi_trends, pilots, rollups, time_to_market
from handlers.collaboration import Bucket, Scope
from handlers.milestones import Milestone
from handlers.rollout import Rollout
from handlers.sprints import Sprint
from handlers.surveys.results import results
from storage.models import KpiEvent, MilestoneAward, SurveyRound


@dataclass(frozen=True)
class RoundLine:
    title: str
    number: int
    opened: str
    participation: float
    respondents: int
    enps: int | None  # None: no eNPS question, or held back


@dataclass(frozen=True)
class Quarter:
    period: Sprint
    threshold: int
    everyone: engagement.Row | None  # the organisation's row (None: no one)
    rounds: list[RoundLine]
    crossing: dict[collaboration.Boundary, collaboration.Share]
    islands: tuple[str, ...]
    comparison: pilots.Comparison | None
    awards: list[MilestoneAward]
    kpis: list[tuple[str, int]]  # kind, events in the quarter
    trend: kpi_trends.Trend | None  # the most reported KPI, week by week, with kudos
    time_to_market: list[time_to_market.TeamTime]  # campaigns, first seen to live, by team
    as_of: datetime | None = None  # the oldest kept rollup read (handlers/rollups.py)


def _rounds(session: Session, period: Sprint) -> list[RoundLine]:
    found = session.exec(
        select(SurveyRound)
        .where(
            col(SurveyRound.opened_at) >= period.start,
            col(SurveyRound.opened_at) < period.end,
            SurveyRound.status == "closed",
        )
        .order_by(col(SurveyRound.opened_at))
    ).all()
    lines = []
    for r in found:
        res = results(session, r.id or 0, with_trend=False)
        scores = [q.enps for q in res.questions if q.type == "enps" and not q.hidden]
        lines.append(
            RoundLine(
                res.title,
                res.number,
                res.opened_at[:10],
                res.participation,
                res.respondents,
                None if res.hidden or not scores else scores[0],
            )
        )
    return lines


def _crossing(
    session: Session, span: Bucket, least: int
) -> tuple[dict[collaboration.Boundary, collaboration.Share], tuple[str, ...], datetime | None]:
    """The quarter's share of kudos across teams and functions, and its island teams. A
    share is held back when one of its months is (the dashboard shows months: the quarter
    less the months shown would give that one away). From the kept monthly rollups when
    they hold every month, else from the recognitions."""
    months = collaboration.months(span.start, span.end)
    kept = rollups.cells(session, "month", months) if least <= rollups.CAP else None
    if kept is not None and months[0].start == span.start:
        whole = rollups.merged(kept)
        crossing = {}
        for by in collaboration.BOUNDARIES:
            monthly = rollups.shares(kept, months, by, least)
            held = any(m.total is None for m in monthly)
            quarter = rollups.shares(whole, (span,), by, least)[0]
            crossing[by] = collaboration.Share(span.label, None, None) if held else quarter
        teams = [(g, r) for (_i, by, g, r) in whole.cells if by == "team"]
        return crossing, collaboration.held_islands(session, teams, least), kept.as_of
    crossing = {}
    for by in collaboration.BOUNDARIES:
        monthly = collaboration.shares(session, months, by, Scope(), least)
        if any(m.total is None for m in monthly):
            crossing[by] = collaboration.Share(span.label, None, None)
        else:
            crossing[by] = collaboration.shares(session, (span,), by, Scope(), least)[0]
    source = collaboration.pairs(span.start, span.end, Scope())
    return crossing, collaboration.islands(session, source, least), None


def quarter(
    session: Session,
    period: Sprint,
    *,
    now: datetime,
    least: int,
    rollout: Rollout | None,
    milestones: Sequence[Milestone] = (),
) -> Quarter:
    """The quarter `period` (a sprint of the calendar) as of `now`."""
    end = min(period.end, now)
    span = Bucket(period.id, period.start, end)
    crossing, islands, kept_at = _crossing(session, span, least)
    table = engagement.engagement(
        session, label=period.id, start=period.start, end=end, scope=Scope(), k=least
    )
    everyone = next((r for r in table.rows if r.by == "everyone"), None)
    last_day = (end - timedelta(microseconds=1)).date()
    comparison = pilots.compare(session, rollout, today=last_day, least=least) if rollout else None
    awards = session.exec(
        select(MilestoneAward)
        .where(
            col(MilestoneAward.awarded_at) >= period.start,
            col(MilestoneAward.awarded_at) < period.end,
        )
        .order_by(col(MilestoneAward.awarded_at))
    ).all()
    kinds = session.exec(
        select(KpiEvent.kind, func.count())
        .where(
            col(KpiEvent.occurred_on) >= period.start.date(),
            col(KpiEvent.occurred_on) <= last_day,
        )
        .group_by(KpiEvent.kind)
        .order_by(func.count().desc(), KpiEvent.kind)
    ).all()
    weeks = max(1, (last_day - period.start.date()).days // 7 + 1)
    trend = (
        kpi_trends.trend(session, today=last_day, weeks=weeks, kind=kinds[0][0], team=None)
        if kinds
        else None
    )
    return Quarter(
        period,
        least,
        everyone,
        _rounds(session, period),
        crossing,
        islands,
        comparison,
        list(awards),
        [(k, int(n)) for k, n in kinds],
        trend,
        time_to_market.by_team(session, milestones),
        min((t for t in (kept_at, table.as_of, trend and trend.as_of) if t), default=None),
    )
