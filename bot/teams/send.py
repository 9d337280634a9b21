"""Sends outbox jobs to Teams through the Bot Connector (proactive messages), and deletes
the messages of retracted kudos, mapping its answers onto the dispatcher's retry decisions."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from bot.chat import texts
from bot.jobs.outbox import Job, Permanent, RateLimited, Transient
from bot.runtime import Runtime
from bot.teams import render as teams_render
from bot.teams.sdk import ConnectorError, Transport, Unreachable
from storage import teams as store
from storage.teams import Conversation

log = logging.getLogger("plaudit.outbox")
# 412: the conversation was changed concurrently; 502/504: the service was slow. Teams asks
# for these to be retried with backoff, as for 429 and 5xx.
_RETRY = {401, 412, 429, 500, 502, 503, 504}
_PERMANENT = {400, 403, 404, 405, 413}
# Teams refuses an activity over 28 KB (413 MessageSizeTooBig); what the adapter adds to the
# rendered fields (addresses, ids, the text format) stays well within the margin kept here.
MAX_ACTIVITY = 28 * 1024
BUDGET = MAX_ACTIVITY - 3 * 1024


class TeamsSender:
    """Delivers Teams rows: `post` to a conversation (a `conv:N` row or a configured channel
    id), `dm`/`ephemeral` to a person by AAD object id in their 1:1 chat with the bot,
    opening that chat first when there is none yet; `delete` takes back the message of an
    earlier row, where that row sent it."""

    def __init__(self, transport: Transport, runtime: Runtime, app_id: str | None) -> None:
        self.transport = transport
        self.runtime = runtime
        self.app_id = app_id

    async def __call__(self, job: Job) -> str | None:
        try:
            if job.kind == "delete":
                await self._delete(job)
                return None  # the row is done; no message of its own to record
            return await self._send(job)
        except Exception as exc:
            mapped = _classified(_cause(exc))
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc

    async def _send(self, job: Job) -> str | None:
        content = teams_render.message(job.template, job.data)
        # The activity says which language its words are in (a conversation's reference
        # would otherwise give that of whoever last wrote there).
        locale = teams_render.locale_of(job.data)
        try:
            return await self._deliver(job, fitted(content), locale)
        except Exception as exc:
            if _status(_cause(exc)) != 413:
                raise
            # Too big for Teams after all: the words go once more as plain text, in as
            # many messages as they need, rather than not at all.
            log.warning(
                "the Bot Connector refused row %s (%s) as too big; sending it as plain text",
                job.id,
                job.template,
            )
            return await self._deliver(job, as_text(content), locale)

    async def _delete(self, job: Job) -> None:
        """DeleteActivity of message `job.ref` in the conversation its row was sent to: the
        row's conversation, or the person's 1:1 chat, never a chat opened for the purpose
        (none stored: nothing was sent there). No `ref`: nothing went out. A 404: the
        message is gone already."""
        if job.ref is None:
            return
        if job.data.get("kind") == "dm":
            aad_id = job.channel
            conv = await self.runtime.run(lambda s: store.personal(session=s, aad_id=aad_id))
            if conv is None:
                return
        else:
            conv = await self._conversation(job.channel)
        try:
            await self.transport.delete(conv.reference, job.ref)
        except Exception as exc:
            if _status(_cause(exc)) != 404:
                raise
            log.info("the message of row %s was gone already", job.id)

    async def _deliver(self, job: Job, contents: list[dict[str, Any]], locale: str) -> str | None:
        """Send `contents` (words in `locale`) in order, as messages to the job's conversation
        or person; the first one's id is the row's."""
        first: str | None = None
        for content in contents:
            sent = await self._one(job, {**content, "locale": locale})
            first = first or sent
        return first

    async def _one(self, job: Job, content: dict[str, Any]) -> str | None:
        if job.kind in ("dm", "ephemeral"):
            person = job.user if job.kind == "ephemeral" and job.user else job.channel
            return await self._to_person(person, content)
        conv = await self._conversation(job.channel)
        return await self.transport.send(conv.reference, content)

    async def _conversation(self, channel: str) -> Conversation:
        """Where a `post` row goes: a conversation the bot has stored, or a configured
        channel it has not seen a message in yet."""
        conv = await self.runtime.run(lambda s: store.conversation(session=s, channel=channel))
        if conv is None:
            conv = await self._synthesised(channel)
        if conv is None:
            raise Permanent(f"no Teams conversation {channel} is known to the bot")
        return conv

    async def _to_person(self, aad_id: str, content: dict[str, Any]) -> str | None:
        conv = await self.runtime.run(lambda s: store.personal(session=s, aad_id=aad_id))
        if conv is None:
            conv = await self._open_chat(aad_id)
        return await self.transport.send(conv.reference, content)

    async def _open_chat(self, aad_id: str) -> Conversation:
        """Open the 1:1 chat with a person (CreateConversation) and remember it."""
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
        tenant = tenant or anchor.tenant_id or ""
        reference = await self.transport.open_chat(
            service_url=anchor.service_url,
            bot=anchor.reference.get("bot") or {"id": f"28:{self.app_id}"},
            user_id=account.user_id if account else aad_id,
            aad_id=aad_id,
            tenant=tenant,
        )
        conversation_id = str(reference["conversation"]["id"])
        now = self.runtime.clock.now()
        row = await self.runtime.run(
            lambda s: store.save_conversation(
                session=s,
                conversation_id=conversation_id,
                kind="personal",
                tenant_id=tenant,
                service_url=anchor.service_url,
                aad_id=aad_id,
                reference=reference,
                now=now,
            )
        )
        return Conversation(
            row, conversation_id, "personal", tenant, anchor.service_url, aad_id, reference
        )

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


def _size(value: Any) -> int:
    """Bytes on the wire (JSON, non-ASCII escaped, as the Connector client sends it)."""
    return len(json.dumps(value))


def _char_size(char: str) -> int:
    return _size(char) - 2


def fitted(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Rendered fields as the messages the Bot Connector takes: themselves, or, when too big,
    a card's blocks (or a text) spread over as many messages as they need, nothing cut."""
    if _size(content) <= BUDGET:
        return [content]
    cards = [
        a["content"]
        for a in content.get("attachments") or []
        if a["contentType"] == teams_render.CARD
    ]
    if len(cards) != 1 or content.get("text"):
        return as_text(content)
    return [{"attachments": [teams_render.attachment(card)]} for card in _cards(cards[0])]


