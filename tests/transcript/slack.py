"""Slack's side of a conversation test: people type slash commands, press buttons, fill in
forms and react; they read their private answers, DMs and channels as plain words."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.slack_api import FakeSlack
from tests.harness import Server
from tests.transcript.cast import CAST, MENTION, Said, someone, transcript
from tests.transcript.words import decoded, message_text, plain, view_text

CHANNELS = {
    "general": "C0GENERAL",
    "kudos": "C0KUDOS",
    "review": "C0REVIEW",
    "safety": "C0SAFETY",
    "results": "C0RESULTS",
}


@dataclass
class RecordingSlack(FakeSlack):
    """The fake Web API, also keeping what Slack shows but does not store: ephemeral
    messages, when each message arrived, and whose DM channel is whose."""

    arrived: dict[str, float] = field(default_factory=dict)  # ts -> time.monotonic()
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    dm_channels: dict[str, str] = field(default_factory=dict)  # D... -> user id

    def channels(self) -> list[str]:
        with self._lock:
            return list(self._messages)

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._post_message(args)
        if answer.get("ok"):
            with self._lock:
                self.arrived[str(answer["ts"])] = time.monotonic()
        return answer

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._post_ephemeral(args)
        if answer.get("ok"):
            with self._lock:
                self.ephemerals.append({**args, "ts": answer["message_ts"], "at": time.monotonic()})
        return answer

    def _open(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._open(args)
        with self._lock:
            self.dm_channels[str(answer["channel"]["id"])] = str(args.get("users", ""))
        return answer

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = super()._complete_upload(args)
        with self._lock:
            stored = self._messages.get(str(args.get("channel_id") or ""))
            if answer.get("ok") and stored:
                self.arrived[str(stored[-1]["ts"])] = time.monotonic()
        return answer


def slack_text(text: str) -> str:
    """What Slack sends as a command's text: `&`, `<`, `>` escaped, `@bob` as `<@U…|bob>`."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def mention(match: re.Match[str]) -> str:
        handle = match.group(1)
        return f"<@{CAST[handle].slack_id}|{handle}>" if handle in CAST else match.group(0)

    return MENTION.sub(mention, escaped)


# -- the side --------------------------------------------------------------------------------


