"""`@Plaudit me` in Teams: a card with the figures of Slack's Home tab (this quarter's kudos,
the allowance, the sprint board's top and the kudos received lately)."""

from __future__ import annotations

from tests.transcript import Chat


def test_me_in_teams_is_a_home_card(chat: Chat) -> None:
    chat.teams.command("alice", "kudos @bob for the congress booth rota #collaboration")
    chat.teams.command("bob", "me")

    card = chat.teams.private("bob")[-1]
    assert "Received this quarter" in card and "Left to give today" in card
    assert "You are number 1 with 1 points" in card.replace("**", "")
    assert "congress booth rota" in card and "Alice" in card
    assert "[Give kudos]" in card
