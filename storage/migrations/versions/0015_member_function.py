"""member: `function`, the roster's line of work (marketing, medical, regulatory, IT, ...)

It sits beside team, region and therapeutic area: the dashboard's collaboration page counts
the kudos that cross from one function to another. Members stored before this revision have
none until the roster gives them one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("member", sa.Column("function", sa.String(length=120), nullable=True))


def downgrade() -> None:
    op.drop_column("member", "function")
