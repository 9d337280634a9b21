"""Slack Web API calls a command makes: people resolved together within Slack's three
seconds, an answer past the deadline sent once through response_url, and kudos given where
Plaudit may not post told so and never lost."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.slack.people import SlackPeople
from handlers.policy import KudosPolicy
from storage.models import Outbox, Recognition
from tests.fakes.slack_api import Call, FakeSlack
from tests.harness import TOKEN, Server, eventually, payload

# Slack shows the giver "operation_timeout" when the answer takes longer than this.
SLACK_DEADLINE = 3.0
TEN = [f"U{n:04d}" for n in range(2, 12)]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001")
    fake.add_user("U0001", "alice")
    for user in TEN:
        fake.add_user(user, f"person{user[-2:]}")
    with fake:
        yield fake


def serve(
    engine: Engine,
    slack: FakeSlack,
    *,
    recognition_channel: str | None = "C0KUDOS",
    allow_guests: bool = False,
) -> Server:
    policy = KudosPolicy(
        recognition_channel=recognition_channel, daily_allowance=20, allow_guests=allow_guests
    )
    return Server(engine, slack_api_url=slack.base_url, policy=policy).start()


def most_at_once(calls: list[Call]) -> int:
    """The most calls that were in flight together (arrived, not yet answered)."""
    return max(sum(1 for o in calls if o.at <= c.at < (o.ended or 0)) for c in calls)


def recognitions(engine: Engine) -> int:
    with Session(engine) as s:
        return len(s.exec(select(Recognition.id)).all())


def test_ten_recipients_are_looked_up_together_and_answered_in_the_ack(
    file_engine: Engine, slack: FakeSlack
) -> None:
    slack.delay("users.info", 0.25)
    server = serve(file_engine, slack)
    try:
        mentions = " ".join(f"<@{u}|x>" for u in TEN)
        started = time.monotonic()
        response = server.command(f"{mentions} for the launch plan #collaboration")
        took = time.monotonic() - started
    finally:
        server.stop()
    assert response.status_code == 200
    assert "Kudos recorded" in response.json()["text"]
    lookups = [c for c in slack.calls("users.info") if c.args["user"] in TEN]
    assert sorted(c.args["user"] for c in lookups) == TEN  # each once
    # Asked together, not one after another (which alone would take 2.5 s of the 3).
    assert most_at_once(lookups) >= 5
    assert took < SLACK_DEADLINE
    assert slack.calls("response_url") == []  # nothing more to say after the ack


def test_a_slow_answer_is_acknowledged_in_time_and_sent_once_through_response_url(
    file_engine: Engine, slack: FakeSlack
) -> None:
    slack.delay("users.info", 2.5)
    url = slack.response_url("commands/T0001/42/slow")
    server = serve(file_engine, slack)
    try:
        started = time.monotonic()
        response = server.command("<@U0002|x> <@U0003|y> for the launch plan", response_url=url)
        acked = time.monotonic()
        eventually(lambda: bool(slack.responses(url)), timeout=15)
        time.sleep(0.5)  # room for a second answer, which must not come
    finally:
        server.stop()
    assert response.status_code == 200
    assert "Kudos recorded" not in response.text  # acknowledged before the answer was ready
    assert acked - started < SLACK_DEADLINE
    # The acknowledgement came back before the look-ups Slack was waiting on had ended.
    assert acked < max(c.ended or 0 for c in slack.calls("users.info"))
    (answer,) = slack.responses(url)
    assert answer["response_type"] == "ephemeral"
    assert "Kudos recorded for" in answer["text"]
    assert recognitions(file_engine) == 1


@pytest.mark.parametrize(
    ("channel", "kind"),
    [("G0PRIVATE", "private"), ("D0TWOPEOPLE", "im")],
)
def test_a_kudos_where_plaudit_may_not_post_is_kept_and_the_giver_told(
    file_engine: Engine, slack: FakeSlack, channel: str, kind: str
) -> None:
    slack.add_channel(channel, kind=kind, member=False)
    server = serve(file_engine, slack, recognition_channel=None)
    try:
        response = server.command("<@U0002|x> for the launch plan", channel_id=channel)
        eventually(lambda: bool(slack.messages("U0002")))
        time.sleep(0.5)  # the dispatcher would have tried the channel by now
    finally:
        server.stop()
    text = response.json()["text"]
    assert "Kudos recorded for" in text and "can't post in this conversation" in text
    assert json.dumps(response.json()["blocks"]).count("can't post in this conversation") == 1
    assert recognitions(file_engine) == 1
    assert [c for c in slack.calls("chat.postMessage") if c.args["channel"] == channel] == []
    with Session(file_engine) as s:
        rows = s.exec(select(Outbox)).all()
    assert rows and all(r.status == "delivered" for r in rows)  # nothing died on the way


@pytest.mark.parametrize(
    ("channel", "kind"),
    [("C0PUBLIC", "public"), ("G0OURS", "private"), ("D0001", "im")],
)
def test_a_kudos_where_plaudit_may_post_is_posted_there(
    file_engine: Engine, slack: FakeSlack, channel: str, kind: str
) -> None:
    # A public channel takes posts without Plaudit in it; D0001 is Plaudit's own DM with U0001.
    slack.add_channel(channel, kind=kind, member=kind != "public")
    server = serve(file_engine, slack, recognition_channel=None)
    try:
        response = server.command("<@U0002|x> for the launch plan", channel_id=channel)
        eventually(lambda: bool(slack.messages(channel)))
    finally:
        server.stop()
    assert "can't post" not in response.json()["text"]
    assert "Kudos recorded for" in response.json()["text"]


def test_a_form_kudos_where_plaudit_may_not_post_is_answered_by_dm(
    file_engine: Engine, slack: FakeSlack
) -> None:
    slack.add_channel("G0PRIVATE", kind="private", member=False)
    server = serve(file_engine, slack, recognition_channel=None)
    submission = payload("view_submission_kudos.json")  # U0001 to U0002
    submission["view"]["private_metadata"] = "G0PRIVATE"
    giver = submission["user"]["id"]
    try:
        assert server.interaction(submission).status_code == 200
        eventually(lambda: bool(slack.messages(giver)))
        time.sleep(0.5)
    finally:
        server.stop()
    (answer,) = slack.messages(giver)
    assert "can't post in this conversation" in answer["text"]
    assert recognitions(file_engine) == 1
    assert slack.calls("chat.postEphemeral") == []
    with Session(file_engine) as s:
        assert all(r.status == "delivered" for r in s.exec(select(Outbox)).all())


def test_people_asked_for_together_are_each_asked_once(slack: FakeSlack) -> None:
    slack.delay("users.info", 0.2)

    async def ask() -> tuple[list[str], list[str]]:
        people = SlackPeople(AsyncWebClient(token=TOKEN, base_url=slack.base_url))
        wanted = ("U0002", "U0003", "U0002", "U0004")
        # Two commands naming the same people at the same moment.
        first, second = await asyncio.gather(
            people.many("T0001", wanted), people.many("T0001", wanted[::-1])
        )
        return [p.user_id for p in first], [p.user_id for p in second]

    first, second = asyncio.run(ask())
    assert first == ["U0002", "U0003", "U0002", "U0004"]
    assert second == ["U0004", "U0002", "U0003", "U0002"]
    assert sorted(c.args["user"] for c in slack.calls("users.info")) == [
        "U0002",
        "U0003",
        "U0004",
    ]


@pytest.mark.parametrize("allow_guests", [False, True], ids=["default", "guests-allowed"])
def test_a_kudos_in_a_channel_shared_with_another_organisation_is_not_posted_there(
    file_engine: Engine, slack: FakeSlack, allow_guests: bool
) -> None:
    slack.add_channel("C0CONNECT", kind="public", member=True, ext_shared=True)
    server = serve(file_engine, slack, recognition_channel=None, allow_guests=allow_guests)
    try:
        response = server.command("<@U0002|x> for the joint launch plan", channel_id="C0CONNECT")
        eventually(lambda: bool(slack.messages("U0002")))
        time.sleep(0.5)  # the dispatcher would have tried the channel by now
    finally:
        server.stop()
    posted = [c for c in slack.calls("chat.postMessage") if c.args["channel"] == "C0CONNECT"]
    assert recognitions(file_engine) == 1
    if allow_guests:
        assert len(posted) == 1
        return
    assert posted == []
    assert "shared with another organisation" in response.json()["text"]
