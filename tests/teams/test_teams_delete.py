"""A retracted kudos disappears from Teams: the running app (its dispatcher, `TeamsSender` and
each SDK's transport) deletes the public card and the recipients' DMs with DeleteActivity on
a fake Bot Connector that deletes only activities it holds (404 otherwise)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from handlers.policy import KudosPolicy
from storage.models import Outbox, TeamsConversation
from storage.outbox_retract import retract
from tests.fakes.bot_connector import MEGAN, FakeConnector
from tests.harness import PAYLOADS, Server, eventually

WAIT = 15.0


@pytest.fixture
def connector(teams_sdk: str) -> Iterator[FakeConnector]:
    fake = FakeConnector()
    with fake:
        fake.add_people()
        yield fake


@pytest.fixture
def server(file_engine: Engine, teams_sdk: str) -> Iterator[Server]:
    running = Server(
        file_engine,
        slack_api_url=None,
        env={"PLAUDIT_TEAMS_ALLOW_UNAUTHENTICATED": "true"},
        policy=KudosPolicy(),
    ).start()
    yield running
    running.stop()


def rows(engine: Engine) -> dict[str, Outbox]:
    with Session(engine) as s:
        return {r.key: r for r in s.exec(select(Outbox).order_by(col(Outbox.id)))}


def kudos_delivered(server: Server, connector: FakeConnector, engine: Engine) -> dict[str, str]:
    """Adele thanks Megan and Alex in a channel (the fixture's activity); once the public
    card and both DMs are out: each row's key and the activity id it was delivered as."""
    data: dict[str, Any] = json.loads(
        (PAYLOADS / "teams" / "message_kudos_channel.json").read_text(encoding="utf-8")
    )
    data["serviceUrl"] = connector.service_url
    answer = httpx.post(f"{server.base_url}/api/messages", json=data, timeout=15)
    assert answer.status_code == 200

    def sent() -> dict[str, str]:
        return {
            key: row.message_ref or ""
            for key, row in rows(engine).items()
            if key.startswith("recognition:") and row.status == "delivered"
        }

    eventually(lambda: len(sent()) == 3, timeout=WAIT)
    delivered = sent()
    assert all(connector.activity(ref) is not None for ref in delivered.values())
    return delivered


def retracted(server: Server, delivered: dict[str, str]) -> int:
    """The kudos retracted as the use case does it, in a unit of the app's own runtime."""
    (public,) = [key for key in delivered if key.endswith(":public")]
    prefix = public.removesuffix("public")  # recognition:<id>:
    now = server.runtime.clock.now()
    queued = server.runtime.run_sync(lambda s: retract(s, key_prefix=prefix, now=now))
    server.runtime.poke()
    return queued


def deletes_done(engine: Engine) -> bool:
    deletes = [row for key, row in rows(engine).items() if key.endswith(":delete")]
    return bool(deletes) and all(row.status != "pending" for row in deletes)


def test_a_retracted_kudos_disappears_from_teams(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    delivered = kudos_delivered(server, connector, file_engine)
    chats_opened = len(connector.calls("POST", "/v3/conversations"))

    assert retracted(server, delivered) == 3
    eventually(lambda: deletes_done(file_engine), timeout=WAIT)

    assert all(connector.activity(ref) is None for ref in delivered.values())
    removed = {s.activity_id: s.conversation_id for s in connector.deleted()}
    assert set(removed) == set(delivered.values())
    # Each where it was sent: the card in its channel's thread, each DM in its 1:1 chat.
    sent_in = {s.activity_id: s.conversation_id for s in connector.activities()}
    assert removed == {ref: sent_in[ref] for ref in delivered.values()}
    assert len(connector.calls("DELETE")) == 3
    assert len(connector.calls("POST", "/v3/conversations")) == chats_opened
    after = rows(file_engine)
    assert all(after[f"{key}:delete"].status == "delivered" for key in delivered)


def test_a_message_gone_already_is_done(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    delivered = kudos_delivered(server, connector, file_engine)
    (public_key,) = [key for key in delivered if key.endswith(":public")]
    card = delivered[public_key]
    (sent,) = [s for s in connector.activities() if s.activity_id == card]
    gone = httpx.delete(
        f"{connector.service_url}v3/conversations/{sent.conversation_id}/activities/{card}"
    )
    assert gone.status_code == 200

    assert retracted(server, delivered) == 3
    eventually(lambda: deletes_done(file_engine), timeout=WAIT)

    row = rows(file_engine)[f"{public_key}:delete"]
    assert row.status == "delivered" and row.attempts == 0 and row.last_error is None
    assert [c.status for c in connector.calls("DELETE", card)] == [200, 404]
    assert all(connector.activity(ref) is None for ref in delivered.values())


def test_a_throttled_delete_is_tried_again(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    delivered = kudos_delivered(server, connector, file_engine)
    connector.fail_next(429, retry_after=1, method="DELETE")

    assert retracted(server, delivered) == 3
    eventually(lambda: deletes_done(file_engine), timeout=WAIT)

    calls = connector.calls("DELETE")
    assert [c.status for c in calls].count(429) == 1 and len(calls) == 4
    refused = next(c for c in calls if c.status == 429)
    again = [c for c in calls if c.path == refused.path and c is not refused]
    assert len(again) == 1 and again[0].at - refused.at >= 0.95
    assert all(connector.activity(ref) is None for ref in delivered.values())
    assert all(row.attempts == 0 for key, row in rows(file_engine).items() if ":delete" in key)


def test_no_chat_is_opened_to_delete_a_dm(
    server: Server, connector: FakeConnector, file_engine: Engine
) -> None:
    """The bot no longer has Megan's 1:1 chat: there is nothing it can delete there."""
    delivered = kudos_delivered(server, connector, file_engine)
    with Session(file_engine) as s:
        s.connection().execute(
            delete(TeamsConversation).where(col(TeamsConversation.aad_id) == MEGAN.aad_id)
        )
        s.commit()
    chats_opened = len(connector.calls("POST", "/v3/conversations"))

    assert retracted(server, delivered) == 3
    eventually(lambda: deletes_done(file_engine), timeout=WAIT)

    assert len(connector.calls("POST", "/v3/conversations")) == chats_opened
    assert len(connector.calls("DELETE")) == 2
    assert all(row.status == "delivered" for k, row in rows(file_engine).items() if ":delete" in k)
