"""Kept analytics: the published kudos of each week and month, rolled up so the
collaboration page, engagement rates and the quarterly report read a few thousand rows
instead of every recognition (handlers/rollups.py computes them from the recognitions)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class RollupPeriod(SQLModel, table=True):
    """A week or month whose rollups are kept, and when they were computed."""

    __tablename__ = "rollup_period"

    every: str = Field(primary_key=True, max_length=8)  # week | month
    label: str = Field(primary_key=True, max_length=16)  # 2026-W48 | 2026-11
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    computed_at: datetime = Field(sa_type=UTCDateTime)
    roster: str = Field(max_length=64)  # a digest of the roster then (`rollups.roster`)


class PairRollup(SQLModel, table=True):
    """Giver-recipient pairs of a period from one side of a boundary to the other, for the
    whole organisation (`dimension` and `value` "") or a drill-down (the pairs with either
    person in, e.g., region EMEA): how many distinct people stand behind them, and up to
    `rollups.CAP` of them (enough to tell over several periods whether a threshold is met)."""

    __tablename__ = "pair_rollup"

    every: str = Field(primary_key=True, max_length=8)
    label: str = Field(primary_key=True, max_length=16)
    dimension: str = Field(primary_key=True, max_length=16)  # "" | team | region | ...
    value: str = Field(primary_key=True, max_length=120)
    boundary: str = Field(primary_key=True, max_length=16)  # team | function
    giver_side: str = Field(primary_key=True, max_length=120)  # "": not on the roster
    recipient_side: str = Field(primary_key=True, max_length=120)
    pairs: int
    persons: int  # distinct people behind the pairs
    people: str = Field(sa_column=Column(Text, nullable=False))  # member ids, "3,17,40"


class ShareRollup(SQLModel, table=True):
    """A period's pairs across (`across` 1) or inside (0) a boundary, among those with both
    sides known, and the distinct people behind them; whole or a drill-down as above."""

    __tablename__ = "share_rollup"

    every: str = Field(primary_key=True, max_length=8)
    label: str = Field(primary_key=True, max_length=16)
    dimension: str = Field(primary_key=True, max_length=16)
    value: str = Field(primary_key=True, max_length=120)
    boundary: str = Field(primary_key=True, max_length=16)
    across: int = Field(primary_key=True)
    pairs: int
    persons: int


class MemberRollup(SQLModel, table=True):
    """One member's kudos (points) given and received in a period."""

    __tablename__ = "member_rollup"

    every: str = Field(primary_key=True, max_length=8)
    label: str = Field(primary_key=True, max_length=16)
    member_id: int = Field(primary_key=True)
    given: int
    received: int


class DayRollup(SQLModel, table=True):
    """A month's published kudos by the giver's day, for everyone (`team` "") and for each
    team that received them (a kudos to two teams counts once for each)."""

    __tablename__ = "day_rollup"

    every: str = Field(primary_key=True, max_length=8)
    label: str = Field(primary_key=True, max_length=16)
    day: date = Field(primary_key=True)
    team: str = Field(primary_key=True, max_length=120)
    kudos: int


class KeptFigures(SQLModel, table=True):
    """Figures worked out in the background, for the inputs they were worked out from (a
    digest of them): the pilots' comparison."""

    __tablename__ = "kept_figures"

    name: str = Field(primary_key=True, max_length=32)  # pilots
    inputs: str = Field(max_length=64)
    computed_at: datetime = Field(sa_type=UTCDateTime)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
