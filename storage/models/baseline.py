"""Figures from before Plaudit: a team's eNPS, engagement or participation in a period, as
an earlier survey tool reported them, for before-and-after comparisons of pilots."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class BaselineFigure(SQLModel, table=True):
    """One team's figure for one metric over one period; imported again, it is replaced."""

    __tablename__ = "baseline_figure"
    __table_args__ = (
        UniqueConstraint("metric", "team", "period_start", name="uq_baseline_figure"),
    )

    id: int | None = Field(default=None, primary_key=True)
    metric: str = Field(max_length=32)  # enps | engagement | participation
    team: str = Field(max_length=120)
    period_start: date
    period_end: date  # the last day of the period
    value: Decimal = Field(max_digits=10, decimal_places=2)
    people: int  # respondents behind the figure (invited, for participation)
    imported_at: datetime = Field(sa_type=UTCDateTime)
