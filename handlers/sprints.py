"""Recognition sprints: which sprint a moment belongs to, and the points kept per sprint.

Sprints are calendar quarters by default (a fiscal year may start in another month), in
one timezone, or explicit date ranges. Points are tallied into `leaderboard_total` as
recognitions are published or taken back, so a leaderboard reads one row per member.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from handlers.clock import zone
from storage.models import (
    LeaderboardTotal,
    MilestoneAward,
    Recognition,
    RecognitionRecipient,
    SyncState,
)

PUBLISHED = ("pass", "warn")


@dataclass(frozen=True)
class SprintRange:
    id: str
    start: date  # first day
    end: date  # last day, inclusive


@dataclass(frozen=True)
class Sprint:
    id: str
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class SprintCalendar:
    timezone: str = "UTC"
    fiscal_start_month: int = 1
    ranges: tuple[SprintRange, ...] = ()  # explicit sprints replace quarters when given

    def fingerprint(self) -> str:
        body = json.dumps(
            {
                "tz": self.timezone,
                "fiscal": self.fiscal_start_month,
                "ranges": [(r.id, r.start.isoformat(), r.end.isoformat()) for r in self.ranges],
            },
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def _bound(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone(self.timezone)).astimezone(UTC)

    def sprint_of(self, at: datetime) -> Sprint | None:
        """The sprint containing `at`; None between explicit ranges."""
        if self.ranges:
            for r in self.ranges:
                sprint = Sprint(r.id, self._bound(r.start), self._bound(r.end + timedelta(days=1)))
                if sprint.contains(at):
                    return sprint
            return None
        local = at.astimezone(zone(self.timezone))
        months_in = (local.month - self.fiscal_start_month) % 12
        quarter = months_in // 3 + 1
        first_month = (local.month - 1 - months_in % 3) % 12 + 1
        year = local.year if first_month <= local.month else local.year - 1
        start = date(year, first_month, 1)
        end_month = (first_month - 1 + 3) % 12 + 1
        end = date(year + (1 if end_month < first_month else 0), end_month, 1)
        return Sprint(self.label(start, quarter), self._bound(start), self._bound(end))

    def label(self, start: date, quarter: int) -> str:
        if self.fiscal_start_month == 1:
            return f"{start.year}Q{quarter}"
        # A fiscal year is named by the calendar year it ends in: FY2027Q1 starts April 2026.
        begins = start.year if start.month >= self.fiscal_start_month else start.year - 1
        return f"FY{begins + 1}Q{quarter}"

    def by_id(self, sprint_id: str, *, near: datetime) -> Sprint | None:
        """The sprint named `sprint_id`, looked for within five years of `near`."""
        for r in self.ranges:
            if r.id == sprint_id:
                return Sprint(r.id, self._bound(r.start), self._bound(r.end + timedelta(days=1)))
        if self.ranges:
            return None
        probe = near - timedelta(days=5 * 366)
        while probe < near + timedelta(days=5 * 366):
            found = self.sprint_of(probe)
            if found is not None and found.id == sprint_id:
                return found
            probe += timedelta(days=28)
        return None

    def previous(self, sprint: Sprint) -> Sprint | None:
        return self.sprint_of(sprint.start - timedelta(seconds=1))

    def last_ended(self, now: datetime) -> Sprint | None:
        """The most recent sprint that is over at `now`."""
        if self.ranges:
            ended = [
                Sprint(r.id, self._bound(r.start), self._bound(r.end + timedelta(days=1)))
                for r in self.ranges
            ]
            past = [s for s in ended if s.end <= now]
            return max(past, key=lambda s: s.end) if past else None
        current = self.sprint_of(now)
        return self.previous(current) if current is not None else None


# -- tallies --------------------------------------------------------------------------------

_total = LeaderboardTotal.__table__  # type: ignore[attr-defined]


def _adding(module: Any) -> Any:
    stmt = module.insert(_total)
    return stmt.on_conflict_do_update(
        index_elements=["sprint", "value_tag", "member_id"],
        set_={
            "received": _total.c.received + stmt.excluded.received,
            "given": _total.c.given + stmt.excluded.given,
            "milestone": _total.c.milestone + stmt.excluded.milestone,
            "points": _total.c.points + stmt.excluded.points,
        },
    )


# Built once: the tally runs inside every kudos.
_ADD = {"postgresql": _adding(postgresql), "sqlite": _adding(sqlite)}


def _upsert(session: Session, rows: list[dict[str, object]]) -> None:
    """Add to (sprint, tag, member) totals, creating rows on first sight. Each row gives
    received, given and milestone deltas; points moves with received + milestone."""
    complete = _complete(rows)
    if complete:
        session.connection().execute(_ADD[session.get_bind().dialect.name], complete)


def _complete(rows: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """Each row with its five counts, in one lock order for every transaction: no deadlock."""
    complete = []
    for row in sorted(rows, key=_order):
        r = int(row.get("received", 0))  # type: ignore[call-overload]
        m = int(row.get("milestone", 0))  # type: ignore[call-overload]
        complete.append({"given": 0, **row} | {"received": r, "milestone": m, "points": r + m})
    return complete


def _order(row: dict[str, object]) -> tuple[str, str, str]:
    return str(row["sprint"]), str(row["value_tag"]), str(row["member_id"])


def tally(
    session: Session,
    calendar: SprintCalendar,
    *,
    at: datetime,
    giver_id: int,
    recipient_ids: Sequence[int],
    tags: Sequence[str],
    sign: int = 1,
) -> None:
    """Count (sign=1) or take back (sign=-1) one published recognition in its sprint."""
    rows = tally_rows(
        calendar, at=at, giver_id=giver_id, recipient_ids=recipient_ids, tags=tags, sign=sign
    )
    _upsert(session, rows)


def tally_rows(
    calendar: SprintCalendar,
    *,
    at: datetime,
    giver_id: int,
    recipient_ids: Sequence[int],
    tags: Sequence[str],
    sign: int = 1,
) -> list[dict[str, object]]:
    """The totals `tally` adds to, complete and in lock order, for a caller that writes
    them along with other rows (a published kudos: `storage.kudos_writes`)."""
    sprint = calendar.sprint_of(at)
    if sprint is None or not recipient_ids:
        return []
    merged: dict[tuple[str, int], list[int]] = {}
    for tag in ("", *dict.fromkeys(t.lower() for t in tags)):
        for member in recipient_ids:
            merged.setdefault((tag, member), [0, 0])[0] += sign
        merged.setdefault((tag, giver_id), [0, 0])[1] += sign * len(recipient_ids)
    return _complete(
        [
            {"sprint": sprint.id, "value_tag": tag, "member_id": m, "received": r, "given": g}
            for (tag, m), (r, g) in merged.items()
        ]
    )


def add_milestone(session: Session, sprint_id: str, shares: dict[int, int]) -> None:
    """Count members' shares of a milestone award in their sprint totals."""
    _upsert(
        session,
        [
            {"sprint": sprint_id, "value_tag": "", "member_id": m, "milestone": p}
            for m, p in shares.items()
            if p
        ],
    )


