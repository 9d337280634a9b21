"""Surveys in Slack over real HTTP: DMs delivered, buttons clicked, answers kept, results posted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from handlers import surveys
from storage.models import Member, Outbox, SurveyAnswer
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN, Server, eventually

SURVEY = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    intro="Two minutes, please.",
    questions=(
        surveys.Question("energy", "scale", "How energised do you feel?", ("Drained", "Great")),
        surveys.Question("focus", "choice", "What got in the way?", options=("Meetings", "Tools")),
        surveys.Question("comment", "text", "Anything else?", optional=True),
    ),
    # Due every day at midnight UTC and open for two days: there is always a round to open.
    schedule=surveys.Schedule(cron="0 0 * * *", timezone="UTC"),
    open_for=timedelta(days=2),
    anonymous=False,
    min_responses=1,
    results_channel="C0RESULTS",
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    with fake:
        yield fake


def add_members(engine: Engine, count: int) -> None:
    with Session(engine) as session:
        for i in range(1, count + 1):
            session.add(
                Member(
                    slack_team_id="T0001",
                    slack_user_id=f"U{i:04d}",
                    email=f"user{i}@example.com",
                    display_name=f"User {i}",
                )
            )
        session.commit()


@pytest.fixture
def server(file_engine: Engine, slack: FakeSlack) -> Iterator[Server]:
    add_members(file_engine, 3)
    running = Server(file_engine, slack_api_url=slack.base_url, surveys=(SURVEY,)).start()
    yield running
    running.stop()


def action(
    user: str, message: dict[str, Any], element: dict[str, Any], **chosen: Any
) -> dict[str, Any]:
    """A block_actions payload for a click on `element` of the DM `message`."""
    return {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": user},
        "channel": {"id": user},
        "message": message,
        "actions": [
            {
                "type": element["type"],
                "action_id": element["action_id"],
                "block_id": chosen.pop("block_id"),
                "action_ts": "1700000001.000100",
                **({"value": element["value"]} if "value" in element else {}),
                **chosen,
            }
        ],
    }


def elements(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (block["block_id"], element)
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def decoded(value: Any) -> Any:
    """An argument as Slack received it: JSON in a form field, or already a JSON value."""
    return json.loads(value) if isinstance(value, str) else value


def dm(slack: FakeSlack, user: str) -> dict[str, Any]:
    eventually(lambda: bool(slack.messages(user)))
    return slack.messages(user)[0]


def test_the_scheduler_opens_the_due_round_and_each_member_gets_one_dm(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    slack.wait_for("chat.postMessage", 3)
    time.sleep(0.3)
    posts = slack.calls("chat.postMessage")
    assert sorted(c.args["channel"] for c in posts) == ["U0001", "U0002", "U0003"]
    message = dm(slack, "U0001")
    assert message["text"].startswith("Weekly pulse")
    actions = [e["action_id"] for _, e in elements(message)]
    assert actions[:5] == [f"survey:energy:{v}" for v in range(1, 6)]
    assert "survey:focus" in actions and "survey-text:comment" in actions


def test_a_click_records_the_answer_and_redraws_the_message(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    message = dm(slack, "U0001")
    block, four = next((b, e) for b, e in elements(message) if e["action_id"] == "survey:energy:4")
    assert server.interaction(action("U0001", message, four, block_id=block)).status_code == 200
    (update,) = slack.wait_for("chat.update")
    assert update.args["channel"] == "U0001" and update.args["ts"] == message["ts"]
    redrawn = {"blocks": decoded(update.args["blocks"]), "ts": message["ts"]}
    chosen = [e["action_id"] for _, e in elements(redrawn) if e.get("style") == "primary"]
    assert chosen == ["survey:energy:4"]
    # A changed mind replaces the answer.
    block, two = next((b, e) for b, e in elements(message) if e["action_id"] == "survey:energy:2")
    server.interaction(action("U0001", message, two, block_id=block))
    slack.wait_for("chat.update", 2)
    block, menu = next((b, e) for b, e in elements(message) if e["action_id"] == "survey:focus")
    picked = {"text": {"type": "plain_text", "text": "Tools"}, "value": "Tools"}
    server.interaction(action("U0001", message, menu, block_id=block, selected_option=picked))
    slack.wait_for("chat.update", 3)
    with Session(file_engine) as session:
        rows = session.exec(select(SurveyAnswer).order_by(SurveyAnswer.question_id)).all()
        assert [(r.question_id, r.score, r.choices) for r in rows] == [
            ("energy", 2, []),
            ("focus", None, ["Tools"]),
        ]


def test_answers_after_close_are_refused_politely_and_results_are_posted_with_a_chart(
    server: Server, slack: FakeSlack, file_engine: Engine
) -> None:
    message = dm(slack, "U0003")
    block, three = next((b, e) for b, e in elements(message) if e["action_id"] == "survey:energy:3")
    server.interaction(action("U0003", message, three, block_id=block))
    slack.wait_for("chat.update")
    with Session(file_engine) as session:
        round_ = surveys.latest_round(session, "pulse")
        assert round_ is not None and round_.id is not None
        surveys.close_round(round_.id, session=session, now=datetime.now(UTC))
        session.commit()
    server.runtime.poke()
    (complete,) = slack.wait_for("files.completeUploadExternal")
    assert complete.args["channel_id"] == "C0RESULTS"
    assert "1 of 3 answered" in complete.args["initial_comment"]
    file_id = decoded(complete.args["files"])[0]["id"]
    assert slack.file(file_id).startswith(b"\x89PNG")
    server.interaction(action("U0003", message, three, block_id=block))
    (refusal,) = slack.wait_for("chat.postEphemeral")
    assert "closed" in refusal.args["text"] and refusal.args["user"] == "U0003"
    with Session(file_engine) as session:
        assert session.exec(select(SurveyAnswer)).one().score == 3

    def results_status() -> str:
        with Session(file_engine) as session:
            query = select(Outbox).where(Outbox.template == "survey.results")
            return session.exec(query).one().status

    # Outcomes are written a moment after the send, in a batch.
    eventually(lambda: results_status() == "delivered")


def test_fan_out_under_a_429_storm_reaches_everyone_exactly_once(
    file_engine: Engine, slack: FakeSlack
) -> None:
    add_members(file_engine, 30)
    slack.rate_limit = 10
    running = Server(file_engine, slack_api_url=slack.base_url, surveys=(SURVEY,)).start()
    try:
        eventually(lambda: len({m for m in _delivered(slack)}) == 30, timeout=20)
        time.sleep(0.5)
    finally:
        running.stop()
    delivered = _delivered(slack)
    assert len(delivered) == 30 and len(set(delivered)) == 30
    statuses = [c for c in slack.calls("chat.postMessage")]
    assert len(statuses) > 30  # some were refused with 429 and sent again later


def _delivered(slack: FakeSlack) -> list[str]:
    return [f"U{i:04d}" for i in range(1, 31) for _ in slack.messages(f"U{i:04d}")]
