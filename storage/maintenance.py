"""Storage upkeep: for erasure, overwrite what a transaction frees and empty SQLite's
write-ahead log; for size, delete the outbox rows nothing needs any more.

An erased value can outlive its row: SQLite keeps freed bytes in the file's free space and
every written page in the write-ahead log until a checkpoint truncates it. PostgreSQL keeps
dead row versions until vacuum, and its WAL segments, archives and backups hold whatever was
written; nothing inside the application can reach those, so what must never be recoverable
is never written (see the anonymous survey tokens in `handlers/surveys/`).

The outbox's purge is housekeeping, not erasure: it does neither of those.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, event, select
from sqlmodel import Session

from storage.models import Outbox

log = logging.getLogger("plaudit")
_outbox = Outbox.__table__  # type: ignore[attr-defined]


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _in_memory(engine: Engine) -> bool:
    return engine.url.database in (None, "", ":memory:")


def overwrite_freed(session: Session) -> None:
    """On SQLite, make this session's connection overwrite deleted rows and freed pages with
    zeros (`secure_delete`) from now on, so an erased value does not linger in free space."""
    if _engine(session).dialect.name == "sqlite":
        session.connection().exec_driver_sql("PRAGMA secure_delete = ON")


def checkpoint_after_commit(session: Session) -> None:
    """Once this session's transaction has committed, copy SQLite's write-ahead log into the
    database file and truncate it, so the pages written before (an erased value among them)
    are no longer in the log. Nothing to do on PostgreSQL or an in-memory database."""
    engine = _engine(session)
    if engine.dialect.name != "sqlite" or _in_memory(engine):
        return

    def after_commit(_session: Any) -> None:
        if not checkpoint(engine):
            log.warning(
                "the SQLite write-ahead log could not be emptied now (a reader was busy); "
                "it is emptied at the next checkpoint that finds the database idle"
            )

    event.listen(session, "after_commit", after_commit, once=True)


def checkpoint(engine: Engine) -> bool:
    """`PRAGMA wal_checkpoint(TRUNCATE)` on a connection outside any transaction; False when
    another connection's open read kept it from finishing (the log was not truncated)."""
    if engine.dialect.name != "sqlite" or _in_memory(engine):
        return True
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = cursor.fetchone()
        finally:
            cursor.close()
    finally:
        raw.close()
    return busy is None or int(busy[0]) == 0


# Finished outbox rows: nothing will send them again.
FINISHED = ("delivered", "dead")


@dataclass(frozen=True)
class PurgeBatch:
    deleted: int
    resume_after: int | None  # the id to go on from; None: nothing more is due


def purge_outbox(
    session: Session,
    *,
    before: datetime,
    after: int,
    limit: int,
    keep_templates: Sequence[str] = (),
) -> PurgeBatch:
    """Delete at most `limit` finished rows written before `before`, the lowest ids above
    `after` first; the caller commits each batch in a transaction of its own, so no lock is
    held for long, and goes on from `resume_after`.

    Pending rows are never touched. Kept whatever their age: drug-safety notifications
    (keys `pv:`, see `outbox.pv_key`), the record that drug safety was told and what
    `outbox.undelivered_safety_count` and `pv_cases.awaiting_delivery` read, and rows of
    `keep_templates` (what something still looks up after delivery)."""
    conn = session.connection()
    finished = _outbox.c.status.in_(FINISHED)
    due = (
        select(_outbox.c.id)
        .where(
            _outbox.c.id > after,
            finished,
            _outbox.c.created_at < before,
            ~_outbox.c.key.startswith("pv:", autoescape=True),
        )
        .order_by(_outbox.c.id)
        .limit(limit)
    )
    if keep_templates:
        due = due.where(_outbox.c.template.not_in(list(keep_templates)))
    ids = list(conn.execute(due).scalars())
    if not ids:
        return PurgeBatch(0, None)
    # The status again, so this statement on its own can never delete a row still owed.
    gone = conn.execute(delete(_outbox).where(_outbox.c.id.in_(ids), finished)).rowcount
    return PurgeBatch(gone, ids[-1] if len(ids) == limit else None)
