"""Members: hot-path lookups and writes as plain rows, and where each platform id lives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, bindparam, func
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, select

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
    _member.c.locale,
)
# A Slack user id in this workspace; or one the roster gave without a workspace (HR's file
# names no team), which the first sighting in a workspace claims. Claimed rows come first.
_BY_SLACK = (
    sa_select(*_COLUMNS)
    .where(
        (_member.c.slack_team_id == bindparam("workspace")) | _member.c.slack_team_id.is_(None),
        _member.c.slack_user_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(_member.c.slack_team_id.is_(None), _member.c.id)
)
_BY_TEAMS = sa_select(*_COLUMNS).where(_member.c.teams_aad_id.in_(bindparam("ids", expanding=True)))
_BY_EMAIL = sa_select(*_COLUMNS).where(
    func.lower(_member.c.email).in_(bindparam("ids", expanding=True))
)
_BY_ID = sa_select(*_COLUMNS).where(_member.c.id == bindparam("member_id"))
# The same, each row found locked FOR KEY SHARE (what a foreign key to it takes anyway): a
# person's erasure (FOR UPDATE) and a use case about to point at them take turns, and a
# use case that waited finds them gone (PostgreSQL checks the ids again on the erased row).
_SHARED = {
    name: query.with_for_update(read=True, key_share=True)
    for name, query in (("slack", _BY_SLACK), ("teams", _BY_TEAMS), ("email", _BY_EMAIL))
}
_INSERT = sa_insert(_member).returning(*_COLUMNS)
# FOR NO KEY UPDATE, not FOR UPDATE: rows that merely point at the member (a recognition's
# giver, a recipient) take FOR KEY SHARE, which this does not block; FOR UPDATE would, and
# would deadlock against them. SQLite ignores the clause: its writers go one at a time.
_LOCKED = _BY_ID.with_for_update(key_share=True)


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
    locale: str | None = None  # as their chat platform gave it ("de-DE"); None: not known


def _rows(result: Any) -> list[MemberRow]:
    return [MemberRow(*row) for row in result]


def by_platform_ids(
    *, session: Session, platform: str, workspace: str | None, ids: list[str], lock: bool = False
) -> list[MemberRow]:
    """Members with these Slack ids (in `workspace`, then those the roster gave with no
    workspace yet), Teams AAD ids, or emails; `lock`: FOR KEY SHARE, for a use case that
    will point at them."""
    if not ids:
        return []
    kind = platform if platform in ("slack", "teams") else "email"
    query = _SHARED[kind] if lock else {"slack": _BY_SLACK, "teams": _BY_TEAMS}.get(kind, _BY_EMAIL)
    if kind == "slack":
        params: dict[str, Any] = {"workspace": workspace, "ids": ids}
    else:
        params = {"ids": ids if kind == "teams" else [i.lower() for i in ids]}
    return _rows(session.connection().execute(query, params))


def by_id(*, session: Session, member_id: int) -> MemberRow:
    return MemberRow(*session.connection().execute(_BY_ID, {"member_id": member_id}).one())


_report = _member.alias("report")
_MANAGERS = (
    sa_select(_report.c.id.label("report_id"), *_COLUMNS)
    .join_from(_report, _member, _member.c.id == _report.c.manager_id)
    .where(_report.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_member.c.id, _report.c.id)
)


def managers_of(*, session: Session, member_ids: Sequence[int]) -> list[tuple[int, MemberRow]]:
    """(report's id, their manager) for each of `member_ids` that has a manager."""
    if not member_ids:
        return []
    result = session.connection().execute(_MANAGERS, {"ids": list(member_ids)})
    return [(row[0], MemberRow(*tuple(row)[1:])) for row in result]


def lock(*, session: Session, member_id: int) -> MemberRow:
    """The member as committed now, locked until this transaction ends: what a use case
    reads of them and then decides on (an allowance, a link) cannot change meanwhile, and
    a second replica deciding the same waits and then sees the first's outcome."""
    return MemberRow(*session.connection().execute(_LOCKED, {"member_id": member_id}).one())


def hold(*, session: Session, member_id: int) -> None:
    """Lock the member until this transaction ends, as `lock` does, without reading them:
    nothing to do on SQLite, whose writer holds the whole database already."""
    if session.get_bind().dialect.name != "sqlite":
        session.connection().execute(_LOCKED, {"member_id": member_id})


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


# -- identities: which columns hold a person's id on each platform ---------------------------


class Reachable(Protocol):
    """A member row or object: a name, an email and the chat ids."""

    @property
    def display_name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def slack_team_id(self) -> str | None: ...
    @property
    def slack_user_id(self) -> str | None: ...
    @property
    def teams_aad_id(self) -> str | None: ...
    @property
    def locale(self) -> str | None: ...


# The member column of a user's id on each chat platform, and of the Slack workspace.
_USER_ID = {"slack": "slack_user_id", "teams": "teams_aad_id"}
_WORKSPACE = "slack_team_id"
# The roster's id columns (`slack_id`, `teams_id`) and the member columns they fill.
ROSTER_IDS = {"slack_id": _USER_ID["slack"], "teams_id": _USER_ID["teams"]}


def identity(member: Reachable, platform: str) -> tuple[str | None, str] | None:
    """(workspace, user id) of `member` on `platform` (an email for "email"); None when
    they have no identity there. Teams has no workspace."""
    if platform == "slack":
        return (member.slack_team_id, member.slack_user_id) if member.slack_user_id else None
    if platform == "teams":
        return (None, member.teams_aad_id) if member.teams_aad_id else None
    return (None, member.email.lower()) if member.email else None


def platform_id(member: Reachable, platform: str) -> str | None:
    """`member`'s user id on `platform` (their email, lower-cased, for "email")."""
    found = identity(member, platform)
    return found[1] if found else None


def workspace_of(member: Reachable) -> str | None:
    """The Slack workspace `member` belongs to, if any."""
    return member.slack_team_id


def identity_values(platform: str, workspace: str | None, user_id: str) -> dict[str, object]:
    """The member columns that record this platform identity (none for an email)."""
    if platform == "slack":
        return {"slack_team_id": workspace, "slack_user_id": user_id}
    if platform == "teams":
        return {"teams_aad_id": user_id}
    return {}


def unclaimed(member: Reachable, platform: str, workspace: str | None) -> bool:
    """Is `member`'s identity on `platform` one the roster gave without a workspace, which a
    sighting in `workspace` now claims (a Slack user id with no team yet)?"""
    return (
        platform == "slack"
        and workspace is not None
        and member.slack_user_id is not None
        and member.slack_team_id is None
    )


def cleared_identity(platform: str) -> dict[str, object]:
    """The member columns that, set so, leave a member with no identity on `platform`."""
    return {column: None for column in identity_values(platform, None, "")}


def person_fields(
    member: Reachable, platforms: Sequence[str] = ("slack", "teams")
) -> dict[str, Any]:
    """How a member appears in an outbox payload: a name, plus the ids renderers mention
    them by (`slack_id`, `teams_id`) on each of `platforms`."""
    fields: dict[str, Any] = {"name": member.display_name}
    if "slack" in platforms:
        fields["slack_id"] = member.slack_user_id
    if "teams" in platforms:
        fields["teams_id"] = member.teams_aad_id
    return fields


def identity_export(member: Reachable) -> dict[str, Any]:
    """The platform ids of a member, as a person's data export names them."""
    return {"slack_user_id": member.slack_user_id, "teams_aad_id": member.teams_aad_id}


def forget_identities(member: Member) -> None:
    """Erase `member`'s email and every chat identity (the caller adds it to the session)."""
    member.email = member.slack_user_id = member.slack_team_id = member.teams_aad_id = None


def reachable() -> ColumnElement[bool]:
    """Members the bot can message: those with a Slack or a Teams identity."""
    return col(Member.slack_user_id).is_not(None) | col(Member.teams_aad_id).is_not(None)


def has_platform_id(platform: str, ids: Iterable[str]) -> ColumnElement[bool]:
    """Members whose user id on `platform` is one of `ids` (Slack: in any workspace)."""
    column = {"slack": Member.slack_user_id, "teams": Member.teams_aad_id}[platform]
    return col(column).in_(list(ids))


def any_workspace(session: Session) -> str | None:
    """A Slack workspace some member belongs to, if there is one."""
    return session.exec(
        select(Member.slack_team_id).where(col(Member.slack_team_id).is_not(None)).limit(1)
    ).first()


def workspace_sql(alias: str) -> str:
    """A member's Slack workspace in raw SQL over `member AS alias`."""
    return f"{alias}.{_WORKSPACE}"


def platform_id_sql(alias: str, platform: str) -> str:
    """A member's user id on `platform` in raw SQL over `member AS alias`."""
    return f"{alias}.{_USER_ID[platform]}"
