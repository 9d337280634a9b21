"""What the dashboard reads from the database (synchronous: run through `Runtime.run`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.sql.selectable import CTE
from sqlmodel import Session

from bot.dashboard.auth import Account
from handlers import leaderboard, review, surveys
from handlers.leaderboard import Board, Filters
from handlers.sprints import PUBLISHED, Sprint
from storage import queries
from storage.models import (
    AuditEntry,
    Member,
    PvCase,
    Recognition,
    RecognitionRecipient,
    SurveyRound,
)

_member = Member.__table__  # type: ignore[attr-defined]
_recognition = Recognition.__table__  # type: ignore[attr-defined]
_recipient = RecognitionRecipient.__table__  # type: ignore[attr-defined]
_audit = AuditEntry.__table__  # type: ignore[attr-defined]
_pv = PvCase.__table__  # type: ignore[attr-defined]
_round = SurveyRound.__table__  # type: ignore[attr-defined]

AUDIT_ROWS = 200


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
    )


def _org(manager_id: int) -> CTE:
    """The manager's reports, and theirs, all the way down (UNION stops at a cycle)."""
    org = select(_member.c.id).where(_member.c.manager_id == manager_id).cte("org", recursive=True)
    below = _member.alias("below")
    return org.union(select(below.c.id).join(org, below.c.manager_id == org.c.id))


def org_ids(session: Session, manager_id: int) -> set[int]:
    org = _org(manager_id)
    return {int(i) for i in session.connection().execute(select(org.c.id)).scalars()}


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
    top: int,
    workspace: str | None = None,
) -> Boards:
    """The people and team boards; `workspace`: that Slack workspace's members only."""
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


@dataclass(frozen=True)
class Named:
    """Someone as the feed and exports show them."""

    name: str
    email: str | None


@dataclass(frozen=True)
class FeedItem:
    id: int
    at: datetime
    giver: Named
    recipients: tuple[Named, ...]
    text: str
    values: tuple[str, ...]
    source: str
    platform: str


def _published() -> Any:
    return and_(
        _recognition.c.outcome.in_(PUBLISHED),
        _recognition.c.revoked_at.is_(None),
    )


def _recognitions(
    session: Session,
    *,
    limit: int | None,
    offset: int = 0,
    manager_id: int | None = None,
    between: tuple[datetime, datetime] | None = None,
    workspace: str | None = None,
) -> list[FeedItem]:
    giver = _member.alias("giver")
    stmt = (
        select(
            _recognition.c.id,
            _recognition.c.created_at,
            _recognition.c.text,
            _recognition.c.value_tags,
            _recognition.c.source,
            _recognition.c.platform,
            giver.c.display_name,
            giver.c.email,
        )
        .join(giver, giver.c.id == _recognition.c.giver_id)
        .where(_published())
        .order_by(_recognition.c.created_at.desc(), _recognition.c.id.desc())
    )
    if manager_id is not None:
        org = select(_org(manager_id).c.id)
        to_org = select(_recipient.c.id).where(
            _recipient.c.recognition_id == _recognition.c.id, _recipient.c.member_id.in_(org)
        )
        stmt = stmt.where(or_(_recognition.c.giver_id.in_(org), exists(to_org)))
    if between is not None:
        stmt = stmt.where(
            _recognition.c.created_at >= between[0], _recognition.c.created_at < between[1]
        )
    if workspace is not None:  # a member belongs to one Slack workspace
        stmt = stmt.where(giver.c.slack_team_id == workspace)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    rows = session.connection().execute(stmt).all()
    names = _recipients(session, [int(r.id) for r in rows])
    return [
        FeedItem(
            id=int(r.id),
            at=r.created_at,
            giver=Named(str(r.display_name), r.email),
            recipients=tuple(names.get(int(r.id), ())),
            text=str(r.text),
            values=tuple(str(v) for v in (r.value_tags or [])),
            source=str(r.source),
            platform=str(r.platform),
        )
        for r in rows
    ]


