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

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from handlers.clock import zone
from storage.models import LeaderboardTotal, Recognition, RecognitionRecipient, SyncState


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


def add_totals(session: Session, rows: list[dict[str, object]]) -> None:
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
    add_totals(session, rows)


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
    add_totals(
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


# -- recounts -------------------------------------------------------------------------------

# The totals' SyncState: the settings' fingerprint, a generation, any pending recount.
STATE = "sprint_calendar"
_state = SyncState.__table__  # type: ignore[attr-defined]


def rebuild(session: Session, calendar: SprintCalendar, *, now: datetime) -> int:
    """Recount every sprint from the recognitions, in one transaction
    (`handlers.leaderboard.counting.rebuild`)."""
    from handlers.leaderboard import counting  # which imports this module

    return counting.rebuild(session, calendar, now=now)


def state(session: Session, *, lock: bool = False) -> dict[str, Any]:
    """The totals' state, read with Core (a long-lived session's identity map may be old);
    `lock` it to change it (PostgreSQL: writers of it take turns)."""
    query = select(_state.c.value).where(_state.c.key == STATE)
    value = session.connection().execute(query.with_for_update() if lock else query).scalar()
    return dict(value) if isinstance(value, dict) else {}


def save_state(session: Session, value: dict[str, Any], now: datetime) -> None:
    """Write the totals' state, making its row on first use."""
    conn = session.connection()
    update = _state.update().where(_state.c.key == STATE).values(value=value, updated_at=now)
    if not conn.execute(update).rowcount:
        conn.execute(_state.insert().values(key=STATE, value=value, updated_at=now))


def remember(session: Session, calendar: SprintCalendar, now: datetime) -> None:
    """Counted under `calendar` now: no recount pending; the generation moves on."""
    generation = int(state(session, lock=True).get("generation", 0)) + 1
    save_state(session, {"fingerprint": calendar.fingerprint(), "generation": generation}, now)


def needs_rebuild(session: Session, calendar: SprintCalendar) -> bool:
    """True when the totals were counted with other settings (or never) or are recounting."""
    value = state(session)
    return value.get("fingerprint") != calendar.fingerprint() or bool(value.get("recount"))
