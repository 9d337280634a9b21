"""Whether Plaudit may post in the conversation a command came from, asked before a kudos is
recorded, so that a post Slack would refuse is never queued."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.clients import NotInstalled, SlackClients
from compliance_rules import Outcome
from handlers.events import KudosRequested
from handlers.i18n import N_, _
from handlers.kudos import KudosResult, Recorded, Stopped
from handlers.policy import KudosPolicy

log = logging.getLogger("plaudit.slack")

NOT_HERE = N_(
    "Plaudit can't post in this conversation, so this kudos is not shared here; its "
    "recipients hear of it by direct message. To share kudos publicly, use /kudos in a public "
    "channel, or in a private one Plaudit has been added to (never one shared with another "
    "organisation)."
)


class SlackChannels:
    """Asks Slack, and remembers for a while, where the bot may post.

    With chat:write.public the bot posts in any public channel; elsewhere only where it is a
    member. `conversations.members` answers for a public channel and for a private one the
    bot is in (channels:read, groups:read) and refuses the rest; a direct message is the
    bot's own only when it is the one `conversations.open` gives for the person."""

    def __init__(
        self, clients: SlackClients, *, ttl: float = 600.0, refused_ttl: float = 60.0
    ) -> None:
        self._clients = clients
        self._ttl = ttl
        self._refused_ttl = refused_ttl  # a person may add Plaudit right after being told
        self._known: dict[tuple[str, str, str], tuple[float, bool]] = {}

    async def for_kudos(self, event: KudosRequested, policy: KudosPolicy) -> KudosRequested:
        """The kudos as it can be given: when its post would go to the conversation it was
        given in (no recognition channel) and Plaudit may not post there, it has no channel,
        so nothing is queued that Slack would refuse; its recipients' DMs still go."""
        channel = event.channel_id
        if event.private or policy.recognition_channel or not channel:
            return event  # (a private kudos is posted nowhere)
        giver = event.giver
        team = giver.workspace or ""
        shared = not channel.startswith("D") and not policy.allow_guests
        if shared and await self.ext_shared(team, channel):
            return replace(event, channel_id=None)  # never posted where outsiders read it
        if await self.postable(team, channel, giver.user_id):
            return event
        return replace(event, channel_id=None)

    async def ext_shared(self, team: str, channel: str) -> bool:
        """Whether `channel` is shared with another organisation (Slack Connect); unsure
        (Slack did not answer) counts as shared."""
        key = (team, channel, "shared")
        hit = self._known.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            client: AsyncWebClient = await self._clients.for_team(team)
            info: Any = await client.conversations_info(channel=channel)
            shared = bool(info["channel"].get("is_ext_shared"))
        except SlackApiError as exc:
            # A private channel Plaudit is not in is not found: it cannot post there anyway.
            shared = exc.response.get("error") != "channel_not_found"
            log.info("conversations.info for %s: %s", channel, exc.response.get("error"))
        except (NotInstalled, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not tell whether %s is shared: %r", channel, exc)
            shared = True
        self._remember(key, shared, self._ttl)
        return shared

    async def postable(self, team: str, channel: str, user: str) -> bool:
        """Whether a post in `channel` (where `user` gave a command) would be taken."""
        key = (team, channel, user if channel.startswith("D") else "")
        hit = self._known.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        allowed = await self._ask(team, channel, user)
        self._remember(key, allowed, self._ttl if allowed else self._refused_ttl)
        return allowed

    def _remember(self, key: tuple[str, str, str], answer: bool, ttl: float) -> None:
        if len(self._known) >= 10_000:
            self._known.clear()  # kept small; an answer forgotten is only asked again
        self._known[key] = (time.monotonic() + ttl, answer)

    async def _ask(self, team: str, channel: str, user: str) -> bool:
        try:
            client: AsyncWebClient = await self._clients.for_team(team)
            if channel.startswith("D"):
                opened: Any = await client.conversations_open(users=user)
                return bool(opened["channel"]["id"] == channel)
            await client.conversations_members(channel=channel, limit=1)
            return True
        except SlackApiError as exc:
            log.info("not posting in %s: %s", channel, exc.response.get("error"))
        except (NotInstalled, aiohttp.ClientError, TimeoutError) as exc:
            # Unsure is not allowed: the giver is told, rather than the post dying unseen.
            log.warning("could not tell whether Plaudit may post in %s: %r", channel, exc)
        return False


async def message_permalink(client: AsyncWebClient, channel: Any, ts: Any) -> str | None:
    """The https permalink of message `ts` in `channel` (`chat.getPermalink`), or None when
    Slack does not give one."""
    if not channel or not ts:
        return None
    try:
        found = await client.chat_getPermalink(channel=str(channel), message_ts=str(ts))
    except SlackApiError:
        return None
    link = str(found.get("permalink") or "")
    return link if link.startswith("https://") else None


def noted(
    answer: dict[str, Any], result: KudosResult, asked: KudosRequested, given: KudosRequested
) -> dict[str, Any]:
    """The giver's answer, with `not_here`'s line when there is one."""
    note = not_here(result, asked.channel_id, given.channel_id)
    return with_note(answer, note) if note else answer


def not_here(result: KudosResult, asked: str | None, given: str | None) -> str:
    """What to tell the giver when `for_kudos` took the channel away (`asked` is not `given`)
    from a kudos that is published, or held for review and published once approved."""
    published = isinstance(result, Recorded)
    held = isinstance(result, Stopped) and result.outcome is Outcome.HOLD
    if asked == given or not (published or held):
        return ""
    return f":information_source: {_(NOT_HERE)}"


def with_note(answer: dict[str, Any], note: str) -> dict[str, Any]:
    """A private answer with one more line under it."""
    blocks = [*answer.get("blocks", []), _context(note)] if "blocks" in answer else None
    noted = {**answer, "text": f"{answer.get('text', '')}\n{note}".strip()}
    return noted if blocks is None else {**noted, "blocks": blocks}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
