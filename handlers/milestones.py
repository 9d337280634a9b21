"""Campaign milestones: rules over the local copy of the store, each awarded once.

A milestone is checked against what the last sync stored (`bc_promotion`, `bc_coupon`,
`bc_order`, `bc_channel`). When it holds, one `MilestoneAward` is written under a unique
key, its points are shared among the team or named members in whole points, the
recognition channel hears about it through the outbox, and the audit trail records it.
Running the check again, from a schedule and a webhook at once, awards nothing twice.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from handlers import messages
from handlers.messages import Template
from handlers.policy import KudosPolicy
from handlers.sprints import SprintCalendar, add_milestone
from storage import queries
from storage.models import (
    BcChannel,
    BcCoupon,
    BcOrder,
    BcPromotion,
    KpiEvent,
    Member,
    MilestoneAward,
    MilestoneShare,
)
from storage.people import person_fields, workspace_of

_LOCK = 0x504C4D53  # advisory lock id serialising milestone evaluation on PostgreSQL
Source = Literal["promotion", "coupon", "orders", "channel", "kpi"]
Threshold = Literal["live", "redemptions", "orders", "revenue", "each", "events", "value"]
_ALLOWED: dict[str, tuple[str, ...]] = {
    "promotion": ("live", "redemptions"),
    "coupon": ("live", "redemptions"),
    "orders": ("orders", "revenue"),
    "channel": ("live",),
    # KPI events: each matching event once, or a count of them or a sum of their values.
    "kpi": ("each", "events", "value"),
}


@dataclass(frozen=True)
class Milestone:
    id: str
    title: str
    source: Source
    threshold: Threshold = "live"
    at_least: Decimal = Decimal(0)  # redemptions / orders / revenue / events / value
    match_id: int | None = None
    match_name: str | None = None  # a glob, case-insensitive: "Spring launch*"
    channel_id: int | None = None  # orders: only this storefront channel
    window_start: datetime | None = None  # orders: the campaign window
    window_end: datetime | None = None
    points: int = 0
    points_per: Decimal | None = None  # revenue: one `points` per this much revenue
    cap: int | None = None  # the most a revenue-based award gives
    team: str | None = None
    members: tuple[str, ...] = ()  # emails
    kind: str | None = None  # kpi: the events' kind, as stored (`kpis.kind_of`)
    match_team: str | None = None  # kpi: only the events reported for this team

    def __post_init__(self) -> None:
        allowed = _ALLOWED[self.source]
        if self.source == "kpi" and not self.kind:
            raise ValueError(f"milestone {self.id}: a kpi milestone names the events' kind")
        if self.threshold not in allowed:
            raise ValueError(
                f"milestone {self.id}: a {self.source} milestone takes threshold "
                f"{' or '.join(allowed)}, not {self.threshold}"
            )


@dataclass(frozen=True)
class Awarded:
    key: str
    milestone_id: str
    title: str
    points: int
    sprint: str
    shares: dict[int, int]  # member id -> points


def matches(milestone: Milestone, object_id: int, name: str) -> bool:
    """Whether a store object (promotion, coupon, channel) is one the milestone is about."""
    return _matches(milestone, object_id, name)


def _matches(milestone: Milestone, object_id: int, name: str) -> bool:
    if milestone.match_id is not None and object_id != milestone.match_id:
        return False
    if milestone.match_name is not None:
        return fnmatch.fnmatchcase(name.lower(), milestone.match_name.lower())
    return True


def _order_totals(milestone: Milestone, session: Session) -> tuple[int, Decimal]:
    """Counted orders and their revenue, on the milestone's channel and in its window."""
    stmt = select(func.count(col(BcOrder.id)), func.coalesce(func.sum(BcOrder.total_cents), 0))
    stmt = stmt.where(col(BcOrder.counts).is_(True))
    if milestone.channel_id is not None:
        stmt = stmt.where(BcOrder.channel_id == milestone.channel_id)
    if milestone.window_start is not None:
        stmt = stmt.where(BcOrder.date_created >= milestone.window_start)
    if milestone.window_end is not None:
        stmt = stmt.where(BcOrder.date_created < milestone.window_end)
    count, cents = session.exec(stmt).one()
    return int(count), Decimal(int(cents)) / 100


