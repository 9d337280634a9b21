"""One command router for both platforms: Slack's `/kudos <text>` and Teams' `@Plaudit <text>`."""

from __future__ import annotations

import pytest

from bot.chat.commands import Command, Routed, route


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Routed(Command.FORM)),
        ("help", Routed(Command.HELP)),
        ("?", Routed(Command.HELP)),
        ("me", Routed(Command.ME)),
        ("ME", Routed(Command.ME)),
        ("leaderboard team Brand", Routed(Command.LEADERBOARD, ("team", "Brand"))),
        ("<@U1|bob> thanks for the deck", Routed(Command.KUDOS)),
        ("me and <@U1|bob> thank you", Routed(Command.KUDOS)),
        ("help desk heroes <@U1|bob> and <@U2|carol>", Routed(Command.KUDOS)),
    ],
)
def test_slash_command_text(text: str, expected: Routed) -> None:
    assert route(text, keyword=False) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Routed(Command.HELP)),
        ("help", Routed(Command.HELP)),
        ("kudos", Routed(Command.FORM)),
        ("kudos @Bob thanks for the deck", Routed(Command.KUDOS)),
        ("kudos me", Routed(Command.ME)),
        ("Kudos leaderboard givers", Routed(Command.LEADERBOARD, ("givers",))),
        ("kudos help", Routed(Command.HELP)),
        ("me", Routed(Command.ME)),
        ("thanks @Bob", Routed(Command.UNKNOWN)),
    ],
)
def test_teams_message_text(text: str, expected: Routed) -> None:
    assert route(text, keyword=True) == expected
