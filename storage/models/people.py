"""Members: one row per person, across Slack and Teams."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime


class Member(SQLModel, table=True):
    """One person, across Slack and Teams."""

    __table_args__ = (UniqueConstraint("slack_team_id", "slack_user_id", name="uq_member_slack"),)

    id: int | None = Field(default=None, primary_key=True)
    slack_team_id: str | None = Field(default=None, max_length=32)
    slack_user_id: str | None = Field(default=None, max_length=32, index=True)
    teams_aad_id: str | None = Field(default=None, max_length=64, unique=True)
    email: str | None = Field(default=None, max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    # The language their chat platform reports for them (Slack's user locale, the locale
    # of their latest Teams activity), as given: "de-DE". None until one is seen.
    locale: str | None = Field(default=None, max_length=35)
    is_bot: bool = False
    active: bool = True
    manager_id: int | None = Field(default=None, foreign_key="member.id")
    team: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    therapeutic_area: str | None = Field(default=None, max_length=120)
    function: str | None = Field(default=None, max_length=120)  # marketing, IT, ...
    roles: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