def _candidates(
    milestone: Milestone, session: Session, now: datetime
) -> list[tuple[str, dict[str, Any], Decimal]]:
    """(award key, detail, revenue) for every object that meets the milestone now."""
    found: list[tuple[str, dict[str, Any], Decimal]] = []
    if milestone.source == "promotion":
        for p in session.exec(select(BcPromotion).order_by(col(BcPromotion.id))):
            if not _matches(milestone, p.id, p.name):
                continue
            live = p.status == "ENABLED" and (p.start_date is None or p.start_date <= now)
            live = live and (p.end_date is None or p.end_date > now)
            used = p.status != "INVALID" and p.current_uses >= milestone.at_least
            ok = live if milestone.threshold == "live" else used
            if ok:
                found.append((f"{milestone.id}:promotion:{p.id}", {"name": p.name}, Decimal(0)))
    elif milestone.source == "coupon":
        for c in session.exec(select(BcCoupon).order_by(col(BcCoupon.id))):
            if not _matches(milestone, c.id, c.name):
                continue
            ok = c.enabled if milestone.threshold == "live" else c.num_uses >= milestone.at_least
            if ok:
                found.append((f"{milestone.id}:coupon:{c.id}", {"name": c.name}, Decimal(0)))
    elif milestone.source == "channel":
        for ch in session.exec(select(BcChannel).order_by(col(BcChannel.id))):
            if not _matches(milestone, ch.id, ch.name):
                continue
            created = ch.date_created
            in_window = (milestone.window_start is None and milestone.window_end is None) or (
                created is not None
                and (milestone.window_start is None or created >= milestone.window_start)
                and (milestone.window_end is None or created < milestone.window_end)
            )
            if ch.status in ("active", "connected") and in_window:
                found.append((f"{milestone.id}:channel:{ch.id}", {"name": ch.name}, Decimal(0)))
    elif milestone.source == "kpi":
        found = _kpi_candidates(milestone, session)
    else:
        count, revenue = _order_totals(milestone, session)
        value = Decimal(count) if milestone.threshold == "orders" else revenue
        if value >= milestone.at_least:
            detail = {"orders": int(count), "revenue": str(revenue)}
            found.append((milestone.id, detail, revenue))
    return found


def _kpi_events(milestone: Milestone, session: Session) -> list[KpiEvent]:
    """The KPI events a milestone counts: its kind, team and name, in its window (a day is
    in it when its start, 00:00 UTC, is)."""
    stmt = select(KpiEvent).where(KpiEvent.kind == milestone.kind)
    if milestone.match_team is not None:
        stmt = stmt.where(KpiEvent.team == milestone.match_team)
    if milestone.window_start is not None:
        stmt = stmt.where(KpiEvent.occurred_on >= _first_day(milestone.window_start))
    if milestone.window_end is not None:
        stmt = stmt.where(KpiEvent.occurred_on < _first_day(milestone.window_end))
    rows = session.exec(stmt.order_by(col(KpiEvent.id))).all()
    return [e for e in rows if _matches(milestone, -1, e.title or e.kind)]


def _first_day(moment: datetime) -> date:
    """The first day whose start (00:00 UTC) is at or after `moment`."""
    day = moment.astimezone(UTC).date()
    return day if moment.astimezone(UTC).time() == time(0) else day + timedelta(days=1)


def _kpi_candidates(
    milestone: Milestone, session: Session
) -> list[tuple[str, dict[str, Any], Decimal]]:
    events = _kpi_events(milestone, session)
    if milestone.threshold == "each":
        return [
            (
                f"{milestone.id}:kpi:{e.id}",
                {"name": e.title or e.kind, "event": e.event_id},
                Decimal(0),
            )
            for e in events
        ]
    total = Decimal(len(events)) if milestone.threshold == "events" else _kpi_sum(events)
    if not events or total < milestone.at_least:
        return []
    return [(milestone.id, {"events": len(events), "value": str(_kpi_sum(events))}, Decimal(0))]


def _kpi_sum(events: Sequence[KpiEvent]) -> Decimal:
    return sum((Decimal(e.value) for e in events if e.value is not None), Decimal(0))


@dataclass(frozen=True)
class Progress:
    """How far a milestone is: `value` of `target` in `unit` (orders, revenue,
    redemptions), or for a go-live milestone how many matching objects are live."""

    milestone_id: str
    unit: str
    value: Decimal
    target: Decimal
    met: bool


def progress(milestone: Milestone, *, session: Session, now: datetime) -> Progress:
    """Where the milestone stands on the stored copy of the store (read-only)."""
    met = bool(_candidates(milestone, session, now))
    if milestone.source == "kpi":
        events = _kpi_events(milestone, session)
        if milestone.threshold == "each":
            return Progress(milestone.id, "events", Decimal(len(events)), Decimal(1), met)
        done = Decimal(len(events)) if milestone.threshold == "events" else _kpi_sum(events)
        return Progress(milestone.id, str(milestone.threshold), done, milestone.at_least, met)
    if milestone.source == "orders":
        count, revenue = _order_totals(milestone, session)
        if milestone.threshold == "orders":
            return Progress(milestone.id, "orders", Decimal(count), milestone.at_least, met)
        return Progress(milestone.id, "revenue", revenue, milestone.at_least, met)
    if milestone.threshold == "redemptions":
        uses: list[int] = []
        if milestone.source == "promotion":
            uses = [
                p.current_uses
                for p in session.exec(select(BcPromotion))
                if _matches(milestone, p.id, p.name)
            ]
        else:
            uses = [
                c.num_uses
                for c in session.exec(select(BcCoupon))
                if _matches(milestone, c.id, c.name)
            ]
        best = Decimal(max(uses, default=0))
        return Progress(milestone.id, "redemptions", best, milestone.at_least, met)
    live = len(_candidates(milestone, session, now))
    return Progress(milestone.id, "live", Decimal(live), Decimal(1), met)


