"""Slack over Socket Mode: envelopes in over a websocket, acks out, a fake Slack Web API behind."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from slack_bolt.async_app import AsyncApp
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from bot.settings import Settings
from bot.slack.socket import SocketMode, SocketModeError
from storage.models import InboundEvent, Recognition
from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.harness import SECRET, TOKEN, Server, eventually, payload, signed_headers

APP_TOKEN = "xapp-1-test"


@pytest.fixture
def app_engine(file_engine: Engine) -> Engine:
    return file_engine


@pytest.fixture
def socket_server() -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as fake:
        yield fake


@pytest.fixture
def slack(socket_server: FakeSocketMode) -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN, team_id="T0001", app_token=APP_TOKEN)
    fake.socket_url = socket_server.url
    fake.add_user("U0001", "alice", email="alice@example.com", tz="Europe/London")
    fake.add_user("U0002", "bob", email="bob@example.com", tz="Europe/Berlin")
    fake.add_user("U0003", "carol", email="carol@example.com", tz="America/New_York")
    with fake:
        yield fake


@pytest.fixture
def server(app_engine: Engine, slack: FakeSlack, socket_server: FakeSocketMode) -> Iterator[Server]:
    # No signing secret: Socket Mode envelopes are not signed.
    env = {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}
    running = Server(app_engine, slack_api_url=slack.base_url, env=env).start()
    socket_server.wait_for_connections(1)
    yield running
    running.stop()


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def command(text: str, *, trigger_id: str | None = None) -> dict[str, Any]:
    """A /kudos command as Socket Mode carries it: the form fields as a JSON object."""
    fields = payload("slash_command_kudos.json")
    fields.update(text=text, trigger_id=trigger_id or f"trigger-{time.monotonic_ns()}")
    return fields


def test_the_server_connects_with_the_app_token_and_without_a_signing_secret(
    server: Server, slack: FakeSlack, socket_server: FakeSocketMode
) -> None:
    assert server.settings.slack_signing_secret is None
    (opened,) = slack.calls("apps.connections.open")
    assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
    assert socket_server.open_connections() == 1
    health = httpx.get(f"{server.base_url}/healthz", timeout=5).json()
    assert health["slack"] is True
    ready = httpx.get(f"{server.base_url}/readyz", timeout=5).json()
    assert ready["slack_socket_mode"] == "connected"


def test_a_slash_command_envelope_is_acked_with_the_answer_and_posted(
    server: Server, slack: FakeSlack, socket_server: FakeSocketMode, app_engine: Engine
) -> None:
    envelope_id = socket_server.envelope(
        "slash_commands", command("<@U0002|bob> for the launch checklist #collaboration")
    )

    ack = socket_server.wait_for_ack(envelope_id)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "Kudos recorded for bob" in ack["payload"]["text"]
    assert count(app_engine, Recognition) == 1
    posts = slack.wait_for("chat.postMessage", 2)
    assert sorted(call.args["channel"] for call in posts) == ["C0KUDOS", "U0002"]
    public = next(c for c in posts if c.args["channel"] == "C0KUDOS")
    blocks = json.dumps(public.args["blocks"])
    assert "<@U0001>" in blocks and "for the launch checklist" in blocks


def test_a_command_envelope_delivered_twice_records_one_kudos(
    server: Server, slack: FakeSlack, socket_server: FakeSocketMode, app_engine: Engine
) -> None:
    body = command("<@U0002|bob> for the launch checklist #collaboration", trigger_id="t-once")
    for _ in range(2):
        socket_server.envelope("slash_commands", body, envelope_id="env-twice")
    socket_server.wait_for_ack("env-twice", count=2)
    slack.wait_for("chat.postMessage", 2)
    time.sleep(0.4)  # time for the dispatcher to (wrongly) post more
    assert count(app_engine, Recognition) == 1
    assert len(slack.calls("chat.postMessage")) == 2


def test_a_reaction_event_envelope_is_acked_and_gives_kudos(
    server: Server, slack: FakeSlack, socket_server: FakeSocketMode, app_engine: Engine
) -> None:
    body = payload("event_reaction_added.json")
    envelope_id = socket_server.envelope("events_api", body)
    ack = socket_server.wait_for_ack(envelope_id)
    assert ack == {"envelope_id": envelope_id}
    # A retry of the same event (Slack's retry_attempt) changes nothing.
    retry_id = socket_server.envelope("events_api", body, retry_attempt=1)
    socket_server.wait_for_ack(retry_id)
    with Session(app_engine) as s:
        (recognition,) = s.exec(select(Recognition)).all()
    assert recognition.source == "reaction"
    assert count(app_engine, InboundEvent) == 1
    slack.wait_for("chat.postMessage", 2)  # public post + DM to the author


def test_a_modal_submission_envelope_gives_kudos(
    server: Server, socket_server: FakeSocketMode, app_engine: Engine
) -> None:
    envelope_id = socket_server.envelope("interactive", payload("view_submission_kudos.json"))
    assert socket_server.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
    assert count(app_engine, Recognition) == 1


def test_the_http_endpoint_is_off_in_socket_mode(server: Server, app_engine: Engine) -> None:
    body = json.dumps(payload("event_reaction_added.json")).encode()
    response = server.post(body, content_type="application/json", headers=signed_headers(body))
    assert response.status_code == 404
    assert response.json()["error"] == "slack_socket_mode"
    assert count(app_engine, Recognition) == 0


def test_a_disconnect_request_is_followed_by_a_new_connection(
    server: Server, slack: FakeSlack, socket_server: FakeSocketMode, app_engine: Engine
) -> None:
    socket_server.disconnect()
    first, second = socket_server.wait_for_connections(2)
    assert first.ticket != second.ticket
    assert len(slack.calls("apps.connections.open")) == 2
    eventually(lambda: socket_server.open_connections() == 1)
    envelope_id = socket_server.envelope("events_api", payload("event_reaction_added.json"))
    socket_server.wait_for_ack(envelope_id)
    assert count(app_engine, Recognition) == 1


def test_stopping_the_server_closes_the_socket(
    app_engine: Engine, slack: FakeSlack, socket_server: FakeSocketMode
) -> None:
    env = {"SLACK_APP_TOKEN": APP_TOKEN}
    running = Server(app_engine, slack_api_url=slack.base_url, env=env).start()
    socket_server.wait_for_connections(1)
    running.stop()
    eventually(lambda: socket_server.open_connections() == 0)


def test_a_refused_app_token_stops_startup_with_the_reason(slack: FakeSlack) -> None:
    settings = Settings.model_validate(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_APP_TOKEN": "xapp-1-revoked",
            "SLACK_API_URL": slack.base_url,
        }
    )

    async def start() -> None:
        app = AsyncApp(token=TOKEN, signing_secret="")
        await SocketMode(app, settings).start()

    with pytest.raises(SocketModeError, match="invalid_auth"):
        asyncio.run(start())


@pytest.mark.parametrize("token", ["xoxb-not-an-app-token", "xoxp-user", "1-abc"])
def test_an_app_token_that_is_not_xapp_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="app-level token starts with xapp-"):
        Settings.model_validate({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": token})


def test_settings_for_socket_mode_http_mode_and_off() -> None:
    socket = Settings.model_validate({"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN})
    assert socket.slack_socket_mode and socket.slack_enabled
    assert "Slack: on (Socket Mode" in "\n".join(socket.status_lines())

    http = Settings.model_validate(
        {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": ""}
    )
    assert http.slack_app_token is None
    assert http.slack_enabled and not http.slack_socket_mode
    assert "Slack: on (HTTP mode" in "\n".join(http.status_lines())

    no_bot = Settings.model_validate({"SLACK_APP_TOKEN": APP_TOKEN})
    assert not no_bot.slack_enabled and not no_bot.slack_socket_mode
    assert "Slack: off (set SLACK_BOT_TOKEN to turn it on)" in no_bot.status_lines()
