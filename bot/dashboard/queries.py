"""What the dashboard's pages read from the database, read-only (synchronous: run through
`Runtime.run`); the survey pages' reads are in `queries_surveys`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlmodel import Session

from bot.dashboard.auth import Account
from handlers import leaderboard, review
from handlers.leaderboard import Board, Filters
from handlers.sprints import Sprint
from storage.feed import FeedItem, org, recipients, recognitions
from storage.models import Member, MilestoneAward, MilestoneShare, PvCase
from storage.models.recognition import PUBLISHED

_member = Member.__table__  # type: ignore[attr-defined]
_pv = PvCase.__table__  # type: ignore[attr-defined]
_award = MilestoneAward.__table__  # type: ignore[attr-defined]
_share = MilestoneShare.__table__  # type: ignore[attr-defined]

AWARD_ROWS = 200


# -- people ---------------------------------------------------------------------------------


def account(session: Session, email: str) -> Account | None:
    """The active, human member with this email, with what the dashboard needs of them."""
    row = (
        session.connection()
        .execute(
            select(
                _member.c.id,
                _member.c.email,
                _member.c.display_name,
                _member.c.roles,
                _member.c.slack_team_id,
                _member.c.team,
            ).where(
                func.lower(_member.c.email) == email.strip().lower(),
                _member.c.active.is_(True),
                _member.c.is_bot.is_(False),
            )
        )
        .first()
    )
    if row is None:
        return None
    reports = select(_member.c.id).where(_member.c.manager_id == row.id, _member.c.active.is_(True))
    manages = bool(session.connection().execute(select(exists(reports))).scalar())
    roles = tuple(str(r) for r in (row.roles or []) if isinstance(r, str))
    return Account(
        int(row.id),
        str(row.email).lower(),
        str(row.display_name),
        roles,
        manages,
        row.slack_team_id,
        row.team,
    )


def org_ids(session: Session, manager_id: int) -> set[int]:
    tree = org(manager_id)
    return {int(i) for i in session.connection().execute(select(tree.c.id)).scalars()}


# -- leaderboard ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    teams: tuple[str, ...]
    regions: tuple[str, ...]
    areas: tuple[str, ...]


def choices(session: Session) -> Choices:
    """The teams, regions and therapeutic areas of active members, for the filter form."""

    def distinct(column: Any) -> tuple[str, ...]:
        stmt = (
            select(column)
            .where(column.is_not(None), _member.c.active.is_(True))
            .distinct()
            .order_by(column)
        )
        return tuple(str(v) for v in session.connection().execute(stmt).scalars())

    return Choices(
        distinct(_member.c.team),
        distinct(_member.c.region),
        distinct(_member.c.therapeutic_area),
    )


@dataclass(frozen=True)
class Boards:
    people: Board
    teams: Board
    choices: Choices


def boards(
    session: Session,
    sprint: Sprint,
    filters: Filters,
    exclude: Sequence[str],
    top: int | None,
    workspace: str | None = None,
) -> Boards:
    """The people board's first `top` places (None: all) and the whole team board;
    `workspace`: that Slack workspace's members only."""
    return Boards(
        leaderboard.board(
            session, sprint, filters=filters, exclude=exclude, top=top, workspace=workspace
        ),
        leaderboard.board(
            session,
            sprint,
            by="team",
            filters=filters,
            exclude=exclude,
            top=None,
            workspace=workspace,
        ),
        choices(session),
    )


# -- recognitions ---------------------------------------------------------------------------


def feed(
    session: Session,
    *,
    page: int,
    size: int,
    manager_id: int | None = None,
    workspace: str | None = None,
) -> tuple[list[FeedItem], bool]:
    """One page of published recognitions, newest first, and whether there is another."""
    items = recognitions(
        session,
        outcomes=PUBLISHED,
        limit=size + 1,
        offset=(page - 1) * size,
        manager_id=manager_id,
        workspace=workspace,
    )
    return items[:size], len(items) > size


# -- reviews, PV -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    review_id: int
    recognition_id: int
    created_at: datetime
    requested_by: str
    giver: str
    recipients: tuple[str, ...]
    text: str
    rules: tuple[tuple[str, str], ...]  # (rule id, message)


def pending_reviews(session: Session) -> list[Pending]:
    waiting = review.pending(session)
    names = recipients(session, [int(g.id or 0) for _, g in waiting])
    givers = {
        int(r.id): str(r.display_name)
        for r in session.connection().execute(
            select(_member.c.id, _member.c.display_name).where(
                _member.c.id.in_({g.giver_id for _, g in waiting})
            )
        )
    }
    return [
        Pending(
            review_id=int(r.id or 0),
            recognition_id=int(g.id or 0),
            created_at=r.created_at,
            requested_by=r.requested_by,
            giver=givers.get(g.giver_id, "?"),
            recipients=tuple(p.name for p in names.get(int(g.id or 0), [])),
            text=g.text,
            rules=tuple((str(f.get("rule", "")), str(f.get("message", ""))) for f in g.findings),
        )
        for r, g in waiting
    ]


@dataclass(frozen=True)
class Case:
    id: int
    aware_at: datetime
    source: str
    reporter: str
    rules: tuple[str, ...]
    status: str
    text: str | None  # for the safety team only (see `handlers.safety.read_texts`)


def pv_cases(session: Session) -> list[Case]:
    columns = (_pv.c.id, _pv.c.aware_at, _pv.c.source, _pv.c.reporter, _pv.c.rules, _pv.c.status)
    rows = session.connection().execute(select(*columns).order_by(_pv.c.aware_at.desc(), _pv.c.id))
    return [
        Case(
            id=int(r.id),
            aware_at=r.aware_at,
            source=str(r.source),
            reporter=str(r.reporter),
            rules=tuple(str(x) for x in (r.rules or [])),
            status=str(r.status),
            text=None,
        )
        for r in rows
    ]


# -- milestones -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Award:
    id: int
    at: datetime
    milestone_id: str
    title: str
    sprint: str
    points: int
    team: str | None
    people: int


def award_counts(session: Session) -> dict[str, int]:
    """How many times each milestone has been awarded, by milestone id."""
    return {
        str(m): int(n)
        for m, n in session.connection().execute(
            select(_award.c.milestone_id, func.count(_award.c.id)).group_by(_award.c.milestone_id)
        )
    }


def latest_awards(session: Session) -> list[Award]:
    """The latest awards, newest first, with how many people shared each."""
    people = (
        select(_share.c.award_id, func.count(_share.c.id).label("people"))
        .group_by(_share.c.award_id)
        .subquery()
    )
    found = session.connection().execute(
        select(_award, people.c.people)
        .outerjoin(people, people.c.award_id == _award.c.id)
        .order_by(_award.c.awarded_at.desc(), _award.c.id.desc())
        .limit(AWARD_ROWS)
    )
    return [
        Award(
            int(a.id),
            a.awarded_at,
            str(a.milestone_id),
            str(a.title),
            str(a.sprint),
            int(a.points),
            a.team,
            int(a.people or 0),
        )
        for a in found
    ]
