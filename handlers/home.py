"""A member's home: their numbers this quarter and today, their place on the sprint board and
its top, and the kudos they received lately (published ones only). Slack shows it as the
App Home tab; every platform can render it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session

from handlers import members, stats
from handlers.clock import Clock, local_date, zone
from handlers.events import Person
from handlers.i18n import _
from handlers.leaderboard.boards import Row, board
from handlers.leaderboard.recount import recounting
from handlers.policy import KudosPolicy
from storage.models.recognition import PUBLISHED
from storage.people import MemberRow

QUOTE = 200  # characters of a received kudos shown on a home

_RANK = """
    SELECT COUNT(DISTINCT t.points) FROM leaderboard_total t JOIN member m ON m.id = t.member_id
    WHERE t.sprint = :sprint AND t.value_tag = '' AND t.points > :points
      AND m.active = :active AND m.is_bot = :bot"""
_POINTS = """SELECT points FROM leaderboard_total
             WHERE sprint = :sprint AND value_tag = '' AND member_id = :member"""
_RECENT = f"""
    SELECT g.display_name AS giver, r.text AS text, r.created_at AS at
    FROM recognition r
    JOIN recognition_recipient rr ON rr.recognition_id = r.id
    JOIN member g ON g.id = r.giver_id
    WHERE rr.member_id = :member AND r.revoked_at IS NULL
      AND r.outcome IN ({", ".join(f"'{o}'" for o in PUBLISHED)})
    ORDER BY r.created_at DESC, r.id DESC LIMIT :n"""


@dataclass(frozen=True)
class Received:
    giver: str
    message: str
    at: datetime


@dataclass(frozen=True)
class Home:
    name: str
    summary: stats.Summary
    resets_at: datetime  # the giver's next local midnight, when the allowance is whole again
    sprint: str | None  # the sprint running now, if any
    points: int  # this sprint
    rank: int | None  # among people this sprint; None without points or while recounting
    top: tuple[Row, ...]
    recent: tuple[Received, ...]
    recounting: bool = False


def home(
    person: Person,
    *,
    session: Session,
    policy: KudosPolicy,
    clock: Clock,
    top: int = 5,
    recent: int = 5,
) -> Home:
    now = clock.now()
    member = members.find(person, session=session)
    summary = stats.summary(member, session=session, policy=policy, clock=clock)
    tz = member.timezone if member is not None else None
    resets = datetime.combine(
        local_date(now, tz) + timedelta(days=1), datetime.min.time(), zone(tz)
    )
    sprint = policy.sprints.sprint_of(now)
    name = member.display_name if member is not None else person.display_name
    if sprint is None:
        return Home(name, summary, resets, None, 0, None, (), _recent(session, member, recent))
    # The company's board, as the rank is; a tie at the edge shows some of its people.
    shown = board(session, sprint, top=top, most=2 * top)
    points, rank = _place(session, sprint.id, member.id if member is not None else None)
    return Home(
        name,
        summary,
        resets,
        sprint.id,
        points,
        None if shown.recounting else rank,
        shown.rows,
        _recent(session, member, recent),
        recounting=shown.recounting,
    )


def _place(session: Session, sprint: str, member_id: int | None) -> tuple[int, int | None]:
    if member_id is None or recounting(session):
        return 0, None
    conn = session.connection()
    points = conn.execute(text(_POINTS), {"sprint": sprint, "member": member_id}).scalar()
    if not points:
        return 0, None
    above = conn.execute(
        text(_RANK), {"sprint": sprint, "points": points, "active": True, "bot": False}
    ).scalar()
    return int(points), int(above or 0) + 1


def _recent(session: Session, member: MemberRow | None, n: int) -> tuple[Received, ...]:
    member_id = member.id if member is not None else None
    if member_id is None or n <= 0:
        return ()
    rows = session.connection().execute(text(_RECENT), {"member": member_id, "n": n}).all()
    # A kudos by reaction has no words of its own; a long one is shown by its beginning.
    by_reaction = _("(by reaction)")
    return tuple(
        Received(str(r.giver), _shortened(str(r.text or "") or by_reaction), _aware(r.at))
        for r in rows
    )


def _shortened(message: str) -> str:
    return message if len(message) <= QUOTE else message[: QUOTE - 1] + "…"


def _aware(value: object) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
