"""Reading a Teams message: the bot's mention out, people's mentions as ids, values kept."""

from __future__ import annotations

import json
from typing import Any

from bot.chat.mentions import parse
from bot.teams.activity import as_command_text, mentions, plain, without_bot
from tests.harness import PAYLOADS


def _activity(**changes: object) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (PAYLOADS / "teams" / "message_kudos_channel.json").read_text()
    )
    data.update(changes)
    return data


def test_mentions_become_ids_and_the_bot_is_left_out() -> None:
    activity = _activity()
    text = without_bot(activity)
    assert not text.lower().startswith("<at>plaudit")
    slack_like, names = as_command_text(text.removeprefix("kudos"), mentions(activity))
    parsed = parse(slack_like, ("#site-activation",))
    assert parsed.user_ids == ("29:1megan", "29:1alex")
    assert names == {"29:1megan": "Megan Bowen", "29:1alex": "Alex Wilber"}
    assert parsed.values == ("#site-activation",)
    assert parsed.message == "for the site activation email #site-activation"


def test_markup_and_entities_in_the_text_are_plain_words() -> None:
    text = "<p>thanks &amp; well done <at>Megan Bowen</at> for &lt;the&gt; launch</p>"
    assert plain(text).split() == [
        "thanks",
        "&",
        "well",
        "done",
        "@Megan",
        "Bowen",
        "for",
        "<the>",
        "launch",
    ]
    slack_like, _ = as_command_text(text, [("29:1megan", "Megan Bowen", "<at>Megan Bowen</at>")])
    # Typed angle brackets cannot forge a mention for the shared parser.
    assert parse(slack_like).user_ids == ("29:1megan",)
    assert "&lt;the&gt;" in slack_like


def test_a_mention_that_is_not_in_the_text_is_ignored() -> None:
    slack_like, names = as_command_text("for the launch", [("29:1x", "X", "<at>X</at>")])
    assert names == {} and parse(slack_like).user_ids == ()
