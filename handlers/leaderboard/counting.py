"""Counting sprint figures afresh from the recognitions and milestone awards: the full
recount in one transaction (`rebuild`), and the counts a background recount compares
with the kept totals (`handlers.leaderboard.recount`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, delete, func, select, text
from sqlmodel import Session

from handlers import sprints
from handlers.sprints import Sprint, SprintCalendar
from storage.models import LeaderboardTotal, MilestoneAward, Recognition

Figures = tuple[int, int, int]  # received, given, milestone
Moments = tuple[datetime, datetime]  # first, last
_total = LeaderboardTotal.__table__  # type: ignore[attr-defined]


def rebuild(session: Session, calendar: SprintCalendar, *, now: datetime) -> int:
    """Recount every sprint from the recognitions, in one transaction (`plaudit sprint
    recount`, and `sprints.rebuild`)."""
    sprints.state(session, lock=True)  # first, as every writer of the state: no deadlock
    if session.get_bind().dialect.name == "postgresql":  # tallies wait: none counted twice
        session.connection().execute(text(f"LOCK TABLE {_total.name} IN SHARE ROW EXCLUSIVE MODE"))
    session.connection().execute(delete(_total))
    counted = 0
    for sprint in sprints_between(calendar, span(session)):
        move_awards(session, sprint)
        figures = count_sprint(session, sprint)
        sprints.add_totals(session, rows(sprint.id, figures))
        counted += sum(1 for tag, _ in figures if not tag)
    sprints.remember(session, calendar, now)
    if session.get_bind().dialect.name == "postgresql":
        # Fresh statistics, or the planner keeps believing the table is empty.
        session.connection().execute(text("ANALYZE leaderboard_total"))
    return counted


def span(session: Session) -> Moments | None:
    """The first and the last moment (UTC) of any recognition or milestone award."""
    rec = Recognition.__table__  # type: ignore[attr-defined]
    award = MilestoneAward.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    moments = [
        *conn.execute(select(func.min(rec.c.created_at), func.max(rec.c.created_at))).one(),
        *conn.execute(select(func.min(award.c.awarded_at), func.max(award.c.awarded_at))).one(),
    ]
    known = [m if m.tzinfo else m.replace(tzinfo=UTC) for m in moments if m is not None]
    return (min(known), max(known)) if known else None


def sprints_between(calendar: SprintCalendar, moments: Moments | None) -> list[Sprint]:
    """Every sprint from the one holding the first moment to the one holding the last."""
    if moments is None:
        return []
    found: dict[str, Sprint] = {}
    probe, last = moments
    while probe <= last + timedelta(days=1):
        sprint = calendar.sprint_of(probe)
        if sprint is not None:
            found.setdefault(sprint.id, sprint)
        probe += timedelta(days=1)
    return list(found.values())


_COUNTED = (
    "r.outcome IN ('pass', 'warn') AND r.revoked_at IS NULL"
    " AND r.created_at >= :start AND r.created_at < :end"
)
# Typed, so each database's driver is given the window as it stores timestamps (sqlite3's
# own datetime adapter is deprecated since Python 3.12).
_WINDOW = (bindparam("start", type_=DateTime()), bindparam("end", type_=DateTime()))
_MOVE_AWARDS = (
    text(
        "UPDATE milestone_award SET sprint = :sprint "
        "WHERE awarded_at >= :start AND awarded_at < :end"
    ).bindparams(*_WINDOW),
    text(
        "UPDATE milestone_share SET sprint = :sprint WHERE award_id IN "
        "(SELECT id FROM milestone_award WHERE sprint = :sprint)"
    ),
)
"""Awards belong to the sprint they were seen in, under the settings now in force."""
_COUNT_TOTALS = text(
    f"""SELECT x.member_id, SUM(x.received), SUM(x.given), SUM(x.milestone)
        FROM (
            SELECT rr.member_id AS member_id, 1 AS received, 0 AS given, 0 AS milestone
            FROM recognition r JOIN recognition_recipient rr ON rr.recognition_id = r.id
            WHERE {_COUNTED}
            UNION ALL
            SELECT r.giver_id, 0, COUNT(rr.id), 0
            FROM recognition r JOIN recognition_recipient rr ON rr.recognition_id = r.id
            WHERE {_COUNTED}
            GROUP BY r.id, r.giver_id
            UNION ALL
            SELECT s.member_id, 0, 0, s.points
            FROM milestone_share s JOIN milestone_award a ON a.id = s.award_id
            WHERE a.awarded_at >= :start AND a.awarded_at < :end
        ) x
        GROUP BY x.member_id"""
).bindparams(*_WINDOW)
_TAGGED = text(
    f"""SELECT r.id, r.giver_id, r.value_tags, rr.member_id
        FROM recognition r JOIN recognition_recipient rr ON rr.recognition_id = r.id
        WHERE {_COUNTED} AND r.value_tags IS NOT NULL"""
).bindparams(*_WINDOW)


def _window(sprint: Sprint) -> dict[str, Any]:
    # Timestamps are stored as naive UTC on every database (storage.types.UTCDateTime).
    return {
        "sprint": sprint.id,
        "start": sprint.start.astimezone(UTC).replace(tzinfo=None),
        "end": sprint.end.astimezone(UTC).replace(tzinfo=None),
    }


def rows(sprint_id: str, figures: dict[tuple[str, int], Figures]) -> list[dict[str, object]]:
    """Figures by (tag, member) as rows for `add_totals`."""
    names = ("value_tag", "member_id", "received", "given", "milestone")
    return [
        {"sprint": sprint_id, **dict(zip(names, (*k, *f), strict=True))} for k, f in figures.items()
    ]


def move_awards(session: Session, sprint: Sprint) -> None:
    """Label the awards seen in the sprint's window (and their shares) with its id."""
    params = _window(sprint)
    for statement in _MOVE_AWARDS:
        session.connection().execute(statement, params)


def count_sprint(session: Session, sprint: Sprint) -> dict[tuple[str, int], Figures]:
    """The sprint's figures afresh from the recognitions and awards (all tags: tag '')."""
    params = _window(sprint)
    found = {
        ("", int(m)): (int(r), int(g), int(ms))
        for m, r, g, ms in session.connection().execute(_COUNT_TOTALS, params)
    }
    for key, (r, g) in _tag_counts(session, params).items():
        found[key] = (r, g, 0)
    return found


def _tag_counts(session: Session, params: dict[str, Any]) -> dict[tuple[str, int], list[int]]:
    """(received, given) per tag and member: in Python, JSON lists unnest per dialect."""
    per_tag: dict[tuple[str, int], list[int]] = {}
    for _, giver, tags, member in session.connection().execute(_TAGGED, params):
        tag_list = json.loads(tags) if isinstance(tags, str) else (tags or [])
        tag_list = list(dict.fromkeys(str(t).lower() for t in tag_list))
        for tag in tag_list:
            per_tag.setdefault((tag, int(member)), [0, 0])[0] += 1
            per_tag.setdefault((tag, int(giver)), [0, 0])[1] += 1
    return per_tag
