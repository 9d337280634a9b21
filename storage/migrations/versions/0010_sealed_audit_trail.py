"""audit trail: entries appended freely and sealed in batches into a keyed chain

Writers no longer read the previous hash: an entry is inserted with no place (`seq` NULL)
and the sealer links it into a chain keyed with PLAUDIT_AUDIT_KEY (`seq`, `mac`), signing
a checkpoint of each batch (`audit_checkpoint`, and copies published outside the
database). Existing entries keep their unkeyed hashes (`prev_hash`, `hash`), which `plaudit
audit verify` still checks, and wait unsealed; the sealer links them first, in id order,
as soon as a key is configured. New entries have no unkeyed hash.

Stepping down gives entries written since an unkeyed hash, continuing the old chain, and
forgets the seal.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
UNSEALED = "seq IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("mac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entry_seq"), ["seq"])
        batch_op.create_index(
            "ix_audit_entry_unsealed",
            ["id"],
            unique=False,
            postgresql_where=sa.text(UNSEALED),
            sqlite_where=sa.text(UNSEALED),
        )
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("public_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoint")),
    )


def _unkeyed(prev: str, row: Any) -> str:
    """The hash entries had before sealing (storage.queries before 0010)."""
    at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(str(row.at))
    detail = row.detail if not isinstance(row.detail, str) else json.loads(row.detail)
    body = json.dumps(
        {
            "prev": prev,
            "at": at.replace(tzinfo=UTC).isoformat(),
            "actor": row.actor,
            "action": row.action,
            "subject": row.subject,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def downgrade() -> None:
    conn = op.get_bind()
    prev = (
        conn.execute(
            sa.text("SELECT hash FROM audit_entry WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")
        ).scalar()
        or GENESIS
    )
    rows = conn.execute(
        sa.text(
            "SELECT id, at, actor, action, subject, detail FROM audit_entry "
            "WHERE hash IS NULL ORDER BY id"
        )
    ).all()
    for row in rows:
        digest = _unkeyed(prev, row)
        conn.execute(
            sa.text("UPDATE audit_entry SET prev_hash = :p, hash = :h WHERE id = :id"),
            {"p": prev, "h": digest, "id": row.id},
        )
        prev = digest
    op.drop_table("audit_checkpoint")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_unsealed")
        batch_op.drop_constraint(batch_op.f("uq_audit_entry_seq"), type_="unique")
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("mac")
        batch_op.drop_column("seq")
