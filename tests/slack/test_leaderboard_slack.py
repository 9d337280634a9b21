"""Sprint boards in Slack and on the command line: asked for, posted on schedule, frozen."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cli.main import main
from bot.jobs.scheduler import Scheduler
from bot.runtime import BoardSettings, Runtime
from compliance_rules import default_rules
from handlers import kudos, leaderboard
from handlers.clock import FixedClock
from handlers.events import KudosRequested
from handlers.policy import KudosPolicy
from storage import migrate
from storage.db import make_engine
from storage.models import Outbox, ScheduledRun, SprintSnapshot
from tests.conftest import slack_person
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN, Server, eventually

POLICY = KudosPolicy(recognition_channel="C0KUDOS", min_message_length=0, daily_allowance=20)
ANN = slack_person("U0001", "Ann")
BEN = slack_person("U0002", "Ben")
CAT = slack_person("U0003", "Cat")


def give(engine: Engine, at: datetime, giver: object, *to: object, n: int) -> None:
    with Session(engine) as session:
        event = KudosRequested(
            f"k{n}",
            giver,  # type: ignore[arg-type]
            tuple(to),  # type: ignore[arg-type]
            "thanks for the launch #collaboration",
            ("#collaboration",),
            "command",
            "C0GENERAL",
        )
        result = kudos.give(event, session=session, policy=POLICY, clock=FixedClock(at))
        assert isinstance(result, kudos.Recorded), result
        session.commit()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, team_id="T0001") as fake:
        yield fake


def test_kudos_leaderboard_answers_privately(file_engine: Engine, slack: FakeSlack) -> None:
    now = datetime.now(UTC)
    give(file_engine, now, ANN, BEN, CAT, n=1)
    give(file_engine, now, CAT, BEN, n=2)
    server = Server(file_engine, slack_api_url=slack.base_url, policy=POLICY).start()
    try:
        body = server.command("leaderboard").json()
        assert body["response_type"] == "ephemeral"
        assert "1. <@U0002>: 2" in body["text"] and "2. <@U0003>: 1" in body["text"]
        givers = server.command("leaderboard givers").json()["text"]
        assert "Most appreciative" in givers and "1. <@U0001>: 2" in givers
        valued = server.command("leaderboard #collaboration").json()["text"]
        assert "value #collaboration" in valued
        assert "Try `/kudos leaderboard`" in server.command("leaderboard nonsense").json()["text"]
    finally:
        server.stop()
    # The kudos themselves were posted; the boards asked for were not.
    assert not any("Leaderboard" in str(c.args) for c in slack.calls("chat.postMessage"))


def runtime(engine: Engine, clock: FixedClock, **boards: object) -> Runtime:
    return Runtime(
        engine=engine,
        policy=POLICY,
        rules=default_rules(),
        clock=clock,
        boards=BoardSettings(**boards),  # type: ignore[arg-type]
    )


def outbox(engine: Engine, template: str) -> list[Outbox]:
    with Session(engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.template == template)))


def test_the_sprint_closes_once_and_its_final_board_is_frozen(file_engine: Engine) -> None:
    give(file_engine, datetime(2026, 12, 20, tzinfo=UTC), ANN, BEN, n=1)
    clock = FixedClock(datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    for _ in range(2):  # two sweeps (or two replicas): one close, one post
        rt = runtime(file_engine, clock, rules={"top": 10})
        try:
            counts = asyncio.run(Scheduler(rt).sweep())
        finally:
            rt.close()
        clock.advance(minutes=1)
    assert counts["boards"] == 0
    (final,) = outbox(file_engine, "leaderboard.post")
    assert final.key == "leaderboard:2026Q4:final" and final.channel == "C0KUDOS"
    assert final.data["final"] and final.data["person"]["rows"][0]["name"] == "Ben"
    with Session(file_engine) as session:
        snapshot = session.exec(select(SprintSnapshot)).one()
        assert snapshot.sprint == "2026Q4" and snapshot.data["rules"] == {"top": 10}
    # A kudos dated in the closed sprint later (an import) does not move the frozen board.
    give(file_engine, datetime(2026, 12, 21, tzinfo=UTC), CAT, ANN, n=2)
    with Session(file_engine) as session:
        again = session.exec(select(SprintSnapshot)).one()
        assert again.data == snapshot.data


def test_the_mid_sprint_update_is_posted_once_per_firing(file_engine: Engine) -> None:
    give(file_engine, datetime(2026, 11, 20, tzinfo=UTC), ANN, BEN, n=1)
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday 10:00 in Berlin
    settings = {"update_cron": "0 10 * * mon", "update_timezone": "Europe/Berlin"}
    for minutes in (0, 1, 30):
        clock.at = datetime(2026, 11, 23, 9, minutes, tzinfo=UTC)
        rt = runtime(file_engine, clock, **settings)
        try:
            asyncio.run(Scheduler(rt).sweep())
        finally:
            rt.close()
    (update,) = outbox(file_engine, "leaderboard.post")
    assert update.key == "leaderboard:2026Q4:update:2026-11-23T10:00"
    assert not update.data["final"]
    with Session(file_engine) as session:
        runs = session.exec(select(ScheduledRun)).all()
        assert [(r.job, r.period) for r in runs] == [("leaderboard.update", "2026-11-23T10:00")]


def test_a_posted_board_is_uploaded_as_a_chart(file_engine: Engine, slack: FakeSlack) -> None:
    give(file_engine, datetime.now(UTC), ANN, BEN, n=1)
    with Session(file_engine) as session:
        sprint = POLICY.sprints.sprint_of(datetime.now(UTC))
        assert sprint is not None
        leaderboard.queue_post(
            session, sprint, key="board-test", channel="C0KUDOS", workspace="T0001", final=False
        )
        session.commit()
    server = Server(file_engine, slack_api_url=slack.base_url, policy=POLICY).start()
    try:
        (complete,) = slack.wait_for("files.completeUploadExternal", timeout=10)
        eventually(lambda: outbox(file_engine, "leaderboard.post")[0].status == "delivered")
    finally:
        server.stop()
    assert complete.args["channel_id"] == "C0KUDOS"
    assert "1. <@U0002>: 1" in complete.args["initial_comment"]
    files = complete.args["files"]
    file_id = (json.loads(files) if isinstance(files, str) else files)[0]["id"]
    assert slack.file(file_id).startswith(b"\x89PNG")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "PLAUDIT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'plaudit.db'}")
    return tmp_path


def test_leaderboard_and_sprint_commands(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(f"sqlite:///{workdir / 'plaudit.db'}")
    migrate.upgrade(engine)
    last_quarter = datetime.now(UTC) - timedelta(days=100)
    give(engine, last_quarter, ANN, BEN, CAT, n=1)
    give(engine, last_quarter, CAT, BEN, n=2)
    engine.dispose()
    sprint = POLICY.sprints.sprint_of(last_quarter)
    assert sprint is not None
    capsys.readouterr()
    assert main(["leaderboard", "--sprint", sprint.id, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {
        "rank": 1,
        "email": "ben@example.com",
        "display_name": "Ben",
        "points": 2,
        "recognition_points": 2,
        "milestone_points": 0,
    }
    assert main(["leaderboard", "--sprint", sprint.id, "--by", "givers", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("1,ann@example.com,Ann,2,")
    assert main(["sprint", "show", sprint.id]) == 1  # not frozen yet
    assert main(["sprint", "close", sprint.id]) == 0
    assert main(["sprint", "show", sprint.id]) == 0
    shown = capsys.readouterr().out
    assert "1. Ben: 2" in shown and "sha256" in shown
    current = POLICY.sprints.sprint_of(datetime.now(UTC))
    assert current is not None
    assert main(["sprint", "close", current.id]) == 2  # still running
    assert main(["leaderboard", "--sprint", "1999Q9"]) == 2
