"""member: `locale`, the language a person's chat platform reports for them

Slack gives it with `users.info` (`include_locale`), Teams with each activity. Plaudit
writes to a person in that language when it has it, else in the organisation's.
Members stored before this revision have none until they are seen again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("member", sa.Column("locale", sa.String(length=35), nullable=True))


def downgrade() -> None:
    op.drop_column("member", "locale")
