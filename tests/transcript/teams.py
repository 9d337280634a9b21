"""Teams' side of a conversation test: people @mention the bot in a channel or write in
their 1:1 chat, press card buttons and react; they read cards and messages as plain words."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.fakes.bot_connector import (
    BOT_ID,
    BOT_NAME,
    GROUP_CHAT_ID,
    KUDOS_CHANNEL_ID,
    TEAM_ID,
    TENANT_ID,
    FakeConnector,
    personal_conversation_id,
)
from tests.harness import Server
from tests.transcript.cast import CAST, Said, someone, transcript
from tests.transcript.words import activity_text, card_text, cards

CHANNELS = {
    "general": TEAM_ID,
    "kudos": KUDOS_CHANNEL_ID,
    "review": "19:a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5@thread.tacv2",
    "safety": "19:5afe0000aaaabbbbccccddddeeeeffff@thread.tacv2",
    "group": GROUP_CHAT_ID,
    # A shared channel: people of other organisations read it.
    "connect": "19:c0nnec7c0nnec7c0nnec7c0nnec7c0@thread.tacv2",
}
_TOKEN = re.compile(r"@([A-Za-z][A-Za-z0-9_]*)")
_CLIENT = {"type": "clientInfo", "locale": "en-US", "country": "GB", "platform": "Web"}


def _actions(card: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = list(card.get("actions") or [])

    def walk(items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            if item.get("type") == "ActionSet":
                found.extend(item.get("actions") or [])
            walk(item.get("items") or [])
            for column in item.get("columns") or []:
                walk(column.get("items") or [])

    walk(card.get("body") or [])
    return found


def _inputs(card: Mapping[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}

    def walk(items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            if str(item.get("type") or "").startswith("Input.") and item.get("id"):
                values[str(item["id"])] = str(item.get("value") or "")
            walk(item.get("items") or [])
            for column in item.get("columns") or []:
                walk(column.get("items") or [])

    walk(card.get("body") or [])
    return values


def teams_text(text: str) -> tuple[str, str, list[dict[str, Any]]]:
    """A typed message as Teams delivers it: the text with `<at>` tags, the HTML
    attachment, and one mention entity per @name (`@Plaudit` is the bot)."""
    entities: list[dict[str, Any]] = []
    plain: list[str] = []
    markup: list[str] = []
    rest = 0
    for match in _TOKEN.finditer(text):
        word = match.group(1)
        if word.lower() == BOT_NAME.lower():
            ident, name = BOT_ID, BOT_NAME
        elif word in CAST:
            ident, name = CAST[word].teams_id, CAST[word].name
        else:
            continue
        before = text[rest : match.start()]
        tag = f"<at>{name}</at>"
        plain += [before, tag]
        span = (
            '<span itemscope="" itemtype="http://schema.skype.com/Mention" '
            f'itemid="{len(entities)}">{html.escape(name)}</span>'
        )
        markup += [html.escape(before), span]
        entities.append({"type": "mention", "text": tag, "mentioned": {"id": ident, "name": name}})
        rest = match.end()
    plain.append(text[rest:])
    markup.append(html.escape(text[rest:]))
    return "".join(plain), "<p>" + "".join(markup) + "</p>", entities


def conversation(conversation_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `conversation` and `channelData` of an activity in `conversation_id`."""
    conv: dict[str, Any] = {"tenantId": TENANT_ID, "id": conversation_id}
    data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
    if conversation_id.startswith("a:"):
        return conv | {"conversationType": "personal"}, data
    if conversation_id.endswith("@thread.v2"):
        return conv | {"isGroup": True, "conversationType": "groupChat"}, data
    channel = conversation_id.split(";", 1)[0]
    shared = {"type": "shared"} if channel == CHANNELS["connect"] else {}
    data |= {
        "teamsChannelId": channel,
        "teamsTeamId": TEAM_ID,
        "channel": {"id": channel, **shared},
        "team": {"id": TEAM_ID},
    }
    return conv | {"isGroup": True, "conversationType": "channel"}, data


# -- the side --------------------------------------------------------------------------------


