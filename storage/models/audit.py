"""The audit trail: append-only entries, sealed in batches into a keyed chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, text
from sqlmodel import Field, SQLModel

from storage.models.base import utcnow
from storage.types import UTCDateTime


class AuditEntry(SQLModel, table=True):
    """An append-only record of a decision. Written without `seq` and `mac`; the sealer
    (storage.audit) gives it its place in the keyed chain. `prev_hash` and `hash` are the
    unkeyed chain entries had before sealing existed (migration 0010); new ones have none."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        # The sealer's queue: only the entries still to seal, however long the trail.
        Index(
            "ix_audit_entry_unsealed",
            "id",
            sqlite_where=text("seq IS NULL"),
            postgresql_where=text("seq IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=64)
    subject: str = Field(max_length=255)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, unique=True))
    mac: str | None = Field(default=None, max_length=64)
    prev_hash: str | None = Field(default=None, max_length=64, unique=True)
    hash: str | None = Field(default=None, max_length=64, unique=True)


class AuditCheckpoint(SQLModel, table=True):
    """A signed head of the sealed chain, as published outside the database."""

    __tablename__ = "audit_checkpoint"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    head: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    key_id: str = Field(max_length=16)
    public_key: str = Field(max_length=64)
    signature: str = Field(max_length=128)
