"""Business KPIs from outside the store: events a CTMS or CRM reports, kept once each."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class KpiEvent(SQLModel, table=True):
    """One reported event ("first patient in", "site activated", "campaign launched"),
    stored once under the id its sender gave it: a second delivery changes nothing."""

    __tablename__ = "kpi_event"
    __table_args__ = (Index("ix_kpi_event_kind_day", "kind", "occurred_on"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=200, unique=True)  # the sender's id: the dedupe key
    kind: str = Field(max_length=64)  # first_patient_in, site_activated, ...
    occurred_on: date
    team: str | None = Field(default=None, max_length=120, index=True)
    region: str | None = Field(default=None, max_length=120)
    therapeutic_area: str | None = Field(default=None, max_length=120)
    value: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    title: str | None = Field(default=None, max_length=200)
    source: str = Field(max_length=16)  # "webhook" or "csv"
    # SHA-256 of the event as first stored: a later delivery under the same id with other
    # content is refused (409), not silently dropped or applied.
    digest: str = Field(max_length=64)
    received_at: datetime = Field(sa_type=UTCDateTime)
