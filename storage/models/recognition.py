"""Recognitions and what the compliance gate made of them: recipients, reviews, PV cases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime

# The compliance outcomes whose kudos are posted and count (`Recognition.outcome`).
PUBLISHED = ("pass", "warn")


class Recognition(SQLModel, table=True):
    """One kudos: a giver, a message, value tags, and a point for each recipient."""

    __table_args__ = (Index("ix_recognition_giver_day", "giver_id", "giver_local_date"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=255, unique=True)
    giver_id: int = Field(foreign_key="member.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_sha256: str = Field(max_length=64)
    value_tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=16)  # command | modal | reaction | cli
    platform: str = Field(max_length=16)  # slack | teams | cli
    workspace: str | None = Field(default=None, max_length=64)  # Slack team, Teams tenant
    channel_id: str | None = Field(default=None, max_length=64)
    message_ref: str | None = Field(default=None, max_length=64)  # reacted message ts
    permalink: str | None = Field(default=None, max_length=500)
    reactions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    outcome: str = Field(max_length=16)  # pass | warn | block | hold | route_pv
    findings: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    giver_local_date: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Delivered to its recipients (and their managers) only: never posted, quoted or shown.
    private: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})


class RecognitionRecipient(SQLModel, table=True):
    """A recipient of a recognition; each row is one point."""

    __tablename__ = "recognition_recipient"
    __table_args__ = (UniqueConstraint("recognition_id", "member_id", name="uq_recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    recognition_id: int = Field(foreign_key="recognition.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)


class Review(SQLModel, table=True):
    """A held recognition waiting for, or decided by, a compliance reviewer."""

    id: int | None = Field(default=None, primary_key=True)
    recognition_id: int = Field(foreign_key="recognition.id", unique=True)
    requested_by: str = Field(max_length=255)  # member:ID, or rules:ID,ID when the gate held it
    status: str = Field(default="pending", max_length=16)  # pending | approved | rejected
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PvCase(SQLModel, table=True):
    """A possible adverse event, opened the moment the company became aware of it."""

    __tablename__ = "pv_case"

    id: int | None = Field(default=None, primary_key=True)
    recognition_id: int | None = Field(default=None, foreign_key="recognition.id", unique=True)
    source: str = Field(max_length=32)  # kudos | survey | import
    reporter_member_id: int | None = Field(default=None, foreign_key="member.id")
    reporter: str = Field(max_length=255)  # a name and email, or "anonymous"
    aware_at: datetime = Field(sa_type=UTCDateTime)  # day 0 for regulatory clocks
    text: str = Field(sa_column=Column(Text, nullable=False))  # what the safety team needs
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="open", max_length=16)  # open | closed