def _recipients(session: Session, ids: list[int]) -> dict[int, list[Named]]:
    found: dict[int, list[Named]] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        stmt = (
            select(_recipient.c.recognition_id, _member.c.display_name, _member.c.email)
            .join(_member, _member.c.id == _recipient.c.member_id)
            .where(_recipient.c.recognition_id.in_(chunk))
            .order_by(_recipient.c.id)
        )
        for row in session.connection().execute(stmt):
            found.setdefault(int(row.recognition_id), []).append(
                Named(str(row.display_name), row.email)
            )
    return found


def feed(
    session: Session,
    *,
    page: int,
    size: int,
    manager_id: int | None = None,
    workspace: str | None = None,
) -> tuple[list[FeedItem], bool]:
    """One page of published recognitions, newest first, and whether there is another."""
    items = _recognitions(
        session,
        limit=size + 1,
        offset=(page - 1) * size,
        manager_id=manager_id,
        workspace=workspace,
    )
    return items[:size], len(items) > size


# -- reviews, audit, PV ---------------------------------------------------------------------


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
    names = _recipients(session, [int(g.id or 0) for _, g in waiting])
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
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: str  # as JSON


@dataclass(frozen=True)
class Audit:
    intact: bool
    checked: int
    first_bad: int | None
    entries: tuple[AuditRow, ...]


def audit(session: Session) -> Audit:
    """The chain's state and the latest entries, newest first."""
    intact, checked, first_bad = queries.verify_audit(session=session)
    stmt = select(_audit).order_by(_audit.c.id.desc()).limit(AUDIT_ROWS)
    entries = tuple(
        AuditRow(
            id=int(r.id),
            at=r.at,
            actor=str(r.actor),
            action=str(r.action),
            subject=str(r.subject),
            detail=json.dumps(r.detail, sort_keys=True, default=str),
        )
        for r in session.connection().execute(stmt)
    )
    return Audit(intact, checked, first_bad, entries)


@dataclass(frozen=True)
class Case:
    id: int
    aware_at: datetime
    source: str
    reporter: str
    rules: tuple[str, ...]
    status: str
    text: str | None  # for the safety team only


def pv_cases(session: Session, *, with_text: bool) -> list[Case]:
    rows = session.connection().execute(select(_pv).order_by(_pv.c.aware_at.desc(), _pv.c.id))
    return [
        Case(
            id=int(r.id),
            aware_at=r.aware_at,
            source=str(r.source),
            reporter=str(r.reporter),
            rules=tuple(str(x) for x in (r.rules or [])),
            status=str(r.status),
            text=str(r.text) if with_text else None,
        )
        for r in rows
    ]


# -- exports --------------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a quote."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


LEADERBOARD_HEADER = (
    "sprint",
    "board",
    "rank",
    "name",
    "email",
    "points",
    "kudos_points",
    "milestone_points",
)


def export_leaderboard(
    session: Session,
    sprint: Sprint,
    *,
    by: leaderboard.By,
    filters: Filters,
    exclude: Sequence[str],
    actor: str,
    now: datetime,
    workspace: str | None = None,
) -> str:
    """The whole board as CSV; the export is audited in the same transaction."""
    b = leaderboard.board(
        session, sprint, by=by, filters=filters, exclude=exclude, top=None, workspace=workspace
    )
    rows = [
        (b.sprint, by, r.rank, r.name, r.email, r.points, r.recognition_points, r.milestone_points)
        for r in b.rows
    ]
    queries.append_audit(
        session=session,
        actor=actor,
        action="export.leaderboard",
        subject=f"sprint:{sprint.id}",
        detail={
            "sprint": sprint.id,
            "by": by,
            "filters": _filters(filters),
            "rows": len(rows),
            **({"workspace": workspace} if workspace else {}),
        },
        at=now,
    )
    return to_csv(LEADERBOARD_HEADER, rows)


RECOGNITIONS_HEADER = (
    "id",
    "created_at",
    "giver",
    "giver_email",
    "recipients",
    "recipient_emails",
    "values",
    "message",
    "source",
    "platform",
)


