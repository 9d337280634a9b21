"""recognition: `private`, a kudos delivered only to its recipients (and their managers)

A private kudos is checked and counted like any other, but never posted in a channel,
quoted in a digest or shown in a feed. Rows written before this revision are public.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases: SQLite adds (and, from 3.35, drops) a column in
# place. Batch mode would copy the table and drop the old one, which the foreign keys of
# recipients, reviews and PV cases refuse once there are kudos.


def upgrade() -> None:
    op.add_column(
        "recognition",
        sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("recognition", "private")
