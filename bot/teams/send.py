"""Sends outbox jobs to Teams through the Bot Connector (proactive messages), mapping its
answers onto the dispatcher's retry decisions."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import requests
from botbuilder.core import CloudAdapterBase, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.jobs.outbox import Job, Permanent, RateLimited, Transient
from bot.runtime import Runtime
from bot.teams import render as teams_render
from storage import teams as store
from storage.teams import Conversation

log = logging.getLogger("plaudit.outbox")
# 412: the conversation was changed concurrently; 502/504: the service was slow. Teams asks
# for these to be retried with backoff, as for 429 and 5xx.
_RETRY = {401, 412, 429, 500, 502, 503, 504}
_PERMANENT = {400, 403, 404, 405, 413}


class TeamsSender:
    """Delivers Teams rows: `post` to a conversation (a `conv:N` row or a configured channel
    id), `dm`/`ephemeral` to a person by AAD object id in their 1:1 chat with the bot,
    opening that chat first when there is none yet."""

    def __init__(self, adapter: CloudAdapterBase, runtime: Runtime, app_id: str | None) -> None:
        self.adapter = adapter
        self.runtime = runtime
        self.app_id = app_id

    async def __call__(self, job: Job) -> str | None:
        activity = _activity(job)
        try:
            if job.kind in ("dm", "ephemeral"):
                person = job.user if job.kind == "ephemeral" and job.user else job.channel
                return await self._to_person(person, activity)
            conv = await self.runtime.run(
                lambda s: store.conversation(session=s, channel=job.channel)
            )
            if conv is None:
                conv = await self._synthesised(job.channel)
            if conv is None:
                raise Permanent(f"no Teams conversation {job.channel} is known to the bot")
            return await self._send(conv.reference, activity)
        except HttpOperationError as exc:
            raise _mapped(exc) from exc
        except (ClientRequestError, aiohttp.ClientError, requests.RequestException) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        except TimeoutError as exc:
            raise Transient("the Bot Connector timed out") from exc
        except PermissionError as exc:  # the token service refused or could not be reached
            raise Transient(f"no token for the Bot Connector: {exc}") from exc

    async def _send(self, reference: dict[str, Any], activity: Activity) -> str | None:
        ref = ConversationReference().deserialize(reference)
        sent: dict[str, str | None] = {}

        async def callback(turn_context: TurnContext) -> None:
            sent["id"] = await _send_to_conversation(turn_context, activity, ref)

        await self.adapter.continue_conversation(ref, callback, bot_app_id=self.app_id)
        return sent.get("id")

    async def _to_person(self, aad_id: str, activity: Activity) -> str | None:
        conv = await self.runtime.run(lambda s: store.personal(session=s, aad_id=aad_id))
        if conv is not None:
            return await self._send(conv.reference, activity)
        return await self._open_chat(aad_id, activity)

    async def _open_chat(self, aad_id: str, activity: Activity) -> str | None:
        """Open the 1:1 chat (CreateConversation), remember it, and send the first message."""
        accounts = await self.runtime.run(
            lambda s: store.accounts_by_aad(session=s, aad_ids=[aad_id])
        )
        account = accounts.get(aad_id)
        tenant = account.tenant_id if account else None
        anchor = await self.runtime.run(
            lambda s: store.any_conversation(session=s, tenant_id=tenant)
        )
        if anchor is None:
            raise Permanent("the bot has no Teams conversation yet, so it cannot open a chat")
        tenant = tenant or anchor.tenant_id
        bot = anchor.reference.get("bot") or {"id": f"28:{self.app_id}"}
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=bot.get("id"), name=bot.get("name")),
            members=[ChannelAccount(id=account.user_id if account else aad_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        sent: dict[str, str | None] = {}
        runtime = self.runtime

        async def callback(turn_context: TurnContext) -> None:
            incoming = turn_context.activity
            reference = TurnContext.get_conversation_reference(incoming)
            reference.activity_id = None
            reference.user = ChannelAccount(
                id=account.user_id if account else aad_id, aad_object_id=aad_id
            )
            reference.conversation = ConversationAccount(
                id=incoming.conversation.id,
                conversation_type="personal",
                tenant_id=tenant,
            )
            payload = reference.serialize()
            now = runtime.clock.now()
            await runtime.run(
                lambda s: store.save_conversation(
                    session=s,
                    conversation_id=str(incoming.conversation.id),
                    kind="personal",
                    tenant_id=tenant,
                    service_url=anchor.service_url,
                    aad_id=aad_id,
                    reference=payload,
                    now=now,
                )
            )
            sent["id"] = await _send_to_conversation(turn_context, activity, reference)

        await self.adapter.create_conversation(
            self.app_id,
            callback,
            params,
            channel_id="msteams",
            service_url=anchor.service_url,
        )
        return sent.get("id")

    async def _synthesised(self, channel: str) -> Conversation | None:
        """A configured channel the bot has not seen a message in yet: address it with the
        service URL and tenant of a conversation it has seen."""
        if not channel.startswith("19:"):
            return None
        anchor = await self.runtime.run(lambda s: store.any_conversation(session=s, tenant_id=None))
        if anchor is None:
            return None
        reference = dict(anchor.reference)
        reference["conversation"] = {
            "id": channel,
            "conversationType": "channel",
            "tenantId": anchor.tenant_id,
            "isGroup": True,
        }
        reference.pop("activityId", None)
        return Conversation(
            0, channel, "channel", anchor.tenant_id, anchor.service_url, None, reference
        )


async def _send_to_conversation(
    turn_context: TurnContext, activity: Activity, reference: ConversationReference
) -> str | None:
    """SendToConversation: a new message in the conversation, not a reply to the turn's
    (synthetic) continuation activity."""
    client = turn_context.turn_state[CloudAdapterBase.BOT_CONNECTOR_CLIENT_KEY]
    outgoing = TurnContext.apply_conversation_reference(activity, reference)
    outgoing.reply_to_id = None
    response = await client.conversations.send_to_conversation(outgoing.conversation.id, outgoing)
    return str(response.id) if response is not None and response.id else None


def _activity(job: Job) -> Activity:
    try:
        content = teams_render.message(job.template, job.data)
    except teams_render.Unrenderable as exc:
        raise Permanent(str(exc)) from exc
    attachments = [
        Attachment(content_type=a["contentType"], content=a["content"])
        for a in content.get("attachments") or []
    ]
    return Activity(
        type=ActivityTypes.message,
        text=content.get("text"),
        text_format="markdown" if content.get("text") else None,
        attachments=attachments or None,
    )


def _mapped(exc: HttpOperationError) -> Exception:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    if status == 429:
        headers = getattr(response, "headers", {}) or {}
        retry = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return RateLimited(float(retry or 5))
        except ValueError:
            return RateLimited(5.0)
    if status in _RETRY or status == 0:
        return Transient(f"the Bot Connector answered HTTP {status}")
    if status in _PERMANENT:
        return Permanent(f"the Bot Connector answered HTTP {status}: {exc.message}")
    return Transient(f"the Bot Connector answered HTTP {status}")