def _cards(card: dict[str, Any]) -> list[dict[str, Any]]:
    """A card's body over cards that each keep within the budget; the buttons end the last one
    (and every one with inputs), and each mention goes with the card that names it."""
    frame = {k: v for k, v in card.items() if k not in ("body", "actions", "msteams")}
    ending = {"actions": card["actions"]} if card.get("actions") else {}
    room = BUDGET - _size({**frame, **ending, "msteams": card.get("msteams")}) - 512
    bodies: list[list[dict[str, Any]]] = [[]]
    for part in (p for item in card.get("body") or [] for p in _parts(item, room)):
        if bodies[-1] and _size([*bodies[-1], part]) > room:
            bodies.append([])
        bodies[-1].append(part)
    out = [{**frame, "body": body} for body in bodies]
    for each in out:
        # A part with inputs (a long survey) needs the buttons that send them.
        if each is out[-1] or any(str(i.get("type")).startswith("Input.") for i in each["body"]):
            each.update(ending)
        shown = json.dumps(each, ensure_ascii=False)
        named = [e for e in (card.get("msteams") or {}).get("entities") or [] if e["text"] in shown]
        if named:
            each["msteams"] = {"entities": named}
    return out


def _parts(item: dict[str, Any], room: int) -> list[dict[str, Any]]:
    """A TextBlock too big for a card of its own, as several."""
    if item.get("type") != "TextBlock" or _size(item) <= room:
        return [item]
    left = room - _size({**item, "text": ""})
    pieces = texts.pieces(str(item["text"]), left, _char_size, whole=teams_render.ESCAPE)
    return [{**item, "text": p} for p in pieces]


def as_text(content: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rendered fields as plain markdown messages, each within the budget: the card's words
    (mentions as bold names) without its layout or buttons."""
    words = [str(content["text"])] if content.get("text") else []
    for attachment in content.get("attachments") or []:
        words += _words(attachment.get("content") or {})
    text = re.sub(r"<at>(.*?)</at>", r"**\1**", "\n\n".join(words)) or "…"
    return [
        {"text": p} for p in texts.pieces(text, BUDGET - 512, _char_size, whole=teams_render.ESCAPE)
    ]


def _words(card: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for item in card.get("body") or card.get("items") or []:
        if item.get("type") == "TextBlock" and item.get("text"):
            found.append(str(item["text"]))
        found += _words(item)
        for column in item.get("columns") or []:
            found += _words(column)
    return found


def _cause(exc: BaseException) -> BaseException:
    """The Connector's own error behind `exc` (an SDK may raise its own from it)."""
    seen = {id(exc)}
    while not isinstance(exc, ConnectorError) and exc.__cause__ is not None:
        if id(exc.__cause__) in seen:
            break
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def _classified(exc: BaseException) -> BaseException | None:
    """The dispatcher's decision for a failure (None: not one this sender knows)."""
    if isinstance(exc, Permanent | Transient | RateLimited):
        return exc
    if isinstance(exc, ConnectorError):
        return _mapped(exc)
    if isinstance(exc, Unreachable):
        return Transient(f"the Bot Connector could not be reached: {exc}")
    if isinstance(exc, TimeoutError):
        return Transient("the Bot Connector timed out")
    return None


def _status(exc: BaseException) -> int:
    return exc.status if isinstance(exc, ConnectorError) else 0


def _mapped(exc: ConnectorError) -> Exception:
    status = exc.status
    if status == 429:
        return RateLimited(exc.retry_after if exc.retry_after is not None else 5.0)
    if status in _RETRY or status == 0:
        return Transient(f"the Bot Connector answered HTTP {status}")
    if status in _PERMANENT:
        return Permanent(f"the Bot Connector answered HTTP {status}: {exc.message}")
    return Transient(f"the Bot Connector answered HTTP {status}")
