"""BigCommerce: campaign milestones awarded and shared, and the local copies of the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class MilestoneAward(SQLModel, table=True):
    """A campaign milestone reached: awarded once (unique key), in the sprint it was seen."""

    __tablename__ = "milestone_award"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)  # milestone id, or id:object for patterns
    milestone_id: str = Field(max_length=64, index=True)
    sprint: str = Field(max_length=32, index=True)
    title: str = Field(max_length=200)
    points: int
    team: str | None = Field(default=None, max_length=120)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    awarded_at: datetime = Field(sa_type=UTCDateTime)


class MilestoneShare(SQLModel, table=True):
    """A member's whole-point share of an award (shares add up to the award)."""

    __tablename__ = "milestone_share"
    __table_args__ = (UniqueConstraint("award_id", "member_id", name="uq_milestone_share"),)

    id: int | None = Field(default=None, primary_key=True)
    award_id: int = Field(foreign_key="milestone_award.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    sprint: str = Field(max_length=32, index=True)
    points: int


class BcPromotion(SQLModel, table=True):
    """The local copy of a BigCommerce promotion, as far as milestones need it."""

    __tablename__ = "bc_promotion"

    id: int = Field(primary_key=True)
    name: str = Field(max_length=255)
    status: str = Field(max_length=32)
    start_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    current_uses: int = 0
    max_uses: int | None = None
    fetched_at: datetime = Field(sa_type=UTCDateTime)
    # The store gives no creation time: when a sync first saw the promotion, and when it
    # first went live (its start date, or the sync that first saw it enabled): time to market.
    first_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    live_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BcCoupon(SQLModel, table=True):
    __tablename__ = "bc_coupon"

    id: int = Field(primary_key=True)
    name: str = Field(max_length=255)
    code: str = Field(max_length=100)
    enabled: bool
    num_uses: int = 0
    max_uses: int | None = None
    date_created: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fetched_at: datetime = Field(sa_type=UTCDateTime)


class BcChannel(SQLModel, table=True):
    __tablename__ = "bc_channel"

    id: int = Field(primary_key=True)
    name: str = Field(max_length=255)
    type: str = Field(max_length=32)
    platform: str = Field(max_length=64)
    status: str = Field(max_length=32)
    date_created: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fetched_at: datetime = Field(sa_type=UTCDateTime)


class BcOrder(SQLModel, table=True):
    """An order, as orders milestones count them: when, where, how much, and whether it
    counts (statuses 0, 4, 5, 6 do not)."""

    __tablename__ = "bc_order"
    __table_args__ = (Index("ix_bc_order_window", "counts", "date_created", "channel_id"),)

    id: int = Field(primary_key=True)
    status_id: int
    counts: bool
    date_created: datetime = Field(sa_type=UTCDateTime)
    date_modified: datetime = Field(sa_type=UTCDateTime)
    total_cents: int  # total_inc_tax in the store's currency, in cents
    channel_id: int = 1
