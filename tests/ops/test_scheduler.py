"""The survey scheduler with a controllable clock: cron in a zone, catch-up, keyed runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.jobs.scheduler import Scheduler, due_period, latest_fire
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import surveys
from handlers.clock import FixedClock
from handlers.policy import KudosPolicy
from storage.models import Member, Outbox, SurveyRound

BERLIN = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    questions=(surveys.Question("enps", "enps", "Would you recommend working here?"),),
    schedule=surveys.Schedule(cron="0 10 * * mon", timezone="Europe/Berlin"),
    open_for=timedelta(days=2),
    results_channel="C0RESULTS",
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "fired", "period"),
    [
        ("2026-03-23T08:59", None, None),  # Monday 09:59 in Berlin (CET): not yet
        ("2026-03-23T09:00", "2026-03-23T09:00", "2026-03-23T10:00"),  # 10:00 CET
        ("2026-03-25T08:59", "2026-03-23T09:00", "2026-03-23T10:00"),  # still open
        ("2026-03-25T09:00", None, None),  # the round is over; nothing to catch up
        ("2026-03-30T08:00", "2026-03-30T08:00", "2026-03-30T10:00"),  # 10:00 CEST
        ("2026-10-26T09:00", "2026-10-26T09:00", "2026-10-26T10:00"),  # 10:00 CET again
    ],
)
def test_cron_in_berlin_fires_at_ten_local_time_across_dst(
    now: str, fired: str | None, period: str | None
) -> None:
    due = due_period(BERLIN, at(now))
    if fired is None:
        assert due is None
    else:
        assert due is not None
        key, closes_at, day = due
        assert key == period and day is None
        assert closes_at == at(fired) + BERLIN.open_for


@pytest.mark.parametrize(
    ("cron", "zone", "first", "second", "key"),
    [
        # 01:30 happens twice in New York on 1 November 2026 (EDT, then EST).
        ("30 1 * * *", "America/New_York", "2026-11-01T05:45", "2026-11-01T06:45", "T01:30"),
        # 02:00-03:00 happens twice in Berlin on 25 October 2026.
        ("0 * * * *", "Europe/Berlin", "2026-10-25T00:30", "2026-10-25T01:30", "T02:00"),
    ],
)
def test_the_night_a_clock_goes_back_is_one_period_and_ends(
    cron: str, zone: str, first: str, second: str, key: str
) -> None:
    survey = surveys.Survey(
        **{**BERLIN.__dict__, "schedule": surveys.Schedule(cron=cron, timezone=zone)}
    )
    during_first = due_period(survey, at(first))
    during_second = due_period(survey, at(second))
    assert during_first is not None and during_second is not None
    assert during_first[0] == during_second[0]  # the repeated hour is one round
    assert during_first[0].endswith(key)


def test_latest_fire_looks_back_no_further_than_asked() -> None:
    trigger = CronTrigger.from_crontab("*/15 * * * *", timezone=UTC)
    assert latest_fire(trigger, at("2026-01-01T10:07"), timedelta(minutes=10)) == at(
        "2026-01-01T10:00"
    )
    assert latest_fire(trigger, at("2026-01-01T10:07"), timedelta(minutes=5)) is None


def members(engine: Engine, count: int) -> None:
    with Session(engine) as session:
        for i in range(count):
            session.add(
                Member(
                    slack_team_id="T0001",
                    slack_user_id=f"U{i:04d}",
                    display_name=f"User {i}",
                    email=f"u{i}@example.com",
                )
            )
        session.commit()


def runtime(engine: Engine, clock: FixedClock, *found: surveys.Survey) -> Runtime:
    return Runtime(
        engine=engine,
        policy=KudosPolicy(),
        rules=default_rules(),
        clock=clock,
        surveys=found or (BERLIN,),
    )


def rounds(engine: Engine) -> list[SurveyRound]:
    with Session(engine) as session:
        return list(session.exec(select(SurveyRound)))


def invitations(engine: Engine) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(select(Outbox).where(Outbox.template == "survey.invite"))
        return sorted(o.channel for o in rows)


def test_two_firings_and_a_restart_open_one_round_and_invite_once(file_engine: Engine) -> None:
    members(file_engine, 3)
    clock = FixedClock(at("2026-03-23T09:00"))
    first = runtime(file_engine, clock)
    try:
        counts = asyncio.run(Scheduler(first).sweep())
        assert counts == {
            "opened": 1,
            "invited": 3,
            "reminded": 0,
            "closed": 0,
            "boards": 0,
            "digests": 0,
        }
        clock.advance(seconds=30)
        assert asyncio.run(Scheduler(first).sweep())["opened"] == 0
    finally:
        first.close()
    # The bot restarts an hour later: the same period is not opened again.
    clock.advance(hours=1)
    second = runtime(file_engine, clock)
    try:
        assert asyncio.run(Scheduler(second).sweep()) == {
            "opened": 0,
            "invited": 0,
            "reminded": 0,
            "closed": 0,
            "boards": 0,
            "digests": 0,
        }
        # Two days on, the round closes once and its results are queued.
        clock.advance(days=2)
        assert asyncio.run(Scheduler(second).sweep())["closed"] == 1
        assert asyncio.run(Scheduler(second).sweep())["closed"] == 0
    finally:
        second.close()
    assert len(rounds(file_engine)) == 1
    assert invitations(file_engine) == ["U0000", "U0001", "U0002"]


def test_a_round_due_while_the_bot_was_down_opens_once_at_start(file_engine: Engine) -> None:
    members(file_engine, 2)
    # Down from Monday 09:00 until Tuesday 15:00 UTC: the Monday round is caught up.
    clock = FixedClock(at("2026-03-24T15:00"))
    rt = runtime(file_engine, clock)
    try:
        assert asyncio.run(Scheduler(rt).sweep())["opened"] == 1
    finally:
        rt.close()
    (round_,) = rounds(file_engine)
    assert round_.period == "2026-03-23T10:00"  # 10:00 on Berlin's clock
    assert round_.closes_at == at("2026-03-25T09:00")


def test_a_round_missed_entirely_is_not_opened_late(file_engine: Engine) -> None:
    members(file_engine, 2)
    clock = FixedClock(at("2026-03-26T12:00"))  # Thursday: Monday's round is already over
    rt = runtime(file_engine, clock)
    try:
        assert asyncio.run(Scheduler(rt).sweep())["opened"] == 0
    finally:
        rt.close()
    assert rounds(file_engine) == []


def test_a_slack_channel_audience_is_read_from_slack(file_engine: Engine) -> None:
    members(file_engine, 4)
    channel = surveys.Survey(
        **{**BERLIN.__dict__, "audience": surveys.Audience(slack_channel="C0TEAM001")}
    )
    asked: list[str] = []

    async def channel_members(channel_id: str) -> list[str]:
        asked.append(channel_id)
        return ["U0001", "U0003"]

    rt = runtime(file_engine, FixedClock(at("2026-03-23T09:05")), channel)
    try:
        asyncio.run(Scheduler(rt, channel_members=channel_members).sweep())
    finally:
        rt.close()
    assert asked == ["C0TEAM001"]
    assert invitations(file_engine) == ["U0001", "U0003"]


def test_one_store_sync_per_interval_across_processes(file_engine: Engine) -> None:
    class Store:
        def __init__(self) -> None:
            self.syncs = 0

        def sync(self) -> object:
            self.syncs += 1
            return type("Report", (), {"awarded": []})()

    store = Store()
    clock = FixedClock(at("2026-03-23T09:00"))
    first, second = runtime(file_engine, clock), runtime(file_engine, clock)
    try:
        for rt in (first, second):  # two workers, the same interval
            asyncio.run(Scheduler(rt, store=store).sync_store())  # type: ignore[arg-type]
        clock.advance(minutes=15)
        asyncio.run(Scheduler(first, store=store).sync_store())  # type: ignore[arg-type]
    finally:
        first.close()
        second.close()
    assert store.syncs == 2
