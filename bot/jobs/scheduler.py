"""Scheduled work: opening survey rounds, delivering and reminding, closing with results.

APScheduler 3.x (`AsyncIOScheduler`) fires a cron survey at its time; a sweep every
`sweep_seconds` (and once at start) does everything else and catches up on what was due
while the bot was down. Every run is keyed in the database (a round is unique per survey
and period; each invitation, reminder and result post has its own outbox key), so a
second firing, a restart, or two replicas sweeping at once never do anything twice.
Beside the sweep, the sprint totals are recounted when start-up asked for it
(`sweep.Recounter`), and every `analytics_seconds` the kept analytics rollups that are due
are computed again (`bot.jobs.analytics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.bigcommerce.sync import StoreSync
from bot.jobs import analytics
from bot.jobs import sweep as steps
from bot.jobs.leader import Leadership
from bot.observability import metrics
from bot.runtime import Runtime
from handlers import surveys
from storage import schedule

log = logging.getLogger("plaudit.scheduler")
ChannelMembers = Callable[[str], Awaitable[list[str]]]  # channel id -> member user ids


def cron_trigger(survey: surveys.Survey) -> CronTrigger:
    assert survey.schedule.cron is not None
    return CronTrigger.from_crontab(
        survey.schedule.cron, timezone=ZoneInfo(survey.schedule.timezone or "UTC")
    )


def latest_fire(trigger: CronTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The last time `trigger` fired at or before `now`, looking back at most `lookback`.

    Steps are taken in UTC: in the hour a clock goes back, wall-clock arithmetic on the
    local time would return the same firing again and again."""
    last = None
    fire = trigger.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        last = fire
        probe = fire.astimezone(UTC) + timedelta(seconds=1)
        following = trigger.get_next_fire_time(None, probe)
        # In the repeated hour the trigger can answer with the firing it was given; step
        # past it in UTC until it moves on.
        for _ in range(12):
            if following is None or following > fire:
                break
            probe += timedelta(minutes=15)
            following = trigger.get_next_fire_time(None, probe)
        if following is None or following <= fire:
            break
        fire = following
    return last


def period_key(fire: datetime) -> str:
    """A firing as the wall-clock time of its zone: in the hour a clock goes back a cron
    fires twice at the same local time, and both firings are one period."""
    return fire.strftime("%Y-%m-%dT%H:%M")


def due_period(
    survey: surveys.Survey, now: datetime
) -> tuple[str, datetime | None, date | None] | None:
    """(period key, closes_at, local date) of the round that should be open now, if any."""
    if survey.schedule.cron is not None:
        fire = latest_fire(cron_trigger(survey), now, survey.open_for)
        if fire is None or fire + survey.open_for <= now:
            return None
        return period_key(fire), fire.astimezone(UTC) + survey.open_for, None
    if survey.schedule.is_local:
        found = surveys.local_period(survey, now)
        if found is None:
            return None
        period, day = found
        return period, None, day
    return None


