"""Shared state of a running Plaudit: database, policy, rules, clock, and the DB thread pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from compliance_rules import RuleSet
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from handlers.clock import Clock, SystemClock
from handlers.policy import KudosPolicy
from storage.db import is_sqlite, transaction

T = TypeVar("T")
log = logging.getLogger("plaudit")


@dataclass
class Runtime:
    engine: Engine
    policy: KudosPolicy
    rules: RuleSet
    clock: Clock = field(default_factory=SystemClock)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    _pool: ThreadPoolExecutor | None = None

    def poke(self) -> None:
        """Tell whoever delivers the outbox that new rows may be waiting."""
        for listener in self.listeners:
            listener()

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            # SQLite has one writer: a single DB thread keeps requests in line instead of
            # making them wait on the file lock. PostgreSQL takes several.
            workers = 1 if is_sqlite(self.engine) else 8
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plaudit-db")
        return self._pool

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction; retry once when a concurrent writer won a race."""
        for attempt in (1, 2):
            try:
                with transaction(self.engine) as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                if attempt == 2 or not _retryable(exc):
                    raise
                log.info("retrying a transaction after %s", type(exc).__name__)
        raise AssertionError("unreachable")

    async def run(self, work: Callable[[Session], T]) -> T:
        """`run_sync` on the DB thread pool, so the event loop never blocks on the database."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.run_sync, work)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.engine.dispose()


def _retryable(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, IntegrityError) or "deadlock" in text or "could not serialize" in text
