"""The manager digest's line on cross-functional recognition: the direct reports' kudos
this month that crossed from one function to another, held back below the threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from handlers.clock import zone
from handlers.collaboration import MIN_GROUP, _across, _both, counted, pairs, safe
from handlers.i18n import _, n_
from storage.models import Member

__all__ = ["MIN_GROUP", "digest_line", "for_manager", "month_start", "team_month"]


def month_start(now: datetime, zone: Any) -> datetime:
    """The first moment of `now`'s calendar month on a clock (`zone`), in UTC."""
    local = now.astimezone(zone)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def team_month(
    session: Session, people: Sequence[int], *, since: datetime, now: datetime, k: int
) -> dict[str, int] | None:
    """The pairs given or received by `people` since `since` that cross a function
    boundary, out of those with both functions known: {"crossing", "total"}, or
    {"fewer_than": k} when held back; None when there are none."""
    source = pairs(since, now + timedelta(microseconds=1), people=people)
    found = counted(
        session, source, [("across", _across(source, "function"))], _both(source, "function")
    )
    across, inside = found.get((1,), (0, 0)), found.get((0,), (0, 0))
    if not across[0] + inside[0]:
        return None
    if not (safe(across[1], k) and safe(inside[1], k)):
        return {"fewer_than": k}
    return {"crossing": across[0], "total": across[0] + inside[0]}


def for_manager(
    session: Session, reports: Sequence[int], manager: Member, *, now: datetime, least: int
) -> dict[str, int] | None:
    """The manager digest's figures: `team_month` for the reports since the first of this
    month on the manager's clock."""
    since = month_start(now, zone(manager.timezone))
    return team_month(session, reports, since=since, now=now, k=least)


def digest_line(figures: Mapping[str, int] | None) -> list[str]:
    """The manager digest's line on the team's cross-functional kudos this month."""
    if not figures:
        return []
    if "fewer_than" in figures:
        # i18n: the English keeps one plural wording for every count; use your language's forms
        return [
            n_(
                "Your team's cross-functional kudos this month: not shown, fewer than {n} "
                "people are behind them.",
                "Your team's cross-functional kudos this month: not shown, fewer than {n} "
                "people are behind them.",
                figures["fewer_than"],
            )
        ]
    crossing, total = figures["crossing"], figures["total"]
    return [
        _(
            "Your team's cross-functional kudos this month: {crossing} of {total} ({share}).",
            crossing=crossing,
            total=total,
            share=f"{crossing / total:.0%}",
        )
    ]
