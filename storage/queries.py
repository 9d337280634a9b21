"""Query functions shared by the use cases; every one takes `session=` by keyword."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.models import AuditEntry, InboundEvent, Outbox, Recognition, RecognitionRecipient
from storage.models.recognition import PUBLISHED

# The hot path runs these on every kudos: built once, so each call only binds values.
_inbound = InboundEvent.__table__  # type: ignore[attr-defined]
_outbox = Outbox.__table__  # type: ignore[attr-defined]
_recognition = Recognition.__table__  # type: ignore[attr-defined]
_recipient = RecognitionRecipient.__table__  # type: ignore[attr-defined]
_audit = AuditEntry.__table__  # type: ignore[attr-defined]
_INSERT_IGNORING: dict[tuple[str, str], Any] = {
    # RETURNING counts the rows really added: an executemany's rowcount is not reliable.
    (name, table.name): module.insert(table).on_conflict_do_nothing().returning(table.c.id)
    for name, module in (("postgresql", postgresql), ("sqlite", sqlite))
    for table in (_inbound, _outbox)
}
_SEEN = sa_select(_inbound.c.id).where(_inbound.c.key == bindparam("key"))
_POINTS = (
    sa_select(func.count(_recipient.c.id))
    .select_from(_recipient.join(_recognition, _recognition.c.id == _recipient.c.recognition_id))
    .where(
        _recognition.c.giver_id == bindparam("giver"),
        _recognition.c.giver_local_date == bindparam("day"),
        _recognition.c.revoked_at.is_(None),
        _recognition.c.outcome.in_(("pass", "warn", "hold")),
    )
)
_INSERT_RECOGNITION = sa_insert(_recognition).returning(_recognition.c.id)
_INSERT_RECIPIENT = sa_insert(_recipient)
_INSERT_AUDIT = sa_insert(_audit)


def _ignoring(session: Session, table: Any) -> Any:
    return _INSERT_IGNORING[(session.get_bind().dialect.name, table.name)]


def claim_inbound(*, session: Session, key: str, kind: str) -> bool:
    """Record that the delivery `key` is being handled; False when it already was."""
    values = {"key": key, "kind": kind, "received_at": datetime.now(UTC)}
    result = session.connection().execute(_ignoring(session, _inbound), values)
    return result.first() is not None


def seen_inbound(*, session: Session, key: str) -> bool:
    return session.connection().execute(_SEEN, {"key": key}).first() is not None


@dataclass(frozen=True)
class Message:
    """An outbox row to add: where it goes and what to render there."""

    key: str
    platform: str
    workspace: str | None
    channel: str
    kind: str  # post | dm | ephemeral
    template: str
    data: dict[str, Any]
    user: str | None = None


def enqueue(*, session: Session, message: Message) -> bool:
    """Add an outbox row unless one with the same key exists; True when added."""
    return enqueue_many(session=session, messages=[message]) == 1


def enqueue_many(*, session: Session, messages: list[Message]) -> int:
    """Add outbox rows, skipping keys that exist; returns how many were added."""
    if not messages:
        return 0
    now = datetime.now(UTC)
    rows = [
        {
            **vars(m),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    result = session.connection().execute(_ignoring(session, _outbox), rows)
    return len(result.all())


def insert_recognition(*, session: Session, values: dict[str, Any], recipients: list[int]) -> int:
    """Insert a recognition and its recipients; returns its id."""
    new_id = int(session.connection().execute(_INSERT_RECOGNITION, values).scalar_one())
    session.connection().execute(
        _INSERT_RECIPIENT, [{"recognition_id": new_id, "member_id": m} for m in recipients]
    )
    return new_id


def points_given_on(*, session: Session, giver_id: int, day: date) -> int:
    """Points a giver has spent on `day` (their local date), revoked and blocked ones excluded."""
    return int(session.connection().execute(_POINTS, {"giver": giver_id, "day": day}).scalar_one())


def counted_between(
    *, session: Session, member_id: int, start: datetime, end: datetime
) -> tuple[int, int]:
    """(received, given) points of a member in [start, end), published ones only."""
    published = (
        col(Recognition.revoked_at).is_(None),
        col(Recognition.outcome).in_(PUBLISHED),
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


def append_audit(
    *, session: Session, actor: str, action: str, subject: str, detail: dict[str, Any], at: datetime
) -> None:
    """Append an entry to the audit trail: one insert that reads nothing and waits for no
    other writer; the sealer (storage.audit) chains it once its transaction has committed."""
    values = {
        "at": at.astimezone(UTC),
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
    }
    session.connection().execute(_INSERT_AUDIT, values)


_POST_OF = (
    sa_select(_outbox.c.data)
    .where(
        _outbox.c.platform == bindparam("platform"),
        _outbox.c.message_ref == bindparam("ref"),
        _outbox.c.template == bindparam("template"),
    )
    .limit(1)
)


def recognition_of_post(
    *, session: Session, platform: str, message_ref: str, template: str
) -> int | None:
    """The recognition whose public post (an outbox row of `template`) the platform knows
    as `message_ref`."""
    params = {"platform": platform, "ref": message_ref, "template": template}
    row = session.connection().execute(_POST_OF, params)
    data = row.scalar_one_or_none()
    value = data.get("recognition_id") if isinstance(data, dict) else None
    return int(value) if value is not None else None


def queued_data(*, session: Session, key: str) -> dict[str, Any] | None:
    """A copy of what the outbox row with idempotency key `key` renders (None: no such row)."""
    row = session.exec(select(Outbox).where(Outbox.key == key)).first()
    return dict(row.data) if row is not None else None


def recognition_count(*, session: Session) -> int:
    """How many recognitions there are, whatever their outcome."""
    return int(session.exec(select(func.count()).select_from(Recognition)).one())
