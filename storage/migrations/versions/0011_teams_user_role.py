"""teams_user: the account's role in its tenant (`user`, `guest`, `anonymous`)

The connector reports it with each member (`userRole`); a guest account may neither give
nor receive kudos unless `recognition.allow_guests` says so. Rows stored before this
revision have none, and are asked for again when next met.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams_user", schema=None) as batch_op:
        batch_op.drop_column("role")
