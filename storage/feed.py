"""Published recognitions as the dashboard's feed and the CSV export list them: newest
first, with who gave and who received, narrowed to a manager's org, a time range or a
Slack workspace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql.selectable import CTE
from sqlmodel import Session

from storage.models import Member, Recognition, RecognitionRecipient

PRIVATE = "(a private kudos: its words are for its recipients only)"
_member = Member.__table__  # type: ignore[attr-defined]
_recognition = Recognition.__table__  # type: ignore[attr-defined]
_recipient = RecognitionRecipient.__table__  # type: ignore[attr-defined]


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


def org(manager_id: int) -> CTE:
    """The manager's reports, and theirs, all the way down (UNION stops at a cycle)."""
    org = select(_member.c.id).where(_member.c.manager_id == manager_id).cte("org", recursive=True)
    below = _member.alias("below")
    return org.union(select(below.c.id).join(org, below.c.manager_id == org.c.id))


def _published(outcomes: Sequence[str]) -> Any:
    return and_(
        _recognition.c.outcome.in_(outcomes),
        _recognition.c.revoked_at.is_(None),
    )


def recognitions(
    session: Session,
    *,
    outcomes: Sequence[str],
    limit: int | None,
    offset: int = 0,
    manager_id: int | None = None,
    between: tuple[datetime, datetime] | None = None,
    workspace: str | None = None,
) -> list[FeedItem]:
    """Recognitions with one of `outcomes`, not revoked, newest first."""
    giver = _member.alias("giver")
    stmt = (
        select(
            _recognition.c.id,
            _recognition.c.created_at,
            _recognition.c.text,
            _recognition.c.private,
            _recognition.c.value_tags,
            _recognition.c.source,
            _recognition.c.platform,
            giver.c.display_name,
            giver.c.email,
        )
        .join(giver, giver.c.id == _recognition.c.giver_id)
        .where(_published(outcomes))
        .order_by(_recognition.c.created_at.desc(), _recognition.c.id.desc())
    )
    if manager_id is not None:
        in_org = select(org(manager_id).c.id)
        to_org = select(_recipient.c.id).where(
            _recipient.c.recognition_id == _recognition.c.id, _recipient.c.member_id.in_(in_org)
        )
        stmt = stmt.where(or_(_recognition.c.giver_id.in_(in_org), exists(to_org)))
    if between is not None:
        stmt = stmt.where(
            _recognition.c.created_at >= between[0], _recognition.c.created_at < between[1]
        )
    if workspace is not None:  # a member belongs to one Slack workspace
        stmt = stmt.where(giver.c.slack_team_id == workspace)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    rows = session.connection().execute(stmt).all()
    names = recipients(session, [int(r.id) for r in rows])
    return [
        FeedItem(
            id=int(r.id),
            at=r.created_at,
            giver=Named(str(r.display_name), r.email),
            recipients=tuple(names.get(int(r.id), ())),
            # A private kudos counts here, but its words are for its recipients alone.
            text=PRIVATE if r.private else str(r.text),
            values=tuple(str(v) for v in (r.value_tags or [])),
            source=str(r.source),
            platform=str(r.platform),
        )
        for r in rows
    ]


def recipients(session: Session, ids: list[int]) -> dict[int, list[Named]]:
    """The recipients of each recognition in `ids`, in the order they were named."""
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
