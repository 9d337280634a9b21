"""Microsoft Teams: conversations the bot may write to, and accounts it has seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime


class TeamsConversation(SQLModel, table=True):
    """A Teams conversation the bot has seen, with the reference that lets it write there
    later (a personal chat, a channel thread or a group chat)."""

    __tablename__ = "teams_conversation"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=400, unique=True)
    kind: str = Field(max_length=16)  # personal | channel | groupChat
    tenant_id: str | None = Field(default=None, max_length=64)
    service_url: str = Field(max_length=500)
    # The other party of a personal chat: proactive DMs to this AAD object id go here.
    aad_id: str | None = Field(default=None, max_length=64, index=True)
    reference: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TeamsUser(SQLModel, table=True):
    """A Teams account as the connector described it: its conversation-scoped id (29:...),
    AAD object id, name and email, so a mention resolves without asking again."""

    __tablename__ = "teams_user"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=255, unique=True)
    aad_id: str = Field(max_length=64, index=True)
    tenant_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    role: str | None = Field(default=None, max_length=32)  # user, guest, anonymous
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
