"""The milestones page: each configured campaign milestone, how far it is, and the awards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.dashboard import queries
from bot.dashboard.auth import Viewer
from handlers import milestones
from handlers.milestones import Milestone

if TYPE_CHECKING:
    from bot.dashboard.core import Dashboard


@dataclass(frozen=True)
class Row:
    """A configured milestone as the page shows it."""

    id: str
    title: str
    rule: str  # what has to happen, in words
    award: str  # what it gives, and to whom
    progress: milestones.Progress
    share: float  # 0..1, for the progress bar
    awards: int


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    awards: list[queries.Award]


def _amount(value: Decimal, unit: str) -> str:
    if unit in ("revenue", "value"):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _kpi_rule(m: Milestone) -> str:
    what = f"“{m.kind}” event"
    if m.match_team:
        what += f" of team {m.match_team}"
    if m.match_name:
        what += f" titled like “{m.match_name}”"
    if m.threshold == "each":
        return f"each {what}"
    if m.threshold == "events":
        return f"{_amount(m.at_least, 'events')} of: {what}"
    return f"a total value of {m.at_least.normalize():,} over: {what}"


def rule_of(m: Milestone) -> str:
    if m.source == "kpi":
        return _kpi_rule(m) + _window(m)
    what = {
        "promotion": "a promotion",
        "coupon": "a coupon",
        "channel": "a storefront channel",
        "orders": "orders",
    }[m.source]
    if m.match_name:
        what += f" named like “{m.match_name}”"
    elif m.match_id is not None:
        what += f" #{m.match_id}"
    if m.source == "orders":
        where = f" on channel {m.channel_id}" if m.channel_id is not None else ""
        unit = "orders" if m.threshold == "orders" else "in revenue"
        text = f"{_amount(m.at_least, m.threshold)} {unit}{where}"
    elif m.threshold == "redemptions":
        text = f"{what} used {_amount(m.at_least, 'redemptions')} times"
    else:
        text = f"{what} goes live"
    return text + _window(m)


def _window(m: Milestone) -> str:
    if not (m.window_start or m.window_end):
        return ""
    start = m.window_start.date().isoformat() if m.window_start else "…"
    end = m.window_end.date().isoformat() if m.window_end else "…"
    return f", between {start} and {end}"


def award_of(m: Milestone) -> str:
    if m.points_per:
        points = f"{m.points} points per {_amount(m.points_per, 'revenue')} of revenue"
        if m.cap is not None:
            points += f" (at most {m.cap})"
    else:
        points = f"{m.points} points"
    who = f"team {m.team}" if m.team else f"{len(m.members)} named people"
    return f"{points}, shared by {who}"


def page(session: Session, definitions: tuple[Milestone, ...], now: datetime) -> Page:
    counts = queries.award_counts(session)
    rows = []
    for m in definitions:
        p = milestones.progress(m, session=session, now=now)
        share = 1.0 if p.met else float(min(p.value / p.target, Decimal(1))) if p.target else 0.0
        rows.append(Row(m.id, m.title, rule_of(m), award_of(m), p, share, int(counts.get(m.id, 0))))
    return Page(rows, queries.latest_awards(session))


async def milestones_page(d: Dashboard, request: Request, viewer: Viewer) -> Response:
    now = d.runtime.clock.now()
    definitions = d.runtime.milestones
    found = await d.runtime.run(lambda s: page(s, definitions, now))
    return d.render(
        request,
        "milestones.html",
        viewer=viewer,
        page="milestones",
        title="Milestones",
        rows=found.rows,
        awards=found.awards,
        amount=_amount,
    )
