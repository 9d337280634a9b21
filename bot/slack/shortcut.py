"""The message shortcut "Give kudos for this": the kudos form, opened from a message's menu
with its author as the recipient and a link to the message; submitted like any form, so
through the same use case and compliance gate."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.slack import blocks
from bot.slack.channels import message_permalink
from bot.slack.people import SlackPeople
from handlers import i18n
from handlers.i18n import N_, _

log = logging.getLogger("plaudit.slack")

CALLBACK = "kudos_for_message"  # the shortcut's callback id in the app manifest
NOT_A_COLLEAGUE = N_("That message was posted by an app, not a colleague: kudos are for people.")
YOURSELF = N_("That is your own message: kudos are for colleagues.")


def register(app: AsyncApp, runtime: Runtime, people: SlackPeople) -> None:
    @app.shortcut(CALLBACK)
    async def on_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        message = body.get("message") or {}
        author = str(message.get("user") or "")
        user = body.get("user") or {}
        giver = str(user.get("id") or "")
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        channel = str((body.get("channel") or {}).get("id") or "") or None
        asker = await people.find(team, giver)
        with i18n.speaking(asker.locale if asker else None):
            if not author or message.get("bot_id") or message.get("subtype") == "bot_message":
                await respond(text=_(NOT_A_COLLEAGUE), response_type="ephemeral")
                return
            if author == giver:
                await respond(text=_(YOURSELF), response_type="ephemeral")
                return
            link = await message_permalink(client, channel, message.get("ts"))
            form = blocks.modal(runtime.policy, channel, users=(author,), link=link)
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=form)
        except SlackApiError as exc:
            log.warning("the kudos form did not open: %s", exc.response.get("error"))