class SlackSide:
    """The cast in one Slack workspace (T0001), talking to the running app."""

    platform = "slack"

    def __init__(self, server: Server, fake: RecordingSlack, settle: Callable[[], None]) -> None:
        self.server, self.fake, self.settle = server, fake, settle
        self._answers: list[tuple[str, Said]] = []  # (handle, HTTP answer shown privately)
        self._triggers: dict[str, str] = {}  # trigger id -> handle
        self._ids = itertools.count(1)

    @staticmethod
    def channel(name: str) -> str:
        return CHANNELS.get(name, name)

    # -- speaking ---------------------------------------------------------------------

    def say(self, who: str, text: str, *, channel: str = "general") -> None:
        """A slash command, typed in `channel`; its private answer is in `ephemeral(who)`."""
        self.settle()  # people answer what they have seen: the bot's earlier messages first
        person, where = someone(who), self.channel(channel)
        command, _, rest = text.partition(" ")
        assert command.startswith("/"), f"not a slash command: {text!r} (use post())"
        response = self.server.command(
            slack_text(rest.strip()),
            user_id=person.slack_id,
            trigger_id=self._trigger(who),
            command=command,
            channel_id=where,
            user_name=who,
        )
        assert response.status_code == 200, response.text
        if response.content:
            body = response.json()
            self._answers.append((who, Said(message_text(body), raw=body, where=where)))

    def command(self, who: str, words: str) -> None:
        """`kudos me` is `/kudos me` here."""
        self.say(who, "/" + words)

    def post(self, who: str, text: str, *, channel: str = "general") -> Said:
        """An ordinary message from `who` (the bot does not read it; others may react)."""
        ts = f"1700000999.{next(self._ids):06d}"
        where = self.channel(channel)
        return Said(text, raw={"text": text, "ts": ts}, where=where, ref=ts, author=who)

    # -- reading ----------------------------------------------------------------------

    def ephemeral(self, who: str) -> list[Said]:
        """Private answers `who` got: command responses and "only visible to you" posts."""
        self.settle()
        user = someone(who).slack_id
        found = [said for handle, said in self._answers if handle == who]
        found += [
            Said(message_text(e), raw=e, where=str(e["channel"]), ref=str(e["ts"]), at=e["at"])
            for e in list(self.fake.ephemerals)
            if e.get("user") == user
        ]
        return sorted(found, key=lambda s: s.at)

    def dm(self, who: str) -> list[Said]:
        """What the bot sent `who` in their direct messages, as it looks now."""
        self.settle()
        user = someone(who).slack_id
        mine = [user] + [d for d, u in dict(self.fake.dm_channels).items() if u == user]
        return sorted((m for c in mine for m in self._stored(c)), key=lambda s: s.at)

    def private(self, who: str) -> list[Said]:
        return sorted(self.ephemeral(who) + self.dm(who), key=lambda s: s.at)

    def posted(self, channel: str) -> list[Said]:
        """What the bot posted in `channel` ("kudos", "review", ... or an id)."""
        self.settle()
        return self._stored(self.channel(channel))

    def form(self, who: str) -> Said:
        """The latest form (modal) opened for `who`."""
        views = self._views(who)
        assert views, f"no form was opened for {who}"
        return views[-1]

    def _stored(self, channel: str) -> list[Said]:
        return [
            Said(
                message_text(m),
                raw=m,
                where=channel,
                ref=str(m["ts"]),
                at=self.fake.arrived.get(str(m["ts"]), 0.0),
            )
            for m in self.fake.messages(channel)
        ]

    def _views(self, who: str) -> list[Said]:
        views = []
        for call in self.fake.calls("views.open"):
            if self._triggers.get(str(call.args.get("trigger_id"))) != who:
                continue
            view = decoded(call.args["view"])
            views.append(Said(view_text(view), raw=view, where="modal", at=call.at))
        return views

    def seen(self, who: str) -> list[Said]:
        """Everything `who` can see: private answers, DMs and the channels' messages."""
        public = [m for c in self.fake.channels() if c.startswith("C") for m in self._stored(c)]
        return sorted(self.private(who) + public, key=lambda s: s.at)

    # -- acting -----------------------------------------------------------------------

    def click(self, who: str, label: str) -> None:
        """Press the button labelled `label` on the latest message `who` saw that has one."""
        self._act(who, label, lambda e: e.get("type") == "button" and plain(e["text"]) == label)

    def press_as(self, who: str, said: Said, label: str) -> None:
        """`who` presses button `label` of a message someone else saw (a forged click)."""
        for block_id, element in _elements(said.raw):
            if element.get("type") == "button" and plain(element["text"]) == label:
                self._press(who, said, block_id, element, label)
                return
        raise AssertionError(f"no button {label!r} on {said}")

    def choose(self, who: str, option: str) -> None:
        """Pick `option` in the latest menu `who` saw that offers it."""

        def offers(element: Mapping[str, Any]) -> bool:
            options = element.get("options") or []
            return element.get("type") == "static_select" and any(
                plain(o["text"]) == option for o in options
            )

        self._act(who, option, offers)

    def _act(self, who: str, what: str, matches: Callable[[Mapping[str, Any]], bool]) -> None:
        seen = self.seen(who)
        for said in reversed(seen):
            for block_id, element in _elements(said.raw):
                if matches(element):
                    self._press(who, said, block_id, element, what)
                    return
        raise AssertionError(f"{who} sees nothing to press called {what!r}:\n{transcript(seen)}")

    def _press(
        self, who: str, said: Said, block_id: str, element: Mapping[str, Any], what: str
    ) -> None:
        person = someone(who)
        action: dict[str, Any] = {
            "type": element["type"],
            "action_id": element["action_id"],
            "block_id": block_id,
            "text": element.get("text") or element.get("placeholder"),
            "action_ts": f"1700001000.{next(self._ids):06d}",
        }
        if "value" in element:
            action["value"] = element["value"]
        if element["type"] == "static_select":
            action["selected_option"] = next(
                o for o in element["options"] if plain(o["text"]) == what
            )
        # A command's answer has no ts; a chat.postEphemeral one names its one reader.
        ephemeral = said.ref is None or said.raw.get("user") == person.slack_id
        ts = said.ref or f"1700000998.{next(self._ids):06d}"
        payload = {
            **self._envelope(who, "block_actions"),
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": said.where,
                "is_ephemeral": ephemeral,
            },
            "channel": {"id": said.where},
            "actions": [action],
        }
        if not ephemeral:
            payload["message"] = {**said.raw, "ts": ts, "user": self.fake.bot_user_id}
        response = self.server.interaction(payload)
        assert response.status_code == 200, f"{person.handle} pressed {what}: {response.text}"

    def submit(self, who: str, inputs: Mapping[str, str | list[str]] | None = None) -> Said:
        """Send `who`'s latest form, changing the inputs named (by block id) in `inputs`;
        returns the errors the form shows, or "" when it closed."""
        self.settle()
        view = self.form(who).raw
        values = {
            b["block_id"]: {b["element"]["action_id"]: _state(b["element"], (inputs or {}), b)}
            for b in view.get("blocks") or []
            if b.get("type") == "input"
        }
        n = next(self._ids)
        payload = {
            **self._envelope(who, "view_submission"),
            "view": {
                **view,
                "id": f"VCHAT{n:04d}",
                "hash": f"{n}.chat",
                "state": {"values": values},
            },
        }
        response = self.server.interaction(payload)
        assert response.status_code == 200, response.text
        body = response.json() if response.content else {}
        errors = body.get("errors") or {}
        return Said("\n".join(f"{k}: {v}" for k, v in errors.items()), raw=body, where="modal")

    def react(self, who: str, emoji: str, *, on: Said, removed: bool = False) -> None:
        """`who` adds (or takes back) `emoji` on a message."""
        self.settle()
        author = someone(on.author).slack_id if on.author else self.fake.bot_user_id
        n = next(self._ids)
        envelope = {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": self.fake.team_id,
            "api_app_id": "A0001",
            "event": {
                "type": "reaction_removed" if removed else "reaction_added",
                "user": someone(who).slack_id,
                "reaction": emoji,
                "item_user": author,
                "item": {"type": "message", "channel": on.where, "ts": on.ref},
                "event_ts": f"1700002000.{n:06d}",
            },
            "type": "event_callback",
            "event_id": f"EvCHAT{n:06d}",
            "event_time": int(time.time()),
        }
        response = self.server.event(envelope)
        assert response.status_code == 200, response.text

    def _trigger(self, who: str) -> str:
        trigger = f"trigger-chat-{next(self._ids)}-{time.monotonic_ns()}"
        self._triggers[trigger] = who
        return trigger

    def _envelope(self, who: str, kind: str) -> dict[str, Any]:
        person = someone(who)
        return {
            "type": kind,
            "team": {"id": self.fake.team_id, "domain": "example"},
            "user": {
                "id": person.slack_id,
                "username": who,
                "name": who,
                "team_id": self.fake.team_id,
            },
            "api_app_id": "A0001",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": self._trigger(who),
        }


