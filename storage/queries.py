"""Query functions shared by the use cases; every one takes `session=` by keyword."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.models import AuditEntry, InboundEvent, Outbox, Recognition, RecognitionRecipient

GENESIS = "0" * 64
_AUDIT_LOCK = 0x504C4155  # advisory lock id serialising the audit chain on PostgreSQL


def claim_inbound(*, session: Session, key: str, kind: str) -> bool:
    """Record that the delivery `key` is being handled; False when it already was."""
    values = {"key": key, "kind": kind, "received_at": datetime.now(UTC)}
    table = InboundEvent.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    result = session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def seen_inbound(*, session: Session, key: str) -> bool:
    stmt = select(InboundEvent.id).where(InboundEvent.key == key)
    return session.exec(stmt).first() is not None


def enqueue(*, session: Session, message: Outbox) -> bool:
    """Add an outbox row unless one with the same key exists; True when added."""
    values = message.model_dump(exclude={"id"})
    table = Outbox.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def points_given_on(*, session: Session, giver_id: int, day: date) -> int:
    """Points a giver has spent on `day` (their local date), revoked and blocked ones excluded."""
    stmt = (
        select(func.count(col(RecognitionRecipient.id)))
        .join(Recognition, col(Recognition.id) == col(RecognitionRecipient.recognition_id))
        .where(
            Recognition.giver_id == giver_id,
            Recognition.giver_local_date == day,
            col(Recognition.revoked_at).is_(None),
            col(Recognition.outcome).in_(("pass", "warn", "hold")),
        )
    )
    return int(session.exec(stmt).one())


def counted_between(
    *, session: Session, member_id: int, start: datetime, end: datetime
) -> tuple[int, int]:
    """(received, given) points of a member in [start, end), published ones only."""
    published = (
        col(Recognition.revoked_at).is_(None),
        col(Recognition.outcome).in_(("pass", "warn")),
        col(Recognition.created_at) >= start,
        col(Recognition.created_at) < end,
    )
    received = session.exec(
        select(func.count(col(RecognitionRecipient.id)))
        .join(Recognition, col(Recognition.id) == col(RecognitionRecipient.recognition_id))
        .where(RecognitionRecipient.member_id == member_id, *published)
    ).one()
    given = session.exec(
        select(func.count(col(RecognitionRecipient.id)))
        .join(Recognition, col(Recognition.id) == col(RecognitionRecipient.recognition_id))
        .where(Recognition.giver_id == member_id, *published)
    ).one()
    return int(received), int(given)


def _entry_hash(prev: str, entry: AuditEntry) -> str:
    body = json.dumps(
        {
            "prev": prev,
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "subject": entry.subject,
            "detail": entry.detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append_audit(
    *, session: Session, actor: str, action: str, subject: str, detail: dict[str, Any], at: datetime
) -> AuditEntry:
    """Append to the hash chain; the unique prev_hash keeps the chain a single line."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK})
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1)).first()
    prev = last.hash if last else GENESIS
    entry = AuditEntry(
        at=at.astimezone(UTC), actor=actor, action=action, subject=subject, detail=detail
    )
    entry.prev_hash = prev
    entry.hash = _entry_hash(prev, entry)
    session.add(entry)
    session.flush()
    return entry


def verify_audit(*, session: Session) -> tuple[bool, int, int | None]:
    """Walk the chain: (intact, entries checked, id of the first bad entry)."""
    prev = GENESIS
    count = 0
    for entry in session.exec(select(AuditEntry).order_by(col(AuditEntry.id))):
        if entry.prev_hash != prev or _entry_hash(prev, entry) != entry.hash:
            return False, count, entry.id
        prev = entry.hash
        count += 1
    return True, count, None
