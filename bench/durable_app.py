"""The benchmark's second peer: a Bolt app on the same server stack whose /kudos writes the
command into one table of the same database and commits before it acks, the least a
durable kudos can cost."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.db import make_engine

engine = make_engine(os.environ["PLAUDIT_DATABASE_URL"])  # Plaudit's own engine settings
with engine.begin() as conn:
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS durable_command (id INTEGER PRIMARY KEY, "
            "trigger_id VARCHAR(255) UNIQUE NOT NULL, user_id VARCHAR(64) NOT NULL, "
            "body TEXT NOT NULL, received_at TIMESTAMP NOT NULL)"
            if engine.dialect.name == "sqlite"
            else "CREATE TABLE IF NOT EXISTS durable_command (id BIGSERIAL PRIMARY KEY, "
            "trigger_id VARCHAR(255) UNIQUE NOT NULL, user_id VARCHAR(64) NOT NULL, "
            "body TEXT NOT NULL, received_at TIMESTAMP NOT NULL)"
        )
    )
_INSERT = text(
    "INSERT INTO durable_command (trigger_id, user_id, body, received_at) "
    "VALUES (:trigger_id, :user_id, :body, :received_at)"
)

client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
bolt = AsyncApp(
    client=client,
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    process_before_response=True,
)


def _store(command: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(
            _INSERT,
            {
                "trigger_id": command["trigger_id"],
                "user_id": command["user_id"],
                "body": command.get("text", ""),
                "received_at": datetime.now(UTC).replace(tzinfo=None),
            },
        )


@bolt.command("/kudos")
async def kudos(ack: AsyncAck, command: dict[str, Any]) -> None:
    await asyncio.to_thread(_store, command)
    await ack(response_type="ephemeral", text="ok")


handler = AsyncSlackRequestHandler(bolt)


async def events(request: Request) -> Response:
    response: Response = await handler.handle(request)
    return response


app = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
