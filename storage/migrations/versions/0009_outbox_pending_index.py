"""outbox: a partial index of the rows still owed, and room to update rows in place

Claims read only pending rows, and after years of use those are a few hundred among
millions delivered. `ix_outbox_pending` holds just them, by channel and id; it replaces
`ix_outbox_channel_order`, which held every row and served nothing but pending-row
lookups. Building it reads the table once (PostgreSQL holds writes to `outbox` meanwhile:
about a second for two million rows). On PostgreSQL, pages filled from now on keep a fifth
free, so a claim's lease rewrites its rows in place rather than in every index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "status = 'pending'"


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_pending",
            ["platform", "channel", "id"],
            unique=False,
            postgresql_where=sa.text(PENDING),
            sqlite_where=sa.text(PENDING),
        )
        batch_op.drop_index("ix_outbox_channel_order")
    if _postgresql():
        op.execute("ALTER TABLE outbox SET (fillfactor = 80)")


def downgrade() -> None:
    if _postgresql():
        op.execute("ALTER TABLE outbox RESET (fillfactor)")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_channel_order", ["platform", "channel", "status", "id"], unique=False
        )
        batch_op.drop_index("ix_outbox_pending")