def tally_recognition(
    session: Session, calendar: SprintCalendar, recognition_id: int, *, sign: int = 1
) -> None:
    recognition = session.get(Recognition, recognition_id)
    if recognition is None:
        return
    rcp = RecognitionRecipient.__table__  # type: ignore[attr-defined]
    recipients = [
        int(m)
        for m in session.connection()
        .execute(select(rcp.c.member_id).where(rcp.c.recognition_id == recognition_id))
        .scalars()
    ]
    tally(
        session,
        calendar,
        at=recognition.created_at,
        giver_id=recognition.giver_id,
        recipient_ids=recipients,
        tags=recognition.value_tags,
        sign=sign,
    )


_FINGERPRINT = "sprint_calendar"


def rebuild(session: Session, calendar: SprintCalendar, *, now: datetime) -> int:
    """Recount every sprint from the recognitions (after the sprint settings changed)."""
    session.connection().execute(delete(_total))
    rec = Recognition.__table__  # type: ignore[attr-defined]
    award = MilestoneAward.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    moments = [
        *conn.execute(select(func.min(rec.c.created_at), func.max(rec.c.created_at))).one(),
        *conn.execute(select(func.min(award.c.awarded_at), func.max(award.c.awarded_at))).one(),
    ]
    known = [m for m in moments if m is not None]
    first = min(known) if known else None
    last = max(known) if known else None
    counted = 0
    if first is not None and last is not None:
        first = first if first.tzinfo else first.replace(tzinfo=UTC)
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        seen: set[str] = set()
        probe = first
        while probe <= last + timedelta(days=1):
            sprint = calendar.sprint_of(probe)
            if sprint is not None and sprint.id not in seen:
                seen.add(sprint.id)
                counted += _rebuild_sprint(session, sprint)
            probe += timedelta(days=1)
    _remember(session, calendar, now)
    if session.get_bind().dialect.name == "postgresql":
        # Fresh statistics, or the planner keeps believing the table is empty.
        session.connection().execute(text("ANALYZE leaderboard_total"))
    return counted


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
_INSERT_TOTALS = text(
    f"""INSERT INTO leaderboard_total
        (sprint, value_tag, member_id, received, given, milestone, points)
        SELECT :sprint AS sprint, '' AS value_tag, x.member_id AS member_id,
               SUM(x.received) AS received, SUM(x.given) AS given,
               SUM(x.milestone) AS milestone, SUM(x.received) + SUM(x.milestone) AS points
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
"""A sprint's totals over all tags: received per recipient, given per giver, milestones."""
_TAGGED = text(
    f"""SELECT r.id, r.giver_id, r.value_tags, rr.member_id
        FROM recognition r JOIN recognition_recipient rr ON rr.recognition_id = r.id
        WHERE {_COUNTED} AND r.value_tags IS NOT NULL"""
).bindparams(*_WINDOW)


def _rebuild_sprint(session: Session, sprint: Sprint) -> int:
    """INSERT ... SELECT the sprint's totals: received per recipient, given per giver, for
    all tags and per tag."""
    # Timestamps are stored as naive UTC on every database (storage.types.UTCDateTime).
    params = {
        "sprint": sprint.id,
        "start": sprint.start.astimezone(UTC).replace(tzinfo=None),
        "end": sprint.end.astimezone(UTC).replace(tzinfo=None),
    }
    conn = session.connection()
    for statement in _MOVE_AWARDS:
        conn.execute(statement, params)
    result = conn.execute(_INSERT_TOTALS, params)
    _upsert(session, _tag_totals(session, sprint.id, params))
    return int(result.rowcount or 0)


def _tag_totals(
    session: Session, sprint_id: str, params: dict[str, Any]
) -> list[dict[str, object]]:
    """The sprint's totals per tag: done in Python, the JSON tag lists being
    dialect-specific to unnest."""
    per_tag: dict[tuple[str, int], list[int]] = {}
    for _, giver, tags, member in session.connection().execute(_TAGGED, params):
        tag_list = json.loads(tags) if isinstance(tags, str) else (tags or [])
        tag_list = list(dict.fromkeys(str(t).lower() for t in tag_list))
        for tag in tag_list:
            per_tag.setdefault((tag, member), [0, 0])[0] += 1
            per_tag.setdefault((tag, giver), [0, 0])[1] += 1
    return [
        {"sprint": sprint_id, "value_tag": tag, "member_id": m, "received": r, "given": g}
        for (tag, m), (r, g) in per_tag.items()
    ]


def _remember(session: Session, calendar: SprintCalendar, now: datetime) -> None:
    state = session.get(SyncState, _FINGERPRINT)
    if state is None:
        state = SyncState(key=_FINGERPRINT, value={}, updated_at=now)
    state.value = {"fingerprint": calendar.fingerprint()}
    state.updated_at = now
    session.add(state)


def needs_rebuild(session: Session, calendar: SprintCalendar) -> bool:
    """True when the totals were counted with other sprint settings (or never)."""
    state = session.get(SyncState, _FINGERPRINT)
    return state is None or state.value.get("fingerprint") != calendar.fingerprint()
