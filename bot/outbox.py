"""The outbox dispatcher: delivers queued messages with rate limits, retries and leases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from functools import partial
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from bot.runtime import Runtime
from storage.models import Outbox

log = logging.getLogger("plaudit.outbox")


class RateLimited(Exception):
    """The platform said slow down; try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after}s")
        self.retry_after = retry_after


class Transient(Exception):
    """A failure worth retrying (5xx, connection reset, timeout)."""


class Permanent(Exception):
    """A failure no retry will fix (channel gone, bot not in channel)."""


@dataclass(frozen=True)
class Job:
    id: int
    platform: str
    workspace: str | None
    channel: str
    kind: str
    user: str | None
    template: str
    data: dict[str, object]
    attempts: int


Sender = Callable[[Job], Awaitable[str | None]]  # returns the platform's message id


class Dispatcher:
    """Claims due rows, delivers them per channel at most once per `channel_interval`."""

    def __init__(
        self,
        runtime: Runtime,
        senders: dict[str, Sender],
        *,
        channel_interval: float = 1.0,
        max_attempts: int = 8,
        batch: int = 50,
        lease: timedelta = timedelta(seconds=120),
        idle_poll: float = 2.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
    ) -> None:
        self.runtime = runtime
        self.senders = senders
        self.channel_interval = channel_interval
        self.max_attempts = max_attempts
        self.batch = batch
        self.lease = lease
        self.idle_poll = idle_poll
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._last_sent: dict[tuple[str | None, str], float] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self.runtime.listeners.append(self._threadsafe_wake())
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="outbox")

    def _threadsafe_wake(self) -> Callable[[], None]:
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        return wake

    async def stop(self) -> None:
        """Finish what is in flight, then stop; unclaimed rows wait for the next start."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                done = await self.drain_once()
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                done = 0
            if done == 0 and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll)

    async def drain_once(self) -> int:
        """Claim and deliver one batch of due rows; returns how many were attempted."""
        jobs = await self.runtime.run(self._claim)
        if not jobs:
            return 0
        by_channel: dict[tuple[str | None, str], list[Job]] = {}
        for job in jobs:
            by_channel.setdefault((job.workspace, job.channel), []).append(job)
        await asyncio.gather(*(self._deliver_channel(key, js) for key, js in by_channel.items()))
        return len(jobs)

    def _claim(self, session: Session) -> list[Job]:
        now = self.runtime.clock.now()
        stmt = (
            select(Outbox)
            .where(
                Outbox.status == "pending",
                col(Outbox.next_attempt_at) <= now,
                or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < now),
                col(Outbox.platform).in_(list(self.senders)),
            )
            .order_by(col(Outbox.id))
            .limit(self.batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.exec(stmt))
        jobs = []
        for row in rows:
            assert row.id is not None
            row.claimed_until = now + self.lease
            session.add(row)
            jobs.append(
                Job(
                    row.id,
                    row.platform,
                    row.workspace,
                    row.channel,
                    row.kind,
                    row.user,
                    row.template,
                    dict(row.data),
                    row.attempts,
                )
            )
        return jobs

    async def _deliver_channel(self, key: tuple[str | None, str], jobs: list[Job]) -> None:
        loop = asyncio.get_running_loop()
        for index, job in enumerate(jobs):
            wait = self._last_sent.get(key, 0.0) + self.channel_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                ref = await self.senders[job.platform](job)
            except RateLimited as limited:
                # Everything still queued for this channel waits too.
                for later in jobs[index:]:
                    await self.runtime.run(
                        partial(
                            self._retry,
                            job=later,
                            delay=limited.retry_after,
                            error=str(limited),
                            counts=False,
                        )
                    )
                return
            except Permanent as exc:
                log.error("outbox row %s is undeliverable: %s", job.id, exc)
                await self.runtime.run(partial(self._dead, job=job, error=str(exc)))
            except Exception as exc:
                delay = self._backoff(job.attempts + 1)
                log.warning("outbox row %s failed (%s); retrying in %.0fs", job.id, exc, delay)
                await self.runtime.run(
                    partial(self._retry, job=job, delay=delay, error=repr(exc), counts=True)
                )
            else:
                await self.runtime.run(partial(self._delivered, job=job, ref=ref))
            self._last_sent[key] = loop.time()

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return float(delay * random.uniform(0.8, 1.2))

    def _delivered(self, session: Session, *, job: Job, ref: str | None) -> None:
        row = session.get(Outbox, job.id)
        assert row is not None
        row.status, row.message_ref = "delivered", ref
        row.delivered_at = self.runtime.clock.now()
        row.claimed_until = None
        session.add(row)

    def _retry(self, session: Session, *, job: Job, delay: float, error: str, counts: bool) -> None:
        row = session.get(Outbox, job.id)
        assert row is not None
        if counts:
            row.attempts += 1
        row.last_error = error[:500]
        row.claimed_until = None
        if row.attempts >= self.max_attempts:
            row.status = "dead"
            log.error("outbox row %s is dead after %s attempts: %s", job.id, row.attempts, error)
        else:
            row.next_attempt_at = self.runtime.clock.now() + timedelta(seconds=delay)
        session.add(row)

    def _dead(self, session: Session, *, job: Job, error: str) -> None:
        row = session.get(Outbox, job.id)
        assert row is not None
        row.status, row.last_error, row.claimed_until = "dead", error[:500], None
        row.attempts += 1
        session.add(row)


def pending_count(session: Session) -> int:
    """Rows still owed, for health reporting."""
    stmt = select(func.count(col(Outbox.id))).where(Outbox.status == "pending")
    return int(session.exec(stmt).one())
