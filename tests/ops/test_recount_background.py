"""A server starts at once when the sprint totals need a recount: the leader recounts in the
background, boards say so meanwhile, a failed recount is tried again, and the current
sprint's totals are checked once after start."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from bot.chat import texts
from bot.cli import bootstrap
from bot.jobs import leader
from bot.jobs.scheduler import Scheduler
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import render as slack_render
from bot.teams import render as teams_render
from compliance_rules import default_rules
from handlers import leaderboard, sprints
from handlers.clock import FixedClock
from handlers.leaderboard import counting, recount
from handlers.messages import Template, check
from storage.db import transaction
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_recount import NEW, NOW, OLD, Office, full_recount, policy, totals
from tests.harness import TOKEN, Server, eventually


def runtime(engine: Engine) -> Runtime:
    return Runtime(engine=engine, policy=policy(NEW), rules=default_rules(), clock=FixedClock(NOW))


def pending(engine: Engine) -> bool:
    with Session(engine) as session:
        return recount.recounting(session)


@pytest.fixture
def counted(file_engine: Engine) -> Iterator[Engine]:
    """A year of kudos counted under the old settings; the runtime has the new ones."""
    Office(file_engine).year(OLD)
    with transaction(file_engine) as session:
        sprints.rebuild(session, OLD, now=NOW)
    yield file_engine


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, team_id="T0001") as fake:
        yield fake


class Held:
    """Counting that waits until released: a recount that takes its time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release, self.started = threading.Event(), threading.Event()
        original = counting.count_sprint

        def counting_meanwhile(session: Session, sprint: sprints.Sprint) -> Any:
            self.started.set()
            assert self.release.wait(20)
            return original(session, sprint)

        monkeypatch.setattr(counting, "count_sprint", counting_meanwhile)


def test_start_returns_before_the_recount_which_runs_in_the_background(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if backend != "sqlite":
        pytest.skip("build_runtime opens the database by its URL; the test schema is private")
    engine_url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    config = tmp_path / "plaudit.yaml"
    config.write_text("sprints:\n  timezone: Pacific/Auckland\n  fiscal_start_month: 2\n")
    settings = Settings.model_validate(
        {"PLAUDIT_DATABASE_URL": engine_url, "PLAUDIT_CONFIG": str(config)}
    )
    first = bootstrap.build_runtime(settings)  # migrates; nothing to count yet
    Office(first.engine).year(OLD)
    with transaction(first.engine) as session:
        sprints.rebuild(session, OLD, now=NOW)
    before = totals(first.engine)
    first.close()
    held = Held(monkeypatch)
    began = time.monotonic()
    with caplog.at_level(logging.INFO, logger="plaudit"):
        served = bootstrap.build_runtime(settings, serving=True)
    try:
        assert time.monotonic() - began < 5
        assert "recounted in the background" in caplog.text
        assert not held.started.is_set()  # nothing was counted on the way up
        assert pending(served.engine) and totals(served.engine) == before
    finally:
        held.release.set()
        served.close()


def test_boards_say_recounting_until_the_background_recount_is_done(
    counted: Engine, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap._recount_if_needed(runtime(counted), background=True)
    assert pending(counted)
    # A lock of this test's own: another run's servers on the same PostgreSQL lead theirs.
    monkeypatch.setattr(leader, "LOCK_KEY", random.randrange(1 << 30))
    held = Held(monkeypatch)
    server = Server(
        counted, slack_api_url=slack.base_url, policy=policy(NEW), clock=FixedClock(NOW)
    )
    server.start()
    try:
        assert held.started.wait(10)  # the leader is recounting, and the server serves
        answer = server.command("leaderboard").json()["text"]
        assert leaderboard.RECOUNTING in answer and "1. " not in answer
        held.release.set()
        eventually(lambda: not pending(counted), timeout=20)
        answer = server.command("leaderboard").json()["text"]
        assert "1. " in answer and leaderboard.RECOUNTING not in answer
    finally:
        held.release.set()
        server.stop()
    assert totals(counted) == full_recount(counted, NEW)


def test_a_failed_recount_is_logged_and_tried_again(
    counted: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rt = runtime(counted)
    bootstrap._recount_if_needed(rt, background=True)
    original = counting.count_sprint
    failures = [RuntimeError("the disk is full")]

    def counting_meanwhile(session: Session, sprint: sprints.Sprint) -> Any:
        if failures:
            raise failures.pop()
        return original(session, sprint)

    monkeypatch.setattr(counting, "count_sprint", counting_meanwhile)
    try:
        with caplog.at_level(logging.ERROR, logger="plaudit.scheduler"):
            asyncio.run(Scheduler(rt).recount())
        assert "recounting the sprint totals failed" in caplog.text
        assert pending(counted)
        asyncio.run(Scheduler(rt).recount())  # the next run
    finally:
        rt.close()
    assert not pending(counted)
    assert totals(counted) == full_recount(counted, NEW)


class Standby:
    """A replica that does not hold the scheduler's lock."""

    is_leader = False


def test_only_the_leader_recounts(counted: Engine) -> None:
    rt = runtime(counted)
    try:
        bootstrap._recount_if_needed(rt, background=True)
        asyncio.run(Scheduler(rt, leader=Standby()).recount())  # type: ignore[arg-type]
        assert pending(counted)
        asyncio.run(Scheduler(rt).recount())
        assert not pending(counted)
    finally:
        rt.close()


def test_the_leader_checks_the_current_sprint_once_after_start(
    counted: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    rt = runtime(counted)
    rt.policy = policy(OLD)  # the settings the totals were counted under
    right = totals(counted)

    def drift() -> None:
        with transaction(counted) as session:
            session.connection().execute(
                text(
                    "UPDATE leaderboard_total SET given = given + 2 "
                    "WHERE sprint = '2026Q4' AND value_tag = ''"
                )
            )

    drift()

    async def start_then_runs() -> None:
        scheduler = Scheduler(rt, verify_after=0)
        await scheduler.recount()
        assert totals(counted) == right
        drift()
        await scheduler.recount()  # once after start: cheap

    try:
        with caplog.at_level(logging.WARNING, logger="plaudit.scheduler"):
            asyncio.run(start_then_runs())
    finally:
        rt.close()
    assert caplog.text.count("differed from a recount") == 1
    assert totals(counted) != right


def test_a_command_line_start_recounts_before_the_command_runs(counted: Engine) -> None:
    rt = runtime(counted)
    try:
        bootstrap._recount_if_needed(rt)
    finally:
        rt.close()
    assert not pending(counted)
    assert totals(counted) == full_recount(counted, NEW)


def test_a_posted_board_being_recounted_renders_on_slack_and_teams() -> None:
    board = {"sprint": "2026Q4", "rows": [], "recounting": True}
    post = {"sprint": "2026Q4", "final": False, "person": board, "team": board, "top": 10}
    check(Template.LEADERBOARD_POST, "slack", post)
    slack = slack_render.RENDERERS[Template.LEADERBOARD_POST](post)
    assert leaderboard.RECOUNTING in str(getattr(slack, "text", slack))
    teams = teams_render.RENDERERS[Template.LEADERBOARD_POST](post)
    assert leaderboard.RECOUNTING in str(teams)
    assert leaderboard.RECOUNTING in teams_render.markdown(texts.board(board, title="Board"))
