"""Giving kudos, as the people involved see it, in Slack and in Teams."""

from __future__ import annotations

import re

from tests.transcript import Chat, Side

CLEAN = "@bob @carol for the site activation checklist #collaboration"


def test_a_clean_kudos_is_answered_privately_posted_publicly_and_each_recipient_hears(
    side: Side,
) -> None:
    side.command("alice", f"kudos {CLEAN}")

    answer = side.private("alice")[-1]
    assert "Kudos recorded for Bob, Carol" in answer and "You have 3 left today" in answer
    [post] = side.posted("kudos")
    assert re.search(r"Alice (gave kudos to|recognised) @?Bob(,| and) @?Carol", post), post
    assert "for the site activation checklist" in post and "#collaboration" in post
    for who in ("bob", "carol"):
        [dm] = side.dm(who)
        assert "Alice gave you kudos" in dm and "for the site activation checklist" in dm
    assert side.dm("dave") == []


def test_kudos_to_yourself_or_beyond_the_allowance_are_refused_politely_and_not_posted(
    side: Side,
) -> None:
    side.command("alice", "kudos @alice for keeping my own desk so tidy")
    assert "you can't give them to yourself" in side.private("alice")[-1]

    side.command("alice", "kudos @bob @carol @dave @erin @frank for the launch checklist")
    assert "You have 0 left today" in side.private("alice")[-1]
    side.command("alice", "kudos @rae for reviewing the launch checklist so quickly")
    refusal = side.private("alice")[-1]
    assert "You have 0 of 5 kudos left today and this needs 1" in refusal
    assert "resets at midnight" in refusal

    [post] = side.posted("kudos")
    assert "launch checklist" in post and "desk" not in post and "Rae" not in post
    assert side.dm("rae") == []


def test_me_and_the_leaderboard_show_the_points(side: Side) -> None:
    side.command("alice", "kudos @bob for the site activation checklist #collaboration")
    side.command("carol", "kudos @bob @dave for the onboarding deck #site-activation")

    side.command("bob", "kudos me")
    mine = side.private("bob")[-1]
    side.command("carol", "kudos me")
    hers = side.private("carol")[-1]
    if side.platform == "teams":  # a home card: the figures as facts
        assert "Received this quarter: 2" in mine and "Given this quarter: 0" in mine
        assert "Left to give today: 5 of 5" in mine
        assert "Given this quarter: 2" in hers and "Left to give today: 3 of 5" in hers
    else:
        assert "you received 2 and gave 0 kudos" in mine and "you have 5 of 5 left" in mine
        assert "you received 0 and gave 2 kudos" in hers and "you have 3 of 5 left" in hers

    side.command("alice", "kudos leaderboard")
    board = side.seen("alice")[-1]
    assert re.search(r"^1\. @?Bob: 2$", board, re.MULTILINE), board
    assert re.search(r"^2\. @?Dave: 1$", board, re.MULTILINE), board


def test_in_a_teams_channel_the_public_card_is_the_answer_and_a_reaction_seconds_it(
    chat: Chat,
) -> None:
    chat.teams.say("alice", f"@Plaudit kudos {CLEAN}", where="channel")

    [card] = chat.teams.posted("kudos")
    assert "Alice recognised Bob, Carol" in card and "React to this card" in card
    mentioned = {
        e["mentioned"]["name"] for e in card.raw["attachments"][0]["content"]["msteams"]["entities"]
    }
    assert mentioned == {"Alice", "Bob", "Carol"}
    assert chat.teams.card_to("alice") == []  # nothing to add to what everyone sees

    chat.teams.react("dave", "like", on=card)
    assert "Dave seconded a kudos for you with a like" in chat.teams.dm("bob")[-1]
    assert "Dave seconded a kudos for you with a like" in chat.teams.dm("carol")[-1]
    chat.teams.command("bob", "me")
    assert "Received this quarter: 2" in chat.teams.dm("bob")[-1]


def test_in_slack_a_clap_on_a_colleagues_message_is_a_kudos(chat: Chat) -> None:
    shipped = chat.slack.post("bob", "The site activation checklist is live for all sites")
    chat.slack.react("carol", "clap", on=shipped)

    [post] = chat.slack.posted("kudos")
    assert post.startswith(":clap: @Carol gave kudos to @Bob") and "this message" in post
    [dm] = chat.slack.dm("bob")
    assert "@Carol gave you kudos on your message" in dm
    chat.slack.react("carol", "clap", on=shipped, removed=True)
    chat.slack.say("bob", "/kudos me")
    assert "you received 0 and gave 0 kudos" in chat.slack.ephemeral("bob")[-1]


def test_slack_shows_ampersands_and_angle_brackets_as_typed(chat: Chat) -> None:
    chat.slack.say("alice", "/kudos @bob for the Q&A <with> the sites #collaboration")

    [post] = chat.slack.posted("kudos")
    assert "for the Q&A <with> the sites" in post
