"""Shared state of a running Plaudit: database, policy, rules, clock, and the DB thread pool."""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from bot.chat.ratelimit import PerUserLimit
from compliance_rules import RuleSet
from handlers import i18n
from handlers.clock import Clock, SystemClock
from handlers.digests import DigestSchedule
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from handlers.retention import Retention
from handlers.surveys import Survey
from storage.audit import AuditKey
from storage.db import is_sqlite, race_of, transaction

T = TypeVar("T")
log = logging.getLogger("plaudit")


@dataclass(frozen=True)
class BoardSettings:
    """How sprint boards are posted (from `sprints:` in plaudit.yaml)."""

    channel: str | None = None  # default: the recognition channel
    top: int = 10
    exclude: tuple[str, ...] = ()
    update_cron: str | None = None
    update_timezone: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)  # frozen with each closed sprint
    # Several Slack workspaces: the one the board channel is in, and whether a posted board
    # shows that workspace's people only (workspaces counted apart).
    slack_workspace: str | None = None
    slack_only: bool = False


@dataclass(frozen=True)
class StoreSettings:
    """The BigCommerce sync (from `bigcommerce:` in plaudit.yaml and the environment)."""

    sync_every: timedelta = timedelta(minutes=15)
    quota_share: float = 0.2


@dataclass
class Runtime:
    engine: Engine
    policy: KudosPolicy
    rules: RuleSet
    clock: Clock = field(default_factory=SystemClock)
    surveys: tuple[Survey, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    boards: BoardSettings = field(default_factory=BoardSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    digests: DigestSchedule | None = field(default_factory=DigestSchedule)  # None: off
    # Chat commands a person may send a minute (a burst of half that at once); 0 = no limit.
    limiter: PerUserLimit = field(default_factory=lambda: PerUserLimit(per_minute=0))
    admins: tuple[str, ...] = ()  # emails: the dashboard's admin pages
    safety: tuple[str, ...] = ()  # emails: the dashboard's PV case pages
    members_see_top: int = 0  # the dashboard's board for members: its top N (0: all of it)
    retention: Retention = field(default_factory=Retention)
    # PLAUDIT_SURVEY_SECRET: keys anonymous respondents; None: a key held in memory only.
    survey_secret: bytes | None = None
    # PLAUDIT_AUDIT_KEY: seals the audit trail; None: entries wait unsealed for a key.
    audit_key: AuditKey | None = None
    # The Teams tenants served (PLAUDIT_TEAMS_TENANTS or the app's own); a person of any other
    # is from outside the company. None: the conversation's tenant is the company's.
    teams_tenants: frozenset[str] | None = None
    # The dashboard's address for links in chat (PLAUDIT_PUBLIC_URL/dashboard), when it is on.
    dashboard_url: str | None = None
    listeners: list[Callable[[], None]] = field(default_factory=list)
    _commits: GroupCommit | None = None

    def poke(self) -> None:
        """Tell whoever delivers the outbox that new rows may be waiting."""
        for listener in self.listeners:
            listener()

    @property
    def commits(self) -> GroupCommit:
        if self._commits is None:
            # SQLite has one writer: one DB thread keeps requests in line instead of making
            # them wait on the file lock. PostgreSQL takes several.
            workers = 1 if is_sqlite(self.engine) else 4
            self._commits = GroupCommit(self.run_sync, self.engine, workers=workers)
        return self._commits

    def survey(self, survey_id: str) -> Survey | None:
        return next((s for s in self.surveys if s.id == survey_id), None)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction; run it again, a few times, when it lost a race
        to a concurrent writer (a unique key taken meanwhile, a serialization failure, a
        deadlock): the next run sees what the winner committed."""
        for attempt in range(1, RETRIES + 1):
            try:
                with transaction(self.engine) as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                if attempt == RETRIES or not retryable(exc):
                    raise
                log.info("retrying a transaction after %s", race_of(exc))
                time.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` on a DB thread, committed together with whatever else is waiting; in
        the language spoken here (`i18n.speaking`), which a thread of its own would lose."""
        return await asyncio.wrap_future(self.commits.submit(i18n.bound(work)))

    async def run_alongside(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a transaction of its own, not batched with others: for the
        outbox's claims and outcomes, which lock only their own rows (SKIP LOCKED) and
        should not wait for a batch of use cases. SQLite has one writer anyway."""
        if is_sqlite(self.engine):
            return await self.run(work)

        def alone() -> T:
            with transaction(self.engine) as session:
                return work(session)

        return await asyncio.to_thread(alone)

    def close(self) -> None:
        if self._commits is not None:
            self._commits.stop()
            self._commits = None
        self.engine.dispose()


class GroupCommit:
    """DB threads that run waiting units of work in one transaction and commit once.

    Under load many requests wait at the same time; one commit for all of them costs far
    less than one each. If anything in a batch fails, the batch is rolled back and each
    unit runs again alone, so only the failing one sees its error.
    """

    def __init__(
        self,
        run_one: Callable[[Callable[[Session], Any]], Any],
        engine: Engine,
        *,
        workers: int,
        max_batch: int = 32,
    ) -> None:
        self._run_one = run_one
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Callable[[Session], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._serve, name=f"plaudit-db-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((work, future))
        return future

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._run_batch([(w, f) for w, f in batch if f.set_running_or_notify_cancel()])
            if stopping:
                return

    def _run_batch(self, batch: list[tuple[Callable[[Session], Any], Future[Any]]]) -> None:
        if len(batch) > 1:
            try:
                with transaction(self._engine) as session:
                    results = [work(session) for work, _ in batch]
            except Exception:
                log.debug("a batch of %d failed; running each alone", len(batch))
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
                return
        for work, future in batch:
            try:
                future.set_result(self._run_one(work))
            except BaseException as exc:
                future.set_exception(exc)


RETRIES = 5


def retryable(exc: Exception) -> bool:
    return race_of(exc) is not None
