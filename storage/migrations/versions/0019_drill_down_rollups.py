"""pair_rollup by drill-down with its people counted, share_rollup: drill-downs kept

The rollups are derived data: the kept periods are dropped here and the scheduler's next
run computes them again (until then the pages count from the recognitions).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIOD = ("every", "label")
SIDES = ("boundary", "giver_side", "recipient_side")


def _forget() -> None:
    for table in ("member_rollup", "day_rollup", "rollup_period"):
        op.execute(sa.text(f"DELETE FROM {table}"))


def _pairs(*drill_down: sa.Column[str], persons: bool) -> None:
    op.create_table(
        "pair_rollup",
        sa.Column("every", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        *drill_down,
        sa.Column("boundary", sa.String(length=16), nullable=False),
        sa.Column("giver_side", sa.String(length=120), nullable=False),
        sa.Column("recipient_side", sa.String(length=120), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        *([sa.Column("persons", sa.Integer(), nullable=False)] if persons else []),
        sa.Column("people", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            *PERIOD, *(c.name for c in drill_down), *SIDES, name=op.f("pk_pair_rollup")
        ),
    )


def upgrade() -> None:
    _forget()
    op.drop_table("pair_rollup")
    _pairs(
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=120), nullable=False),
        persons=True,
    )
    op.create_table(
        "share_rollup",
        sa.Column("every", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=120), nullable=False),
        sa.Column("boundary", sa.String(length=16), nullable=False),
        sa.Column("across", sa.Integer(), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            *PERIOD, "dimension", "value", "boundary", "across", name=op.f("pk_share_rollup")
        ),
    )


def downgrade() -> None:
    _forget()
    op.drop_table("share_rollup")
    op.drop_table("pair_rollup")
    _pairs(persons=False)
