"""Engines and sessions: SQLite in WAL mode with immediate write locks, or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import StaticPool
from sqlmodel import Session


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for `url`, tuned for how Plaudit uses the database."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy own transactions so BEGIN IMMEDIATE below is honoured.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads and then
        # writes can fail with SQLITE_BUSY instead of waiting its turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


WRITER_LOCK = 0x504C4155  # advisory lock id: the audit chain, and the app's writers


@contextmanager
def transaction(engine: Engine, *, serial: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    `serial` on PostgreSQL takes the writers' advisory lock first, so the app's write
    transactions (of every replica) run one at a time. They all end in the hash-chained
    audit trail, whose lock they would take anyway; taken late, after row locks, it
    deadlocks them against each other, and two replicas could both create the same new
    member. Group commit keeps the throughput: one transaction carries many kudos.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            if serial and engine.dialect.name == "postgresql":
                session.connection().execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK}
                )
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
