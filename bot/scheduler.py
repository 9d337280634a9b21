"""Scheduled work: opening survey rounds, delivering and reminding, closing with results.

APScheduler 3.x (`AsyncIOScheduler`) fires a cron survey at its time; a sweep every
`sweep_seconds` (and once at start) does everything else and catches up on what was due
while the bot was down. Every run is keyed in the database (a round is unique per survey
and period; each invitation, reminder and result post has its own outbox key), so a
second firing, a restart, or two replicas sweeping at once never do anything twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session, select

from bot.runtime import Runtime
from handlers import surveys
from storage.models import SurveyRound

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
        sweep_seconds: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.channel_members = channel_members
        self.sweep_seconds = sweep_seconds
        self._aps: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
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
        aps.add_job(
            self.sweep,
            IntervalTrigger(seconds=self.sweep_seconds),
            id="surveys:sweep",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),  # once at start: catch up on what was missed
        )
        aps.start()
        self._aps = aps

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        async with self._lock:  # let a sweep in progress finish its transaction
            pass

    async def sweep(self) -> dict[str, int]:
        """One pass: open due rounds, queue due invitations and reminders, close rounds."""
        async with self._lock:
            try:
                return await self._sweep()
            except Exception:
                log.exception("survey sweep failed; the next one will pick up from here")
                return {}

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
        counts = await self.runtime.run(partial(_housekeeping, now=now))
        counts["opened"] = opened
        counts["invited"] += invited
        if any(counts.values()):
            self.runtime.poke()
        return counts

    async def _open_due(
        self, survey: surveys.Survey, now: datetime
    ) -> surveys.Opened | surveys.AlreadyOpen | surveys.Skipped | None:
        due = await asyncio.to_thread(due_period, survey, now)
        if due is None:
            return None
        period, closes_at, day = due
        if await self.runtime.run(partial(_round_exists, survey.id, period)):
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
                _open,
                survey,
                now=now,
                period=period,
                closes_at=closes_at,
                day=day,
                members=members,
            )
        )


def _round_exists(survey_id: str, period: str, session: Session) -> bool:
    stmt = select(SurveyRound.id).where(
        SurveyRound.survey_id == survey_id, SurveyRound.period == period
    )
    return session.exec(stmt).first() is not None


def _open(
    survey: surveys.Survey,
    session: Session,
    *,
    now: datetime,
    period: str,
    closes_at: datetime | None,
    day: date | None,
    members: list[str] | None,
) -> surveys.Opened | surveys.AlreadyOpen | surveys.Skipped:
    return surveys.open_round(
        survey,
        session=session,
        now=now,
        period=period,
        closes_at=closes_at,
        local_day=day,
        channel_members=members,
    )


def _housekeeping(session: Session, *, now: datetime) -> dict[str, int]:
    return {
        "invited": surveys.deliver_due(session=session, now=now),
        "reminded": surveys.remind_due(session=session, now=now),
        "closed": len(surveys.close_due(session=session, now=now)),
    }
