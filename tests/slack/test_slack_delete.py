"""A retracted kudos disappears from Slack: its public post and its DM are deleted through the
outbox (the real dispatcher and `SlackSender`) against a fake Slack that deletes only what
Slack would (`chat.delete` in a conversation, never by user id, only the bot's messages)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.http.app import slack_client
from bot.jobs.outbox import Dispatcher
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.send import SlackSender
from compliance_rules import default_rules
from handlers import kudos
from handlers.clock import SystemClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import Outbox
from storage.outbox_retract import retract
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN

POLICY = KudosPolicy(recognition_channel="C0KUDOS")


@pytest.fixture
def db(file_engine: Engine) -> Engine:
    return file_engine


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def client(slack: FakeSlack) -> AsyncWebClient:
    settings = Settings.model_validate(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "s3cret-for-tests",
            "SLACK_API_URL": slack.base_url,
        }
    )
    return slack_client(settings)


def dispatcher(engine: Engine, slack: FakeSlack) -> Dispatcher:
    runtime = Runtime(engine=engine, policy=POLICY, rules=default_rules(), clock=SystemClock())
    sender = SlackSender(client(slack))
    return Dispatcher(
        runtime, {"slack": sender}, channel_interval=0.0, backoff_base=0.05, idle_poll=0.05
    )


def rows(engine: Engine) -> dict[str, Outbox]:
    with Session(engine) as s:
        return {r.key: r for r in s.exec(select(Outbox).order_by(col(Outbox.id)))}


def pending(engine: Engine) -> list[str]:
    return [key for key, row in rows(engine).items() if row.status == "pending"]


async def deliver(engine: Engine, slack: FakeSlack, timeout: float = 10.0) -> None:
    """Run a dispatcher until no row is pending."""
    running = dispatcher(engine, slack)
    running.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while pending(engine):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"still pending: {pending(engine)}")
            await asyncio.sleep(0.05)
    finally:
        await running.stop()


def give(engine: Engine, alice: Person, bob: Person) -> int:
    """Alice thanks Bob: a public post in C0KUDOS and a DM to Bob (U0002) are queued."""
    event = KudosRequested(
        "slack:command:T0001:1", alice, (bob,), "thanks for the launch deck", (), "command"
    )
    with Session(engine) as s:
        result = kudos.give(event, session=s, policy=POLICY, clock=SystemClock())
        s.commit()
    assert isinstance(result, kudos.Recorded)
    return result.recognition_id


def retracted(engine: Engine, recognition_id: int) -> int:
    with Session(engine) as s:
        queued = retract(s, key_prefix=f"recognition:{recognition_id}:", now=datetime.now(UTC))
        s.commit()
    return queued


def given_and_delivered(engine: Engine, slack: FakeSlack, alice: Person, bob: Person) -> int:
    recognition_id = give(engine, alice, bob)
    asyncio.run(deliver(engine, slack))
    assert len(slack.messages("C0KUDOS")) == 1 and len(slack.messages("U0002")) == 1
    return recognition_id


def test_a_retracted_kudos_disappears_from_slack(
    db: Engine, slack: FakeSlack, alice: Person, bob: Person
) -> None:
    recognition_id = given_and_delivered(db, slack, alice, bob)
    posted = {key: row.message_ref for key, row in rows(db).items()}

    assert retracted(db, recognition_id) == 2
    asyncio.run(deliver(db, slack))

    assert slack.messages("C0KUDOS") == [] and slack.messages("U0002") == []
    public, to_bob = f"recognition:{recognition_id}:public", f"recognition:{recognition_id}:dm:"
    deleted = {(m["channel"], m["ts"]) for m in slack.deleted()}
    (bob_key,) = [key for key in posted if key.startswith(to_bob)]
    # The DM is deleted in Bob's DM conversation (D…), which conversations.open gave.
    assert deleted == {("C0KUDOS", posted[public]), ("D0002", posted[bob_key])}
    assert [c.args["users"] for c in slack.calls("conversations.open")] == ["U0002"]
    after = rows(db)
    assert {after[f"{public}:delete"].status, after[f"{bob_key}:delete"].status} == {"delivered"}
    assert after[public].message_ref == posted[public]  # the original row is kept as it was
    assert len(slack.calls("chat.delete")) == 2

    # A second retraction, and another run, delete nothing more.
    assert retracted(db, recognition_id) == 0
    asyncio.run(deliver(db, slack))
    assert len(slack.calls("chat.delete")) == 2


def test_a_kudos_retracted_before_it_went_out_never_reaches_slack(
    db: Engine, slack: FakeSlack, alice: Person, bob: Person
) -> None:
    recognition_id = give(db, alice, bob)

    assert retracted(db, recognition_id) == 0
    asyncio.run(deliver(db, slack))

    assert slack.calls("chat.postMessage") == [] and slack.calls("chat.delete") == []
    assert rows(db) == {}


def test_a_message_in_flight_when_retracted_is_deleted_once_it_has_arrived(
    db: Engine, slack: FakeSlack, alice: Person, bob: Person
) -> None:
    recognition_id = give(db, alice, bob)
    slack.delay("chat.postMessage", 0.5)

    async def retract_while_posting() -> None:
        running = dispatcher(db, slack)
        running.start()
        try:
            await asyncio.to_thread(slack.wait_for, "chat.postMessage")
            # Claimed and on its way: it cannot be called back, only deleted after.
            assert await asyncio.to_thread(retracted, db, recognition_id) >= 1
            deadline = asyncio.get_running_loop().time() + 10
            while pending(db) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await running.stop()

    asyncio.run(retract_while_posting())

    assert pending(db) == []
    assert slack.messages("C0KUDOS") == [] and slack.messages("U0002") == []
    posts = slack.calls("chat.postMessage")
    deletes = slack.calls("chat.delete")
    assert len(deletes) == len(posts) >= 1
    # No delete went out before a post could have been answered (each is held 0.5 s). Each
    # delete follows its own post's answer; another post may still be on its way then, and
    # the fake notes a call's end only after the client has its answer.
    assert min(d.at for d in deletes) >= min(p.at for p in posts) + 0.5


def test_a_message_gone_already_is_done(
    db: Engine, slack: FakeSlack, alice: Person, bob: Person
) -> None:
    recognition_id = given_and_delivered(db, slack, alice, bob)
    ts = str(slack.messages("C0KUDOS")[0]["ts"])
    asyncio.run(client(slack).chat_delete(channel="C0KUDOS", ts=ts))  # deleted in Slack itself

    assert retracted(db, recognition_id) == 2
    asyncio.run(deliver(db, slack))

    answers = [c for c in slack.calls("chat.delete") if c.args["channel"] == "C0KUDOS"]
    assert len(answers) == 2  # the earlier deletion, and the outbox's, told it was not found
    after = rows(db)[f"recognition:{recognition_id}:public:delete"]
    assert after.status == "delivered" and after.attempts == 0 and after.last_error is None
    assert slack.messages("U0002") == []


def test_a_throttled_delete_is_tried_again_after_the_pause(
    db: Engine, slack: FakeSlack, alice: Person, bob: Person
) -> None:
    recognition_id = given_and_delivered(db, slack, alice, bob)
    slack.fail_next("chat.delete", status=429, retry_after=1)

    assert retracted(db, recognition_id) == 2
    asyncio.run(deliver(db, slack))

    calls = slack.calls("chat.delete")
    assert len(calls) == 3
    refused = calls[0]
    again = [c for c in calls[1:] if c.args["channel"] == refused.args["channel"]]
    assert len(again) == 1 and again[0].at - refused.at >= 0.95
    assert slack.messages("C0KUDOS") == [] and slack.messages("U0002") == []
    assert all(r.attempts == 0 for k, r in rows(db).items() if k.endswith(":delete"))


def test_a_message_slack_will_not_delete_leaves_its_row_dead(
    db: Engine, slack: FakeSlack, alice: Person, bob: Person
) -> None:
    recognition_id = given_and_delivered(db, slack, alice, bob)
    slack.fail_next(
        "chat.delete",
        status=200,
        body={"ok": False, "error": "compliance_exports_prevent_deletion"},
    )

    assert retracted(db, recognition_id) == 2
    asyncio.run(deliver(db, slack))

    dead = [r for k, r in rows(db).items() if k.endswith(":delete") and r.status == "dead"]
    assert [r.last_error for r in dead] == ["compliance_exports_prevent_deletion"]
    assert len(slack.calls("chat.delete")) == 2


def test_the_fake_deletes_only_what_slack_would() -> None:
    with FakeSlack(token=TOKEN) as slack:
        web = client(slack)
        ts = str(asyncio.run(web.chat_postMessage(channel="U0002", text="hello"))["ts"])
        theirs = slack.add_message("C0KUDOS", "my own words", user="U0002")

        def refusal(channel: str, ts: str) -> str:
            with pytest.raises(SlackApiError) as refused:
                asyncio.run(web.chat_delete(channel=channel, ts=ts))
            return str(refused.value.response["error"])

        assert refusal("U0002", ts) == "channel_not_found"  # a user id is no conversation
        assert refusal("C0KUDOS", theirs) == "cant_delete_message"
        assert refusal("C0KUDOS", ts) == "message_not_found"
        opened = asyncio.run(web.conversations_open(users="U0002"))
        channel = str(opened["channel"]["id"])
        asyncio.run(web.chat_delete(channel=channel, ts=ts))
        assert slack.messages("U0002") == []
        assert [(m["channel"], m["ts"]) for m in slack.deleted()] == [(channel, ts)]
        assert refusal(channel, ts) == "message_not_found"
