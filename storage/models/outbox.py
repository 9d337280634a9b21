"""Messages out and deliveries in: the outbox and the inbound dedupe keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime

# The predicate of `ix_outbox_pending`. Queries that should use the index spell it out as
# a literal (`storage.outbox`): neither planner matches a bound parameter against it.
PENDING = "status = 'pending'"
FILLFACTOR = 80


class Outbox(SQLModel, table=True):
    """A message the bot owes someone, written with the change that caused it."""

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_ref", "message_ref"),
        # Only the rows still owed, a few hundred among millions delivered: claims find each
        # channel's earliest waiting row, and the few after it, here.
        Index(
            "ix_outbox_pending",
            "platform",
            "channel",
            "id",
            postgresql_where=text(PENDING),
            sqlite_where=text(PENDING),
        ),
        # Room on each page, so a lease or a retry rewrites its row in place (a HOT update
        # on PostgreSQL) instead of adding an entry to every index.
        {"postgresql_with": {"fillfactor": FILLFACTOR}},
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    platform: str = Field(max_length=16)
    workspace: str | None = Field(default=None, max_length=64)  # Slack team, Teams tenant
    channel: str = Field(max_length=64)  # channel id, or a user id for a DM
    kind: str = Field(max_length=16)  # post | dm | ephemeral | update | delete (taken back)
    user: str | None = Field(default=None, max_length=64)  # ephemeral target
    template: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    message_ref: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InboundEvent(SQLModel, table=True):
    """A delivery already handled; its key makes retries and duplicates harmless."""

    __tablename__ = "inbound_event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
