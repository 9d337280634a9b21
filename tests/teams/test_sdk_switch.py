"""Switching PLAUDIT_TEAMS_SDK keeps every stored conversation: the references one SDK wrote
while it handled activities are read by the other to write to those conversations, a
channel and a person's 1:1 chat, through the real HTTP surface and the fake Connector."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.settings import Settings
from bot.teams.sdk import SDKS, transport
from storage import teams as store
from tests import harness
from tests.fakes.bot_connector import KUDOS_CHANNEL_ID, FakeConnector
from tests.harness import eventually
from tests.teams.test_teams_http import activity, send, teams_server

ADELE_AAD = "a1b2c3d4-0000-4000-8000-00000000000c"


@pytest.fixture
def fake() -> Iterator[FakeConnector]:
    with FakeConnector() as connector:
        connector.add_people()
        yield connector


def written_by(sdk: str, engine: Engine, fake: FakeConnector) -> None:
    """A server on `sdk` handles a kudos in a channel and a message in Adele's 1:1 chat,
    storing both conversations' references, and delivers its answers."""
    previous = harness.teams_sdk.current
    harness.teams_sdk.current = sdk
    server = teams_server(engine).start()
    try:
        assert send(server, activity("message_kudos_channel.json", fake)).status_code == 200
        assert send(server, activity("message_kudos_personal.json", fake)).status_code == 200
        eventually(lambda: len(fake.activities()) >= 2)
    finally:
        server.stop()
        harness.teams_sdk.current = previous


def _settings(sdk: str) -> Settings:
    return Settings.model_validate(
        {"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true", "PLAUDIT_TEAMS_SDK": sdk}
    )


@pytest.mark.parametrize(("first", "second"), [SDKS, tuple(reversed(SDKS))])
def test_references_written_by_one_sdk_are_used_by_the_other(
    file_engine: Engine, fake: FakeConnector, first: str, second: str
) -> None:
    written_by(first, file_engine, fake)
    thread_id = activity("message_kudos_channel.json", fake)["conversation"]["id"]
    with Session(file_engine) as s:
        thread = store.conversation(session=s, channel=thread_id)
        chat = store.personal(session=s, aad_id=ADELE_AAD)
    assert chat is not None and thread is not None
    channel_ref = thread.reference
    assert str(channel_ref["conversation"]["id"]).startswith(KUDOS_CHANNEL_ID)
    # The stored reference is the one the first SDK makes of the activity it handled.
    writer = transport(_settings(first))
    assert channel_ref == writer.reference(activity("message_kudos_channel.json", fake))
    other = transport(_settings(second))
    before = len(fake.activities())

    async def both() -> tuple[str | None, str | None]:
        posted = await other.send(channel_ref, {"text": "in the channel"})
        told = await other.send(chat.reference, {"text": "to Adele"})
        return posted, told

    posted, told = asyncio.run(both())
    sent = fake.activities()[before:]
    assert [(s.conversation_id, s.body.get("text")) for s in sent] == [
        (channel_ref["conversation"]["id"], "in the channel"),
        (chat.conversation_id, "to Adele"),
    ]
    assert [posted, told] == [s.activity_id for s in sent]
    assert all(s.reply_to_id is None and s.kind == "send" for s in sent)


def test_both_sdks_write_references_the_other_reads_alike() -> None:
    """The two SDKs' references of one activity differ at most in what neither needs to
    send (botbuilder leaves the conversation's tenantId out): no migration is needed."""
    data = json.loads((harness.PAYLOADS / "teams" / "message_kudos_channel.json").read_text())
    made = {sdk: transport(_settings(sdk)).reference(data) for sdk in SDKS}
    agents, botbuilder = made["agents"], made["botbuilder"]
    assert {k: v for k, v in agents.items() if k != "conversation"} == {
        k: v for k, v in botbuilder.items() if k != "conversation"
    }
    conversation = dict(agents["conversation"])
    assert conversation.pop("tenantId") == data["conversation"]["tenantId"]
    assert conversation == botbuilder["conversation"]