class Scheduler:
    def __init__(
        self,
        runtime: Runtime,
        *,
        channel_members: ChannelMembers | None = None,
        store: StoreSync | None = None,
        sweep_seconds: float = 30.0,
        leader: Leadership | None = None,
        verify_after: float = 60.0,
        analytics_seconds: float = analytics.SECONDS,
    ) -> None:
        self.runtime = runtime
        # With several replicas only the one holding the lock runs scheduled work; None
        # means this process always does (tests, and the CLI).
        self.leader = leader
        self._leading: asyncio.Task[None] | None = None
        self.channel_members = channel_members
        self.store = store
        self.sweep_seconds = sweep_seconds
        self._aps: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._outbox_purged: date | None = None  # the day (UTC) the outbox was last purged
        self.recounter = steps.Recounter(runtime, verify_after=verify_after)
        self._kicked: asyncio.Task[None] | None = None
        self.analytics_seconds = analytics_seconds

    @property
    def role(self) -> str:
        if self.leader is None:
            return "running"
        return "leader" if self.leader.is_leader else "standby"

    def _standing_by(self) -> bool:
        return self.leader is not None and not self.leader.is_leader

    async def _follow_leadership(self) -> None:
        """Sweep as soon as this replica becomes the leader (catching up on what fell due
        while another led, or none did), then wait for the next time."""
        assert self.leader is not None
        while True:
            await self.leader.wait_for(True)
            self._kicked = asyncio.get_running_loop().create_task(self.recount())
            await self.sweep()
            await self.leader.wait_for(False)

    def start(self) -> None:
        if self.leader is not None:
            self.leader.start()
            self._leading = asyncio.get_running_loop().create_task(self._follow_leadership())
        aps = AsyncIOScheduler(timezone=UTC)
        for survey in self.runtime.surveys:
            if survey.schedule.cron is not None:
                aps.add_job(
                    self.sweep,
                    cron_trigger(survey),
                    id=f"survey:{survey.id}:open",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=int(survey.open_for.total_seconds()),
                )
        now, soon = datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=10)
        for job, every, first, name in (  # once at start too: catch up on what was missed
            (self.sweep, self.sweep_seconds, now, "surveys:sweep"),
            (self.recount, self.sweep_seconds, now, "sprints:recount"),
            (self.refresh_analytics, self.analytics_seconds, soon, "analytics:refresh"),
        ):
            once = {"coalesce": True, "max_instances": 1, "next_run_time": first}
            aps.add_job(job, IntervalTrigger(seconds=every), id=name, **once)
        if self.store is not None:
            aps.add_job(
                self.sync_store,
                IntervalTrigger(seconds=self.runtime.store.sync_every.total_seconds()),
                id="bigcommerce:sync",
                coalesce=True,
                max_instances=1,
                next_run_time=datetime.now(UTC) + timedelta(seconds=5),
            )
        aps.start()
        self._aps = aps

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
            self._leading = None
        async with self._lock:  # let a sweep in progress finish its transaction
            pass
        await self.recounter.stop()
        if self._kicked is not None:
            await self._kicked
        if self.leader is not None:
            await self.leader.stop()

    async def sync_store(self) -> None:
        """Bring the local copy of the store up to date and award milestones (in a thread:
        the client is synchronous)."""
        if self.store is None:
            return
        if self._standing_by():
            metrics.count_run("bigcommerce.sync", "standby")
            return
        # One sync per interval however many processes or replicas run the scheduler: the
        # store's API quota is shared, and every sync would spend it.
        now = self.runtime.clock.now()
        every = max(self.runtime.store.sync_every.total_seconds(), 1.0)
        period = str(int(now.timestamp() // every))
        claim = partial(schedule.claim_run, job="bigcommerce.sync", period=period, now=now)
        if not await self.runtime.run(claim):
            metrics.count_run("bigcommerce.sync", "skipped")
            return
        try:
            report = await asyncio.to_thread(self.store.sync)
        except Exception:
            metrics.count_run("bigcommerce.sync", "error")
            log.exception("BigCommerce sync failed; it runs again at the next interval")
            return
        metrics.count_run("bigcommerce.sync", "ok")
        if report.awarded:
            self.runtime.poke()

    async def refresh_analytics(self) -> int:
        """Compute the kept analytics rollups that are due; the periods computed."""
        if self._standing_by():
            metrics.count_run("analytics.refresh", "standby")
            return 0
        return await analytics.refresh(self.runtime)

    async def recount(self) -> None:
        """Recount the sprint totals in the background when start-up asked for it."""
        if self._standing_by():
            metrics.count_run("sprints.recount", "standby")
            return
        await self.recounter.run()

    async def sweep(self) -> dict[str, int]:
        """One pass: open due rounds, queue due invitations and reminders, close rounds."""
        if self._standing_by():
            metrics.count_run("sweep", "standby")
            return {}
        async with self._lock:
            try:
                counts = await self._sweep()
            except Exception:
                metrics.count_run("sweep", "error")
                log.exception("survey sweep failed; the next one will pick up from here")
                return {}
            metrics.count_run("sweep", "ok")
            return counts

    async def _sweep(self) -> dict[str, int]:
        now = self.runtime.clock.now()
        opened = invited = 0
        for survey in self.runtime.surveys:
            try:
                result = await self._open_due(survey, now)
            except Exception:
                # One survey's trouble (a channel the bot left, a race lost) must not stop
                # the others, nor the deliveries and closes below.
                log.exception("could not open the due round of survey %s", survey.id)
                continue
            if isinstance(result, surveys.Opened):
                opened += 1
                invited += result.due_now
                log.info(
                    "opened round %s of survey %s for %s people",
                    result.number,
                    survey.id,
                    result.invited,
                )
            elif isinstance(result, surveys.Skipped):
                log.info("survey %s not opened: %s", survey.id, result.reason)
        counts = await self.runtime.run(partial(steps.housekeep, now=now))
        counts["opened"] = opened
        counts["invited"] += invited
        try:
            counts["boards"] = await self._boards(now)
        except Exception:
            log.exception("posting the sprint board failed; the next sweep tries again")
        try:
            counts["digests"] = await self.runtime.run(
                partial(steps.send_digests, now=now, runtime=self.runtime)
            )
        except Exception:
            log.exception("sending digests failed; the next sweep tries again")
        if self.runtime.retention.on:
            try:
                counts["purged"] = await self.runtime.run(
                    partial(steps.purge, now=now, runtime=self.runtime)
                )
            except Exception:
                log.exception("the retention purge failed; the next sweep tries again")
        await self._purge_outbox(now, counts)
        if any(counts.values()):
            self.runtime.poke()
        return counts

    async def _purge_outbox(self, now: datetime, counts: dict[str, int]) -> None:
        """Once a day (UTC), on the replica that runs the scheduler: delete the finished
        outbox rows `retention.outbox_days` lets go, a batch per transaction, so writers
        never wait long behind it; counted in `counts` when there were any."""
        if self.runtime.retention.outbox_days is None or self._outbox_purged == now.date():
            return
        deleted, after = 0, 0
        try:
            while True:
                batch = await self.runtime.run_alongside(
                    partial(steps.purge_outbox, now=now, runtime=self.runtime, after=after)
                )
                deleted += batch.deleted
                if batch.resume_after is None:
                    break
                after = batch.resume_after
        except Exception:
            log.exception("purging the outbox failed; the next sweep tries again")
        else:
            self._outbox_purged = now.date()
        if deleted:
            counts["outbox_purged"] = deleted

    async def _boards(self, now: datetime) -> int:
        """Close the sprint that ended (freeze, final board) and post the mid-sprint update
        when its cron has fired; each keyed, so it happens once."""
        settings = self.runtime.boards
        calendar = self.runtime.policy.sprints
        channel = settings.channel or self.runtime.policy.recognition_channel
        teams = self.runtime.policy.teams_recognition_channel
        posted = 0
        ended = calendar.last_ended(now)
        # A sprint long over (before Plaudit ran, say) is not closed late with a post.
        if ended is not None and now - ended.end < timedelta(days=14):
            closed = await self.runtime.run(
                partial(
                    steps.close_sprint,
                    ended,
                    now=now,
                    settings=settings,
                    channel=channel,
                    teams_channel=teams,
                )
            )
            posted += int(closed)
        if settings.update_cron and (channel or teams):
            trigger = CronTrigger.from_crontab(
                settings.update_cron, timezone=ZoneInfo(settings.update_timezone or "UTC")
            )
            fire = await asyncio.to_thread(latest_fire, trigger, now, timedelta(hours=12))
            current = calendar.sprint_of(now)
            if fire is not None and current is not None and current.contains(fire):
                posted += int(
                    await self.runtime.run(
                        partial(
                            steps.post_update,
                            current,
                            period=period_key(fire),
                            now=now,
                            settings=settings,
                            channel=channel,
                            teams_channel=teams,
                        )
                    )
                )
        return posted

    async def _open_due(
        self, survey: surveys.Survey, now: datetime
    ) -> surveys.Opened | surveys.AlreadyOpen | surveys.Skipped | None:
        due = await asyncio.to_thread(due_period, survey, now)
        if due is None:
            return None
        period, closes_at, day = due
        if await self.runtime.run(partial(schedule.round_exists, survey.id, period)):
            return None
        members = None
        if survey.audience.slack_channel:
            if self.channel_members is None:
                return surveys.Skipped(
                    f"its audience is Slack channel {survey.audience.slack_channel} "
                    "and Slack is not configured"
                )
            members = await self.channel_members(survey.audience.slack_channel)
        return await self.runtime.run(
            partial(
                steps.open_round,
                survey,
                now=now,
                period=period,
                closes_at=closes_at,
                day=day,
                members=members,
                rollout=self.runtime.policy.rollout,
            )
        )
