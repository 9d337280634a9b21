"""rollup_period, pair_rollup, member_rollup, day_rollup, kept_figures: analytics kept

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIOD = ("every", "label")


def upgrade() -> None:
    op.create_table(
        "rollup_period",
        sa.Column("every", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("roster", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(*PERIOD, name=op.f("pk_rollup_period")),
    )
    op.create_table(
        "pair_rollup",
        sa.Column("every", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("boundary", sa.String(length=16), nullable=False),
        sa.Column("giver_side", sa.String(length=120), nullable=False),
        sa.Column("recipient_side", sa.String(length=120), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("people", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            *PERIOD, "boundary", "giver_side", "recipient_side", name=op.f("pk_pair_rollup")
        ),
    )
    op.create_table(
        "member_rollup",
        sa.Column("every", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("given", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*PERIOD, "member_id", name=op.f("pk_member_rollup")),
    )
    op.create_table(
        "day_rollup",
        sa.Column("every", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("team", sa.String(length=120), nullable=False),
        sa.Column("kudos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*PERIOD, "day", "team", name=op.f("pk_day_rollup")),
    )
    op.create_table(
        "kept_figures",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("inputs", sa.String(length=64), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_kept_figures")),
    )


def downgrade() -> None:
    for table in ("kept_figures", "day_rollup", "member_rollup", "pair_rollup", "rollup_period"):
        op.drop_table(table)
