"""Campaign time to market: from a BigCommerce promotion's creation to its going live, by
the team a promotion milestone credits it to.

The store keeps no creation time, so "created" is when a sync first saw the promotion (at
most one sync interval late), and promotions the very first sync found are left out: they
existed before Plaudit could see them. "Live" is the promotion's start date, or the first
sync that saw it enabled when it has none.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from handlers.milestones import Milestone, matches
from storage.models import BcPromotion

FIRST_SYNC = timedelta(minutes=5)  # promotions first seen this close to the first sync


@dataclass(frozen=True)
class TeamTime:
    team: str  # "" for promotions no milestone credits to a team
    promotions: int
    median_days: float
    longest_days: float
    latest: str  # the last to go live


def by_team(session: Session, milestones: Sequence[Milestone]) -> list[TeamTime]:
    """Each team's promotions that went live after Plaudit first saw them, with the median
    and longest days from first seen to live; teams by name, unassigned last."""
    first = session.exec(select(func.min(BcPromotion.first_seen_at))).one()
    if first is None:
        return []
    found = session.exec(
        select(BcPromotion)
        .where(
            col(BcPromotion.live_at).is_not(None),
            col(BcPromotion.first_seen_at) > first + FIRST_SYNC,
        )
        .order_by(col(BcPromotion.live_at))
    ).all()
    crediting = [m for m in milestones if m.source == "promotion" and m.team]
    teams: dict[str, list[BcPromotion]] = {}
    for p in found:
        if p.live_at is None or p.first_seen_at is None or p.live_at < p.first_seen_at:
            continue  # live before it was seen: how long it took is not known
        team = next((m.team or "" for m in crediting if matches(m, p.id, p.name)), "")
        teams.setdefault(team, []).append(p)
    out = []
    for team, promotions in sorted(teams.items(), key=lambda t: (t[0] == "", t[0])):
        days = [_days(p) for p in promotions]
        out.append(
            TeamTime(team, len(days), statistics.median(days), max(days), promotions[-1].name)
        )
    return out


def _days(p: BcPromotion) -> float:
    assert p.live_at is not None and p.first_seen_at is not None
    return round((p.live_at - p.first_seen_at).total_seconds() / 86400, 1)
