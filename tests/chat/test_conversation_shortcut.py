"""Kudos from a message: Slack's message shortcut "Give kudos for this" and Teams' message
extension "Give kudos" open the kudos form with the message's author picked and a link to
the message; what is sent goes through the same use case and gate, and the post and the
recipient's message link back to it. Apps' messages and one's own are refused politely."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from bot.slack.shortcut import CALLBACK, NOT_A_COLLEAGUE
from bot.teams import extension
from bot.teams.package import GIVE_COMMAND
from storage.models import Recognition
from tests.harness import eventually
from tests.transcript import Chat
from tests.transcript.cast import someone

WORDS = "for the site activation checklist you shared #collaboration"


def shortcut(chat: Chat, who: str, message: dict[str, Any], channel: str) -> dict[str, Any]:
    side = chat.slack
    payload = {
        **side._envelope(who, "message_action"),
        "callback_id": CALLBACK,
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "message_ts": message["ts"],
        "response_url": side.fake.response_url("commands/T0001/9/shortcut"),
    }
    response = chat.server.interaction(payload)
    assert response.status_code == 200, response.text
    return payload


def test_slack_shortcut_gives_kudos_to_the_messages_author_with_a_link(chat: Chat) -> None:
    general = chat.slack.channel("general")
    bob = someone("bob")
    ts = chat.slack.fake.add_message(general, "Here is the checklist", user=bob.slack_id)
    shortcut(chat, "alice", {"type": "message", "ts": ts, "user": bob.slack_id}, general)

    eventually(lambda: bool(chat.slack.fake.calls("views.open")))
    form = chat.slack.form("alice").raw
    picked = next(b for b in form["blocks"] if b.get("block_id") == "recipients")
    assert picked["element"]["initial_users"] == [bob.slack_id]
    link = f"https://example.slack.com/archives/{general}/p{ts.replace('.', '')}"
    assert f"<{link}|this message>" in json.dumps(form)
    assert chat.slack.submit("alice", {"message": WORDS}) == ""

    [dm] = chat.slack.dm("bob")
    assert "Alice gave you kudos" in dm and f"<{link}|this message>" in json.dumps(dm.raw)
    [post] = chat.slack.posted("kudos")
    assert f"<{link}|this message>" in json.dumps(post.raw)
    with Session(chat.engine) as s:
        [kudos] = s.exec(select(Recognition)).all()
    assert kudos.permalink == link and kudos.source == "modal"


def test_slack_shortcut_on_an_apps_message_is_refused(chat: Chat) -> None:
    general = chat.slack.channel("general")
    payload = shortcut(chat, "alice", {"type": "message", "ts": "1.2", "bot_id": "B1"}, general)
    [said] = chat.slack.fake.responses(payload["response_url"])
    assert said["text"] == NOT_A_COLLEAGUE
    assert chat.slack.fake.calls("views.open") == []


def invoke(chat: Chat, who: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    side = chat.teams
    body = side._activity(who, "invoke", side.channel("channel"))
    body |= {"name": name, "value": {"commandId": GIVE_COMMAND, **value}}
    answer: dict[str, Any] = side._send(body).json()
    return answer


def test_teams_message_extension_gives_kudos_to_the_messages_author(chat: Chat) -> None:
    chat.teams.install("alice")
    bob = someone("bob")
    link = "https://teams.microsoft.com/l/message/19%3Aabc%40thread.tacv2/1700000000000"
    payload = {
        "id": "1700000000000",
        "from": {"user": {"id": bob.aad_id, "displayName": "Bob", "userIdentityType": "aadUser"}},
        "body": {"contentType": "html", "content": "<p>Here is the checklist</p>"},
        "linkToMessage": link,
    }
    fetched = invoke(
        chat, "alice", extension.FETCH, {"commandContext": "message", "messagePayload": payload}
    )
    dialog = fetched["task"]["value"]["card"]["content"]
    picker = next(i for i in dialog["body"] if i.get("id") == "recipients")
    assert picker["value"] == bob.aad_id and f"]({link})" in json.dumps(dialog)
    [send] = dialog["actions"]
    assert send["type"] == "Action.Submit"

    inputs = {"recipients": bob.aad_id, "message": WORDS, "private": "false"}
    sent = invoke(
        chat,
        "alice",
        extension.SUBMIT,
        {"commandContext": "message", "data": {**send["data"], **inputs}},
    )
    assert sent["task"]["type"] == "message" and "Kudos recorded for Bob" in sent["task"]["value"]
    assert "Alice gave you kudos" in chat.teams.dm("bob")[-1]
    [post] = chat.teams.posted("kudos")
    assert link in json.dumps(post.raw)


def test_teams_extension_refusals_keep_the_dialog_open_and_apps_are_refused(chat: Chat) -> None:
    chat.teams.install("alice")
    app_message = {"id": "1", "from": {"application": {"id": "x", "displayName": "Bot"}}}
    fetched = invoke(
        chat, "alice", extension.FETCH, {"commandContext": "message", "messagePayload": app_message}
    )
    assert fetched == {"task": {"type": "message", "value": extension.NOT_A_COLLEAGUE}}

    short = {"recipients": someone("bob").aad_id, "message": "ty"}
    sent = invoke(chat, "alice", extension.SUBMIT, {"commandContext": "compose", "data": short})
    assert sent["task"]["type"] == "continue"
    again = json.dumps(sent["task"]["value"]["card"]["content"])
    assert "Say what they did" in again  # the form again, saying why
    with Session(chat.engine) as s:
        assert s.exec(select(Recognition)).all() == []
