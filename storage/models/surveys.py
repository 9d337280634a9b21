"""Pulse surveys: rounds, invitations and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class SurveyRound(SQLModel, table=True):
    """One run of a pulse survey; (survey, period) is unique, so a round opens once."""

    __tablename__ = "survey_round"
    __table_args__ = (
        UniqueConstraint("survey_id", "period", name="uq_survey_round_period"),
        UniqueConstraint("survey_id", "number", name="uq_survey_round_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    survey_id: str = Field(max_length=64, index=True)
    period: str = Field(max_length=64)  # the schedule's slot: a firing time, a week, a date
    number: int  # 1, 2, 3 ... per survey
    definition: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    anonymous: bool
    opened_by: str = Field(max_length=255)  # schedule | member:ID | cli
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="open", max_length=16, index=True)  # open | closed
    # No longer written (NULL): a key in the database outlives its erasure (SQLite's WAL,
    # PostgreSQL's dead rows, archives, backups). Only rounds opened before the survey
    # secret carry one, keying their respondent tokens until they close; then it is erased.
    salt: str | None = Field(default=None, max_length=64)


class SurveyInvite(SQLModel, table=True):
    """Who a round goes to, when their copy is due, and whether they took part."""

    __tablename__ = "survey_invite"
    __table_args__ = (
        UniqueConstraint("round_id", "member_id", name="uq_survey_invite_member"),
        Index("ix_survey_invite_due", "sent_at", "send_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="survey_round.id")
    member_id: int = Field(foreign_key="member.id", index=True)
    send_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminders_sent: int = 0
    last_reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    responded: bool = False


class SurveyAnswer(SQLModel, table=True):
    """One answer to one question in one round: upserted, so a changed mind replaces it.

    For an anonymous round `member_id` is empty and `respondent` is, while the round is open,
    a hash keyed by the survey secret (kept outside the database) and, once it has closed, a
    random token; only the team and region are kept, for breakdowns that are shown only
    when no combination of them narrows to fewer than the round's minimum.
    """

    __tablename__ = "survey_answer"
    __table_args__ = (
        UniqueConstraint("round_id", "respondent", "question_id", name="uq_survey_answer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="survey_round.id", index=True)
    respondent: str = Field(max_length=64)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    question_id: str = Field(max_length=64)
    score: int | None = None
    choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    team: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