def _elements(raw: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(block id, element) of each interactive element of a message."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for index, block in enumerate(decoded(raw.get("blocks")) or []):
        block_id = str(block.get("block_id") or f"chat-block-{index}")
        if block.get("type") == "actions":
            found += [(block_id, e) for e in block.get("elements") or []]
        elif isinstance(block.get("accessory"), Mapping):
            found.append((block_id, block["accessory"]))
    return found


def _state(
    element: Mapping[str, Any], inputs: Mapping[str, str | list[str]], block: Mapping[str, Any]
) -> dict[str, Any]:
    """An input's state in a view_submission: what the form was opened with, or `inputs`."""
    given = inputs.get(str(block["block_id"]))
    kind = element["type"]
    if kind == "multi_users_select":
        handles = [given] if isinstance(given, str) else given
        users = [someone(h).slack_id for h in handles] if handles is not None else None
        return {"type": kind, "selected_users": users or element.get("initial_users") or []}
    if kind == "static_select":
        options = element.get("options") or []
        picked = next((o for o in options if given in (o["value"], plain(o["text"]))), None)
        return {"type": kind, "selected_option": picked or element.get("initial_option")}
    if kind == "checkboxes":  # `inputs` names the ticked options' values (a list: none)
        options = element.get("options") or []
        ticked = [given] if isinstance(given, str) else given
        if ticked is None:
            return {"type": kind, "selected_options": element.get("initial_options") or []}
        return {"type": kind, "selected_options": [o for o in options if o["value"] in ticked]}
    text = given if isinstance(given, str) else element.get("initial_value")
    return {"type": kind, "value": text}
