"""The sweep's steps: each runs in one transaction, in a worker thread (`Runtime.run`), and
is keyed so that a second sweep, a restart or another replica does it no more than once."""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlmodel import Session

from bot.runtime import BoardSettings, Runtime
from handlers import digests, leaderboard, retention, surveys
from handlers.sprints import Sprint
from storage import maintenance, people, schedule

log = logging.getLogger("plaudit.scheduler")


def open_round(
    survey: surveys.Survey,
    session: Session,
    *,
    now: datetime,
    period: str,
    closes_at: datetime | None,
    day: date | None,
    members: list[str] | None,
) -> surveys.Opened | surveys.AlreadyOpen | surveys.Skipped:
    """Open the survey's round for `period` (once: the round is unique per period)."""
    return surveys.open_round(
        survey,
        session=session,
        now=now,
        period=period,
        closes_at=closes_at,
        local_day=day,
        channel_members=members,
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
    """Freeze the sprint that ended and queue its final board, once."""
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
    """Queue the mid-sprint board for the update cron's firing `period`, once."""
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
