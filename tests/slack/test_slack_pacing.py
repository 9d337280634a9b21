"""Slack's per-method limits kept through the outbox: survey redraws paced within
chat.update's Tier 3, coalesced and retried after a 429; conversations.history in the limited
mode asked for 15 messages at most, once a window, or learned from Slack's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.jobs.outbox import Dispatcher
from bot.runtime import Runtime
from bot.slack.clients import SlackClients
from bot.slack.limits import Budget, SlackLimits
from bot.slack.send import SlackSender
from compliance_rules import default_rules
from handlers.clock import SystemClock
from handlers.policy import KudosPolicy
from storage import outbox, queries
from storage.models import Outbox
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN, Server, eventually
from tests.slack.test_survey_slack import SURVEY, action, add_members, dm, elements


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, team_id="T0001") as fake:
        yield fake


def chosen(message: dict[str, Any]) -> list[str]:
    """The score buttons a survey message shows as picked."""
    return [e["action_id"] for _, e in elements(message) if e.get("style") == "primary"]


def click(server: Server, message: dict[str, Any], action_id: str) -> None:
    block, element = next((b, e) for b, e in elements(message) if e["action_id"] == action_id)
    assert server.interaction(action("U0001", message, element, block_id=block)).status_code == 200


def test_clicks_faster_than_tier_3_end_with_the_message_showing_the_last_one(
    file_engine: Engine, slack: FakeSlack
) -> None:
    add_members(file_engine, 1)
    slack.update_limit = (3, 10.0)  # a workspace that has already spent most of its minute
    server = Server(file_engine, slack_api_url=slack.base_url, surveys=(SURVEY,)).start()
    try:
        message = dm(slack, "U0001")
        clicks = [f"survey:energy:{v}" for v in (1, 2, 3, 4, 5, 1, 2, 5, 3, 4)]
        for action_id in clicks:
            click(server, message, action_id)
        eventually(lambda: chosen(slack.messages("U0001")[0]) == [clicks[-1]], timeout=20)
        eventually(lambda: not redraws(file_engine), timeout=20)
    finally:
        server.stop()
    updates = slack.calls("chat.update")
    assert len(updates) < len(clicks)  # coalesced: a waiting redraw gave way to a later one
    # Any 429 was followed by a redraw Slack took; none was the last word.
    assert updates[-1].status == 200
    assert chosen(slack.messages("U0001")[0]) == [clicks[-1]]
    with Session(file_engine) as s:
        # Done redraws leave nothing behind (nor anyone's answers beside their id).
        assert all(not r.data.get("answers") for r in s.exec(select(Outbox)))


def redraws(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox).where(Outbox.kind == "update")))


def test_a_redraw_refused_with_429_is_sent_again_after_retry_after(
    file_engine: Engine, slack: FakeSlack
) -> None:
    add_members(file_engine, 1)
    server = Server(file_engine, slack_api_url=slack.base_url, surveys=(SURVEY,)).start()
    try:
        message = dm(slack, "U0001")
        slack.fail_next("chat.update", status=429, retry_after=1)
        click(server, message, "survey:energy:4")
        eventually(lambda: chosen(slack.messages("U0001")[0]) == ["survey:energy:4"], timeout=10)
    finally:
        server.stop()
    refused, taken = slack.calls("chat.update")
    assert (refused.status, taken.status) == (429, 200)
    assert taken.at - refused.at >= 0.95


def make_dispatcher(engine: Engine, slack: FakeSlack, sender: SlackSender) -> Dispatcher:
    runtime = Runtime(
        engine=engine, policy=KudosPolicy(), rules=default_rules(), clock=SystemClock()
    )
    return Dispatcher(
        runtime, {"slack": sender}, channel_interval=0.0, backoff_base=0.05, idle_poll=0.05
    )


def client_for(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])


async def drain(d: Dispatcher, engine: Engine, timeout: float = 15.0) -> None:
    """Run the dispatcher until no row is pending."""
    d.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with Session(engine) as s:
                waiting = s.exec(select(Outbox).where(Outbox.status == "pending")).all()
            if not waiting:
                return
            assert asyncio.get_running_loop().time() < deadline, [r.last_error for r in waiting]
            await asyncio.sleep(0.05)
    finally:
        await d.stop()


def post(slack: FakeSlack, channel: str, text: str, key: str | None = None) -> str:
    """A message already in Slack (sent by this or an earlier dispatcher); its ts."""
    metadata = {"event_type": "plaudit_outbox", "event_payload": {"key": key}} if key else None
    sent = asyncio.run(
        client_for(slack).chat_postMessage(channel=channel, text=text, metadata=metadata)
    )
    return str(sent["ts"])


def test_redraws_beyond_tier_3_wait_for_the_workspace_s_budget(
    file_engine: Engine, slack: FakeSlack
) -> None:
    slack.update_limit = (5, 1.0)
    targets = {f"C0U{n}": post(slack, f"C0U{n}", "before") for n in range(12)}
    now = datetime.now(UTC)
    with Session(file_engine) as s:
        for channel, ts in targets.items():
            message = queries.Message(
                key=f"redraw:{channel}",
                platform="slack",
                workspace="T0001",
                channel=channel,
                kind="update",
                template="notice",
                data={"text": f"after {channel}"},
            )
            outbox.queue_update(s, message, ref=ts, now=now)
        s.commit()
    sender = SlackSender(client_for(slack), limits=SlackLimits(update=Budget(4, 1.0)))
    asyncio.run(drain(make_dispatcher(file_engine, slack, sender), file_engine))
    updates = slack.calls("chat.update")
    assert sorted(c.args["channel"] for c in updates) == sorted(targets)
    assert all(c.status == 200 for c in updates)  # paced: Slack never had to refuse one
    assert updates[-1].at - updates[0].at >= 2.0  # twelve at four a second
    for channel in targets:
        assert slack.messages(channel)[0]["text"] == f"after {channel}"


def test_a_newer_redraw_replaces_one_still_waiting(file_engine: Engine, slack: FakeSlack) -> None:
    ts = post(slack, "C0ONE", "before")
    now = datetime.now(UTC)
    with Session(file_engine) as s:
        for n in range(3):
            message = queries.Message(
                key=f"redraw:{n}",
                platform="slack",
                workspace="T0001",
                channel="C0ONE",
                kind="update",
                template="notice",
                data={"text": f"state {n}"},
            )
            outbox.queue_update(s, message, ref=ts, now=now)
        s.commit()
        assert [r.key for r in s.exec(select(Outbox))] == ["redraw:2"]


def uncertain_dm(engine: Engine, key: str, user: str) -> None:
    """A DM claimed by a replica that died (its lease has run out), perhaps after sending."""
    with Session(engine) as s:
        queries.enqueue(
            session=s,
            message=queries.Message(
                key=key,
                platform="slack",
                workspace="T0001",
                channel=user,
                kind="dm",
                template="notice",
                data={"text": f"hello {user}"},
            ),
        )
        row = s.exec(select(Outbox).where(Outbox.key == key)).one()
        row.claimed_until = datetime.now(UTC) - timedelta(seconds=1)
        s.add(row)
        s.commit()


def test_in_the_limited_mode_history_asks_for_15_at_most_and_once_a_window(
    file_engine: Engine, slack: FakeSlack
) -> None:
    slack.history_limited, slack.history_window = True, 1.0
    for n in range(20):
        post(slack, "U0001", f"older {n}")
    post(slack, "U0001", "hello U0001", key="dm-sent")  # the dead owner got this far
    uncertain_dm(file_engine, "dm-sent", "U0001")
    uncertain_dm(file_engine, "dm-unsent", "U0002")
    limits = SlackLimits(limited=True, limited_history=Budget(1, 1.0))
    sender = SlackSender(client_for(slack), limits=limits)
    asyncio.run(drain(make_dispatcher(file_engine, slack, sender), file_engine))
    looked = slack.calls("conversations.history")
    assert [int(c.args["limit"]) for c in looked] == [15, 15]
    assert all(c.status == 200 for c in looked)  # waited its turn instead of a 429
    assert looked[1].at - looked[0].at >= 0.9
    assert [m["text"] for m in slack.messages("U0001")].count("hello U0001") == 1
    assert [m["text"] for m in slack.messages("U0002")] == ["hello U0002"]


def test_the_limited_mode_is_learned_from_slack_s_answer(
    file_engine: Engine, slack: FakeSlack
) -> None:
    slack.history_limited, slack.history_window = True, 1.0
    uncertain_dm(file_engine, "dm-a", "U0001")
    uncertain_dm(file_engine, "dm-b", "U0002")
    # One workspace, its mode not configured: it is learned from the 429.
    limits = SlackLimits(limited_history=Budget(1, 1.0))
    sender = SlackSender(client_for(slack), limits=limits)
    asyncio.run(drain(make_dispatcher(file_engine, slack, sender), file_engine))
    looked = slack.calls("conversations.history")
    assert 429 in [c.status for c in looked] and looked[-1].status == 200
    assert int(looked[-1].args["limit"]) == 15
    assert [m["text"] for m in slack.messages("U0001")] == ["hello U0001"]
    assert [m["text"] for m in slack.messages("U0002")] == ["hello U0002"]


def test_several_workspaces_start_in_the_limited_mode(slack: FakeSlack) -> None:
    class Store:
        async def bot_token(self, team: str) -> str | None:
            return TOKEN

    clients = SlackClients(client_for(slack), Store(), home="T0001")  # type: ignore[arg-type]
    assert SlackSender(clients).limits.history_limited("T0002")
    assert not SlackSender(client_for(slack)).limits.history_limited("T0001")
