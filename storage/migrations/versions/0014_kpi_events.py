"""kpi_event: business KPIs reported by a CTMS or CRM (webhook or CSV), each kept once

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=120), nullable=True),
        sa.Column("region", sa.String(length=120), nullable=True),
        sa.Column("therapeutic_area", sa.String(length=120), nullable=True),
        sa.Column("value", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_kpi_event_event_id")),
    )
    op.create_index("ix_kpi_event_kind_day", "kpi_event", ["kind", "occurred_on"])
    op.create_index(op.f("ix_kpi_event_team"), "kpi_event", ["team"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kpi_event_team"), table_name="kpi_event")
    op.drop_index("ix_kpi_event_kind_day", table_name="kpi_event")
    op.drop_table("kpi_event")
