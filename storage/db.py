"""Engines and sessions: SQLite in WAL mode with immediate write locks, or PostgreSQL."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

# The forms providers print (Heroku, Render, Fly, RDS consoles), read with psycopg 3.
_POSTGRES = ("postgres://", "postgresql://")
_EXAMPLES = "e.g. sqlite:///plaudit.db or postgresql://user:password@host:5432/plaudit"
_CREDENTIALS = re.compile(r"(://[^:/@]*:)[^@]*@")


def normalise_url(url: str) -> str:
    """`url` with `postgres://` and `postgresql://` spelled `postgresql+psycopg://`, the driver
    Plaudit installs (SQLAlchemy would otherwise look for psycopg2, or not know `postgres`)."""
    url = url.strip()
    for prefix in _POSTGRES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def masked(url: str) -> str:
    """`url` fit to print: its password replaced by `***`."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _CREDENTIALS.sub(r"\1***@", url)


def url_problem(url: str) -> str | None:
    """Why `url` cannot name a database Plaudit can open (unparseable, an unknown database,
    a driver that is not installed), or None. Whether the server answers is not asked."""
    try:
        parsed = make_url(normalise_url(url))
    except (ArgumentError, ValueError):
        return f"not a database URL ({_EXAMPLES})"
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"unknown database {parsed.drivername!r} ({_EXAMPLES})"
    if dialect.name not in ("sqlite", "postgresql"):
        return f"Plaudit runs on SQLite or PostgreSQL, not {dialect.name} ({_EXAMPLES})"
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        extra = ""
        if dialect.name == "postgresql":
            extra = "; write postgresql://... for psycopg 3 (pip install 'plaudit[postgres]')"
        return f"the driver of {parsed.drivername!r} is not installed ({exc}){extra}"
    return None


def connection_problem(exc: BaseException) -> str:
    """The first line of what the database driver said when it could not be reached."""
    reason = str(getattr(exc, "orig", None) or exc).strip()
    return reason.splitlines()[0].strip() if reason else type(exc).__name__


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for `url`, tuned for how Plaudit uses the database."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url, echo=echo)
    else:
        # No ping before each checkout (a round trip per transaction): a connection found
        # dead when used invalidates the pool, and the unit of work runs again (`race_of`).
        engine = create_engine(url, echo=echo, pool_size=10, max_overflow=10)
    _MADE.add(engine)
    return engine


_MADE: weakref.WeakSet[Engine] = weakref.WeakSet()


def engines_made() -> set[Engine]:
    """The engines `make_engine` made that are still alive (a command disposes of those it
    made when it ends, so no connection is left for the garbage collector to close)."""
    return set(_MADE)


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


# PostgreSQL's SQLSTATEs for a race lost to a concurrent transaction.
_RACES = {
    "23505": "a unique key taken meanwhile",
    "40001": "a serialization failure",
    "40P01": "a deadlock",
}


def race_of(exc: BaseException) -> str | None:
    """What race a database error says was lost (to be run again: the next run sees what
    the winner committed), or that the connection had died (to be run again on a new one),
    or None when it is another error."""
    if getattr(exc, "connection_invalidated", False):
        return "a connection the server had closed"
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if code is not None:
        return _RACES.get(str(code))
    # SQLite names no SQLSTATE. A unique key taken between read and write is the one race
    # it can report (only a unit outside BEGIN IMMEDIATE, or a savepoint, can lose it).
    text = str(getattr(exc, "orig", exc)).lower()
    if isinstance(exc, IntegrityError) and "unique constraint failed" in text:
        return "a unique key taken meanwhile"
    return None


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    No lock is taken up front: concurrent units, of this process or of other replicas,
    run side by side, and what must not happen twice is guarded by the data itself
    (unique keys, row locks, conditional updates; see docs/architecture.md, *Storage*).
    A unit that loses a race fails with a unique violation, a serialization failure or
    a deadlock and is run again by its caller (`bot.runtime`).
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