def export_recognitions(
    session: Session,
    *,
    sprint: Sprint | None,
    actor: str,
    now: datetime,
    workspace: str | None = None,
) -> str:
    """Published recognitions (of one sprint, or all) as CSV, audited in the same transaction."""
    between = (sprint.start, sprint.end) if sprint is not None else None
    items = _recognitions(session, limit=None, between=between, workspace=workspace)
    rows = [
        (
            i.id,
            i.at.isoformat(),
            i.giver.name,
            i.giver.email,
            "; ".join(p.name for p in i.recipients),
            "; ".join(p.email or "" for p in i.recipients),
            " ".join(i.values),
            i.text,
            i.source,
            i.platform,
        )
        for i in items
    ]
    queries.append_audit(
        session=session,
        actor=actor,
        action="export.recognitions",
        subject="recognitions",
        detail={
            "sprint": sprint.id if sprint else None,
            "rows": len(rows),
            **({"workspace": workspace} if workspace else {}),
        },
        at=now,
    )
    return to_csv(RECOGNITIONS_HEADER, rows)


def _filters(filters: Filters) -> dict[str, str]:
    return {k: v for k, v in asdict(filters).items() if v}


# -- surveys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyListing:
    """A survey that has rounds, with its latest round's participation."""

    id: str
    title: str
    rounds: int
    latest: int  # the latest round's number
    latest_closed: bool
    invited: int
    respondents: int
    participation: float


@dataclass(frozen=True)
class SurveyRoundPage:
    """One round's results (from `handlers.surveys.results`, thresholds applied), the
    survey's rounds to choose from, and the question texts by id for the trend."""

    results: surveys.Results
    rounds: tuple[tuple[int, bool], ...]  # (number, closed), newest first
    labels: dict[str, str]
    owners: tuple[str, ...] = ()  # Slack user ids or emails


def survey_listing(session: Session) -> list[SurveyListing]:
    """Every survey with at least one round, by title."""
    counts = session.connection().execute(
        select(_round.c.survey_id, func.count(_round.c.id)).group_by(_round.c.survey_id)
    )
    found: list[SurveyListing] = []
    for survey_id, rounds in counts:
        latest = surveys.latest_round(session, str(survey_id))
        if latest is None or latest.id is None:
            continue
        res = surveys.results(session, latest.id, with_trend=False)
        found.append(
            SurveyListing(
                id=str(survey_id),
                title=res.title,
                rounds=int(rounds),
                latest=res.number,
                latest_closed=res.closed,
                invited=res.invited,
                respondents=res.respondents,
                participation=res.participation,
            )
        )
    return sorted(found, key=lambda s: (s.title.lower(), s.id))


def survey_round(session: Session, survey_id: str, number: int | None) -> SurveyRoundPage | None:
    """Round `number` of the survey, else its latest closed round, else its latest round."""
    rows = session.connection().execute(
        select(_round.c.id, _round.c.number, _round.c.status)
        .where(_round.c.survey_id == survey_id)
        .order_by(_round.c.number.desc())
    )
    rounds = [(int(r.id), int(r.number), r.status == "closed") for r in rows]
    if number is not None:
        chosen = next((r for r in rounds if r[1] == number), None)
    else:
        chosen = next((r for r in rounds if r[2]), rounds[0] if rounds else None)
    if chosen is None:
        return None
    round_ = session.get(SurveyRound, chosen[0])
    assert round_ is not None
    definition = surveys.survey_from_json(round_.definition)
    return SurveyRoundPage(
        results=surveys.results(session, chosen[0]),
        rounds=tuple((n, closed) for _, n, closed in rounds),
        labels={q.id: q.text for q in definition.questions},
        owners=tuple(o.lower() for o in definition.owners),
    )


def org_teams(session: Session, manager_id: int) -> set[str]:
    """The teams of the people in a manager's org (their own team included)."""
    org = _org(manager_id)
    rows = session.connection().execute(
        select(_member.c.team).where(
            or_(_member.c.id.in_(select(org.c.id)), _member.c.id == manager_id),
            _member.c.team.is_not(None),
        )
    )
    return {str(t) for t in rows.scalars()}
