"""Which replica runs the scheduler: the one holding a lock that dies with its process.

On PostgreSQL that is a session advisory lock on a dedicated connection: the server
releases it the moment the holder's connection goes (a crash, a kill, a lost network), and
a standby that tries every `retry` seconds takes over. On SQLite, whose replicas share one
host, it is an exclusive `flock` on a file next to the database, which the kernel releases
when the process ends. An in-memory database has one process: it always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger("plaudit.leader")
LOCK_KEY = 0x504C5343  # "PLSC": Plaudit scheduler


class Leadership:
    """Holds, or waits for, the scheduler lock; `is_leader` says which."""

    def __init__(self, engine: Engine, *, retry: float = 10.0, heartbeat: float = 5.0) -> None:
        self.engine = engine
        self.retry = retry
        self.heartbeat = heartbeat
        self.is_leader = False
        self._conn: Connection | None = None
        self._lock_engine: Engine | None = None
        self._file: IO[bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def kind(self) -> str:
        name = self.engine.dialect.name
        if name == "postgresql":
            return "advisory lock"
        return "file lock" if _sqlite_file(self.engine) else "single process"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="plaudit-leader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set(False)
        await asyncio.to_thread(self._release)

    async def wait_until_leader(self, timeout: float | None = None) -> bool:
        return await self.wait_for(True, timeout)

    async def wait_for(self, leader: bool, timeout: float | None = None) -> bool:
        """Wait until this replica leads (or, with `leader=False`, no longer does)."""

        async def wait() -> None:
            while self.is_leader != leader:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        while True:
            try:
                if self.is_leader:
                    alive = await asyncio.to_thread(self._still_held)
                    if not alive:
                        log.warning("lost the scheduler lock; standing by")
                        self._set(False)
                        await asyncio.to_thread(self._release)
                else:
                    if await asyncio.to_thread(self._try_acquire):
                        log.info("this replica runs the scheduler (%s)", self.kind)
                        self._set(True)
            except Exception as exc:  # the database may be restarting: try again later
                log.warning("scheduler lock check failed: %s", type(exc).__name__)
                self._set(False)
                await asyncio.to_thread(self._release)
            await asyncio.sleep(self.heartbeat if self.is_leader else self.retry)

    def _set(self, leader: bool) -> None:
        if leader != self.is_leader:
            self.is_leader = leader
            self._changed.set()

    # -- the lock itself (blocking; run in a thread) ------------------------------------

    def _try_acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            if self._lock_engine is None:
                # A connection of its own, outside the pool: the lock lives and dies with it.
                self._lock_engine = create_engine(self.engine.url, poolclass=NullPool)
            conn = self._lock_engine.connect()
            query = text("SELECT pg_try_advisory_lock(:k)")
            got = bool(conn.execute(query, {"k": LOCK_KEY}).scalar())
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        path = _sqlite_file(self.engine)
        if path is None:
            return True
        handle = open(f"{path}.leader", "ab")  # noqa: SIM115 - held open while leading
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def _still_held(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
            except Exception:
                return False
            return True
        return self._file is not None or _sqlite_file(self.engine) is None

    def _release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _sqlite_file(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(os.path.abspath(database))