def award_points(milestone: Milestone, revenue: Decimal) -> int:
    if milestone.points_per:
        points = int(revenue // milestone.points_per) * max(milestone.points, 1)
        return min(points, milestone.cap) if milestone.cap is not None else points
    return milestone.points


def _recipients(session: Session, milestone: Milestone) -> list[Member]:
    stmt = select(Member).where(col(Member.active).is_(True), col(Member.is_bot).is_(False))
    if milestone.members:
        emails = [e.lower() for e in milestone.members]
        stmt = stmt.where(func.lower(col(Member.email)).in_(emails))
    elif milestone.team:
        stmt = stmt.where(Member.team == milestone.team)
    else:
        return []
    return list(session.exec(stmt.order_by(col(Member.id))))


def shares(points: int, member_ids: Sequence[int]) -> dict[int, int]:
    """Whole-point shares adding up to `points`; the first members get any remainder."""
    if not member_ids:
        return {}
    base, extra = divmod(points, len(member_ids))
    return {m: base + (1 if i < extra else 0) for i, m in enumerate(member_ids)}


def evaluate(
    definitions: Sequence[Milestone],
    *,
    session: Session,
    now: datetime,
    calendar: SprintCalendar,
    policy: KudosPolicy,
    workspace: str | None = None,
) -> list[Awarded]:
    """Award every milestone that holds now and was not awarded before."""
    sprint = calendar.sprint_of(now)
    if sprint is None:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # One evaluation at a time: two racing in different orders could otherwise each
        # hold one new award and wait for the other's.
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    awarded: list[Awarded] = []
    for milestone in definitions:
        for key, detail, revenue in _candidates(milestone, session, now):
            if session.exec(select(MilestoneAward.id).where(MilestoneAward.key == key)).first():
                continue
            result = _award(
                milestone, key, detail, revenue, session, now, sprint.id, policy, workspace
            )
            if result is not None:
                awarded.append(result)
    return awarded


def _award(
    milestone: Milestone,
    key: str,
    detail: dict[str, Any],
    revenue: Decimal,
    session: Session,
    now: datetime,
    sprint: str,
    policy: KudosPolicy,
    workspace: str | None,
) -> Awarded | None:
    points = award_points(milestone, revenue)
    people = _recipients(session, milestone)
    split = shares(points, [m.id for m in people if m.id is not None])
    title = milestone.title + (f": {detail['name']}" if "name" in detail else "")
    award = MilestoneAward(
        key=key,
        milestone_id=milestone.id,
        sprint=sprint,
        title=title[:200],
        points=points,
        team=milestone.team,
        detail=detail,
        awarded_at=now,
    )
    try:
        with session.begin_nested():
            session.add(award)
            session.flush()
    except IntegrityError:
        return None  # another sync awarded it a moment ago
    assert award.id is not None
    for member_id, share in split.items():
        session.add(
            MilestoneShare(award_id=award.id, member_id=member_id, sprint=sprint, points=share)
        )
    session.flush()
    add_milestone(session, sprint, split)
    if policy.recognition_channel:
        _announce(session, award, milestone, people, policy.recognition_channel, workspace)
    queries.append_audit(
        session=session,
        actor="kpi" if milestone.source == "kpi" else "bigcommerce",
        action="milestone.awarded",
        subject=f"milestone:{key}",
        detail={"points": points, "sprint": sprint, "shares": len(split), "team": milestone.team},
        at=now,
    )
    return Awarded(key, milestone.id, award.title, points, sprint, split)


def _announce(
    session: Session,
    award: MilestoneAward,
    milestone: Milestone,
    people: list[Member],
    channel: str,
    workspace: str | None,
) -> None:
    """Queue the award's post in the recognition channel, in `workspace` or else the first
    Slack workspace of the people it went to."""
    queries.enqueue(
        session=session,
        message=messages.message(
            Template.MILESTONE_REACHED,
            {
                "title": award.title,
                "points": award.points,
                "team": milestone.team,
                "people": [person_fields(m, platforms=("slack",)) for m in people],
                "sprint": award.sprint,
                "detail": award.detail,
            },
            key=f"milestone:{award.id}:announce",
            platform="slack",
            workspace=workspace or next((w for m in people if (w := workspace_of(m))), None),
            channel=channel,
            kind="post",
        ),
    )
