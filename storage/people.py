"""Member lookups and writes on the hot path, as plain rows rather than ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session

from storage.models import Member

_member = Member.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    _member.c.id,
    _member.c.display_name,
    _member.c.timezone,
    _member.c.email,
    _member.c.is_bot,
    _member.c.slack_team_id,
    _member.c.slack_user_id,
    _member.c.teams_aad_id,
)
_BY_SLACK = sa_select(*_COLUMNS).where(
    _member.c.slack_team_id == bindparam("workspace"),
    _member.c.slack_user_id.in_(bindparam("ids", expanding=True)),
)
_BY_TEAMS = sa_select(*_COLUMNS).where(_member.c.teams_aad_id.in_(bindparam("ids", expanding=True)))
_BY_EMAIL = sa_select(*_COLUMNS).where(
    func.lower(_member.c.email).in_(bindparam("ids", expanding=True))
)
_BY_ID = sa_select(*_COLUMNS).where(_member.c.id == bindparam("member_id"))
_INSERT = sa_insert(_member).returning(*_COLUMNS)


@dataclass(frozen=True)
class MemberRow:
    id: int
    display_name: str
    timezone: str
    email: str | None
    is_bot: bool
    slack_team_id: str | None
    slack_user_id: str | None
    teams_aad_id: str | None


def _rows(result: Any) -> list[MemberRow]:
    return [MemberRow(*row) for row in result]


def by_platform_ids(
    *, session: Session, platform: str, workspace: str | None, ids: list[str]
) -> list[MemberRow]:
    """Members with these Slack ids (in `workspace`), Teams AAD ids, or emails."""
    if not ids:
        return []
    if platform == "slack":
        return _rows(session.connection().execute(_BY_SLACK, {"workspace": workspace, "ids": ids}))
    if platform == "teams":
        return _rows(session.connection().execute(_BY_TEAMS, {"ids": ids}))
    return _rows(session.connection().execute(_BY_EMAIL, {"ids": [i.lower() for i in ids]}))


def by_id(*, session: Session, member_id: int) -> MemberRow:
    return MemberRow(*session.connection().execute(_BY_ID, {"member_id": member_id}).one())


def insert(*, session: Session, values: dict[str, Any], now: datetime) -> MemberRow:
    row = (
        session.connection()
        .execute(
            _INSERT,
            {"timezone": "UTC", "is_bot": False, "active": True}
            | values
            | {"created_at": now, "updated_at": now},
        )
        .one()
    )
    return MemberRow(*row)


def update(*, session: Session, member_id: int, values: dict[str, Any], now: datetime) -> MemberRow:
    stmt = (
        sa_update(_member)
        .where(_member.c.id == member_id)
        .values(**values, updated_at=now)
        .returning(*_COLUMNS)
    )
    return MemberRow(*session.connection().execute(stmt).one())
