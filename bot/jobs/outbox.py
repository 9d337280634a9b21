"""The outbox dispatcher: delivers queued messages with rate limits, retries and leases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import Session

from bot.observability import metrics
from bot.runtime import Runtime
from handlers import surveys
from handlers.events import Person
from handlers.messages import DRUG_SAFETY, BadMessage, Template
from storage import outbox as store
from storage import pv_cases
from storage.outbox import Job, pending_count, undelivered_safety_count

__all__ = [
    "Deferred",
    "Dispatcher",
    "Job",
    "Permanent",
    "RateLimited",
    "Sender",
    "Transient",
    "pending_count",
    "undelivered_safety_count",
]

log = logging.getLogger("plaudit.outbox")


class RateLimited(Exception):
    """The platform said slow down; try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after}s")
        self.retry_after = retry_after


class Deferred(RateLimited):
    """One method's limit is spent (not the workspace's): this row, and those after it in its
    channel, wait `retry_after` seconds; the workspace's other sends go on."""


class Transient(Exception):
    """A failure worth retrying (5xx, connection reset, timeout)."""


class Permanent(Exception):
    """A failure no retry will fix (channel gone, bot not in channel)."""


Sender = Callable[[Job], Awaitable[str | None]]  # returns the platform's message id


class Dispatcher:
    """Claims due rows and delivers them, one task per channel, paced per channel.

    A channel with work in flight is not claimed again until its task ends, so a slow or
    rate-limited channel never holds up the others. Outcomes are written in batches.
    """

    def __init__(
        self,
        runtime: Runtime,
        senders: dict[str, Sender],
        *,
        channel_interval: float = 1.0,
        workspace_rate: float = 20.0,
        max_attempts: int = 8,
        batch: int = 100,
        max_channels: int = 16,
        per_channel: int = 5,
        lease: timedelta = timedelta(seconds=120),
        idle_poll: float = 2.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        flush_interval: float = 0.05,
    ) -> None:
        self.runtime = runtime
        self.senders = senders
        self.channel_interval = channel_interval
        self.workspace_rate = workspace_rate  # messages a second per workspace; 0 = no limit
        # Sends are spaced a little wider than the limit: a send that leaves a few ms late
        # would otherwise put one too many into some one-second window and cost a pause.
        self._cruise = workspace_rate * 0.95
        self.max_attempts, self.batch, self.lease = max_attempts, batch, lease
        self.max_channels, self.per_channel = max_channels, per_channel
        self.idle_poll, self.flush_interval = idle_poll, flush_interval
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self._last_sent: dict[tuple[str | None, str], float] = {}
        self._next_slot: dict[str | None, float] = {}
        # Per workspace: sends a second now (below workspace_rate after a 429) and the end
        # of a pause the platform asked for; one workspace's limit is shared by its channels.
        self._rate: dict[str | None, float] = {}
        self._paused_until: dict[str | None, float] = {}
        # Per workspace: when each send of the last second went out, or came back if it
        # has (a stalled event loop can push several out together; counting them by their
        # answer keeps the next second from taking one too many).
        self._recent: dict[str | None, list[list[float]]] = {}
        self._channels: dict[tuple[str | None, str], asyncio.Task[None]] = {}
        self._outcomes: list[Callable[[Session], None]] = []
        self._delivered: list[dict[str, object]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        """The delivery loop is alive (not stopped, not crashed)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        loop = asyncio.get_running_loop()

        def wake() -> None:  # called on the DB threads, once a use case has committed
            loop.call_soon_threadsafe(self._wake.set)

        self.runtime.listeners.append(wake)
        self._task = loop.create_task(self._loop(), name="outbox")

    async def stop(self) -> None:
        """Finish what is in flight, then stop; unclaimed rows wait for the next start."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            claimed = 0
            if len(self._channels) < self.max_channels:
                try:
                    claimed = await self._claim_and_start()
                except Exception:
                    log.exception("outbox claim failed; retrying shortly")
            if claimed == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll)
        if self._channels:
            await asyncio.gather(*self._channels.values(), return_exceptions=True)
        if self._flusher is not None:
            await self._flusher
        await self._flush()

    async def _claim_and_start(self) -> int:
        busy = sorted({channel for _, channel in self._channels})
        jobs = await self.runtime.run_alongside(partial(self._claim, busy=busy))
        by_channel: dict[tuple[str | None, str], list[Job]] = {}
        for job in jobs:
            by_channel.setdefault((job.workspace, job.channel), []).append(job)
        for key, channel_jobs in by_channel.items():
            task = asyncio.get_running_loop().create_task(self._deliver_channel(key, channel_jobs))
            self._channels[key] = task
            task.add_done_callback(partial(self._channel_done, key))
        return len(jobs)

    def _channel_done(self, key: tuple[str | None, str], task: asyncio.Task[None]) -> None:
        self._channels.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox channel %s failed", key, exc_info=task.exception())
        self._wake.set()

    def _claim(self, session: Session, *, busy: list[str]) -> list[Job]:
        """Lease the first few due rows of as many free channels as there is room for
        (see `storage.outbox.claim`)."""
        return store.claim(
            session,
            platforms=list(self.senders),
            busy=busy,
            room=max(self.max_channels - len(busy), 1),
            per_channel=self.per_channel,
            now=self.runtime.clock.now(),
            lease=self.lease,
        )

    async def _pace(self, key: tuple[str | None, str], workspace: str | None) -> list[float] | None:
        """Wait for this channel's next turn and a send slot of its workspace; None when
        stopping, else the slot's time stamp (to be moved to when the answer came). A 429
        seen while waiting moves the slot past the pause."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            wait = self._last_sent.get(key, 0.0) + self.channel_interval - now
            if self.workspace_rate > 0:
                start = max(now + max(wait, 0.0), self._next_slot.get(workspace, 0.0))
                start = max(start, self._paused_until.get(workspace, 0.0))
                rate = self._rate.get(workspace, self._cruise)
                self._next_slot[workspace] = start + 1.0 / rate
                wait = start - now
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), wait)
            if self._stopping:
                return None
            now = loop.time()
            paused = self._paused_until.get(workspace, 0.0) - now
            if paused > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), paused)
                continue
            if self.workspace_rate <= 0:
                return [now]
            # Never more than the rate in any one second, whatever the event loop did: a
            # stall that bunches sends up must not push the next second over the limit.
            recent = [e for e in self._recent.get(workspace, []) if e[0] > now - 1.0]
            self._recent[workspace] = recent
            if len(recent) < max(1, int(self._rate.get(workspace, self._cruise))):
                stamp = [now]
                recent.append(stamp)
                return stamp
            oldest = min(e[0] for e in recent)
            self._next_slot[workspace] = max(self._next_slot[workspace], oldest + 1.0)

    def _throttled(self, workspace: str | None, retry_after: float) -> None:
        """The platform said slow down: pause the workspace and send a little slower."""
        loop = asyncio.get_running_loop()
        until = loop.time() + retry_after
        self._paused_until[workspace] = max(self._paused_until.get(workspace, 0.0), until)
        rate = self._rate.get(workspace, self._cruise)
        self._rate[workspace] = max(min(1.0, self._cruise), rate * 0.95)

    def _sent(self, workspace: str | None) -> None:
        if self.workspace_rate > 0:
            rate = self._rate.get(workspace, self._cruise)
            if rate < self._cruise:
                # Creep back up slowly: a 429 costs a whole pause, a slightly slow send little.
                self._rate[workspace] = min(self._cruise, rate + 0.001)

    async def _deliver_channel(self, key: tuple[str | None, str], jobs: list[Job]) -> None:
        for index, job in enumerate(jobs):
            if job.kind == "update" and any(
                later.kind == "update" and later.ref == job.ref for later in jobs[index + 1 :]
            ):
                # A later redraw of the same message is in hand: this one would be undone.
                self._delivered.append({"row_id": job.id, "ref": job.ref, "at": self._now()})
                self._record(None)
                continue
            stamp = await self._pace(key, job.workspace)
            if stamp is None:
                # Hand the rest back now rather than holding shutdown for the pacing.
                for later in jobs[index:]:
                    self._record(partial(self._release, job=later))
                return
            limited = await self._deliver(job, stamp)
            if limited is not None:
                # Everything still queued for this channel waits too.
                wait, why = limited.retry_after, str(limited)
                for later in jobs[index:]:
                    self._record(
                        partial(self._retry, job=later, delay=wait, error=why, counts=False)
                    )
                return
            self._last_sent[key] = asyncio.get_running_loop().time()

    async def _deliver(self, job: Job, stamp: list[float]) -> RateLimited | None:
        """Send one job and record what became of it; the refusal when it has to wait."""
        try:
            try:
                ref = await self.senders[job.platform](await self._current(job))
            finally:
                stamp[0] = asyncio.get_running_loop().time()
        except RateLimited as limited:
            metrics.count_delivery(job.platform, "rate_limited")
            if not isinstance(limited, Deferred):
                self._throttled(job.workspace, limited.retry_after)
            return limited
        except (Permanent, BadMessage) as exc:
            metrics.count_delivery(job.platform, "dead")
            log.error("outbox row %s is undeliverable: %s", job.id, exc)
            self._record(partial(self._dead, job=job, error=str(exc)))
        except Exception as exc:
            last = job.attempts + 1 >= self.max_attempts
            metrics.count_delivery(job.platform, "dead" if last else "retry")
            delay = self._backoff(job.attempts + 1)
            log.warning("outbox row %s failed (%s); retrying in %.0fs", job.id, exc, delay)
            self._record(partial(self._retry, job=job, delay=delay, error=repr(exc), counts=True))
        else:
            log.debug("outbox row %s (%s) delivered on %s", job.id, job.template, job.platform)
            metrics.count_delivery(job.platform, "delivered")
            self._sent(job.workspace)
            self._delivered.append({"row_id": job.id, "ref": ref, "at": self._now()})
            self._record(None)
        return None

    def _now(self) -> datetime:
        return self.runtime.clock.now()

    async def _current(self, job: Job) -> Job:
        """The job as it goes now: a survey message is redrawn with its person's answers as
        they stand (an anonymous round's answers are never written beside a person's id)."""
        if job.kind != "update" or job.template != Template.SURVEY_INVITE:
            return await self._opened(job)
        secret = self.runtime.survey_secret
        data = await self.runtime.run_alongside(partial(_survey_as_now, job=job, secret=secret))
        if data is None:
            raise Permanent("no such survey invitation any more")
        return replace(job, data=data)

    async def _opened(self, job: Job) -> Job:
        """A drug-safety notification with its case's text, opened from the sealed case
        (the outbox holds no copy); a text that cannot be opened fails the attempt, so the
        notification is retried and, if it never opens, ends dead and counted by /healthz."""
        case_id = job.data.get("case_id")
        if job.template not in DRUG_SAFETY or "text" in job.data or not isinstance(case_id, int):
            return job
        opened = partial(pv_cases.text_for, case_id=case_id, vault=self.runtime.policy.pv_vault)
        text = await self.runtime.run_alongside(opened)
        return replace(job, data={**job.data, "text": text})

    def _record(self, outcome: Callable[[Session], None] | None) -> None:
        """Queue an outcome; they are written together, a moment later, in one transaction."""
        if outcome is not None:
            self._outcomes.append(outcome)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        if not self._stopping:
            await asyncio.sleep(self.flush_interval)
        await self._flush()

    async def _flush(self) -> None:
        while self._outcomes or self._delivered:
            outcomes, self._outcomes = self._outcomes, []
            delivered, self._delivered = self._delivered, []
            try:
                await self.runtime.run_alongside(
                    partial(_write, delivered=delivered, outcomes=outcomes)
                )
            except Exception:
                # The rows keep their lease; once it expires they are claimed and sent again.
                log.exception("could not record %d outbox outcomes", len(outcomes) + len(delivered))
                return

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return float(delay * random.uniform(0.8, 1.2))

    def _retry(self, session: Session, *, job: Job, delay: float, error: str, counts: bool) -> None:
        row = store.mark_failed(
            session,
            row_id=job.id,
            error=error,
            counts=counts,
            max_attempts=self.max_attempts,
            retry_at=self.runtime.clock.now() + timedelta(seconds=delay),
            uncertain=job.uncertain and not counts,  # made to wait, not tried
        )
        if row.status == "dead":
            # A drug-safety notification that cannot be delivered needs a person, now.
            level = logging.CRITICAL if job.template in DRUG_SAFETY else logging.ERROR
            what = f"outbox row {job.id} ({job.template}) is dead after {row.attempts} attempts"
            log.log(level, "%s: %s", what, error)

    def _release(self, session: Session, *, job: Job) -> None:
        store.release(session, row_id=job.id)

    def _dead(self, session: Session, *, job: Job, error: str) -> None:
        store.mark_dead(session, row_id=job.id, error=error)
        if job.template in DRUG_SAFETY:
            log.critical("drug-safety notification %s cannot be delivered: %s", job.id, error)


def _survey_as_now(session: Session, *, job: Job, secret: bytes | None) -> dict[str, object] | None:
    """A survey message's data with its person's answers so far, in its queued language."""
    round_id, user = job.data.get("round_id"), job.user or ""
    if not isinstance(round_id, int):
        return None
    person = Person(job.platform, job.workspace, user, user)
    data = surveys.invite_for(session, round_id, person, secret=secret)
    return data if data is None else data | {k: v for k, v in job.data.items() if k == "locale"}


def _write(
    session: Session,
    *,
    delivered: list[dict[str, object]],
    outcomes: list[Callable[[Session], None]],
) -> None:
    if delivered:
        store.mark_delivered(session, delivered)
    for outcome in outcomes:
        outcome(session)
