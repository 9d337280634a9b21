"""Background work's bookkeeping: keyed scheduled runs and external sync cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class ScheduledRun(SQLModel, table=True):
    """A scheduled job's run for one period: unique, so a second firing does nothing."""

    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_scheduled_run"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    period: str = Field(max_length=64)
    ran_at: datetime = Field(sa_type=UTCDateTime)


class SyncState(SQLModel, table=True):
    """Cursors and last results of external syncs (e.g. the BigCommerce orders cursor)."""

    __tablename__ = "sync_state"

    key: str = Field(primary_key=True, max_length=64)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime)
