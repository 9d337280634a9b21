"""Taking a kudos back, as the people involved see it, in Slack and in Teams: the giver's
"Take back" under their answer removes the public post and every recipient's message, and
the points; a colleague cannot take back someone else's kudos."""

from __future__ import annotations

import re

from tests.transcript import Chat, Side

CLEAN = "@bob @carol for the site activation checklist #collaboration"


def test_the_giver_takes_a_kudos_back_and_every_message_of_it_goes(side: Side) -> None:
    side.command("alice", f"kudos {CLEAN}")
    assert len(side.posted("kudos")) == 1
    assert len(side.dm("bob")) == 1 and len(side.dm("carol")) == 1

    side.click("alice", "Take back")

    answer = side.private("alice")[-1]
    assert "taken back" in answer and "points are returned" in answer
    assert side.posted("kudos") == []
    assert side.dm("bob") == [] and side.dm("carol") == []
    side.command("alice", "kudos leaderboard")
    board = side.seen("alice")[-1]
    assert not re.search(r"@?Bob: 1", board), board
    side.command("alice", "kudos me")
    assert re.search(r"5 of 5|Left to give today: 5", side.private("alice")[-1])


def test_in_slack_no_one_else_can_take_it_back(chat: Chat) -> None:
    chat.slack.command("alice", f"kudos {CLEAN}")
    [answer] = [s for s in chat.slack.private("alice") if "Kudos recorded" in s]
    # Bob presses the giver's button (a forged click): refused, nothing deleted.
    chat.slack.press_as("bob", answer, "Take back")
    assert "Only its giver or an admin" in chat.slack.private("bob")[-1]
    assert len(chat.slack.posted("kudos")) == 1
