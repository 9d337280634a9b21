"""The benchmark's peer: a Bolt app on the same server stack whose /kudos only acks."""

from __future__ import annotations

import os

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
bolt = AsyncApp(
    client=client,
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    process_before_response=True,
)


@bolt.command("/kudos")
async def kudos(ack: AsyncAck) -> None:
    await ack(response_type="ephemeral", text="ok")


handler = AsyncSlackRequestHandler(bolt)


async def events(request: Request) -> Response:
    response: Response = await handler.handle(request)
    return response


app = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
