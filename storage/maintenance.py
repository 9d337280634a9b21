"""Storage upkeep for erasure: overwrite what a transaction frees, empty SQLite's write-ahead log.

An erased value can outlive its row: SQLite keeps freed bytes in the file's free space and
every written page in the write-ahead log until a checkpoint truncates it. PostgreSQL keeps
dead row versions until vacuum, and its WAL segments, archives and backups hold whatever was
written; nothing inside the application can reach those, so what must never be recoverable
is never written (see the anonymous survey tokens in `handlers/surveys/`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session

log = logging.getLogger("plaudit")


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
