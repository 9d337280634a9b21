"""Sprint leaderboards: running totals and closed sprints' frozen boards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class LeaderboardTotal(SQLModel, table=True):
    """Points per member per sprint (and per value tag; '' is all), kept as kudos and
    milestones change, so a board reads the top rows of an index instead of every
    recognition. `points` is `received + milestone` (milestones only on the '' rows)."""

    __tablename__ = "leaderboard_total"
    __table_args__ = (
        UniqueConstraint("sprint", "value_tag", "member_id", name="uq_leaderboard_total"),
        Index("ix_leaderboard_total_points", "sprint", "value_tag", "points"),
        Index("ix_leaderboard_total_given", "sprint", "value_tag", "given"),
        # A filtered board (one team) may be cheaper from the members' side.
        Index("ix_leaderboard_total_member", "member_id", "sprint", "value_tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sprint: str = Field(max_length=32)
    value_tag: str = Field(default="", max_length=64)
    member_id: int = Field(foreign_key="member.id")
    received: int = 0
    given: int = 0
    milestone: int = 0
    points: int = 0


class SprintSnapshot(SQLModel, table=True):
    """A closed sprint's board, frozen with the rules in force and a hash over both."""

    __tablename__ = "sprint_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    sprint: str = Field(max_length=32, unique=True)
    closed_at: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)
