"""bc_promotion: `first_seen_at` and `live_at`, for campaign time to market

BigCommerce's promotions carry no creation time, so the sync notes when it first saw each
one and when it first went live. Promotions stored before this revision have neither (their
time to market is unknown) until a sync sees them go live.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bc_promotion", sa.Column("first_seen_at", UTCDateTime(), nullable=True))
    op.add_column("bc_promotion", sa.Column("live_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("bc_promotion", "live_at")
    op.drop_column("bc_promotion", "first_seen_at")
