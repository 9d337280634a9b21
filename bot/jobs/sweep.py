"""The sweep's steps: each runs in one transaction, in a worker thread (`Runtime.run`), and
is keyed so that a second sweep, a restart or another replica does it no more than once;
and the recount of the sprint totals, which the scheduler runs beside the sweep."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from sqlmodel import Session

from bot.observability import metrics
from bot.runtime import BoardSettings, Runtime
from handlers import digests, leaderboard, retention, surveys
from handlers.counts import count
from handlers.leaderboard import recount
from handlers.rollout import Rollout
from handlers.sprints import Sprint
from storage import maintenance, people, schedule

log = logging.getLogger("plaudit.scheduler")
T = TypeVar("T")


def open_round(
    survey: surveys.Survey,
    session: Session,
    *,
    now: datetime,
    period: str,
    closes_at: datetime | None,
    day: date | None,
    members: list[str] | None,
    rollout: Rollout | None = None,
) -> surveys.Opened | surveys.AlreadyOpen | surveys.Skipped:
    """Open the survey's round for `period` (once: the round is unique per period), for
    its audience less those the pilot cohorts (`rollout`) leave Plaudit off for."""
    return surveys.open_round(
        survey,
        session=session,
        now=now,
        period=period,
        closes_at=closes_at,
        local_day=day,
        channel_members=members,
        rollout=rollout,
    )


def close_sprint(
    sprint: Sprint,
    session: Session,
    *,
    now: datetime,
    settings: BoardSettings,
    channel: str | None,
    teams_channel: str | None = None,
) -> bool:
    """Freeze the sprint that ended and queue its final board, once; not while the totals
    are being recounted (a sweep after the recount does it)."""
    if leaderboard.recounting(session):
        return False
    if not schedule.claim_run(session, job="sprint.close", period=sprint.id, now=now):
        return False
    leaderboard.close_sprint(
        session,
        sprint,
        now=now,
        rules=settings.rules,
        channel=_slack_channel(settings, channel),
        workspace=settings.slack_workspace or people.any_workspace(session),
        exclude=settings.exclude,
        top=settings.top,
        teams_channel=teams_channel,
        only_workspace=settings.slack_workspace if settings.slack_only else None,
    )
    return True


def _slack_channel(settings: BoardSettings, channel: str | None) -> str | None:
    """Where the Slack board goes: nowhere when workspaces are counted apart and no home
    workspace is set, since a board of everyone would mix them."""
    if settings.slack_only and settings.slack_workspace is None:
        if channel:
            log.warning(
                "sprint board not posted in Slack: set PLAUDIT_SLACK_HOME_WORKSPACE to the "
                "workspace of channel %s",
                channel,
            )
        return None
    return channel


def post_update(
    sprint: Sprint,
    session: Session,
    *,
    period: str,
    now: datetime,
    settings: BoardSettings,
    channel: str | None,
    teams_channel: str | None = None,
) -> bool:
    """Queue the mid-sprint board for the update cron's firing `period`, once; a board
    being recounted waits (the firing is looked for up to 12 hours back)."""
    if leaderboard.recounting(session):
        return False
    if not schedule.claim_run(session, job="leaderboard.update", period=period, now=now):
        return False
    return leaderboard.queue_post(
        session,
        sprint,
        key=f"leaderboard:{sprint.id}:update:{period}",
        channel=_slack_channel(settings, channel),
        workspace=settings.slack_workspace or people.any_workspace(session),
        final=False,
        exclude=settings.exclude,
        top=settings.top,
        teams_channel=teams_channel,
        only_workspace=settings.slack_workspace if settings.slack_only else None,
    )


def housekeep(session: Session, *, now: datetime) -> dict[str, int]:
    """Queue due survey invitations and reminders, and close rounds that are over."""
    return {
        "invited": surveys.deliver_due(session=session, now=now),
        "reminded": surveys.remind_due(session=session, now=now),
        "closed": len(surveys.close_due(session=session, now=now)),
    }


def send_digests(session: Session, *, now: datetime, runtime: Runtime) -> int:
    """Queue the manager digests that are due."""
    if runtime.digests is None:
        return 0
    return digests.send_due(session, now=now, policy=runtime.policy, schedule=runtime.digests)


def purge(session: Session, *, now: datetime, runtime: Runtime) -> int:
    """Once a day (UTC): erase what the retention policy says is due."""
    policy = runtime.retention
    if not schedule.claim_run(
        session, job="retention.purge", period=now.date().isoformat(), now=now
    ):
        return 0
    done = retention.purge(session, retention=policy, now=now)
    return done.texts + done.pv_links + done.pv_texts


def purge_outbox(
    session: Session, *, now: datetime, runtime: Runtime, after: int
) -> maintenance.PurgeBatch:
    """One batch of the outbox's purge (`retention.purge_outbox`); run again from
    `resume_after` until it is None. Deleting twice deletes nothing, so it needs no key."""
    return retention.purge_outbox(session, retention=runtime.retention, now=now, after=after)


class Recounter:
    """Recounts the sprint totals when start-up marked them for it (`recount.mark`), and
    checks the current sprint's once, `verify_after` seconds after starting; run by the
    replica that leads. Counting reads a snapshot in a worker thread; the short settling
    transactions go through the runtime's DB threads like any other write."""

    def __init__(self, runtime: Runtime, *, verify_after: float = 60.0) -> None:
        self.runtime = runtime
        self.verify_at = time.monotonic() + verify_after
        self.verified = False
        self._lock = asyncio.Lock()
        self._stopping = threading.Event()

    async def run(self) -> None:
        """One run; a failure is logged, and the next run starts again where it stopped."""
        if self._lock.locked() or self._stopping.is_set():
            return
        async with self._lock:
            try:
                await self._run()
            except Exception:
                metrics.count_run("sprints.recount", "error")
                log.exception("recounting the sprint totals failed; the next run goes on")
            else:
                metrics.count_run("sprints.recount", "ok")

    async def stop(self) -> None:
        """Stop once the sprint being recounted is settled (a later start resumes)."""
        self._stopping.set()
        async with self._lock:
            pass

    async def _run(self) -> None:
        runtime = self.runtime
        verify = not self.verified and time.monotonic() >= self.verify_at
        if not verify and not await runtime.run(leaderboard.recounting):
            return
        loop = asyncio.get_running_loop()

        def write(work: Callable[[Session], T]) -> T:
            return asyncio.run_coroutine_threadsafe(runtime.run(work), loop).result()

        read = recount.reader(runtime.engine, write)
        calendar, now, began = runtime.policy.sprints, runtime.clock.now(), time.monotonic()
        done = await asyncio.to_thread(
            recount.recount, calendar, read=read, write=write, now=now, stop=self._stopping.is_set
        )
        if done is not None:
            self.verified = self.verified or done.finished
            if done.finished:
                log.info(
                    "sprint totals recounted for the current sprint settings (%s in %.1f s)",
                    count(done.sprints, "sprint"),
                    time.monotonic() - began,
                )
            return
        if verify:
            found = await asyncio.to_thread(
                recount.verify, calendar, read=read, write=write, now=now
            )
            self.verified = True
            if found is not None and found.repaired:
                log.warning(
                    "the totals of sprint %s differed from a recount (%s); repaired",
                    found.sprint,
                    count(found.repaired, "row"),
                )
