"""A pulse survey round, as its members and its owner see it: the invitation, the answers
(Slack buttons, menus and a form; the Teams card), the redrawn message, the results."""

from __future__ import annotations

import re
from dataclasses import replace

from handlers import surveys
from tests.slack.test_survey_slack import SURVEY
from tests.transcript import Chat, Said
from tests.transcript.cast import REVIEWER

# The Slack survey tests' pulse, due weekly, with an owner who hears the results.
PULSE = replace(
    SURVEY, schedule=surveys.Schedule(cron="0 9 * * mon", timezone="UTC"), owners=(REVIEWER.email,)
)


def highlighted(message: Said) -> list[str]:
    """The labels of the buttons Slack shows as chosen (the primary style)."""
    return [
        element["text"]["text"]
        for block in message.raw["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("style") == "primary"
    ]


def test_slack_members_answer_with_buttons_and_a_form_and_the_results_are_posted(
    chat: Chat,
) -> None:
    chat.enrol("bob", "carol", on="slack")
    round_id = chat.open_survey(PULSE)

    for who in ("bob", "carol"):
        [invite] = chat.slack.dm(who)
        assert invite.startswith("Weekly pulse\nTwo minutes, please.")
        assert "1. How energised do you feel?\n[1] [2] [3] [4] [5]" in invite
        assert "1 = Drained · 5 = Great" in invite
        assert "2. What got in the way?\n<Choose>" in invite
        assert "3. Anything else?\n[Write an answer]" in invite

    chat.slack.click("bob", "4")
    chat.slack.choose("bob", "Tools")
    chat.slack.click("bob", "Write an answer")
    assert "Anything else?" in chat.slack.form("bob")
    assert chat.slack.submit("bob", {"answer": "More focus time, please"}) == ""

    [redrawn] = chat.slack.dm("bob")
    assert highlighted(redrawn) == ["4"]
    assert "2. What got in the way?\n<Tools>" in redrawn
    assert "[Change your answer]\nYour answer: More focus time, please" in redrawn
    assert highlighted(chat.slack.dm("carol")[0]) == []

    chat.close_survey(round_id)
    [results] = chat.slack.posted("results")
    assert "Weekly pulse, round 1: 1 of 2 answered (50%)." in results
    assert "How energised do you feel? mean 4" in results
    assert re.search(r"What got in the way\? .*Tools: 1", results), results
    assert "- More focus time, please" in results


def test_teams_members_answer_on_the_card_and_the_owner_gets_the_results(chat: Chat) -> None:
    chat.teams.install("bob")  # the bot opens the 1:1 chats of the others itself
    chat.enrol("bob", "carol", "rae", on="teams")
    round_id = chat.open_survey(PULSE)

    invite = chat.teams.card_to("carol")[-1]
    assert invite.startswith("Weekly pulse\nTwo minutes, please.")
    assert "1. How energised do you feel?: \n2. What got in the way?: \n" in invite
    assert invite.endswith("[Submit]")
    assert "Weekly pulse" in chat.teams.card_to("bob")[-1]

    answer = chat.teams.click(
        "bob", "Submit", inputs={"q_energy": "4", "q_focus": "Tools", "q_comment": "More focus"}
    )
    assert "Thank you: your answers are saved." in answer
    assert "1. How energised do you feel?: 4" in answer
    assert "2. What got in the way?: Tools" in answer
    assert "3. Anything else?: More focus" in answer

    refused = chat.teams.click("carol", "Submit", inputs={"q_energy": "9"})
    assert "pick a number from 1 to 5" in refused

    chat.close_survey(round_id)
    results = chat.teams.card_to("rae")[-1]
    assert "Weekly pulse, round 1: 1 of 3 answered (33%)." in results
    assert "How energised do you feel? mean 4" in results
