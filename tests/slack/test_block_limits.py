"""Long answers and posts over real HTTP, each taken by the strict fake as it stands: the
leaderboard at its top 50, a digest naming 100 quiet reports, a compliance answer that repeats
a 3,000+ character text, the forms filled from it, and the kudos form with oversize values.
Names and texts carry emoji (two UTF-16 units each) and characters Slack escapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.runtime import BoardSettings
from bot.slack import blocks
from handlers import digests
from handlers.policy import KudosPolicy
from storage.models import LeaderboardTotal, Member, Recognition
from tests.fakes.slack_api import Call, FakeSlack, broadcasts, refusal
from tests.harness import TOKEN, Server
from tests.transcript.words import decoded, message_text

PARTY = "\U0001f389"
POLICY = KudosPolicy(recognition_channel="C0KUDOS", safety_channel="C0SAFETY")
# 3,200 characters, blocked for its superlative; the answer quotes it and offers it rewritten.
LONG_BLOCKED = "the Oncozol email calls it the best treatment, thanks for " + " ".join(
    f"step {n} {PARTY} with R&D" for n in range(163)
)


def name(n: int) -> str:
    """A display name as people set them: emoji, an ampersand, angle brackets."""
    return f"{PARTY * 12} Person {n:03d} of R&D <Launch> {PARTY * 12}"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice", email="alice@example.com", tz="UTC")
    fake.add_user("U0002", "bob", email="bob@example.com")
    with fake:
        yield fake


def serve(engine: Engine, slack: FakeSlack, policy: KudosPolicy = POLICY, top: int = 10) -> Server:
    server = Server(engine, slack_api_url=slack.base_url, policy=policy)
    server.runtime.boards = replace(BoardSettings(), top=top)
    return server.start()


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    running = serve(file_engine, slack)
    yield running
    running.stop()


def command(server: Server, text: str, trigger: str) -> dict[str, Any]:
    response = server.command(text, user_id="U0001", trigger_id=trigger)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json() if response.content else {}
    assert refusal("chat.postEphemeral", answer) is None, refusal("chat.postEphemeral", answer)
    return answer


def taken(slack: FakeSlack, method: str, count: int = 1) -> list[Call]:
    """The first `count` calls of `method`, each one taken by the strict fake as it was sent
    (no plain-text second try) and pinging nobody beyond its mentions."""
    calls = slack.wait_for(method, count)
    for call in calls:
        assert refusal(call.method, call.args) is None, refusal(call.method, call.args)
        assert broadcasts(call.args) == []
    return calls


def members(engine: Engine, count: int, **extra: Any) -> list[int]:
    """`count` people on the roster with names of `name()`, known only to Teams."""
    with Session(engine) as session:
        added = [
            Member(
                display_name=name(n), teams_aad_id=f"aad-{n}", email=f"p{n}@example.com", **extra
            )
            for n in range(count)
        ]
        session.add_all(added)
        session.commit()
        return [int(m.id or 0) for m in added]


def test_the_leaderboard_at_its_top_50_is_taken_whole(
    file_engine: Engine, slack: FakeSlack
) -> None:
    server = serve(file_engine, slack, top=50)
    try:
        sprint = POLICY.sprints.sprint_of(datetime.now(UTC))
        assert sprint is not None
        with Session(file_engine) as session:
            for rank, member in enumerate(members(file_engine, 50)):
                points = 100 - rank
                session.add(
                    LeaderboardTotal(
                        sprint=sprint.id, member_id=member, received=points, points=points
                    )
                )
            session.commit()

        answer = command(server, "leaderboard", "top-50")
    finally:
        server.stop()
    assert len(answer["blocks"]) > 1  # more than one section's worth
    shown = message_text(answer)
    assert "shortened" not in shown
    for n in range(50):
        assert f"{n + 1}. {name(n)}: {100 - n}" in shown


def test_a_digest_naming_100_quiet_reports_is_taken_whole(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    with Session(file_engine) as session:
        alice = Member(display_name="Alice", slack_team_id="T0001", slack_user_id="U0001")
        session.add(alice)
        session.commit()
        manager = int(alice.id or 0)
    members(file_engine, 100, manager_id=manager, created_at=datetime.now(UTC) - timedelta(90))
    now = server.runtime.clock.now()
    schedule = digests.DigestSchedule(weekday=now.weekday(), at=time(0, 0))

    queued = server.runtime.run_sync(
        lambda s: digests.send_due(s, now=now, policy=POLICY, schedule=schedule)
    )
    server.runtime.poke()

    assert queued == 1
    [digest] = taken(slack, "chat.postMessage")
    assert digest.args["channel"] == "U0001" and digest.args.get("blocks")
    shown = message_text(digest.args)
    assert all(name(n) in shown for n in range(100))


def test_an_answer_repeating_a_3000_character_text_is_taken_and_its_form_opens(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    assert len(LONG_BLOCKED) > 3000

    answer = command(server, f"<@U0002|bob> {LONG_BLOCKED.replace('&', '&amp;')}", "long-1")

    shown = message_text(answer)
    assert "This kudos was not posted" in shown
    assert shown.count("with R&D") == 163  # said back whole, in the rewrite offered
    assert "&amp;amp;" not in json.dumps(answer)
    with Session(file_engine) as session:
        recognition = session.exec(select(Recognition)).one()
    edit = {"type": "button", "action_id": blocks.EDIT_KUDOS, "value": str(recognition.id)}
    clicked = server.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": "U0001", "team_id": "T0001"},
            "trigger_id": "edit-1",
            "channel": {"id": "C0001"},
            "container": {"type": "message", "is_ephemeral": True, "channel_id": "C0001"},
            "actions": [{**edit, "block_id": "b", "action_ts": "1700000000.000001"}],
        }
    )
    assert clicked.status_code == 200
    [opened] = taken(slack, "views.open")
    form = decoded(opened.args["view"])
    [message] = [b for b in form["blocks"] if b["block_id"] == "message"]
    filled = message["element"]["initial_value"]  # the rewrite, as much as the form holds
    assert filled.startswith("the Oncozol email calls it an approved treatment option")
    assert 1990 < len(filled.encode("utf-16-le")) // 2 <= 2000


def test_the_answer_to_a_long_form_is_taken(server: Server, slack: FakeSlack) -> None:
    text = LONG_BLOCKED[:2000]  # all the form takes
    values = {
        "recipients": {"users": {"type": "multi_users_select", "selected_users": ["U0002"]}},
        "message": {"text": {"type": "plain_text_input", "value": text}},
    }
    view = {"id": "V1", "hash": "1.a", "callback_id": blocks.MODAL_CALLBACK, "type": "modal"}
    submitted = server.interaction(
        {
            "type": "view_submission",
            "team": {"id": "T0001"},
            "user": {"id": "U0001", "team_id": "T0001"},
            "view": {**view, "private_metadata": "", "state": {"values": values}},
        }
    )
    assert submitted.status_code == 200
    [notice] = taken(slack, "chat.postMessage")
    assert "This kudos was not posted" in message_text(notice.args)


def test_the_kudos_form_takes_oversize_values(file_engine: Engine, slack: FakeSlack) -> None:
    values = (*(f"#value-{n}-" + "long" * 40 for n in range(120)), "#short")
    server = serve(file_engine, slack, policy=replace(POLICY, values=values))
    try:
        command(server, "", "form-1")
        [opened] = taken(slack, "views.open")
    finally:
        server.stop()
    options = decoded(opened.args["view"])["blocks"][1]["element"]["options"]
    assert [o["value"] for o in options] == ["#short"]  # the only value Slack can take
