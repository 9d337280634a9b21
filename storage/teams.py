"""Teams conversation references and accounts, kept so the bot can write first and resolve
mentions without asking the connector each time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import TeamsConversation, TeamsUser

_conversation = TeamsConversation.__table__  # type: ignore[attr-defined]
_user = TeamsUser.__table__  # type: ignore[attr-defined]


def _upsert(table: Any, key: str, updated: tuple[str, ...]) -> dict[str, Any]:
    statements: dict[str, Any] = {}
    for name, module in (("postgresql", postgresql), ("sqlite", sqlite)):
        stmt = module.insert(table)
        statements[name] = stmt.on_conflict_do_update(
            index_elements=[key], set_={c: getattr(stmt.excluded, c) for c in updated}
        ).returning(table.c.id)
    return statements


_SAVE_CONVERSATION = _upsert(
    _conversation,
    "conversation_id",
    ("kind", "tenant_id", "service_url", "aad_id", "reference", "updated_at"),
)
_SAVE_USER = _upsert(
    _user, "user_id", ("aad_id", "tenant_id", "name", "email", "role", "updated_at")
)
_CONVERSATION_COLUMNS = (
    _conversation.c.id,
    _conversation.c.conversation_id,
    _conversation.c.kind,
    _conversation.c.tenant_id,
    _conversation.c.service_url,
    _conversation.c.aad_id,
    _conversation.c.reference,
)
_BY_ROW = sa_select(*_CONVERSATION_COLUMNS).where(_conversation.c.id == bindparam("row"))
_BY_CONVERSATION = sa_select(*_CONVERSATION_COLUMNS).where(
    _conversation.c.conversation_id == bindparam("conversation")
)
_PERSONAL = (
    sa_select(*_CONVERSATION_COLUMNS)
    .where(_conversation.c.aad_id == bindparam("aad"), _conversation.c.kind == "personal")
    .order_by(_conversation.c.updated_at.desc())
    .limit(1)
)
_ANY_IN_TENANT = (
    sa_select(*_CONVERSATION_COLUMNS)
    .where(_conversation.c.tenant_id == bindparam("tenant"))
    .order_by(_conversation.c.updated_at.desc())
    .limit(1)
)
_LATEST = sa_select(*_CONVERSATION_COLUMNS).order_by(_conversation.c.updated_at.desc()).limit(1)
_USER_COLUMNS = (
    _user.c.user_id,
    _user.c.aad_id,
    _user.c.tenant_id,
    _user.c.name,
    _user.c.email,
    _user.c.role,
)
_USERS = sa_select(*_USER_COLUMNS).where(_user.c.user_id.in_(bindparam("ids", expanding=True)))
_USERS_BY_AAD = sa_select(*_USER_COLUMNS).where(
    _user.c.aad_id.in_(bindparam("ids", expanding=True))
)


@dataclass(frozen=True)
class Conversation:
    row: int
    conversation_id: str
    kind: str
    tenant_id: str | None
    service_url: str
    aad_id: str | None
    reference: dict[str, Any]

    @property
    def channel(self) -> str:
        """How the neutral layer and the outbox name this conversation."""
        return f"conv:{self.row}"


@dataclass(frozen=True)
class Account:
    user_id: str  # 29:...
    aad_id: str
    tenant_id: str | None
    name: str
    email: str | None
    role: str | None = None  # the connector's userRole: user, guest, anonymous

    @property
    def guest(self) -> bool:
        return self.role in ("guest", "anonymous")


def save_conversation(
    *,
    session: Session,
    conversation_id: str,
    kind: str,
    tenant_id: str | None,
    service_url: str,
    aad_id: str | None,
    reference: dict[str, Any],
    now: datetime,
) -> int:
    """Insert or refresh a conversation's reference; returns its row id."""
    stmt = _SAVE_CONVERSATION[session.get_bind().dialect.name]
    values = {
        "conversation_id": conversation_id,
        "kind": kind,
        "tenant_id": tenant_id,
        "service_url": service_url,
        "aad_id": aad_id,
        "reference": reference,
        "updated_at": now,
    }
    return int(session.connection().execute(stmt, values).scalar_one())


def conversation(*, session: Session, channel: str) -> Conversation | None:
    """The conversation an outbox channel names: `conv:N`, or a Teams conversation id."""
    if channel.startswith("conv:") and channel[5:].isdigit():
        row = session.connection().execute(_BY_ROW, {"row": int(channel[5:])}).first()
    else:
        row = session.connection().execute(_BY_CONVERSATION, {"conversation": channel}).first()
    return Conversation(*row) if row else None


def personal(*, session: Session, aad_id: str) -> Conversation | None:
    """The bot's 1:1 chat with this person, when it has one."""
    row = session.connection().execute(_PERSONAL, {"aad": aad_id}).first()
    return Conversation(*row) if row else None


def any_conversation(*, session: Session, tenant_id: str | None) -> Conversation | None:
    """Some conversation in this tenant (or any, without one): its service URL and tenant
    are what opening a new conversation needs."""
    if tenant_id:
        row = session.connection().execute(_ANY_IN_TENANT, {"tenant": tenant_id}).first()
    else:
        row = session.connection().execute(_LATEST).first()
    return Conversation(*row) if row else None


def save_accounts(*, session: Session, accounts: list[Account], now: datetime) -> None:
    if not accounts:
        return
    stmt = _SAVE_USER[session.get_bind().dialect.name]
    for account in accounts:
        session.connection().execute(stmt, {**vars(account), "updated_at": now})


def accounts(*, session: Session, user_ids: list[str]) -> dict[str, Account]:
    """Known accounts by their 29:... id."""
    if not user_ids:
        return {}
    rows = session.connection().execute(_USERS, {"ids": user_ids})
    return {row[0]: Account(*row) for row in rows}


def accounts_by_aad(*, session: Session, aad_ids: list[str]) -> dict[str, Account]:
    if not aad_ids:
        return {}
    rows = session.connection().execute(_USERS_BY_AAD, {"ids": aad_ids})
    return {row[1]: Account(*row) for row in rows}