class TeamsSide:
    """The cast in one Teams tenant, talking to the running app through /api/messages."""

    platform = "teams"

    def __init__(self, server: Server, fake: FakeConnector, settle: Callable[[], None]) -> None:
        self.server, self.fake, self.settle = server, fake, settle
        self._answers: list[tuple[str, Said]] = []  # (handle, card an invoke answered with)
        self._ids = itertools.count(1)

    @staticmethod
    def channel(name: str) -> str:
        return CHANNELS.get(name, name)

    @staticmethod
    def chat_of(who: str) -> str:
        """The id of `who`'s 1:1 chat with the bot."""
        return personal_conversation_id(someone(who).teams_id)

    # -- speaking ---------------------------------------------------------------------

    def say(self, who: str, text: str, *, where: str = "channel") -> None:
        """A message from `who`: in a new thread of a channel ("channel" is the kudos
        channel), in their 1:1 chat with the bot ("personal"), or in the group chat."""
        ident = self._next_id()
        if where == "personal":
            conversation_id = self.chat_of(who)
        else:
            place = self.channel("kudos" if where == "channel" else where)
            threaded = place.endswith("@thread.tacv2")
            conversation_id = f"{place};messageid={ident}" if threaded else place
        plain, markup, mentions = teams_text(text)
        body = self._activity(who, "message", conversation_id, id=ident)
        body |= {
            "text": plain,
            "textFormat": "plain",
            "attachments": [{"contentType": "text/html", "content": markup}],
            "entities": [*mentions, _CLIENT],
        }
        self._send(body)

    def command(self, who: str, words: str) -> None:
        """`kudos me` and the like, typed in `who`'s 1:1 chat with the bot."""
        self.say(who, words, where="personal")

    def install(self, who: str) -> None:
        """`who` adds the app for themselves: the bot has their 1:1 chat from then on."""
        body = self._activity(who, "installationUpdate", self.chat_of(who))
        self._send(body | {"action": "add"})

    # -- reading ----------------------------------------------------------------------

    def card_to(self, who: str) -> list[Said]:
        """What the bot sent to `who`'s 1:1 chat, as it looks now."""
        self.settle()
        return self._in(self.chat_of(who))

    dm = card_to

    def private(self, who: str) -> list[Said]:
        """What only `who` saw: their 1:1 chat, and the cards their own clicks brought."""
        answers = [said for handle, said in self._answers if handle == who]
        return sorted(self.card_to(who) + answers, key=lambda s: s.at)

    def posted(self, where: str) -> list[Said]:
        """What the bot posted in a channel (and its threads) or chat."""
        self.settle()
        return self._in(self.channel(where))

    def seen(self, who: str) -> list[Said]:
        """Everything `who` can see: their 1:1 chat, every shared conversation, and the
        cards their clicks brought (each in place of the card clicked)."""
        self.settle()
        mine = self.chat_of(who)
        shown = [s for s in self._in(None) if s.where == mine or not s.where.startswith("a:")]
        answered = [said for handle, said in self._answers if handle == who]
        replaced = {s.ref for s in answered}
        return sorted([s for s in shown if s.ref not in replaced] + answered, key=lambda s: s.at)

    def _in(self, conversation_id: str | None) -> list[Said]:
        latest: dict[str, Said] = {}
        for sent in self.fake.activities(conversation_id):
            live = self.fake.activity(sent.activity_id)
            if live is None:
                latest.pop(sent.activity_id, None)
                continue
            first = latest.get(sent.activity_id)
            latest[sent.activity_id] = Said(
                activity_text(live),
                raw=live,
                where=first.where if first else sent.conversation_id,
                ref=sent.activity_id,
                at=sent.at,
            )
        return sorted(latest.values(), key=lambda s: s.at)

    # -- acting -----------------------------------------------------------------------

    def click(
        self, who: str, title: str, inputs: Mapping[str, str | list[str]] | None = None
    ) -> Said:
        """Press `title` on the latest card `who` saw that has it, with the card's inputs
        as shown, changed by `inputs` (a people picker takes handles); returns the card
        the bot answered with, which `who` now sees in its place."""
        seen = self.seen(who)
        for said in reversed(seen):
            for card in cards(said.raw):
                action = next((a for a in _actions(card) if a.get("title") == title), None)
                if action is not None:
                    return self._invoke(who, said, card, action, inputs or {})
        raise AssertionError(f"{who} sees no card with {title!r}:\n{transcript(seen)}")

    def _invoke(
        self,
        who: str,
        said: Said,
        card: Mapping[str, Any],
        action: Mapping[str, Any],
        inputs: Mapping[str, str | list[str]],
    ) -> Said:
        assert action.get("type") == "Action.Execute", f"not a Universal Action: {action}"
        changed = {
            k: ",".join(someone(h).aad_id for h in v) if isinstance(v, list) else v
            for k, v in inputs.items()
        }
        data = {**(action.get("data") or {}), **_inputs(card), **changed}
        body = self._activity(who, "invoke", said.where, id=f"f:chat-{self._next_id()}")
        body |= {
            "name": "adaptiveCard/action",
            "replyToId": said.ref,
            "entities": [_CLIENT],
            "value": {
                "action": {
                    "type": "Action.Execute",
                    "title": action.get("title"),
                    "verb": action.get("verb"),
                    "data": data,
                },
                "trigger": "manual",
            },
        }
        answer = self._send(body).json()
        assert answer.get("statusCode") == 200, answer
        value = answer.get("value")
        shown = value if isinstance(value, dict) and value.get("type") == "AdaptiveCard" else {}
        text = card_text(shown) if shown else str(value)
        replied = Said(text, raw=shown, where=said.where, ref=said.ref)
        self._answers.append((who, replied))
        return replied

    def react(self, who: str, reaction: str, *, on: Said, removed: bool = False) -> None:
        """`who` adds (or takes back) a reaction on a message the bot posted."""
        body = self._activity(who, "messageReaction", on.where, id=f"f:chat-{self._next_id()}")
        key = "reactionsRemoved" if removed else "reactionsAdded"
        self._send(body | {key: [{"type": reaction}], "replyToId": on.ref})

    # -- the wire ---------------------------------------------------------------------

    def _next_id(self) -> str:
        return str(1717500000000 + next(self._ids))

    def _activity(
        self, who: str, kind: str, conversation_id: str, *, id: str | None = None
    ) -> dict[str, Any]:
        person = someone(who)
        conv, channel_data = conversation(conversation_id)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "type": kind,
            "id": id or self._next_id(),
            "timestamp": now,
            "channelId": "msteams",
            "serviceUrl": self.fake.service_url,
            "from": {"id": person.teams_id, "name": person.name, "aadObjectId": person.aad_id},
            "conversation": conv,
            "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "channelData": channel_data,
            "locale": "en-US",
            "localTimezone": person.tz,
        }

    def _send(self, body: dict[str, Any]) -> httpx.Response:
        self.settle()  # people answer what they have seen: the bot's earlier messages first
        response = httpx.post(f"{self.server.base_url}/api/messages", json=body, timeout=15)
        assert response.status_code == 200, f"{response.status_code}: {response.text}"
        return response
