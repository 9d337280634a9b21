"""The compliance gate, as the giver, the reviewer and drug safety see it, in Slack and Teams:
held for review, blocked with findings (edit and resend, or ask for review), and a possible
adverse event that is never posted."""

from __future__ import annotations

import re

from tests.transcript import Chat, Side

HELD = "for the great idea to show Cardivex in pregnancy at the booth #collaboration"
BLOCKED = "for the Oncozol email that calls it the best treatment #collaboration"
ADVERSE = (
    "for staying calm when the caller said her mother was hospitalised with a severe rash "
    "after starting Larkspur"
)


def test_a_held_kudos_goes_to_review_and_is_published_once_a_reviewer_approves(
    side: Side,
) -> None:
    side.command("alice", f"kudos @bob {HELD}")

    answer = side.private("alice")[-1]
    assert "held for a compliance reviewer before it can be posted" in answer
    assert "Cardivex is approved for adult hypertension" in answer
    assert side.posted("kudos") == [] and side.dm("bob") == []
    [request] = side.posted("review")
    assert "Cardivex in pregnancy" in request
    assert "[Approve] [Reject]" in request

    side.click("bob", "Approve")  # not a reviewer
    assert "Only reviewers" in side.private("bob")[-1]
    assert side.posted("kudos") == []

    side.click("rae", "Approve")
    assert re.search(r"Review #1:? approved", side.private("rae")[-1])
    [post] = side.posted("kudos")
    assert "Bob" in post and "Cardivex in pregnancy at the booth" in post
    [dm] = side.dm("bob")
    assert "Alice gave you kudos" in dm


def test_a_blocked_kudos_is_answered_with_findings_and_sent_for_review_on_request(
    side: Side,
) -> None:
    side.command("alice", f"kudos @bob {BLOCKED}")

    answer = side.private("alice")[-1]
    assert "This kudos was not posted: its wording is not compliant." in answer
    assert "A superlative about a product is a promotional claim" in answer
    assert "Try instead: for the Oncozol email that calls it an approved treatment option" in answer
    assert "[Edit and resend] [Ask for review]" in answer
    assert side.posted("kudos") == [] and side.posted("review") == []

    side.click("alice", "Ask for review")
    assert re.search(r"review \(?#1", side.private("alice")[-1], re.IGNORECASE)
    [request] = side.posted("review")
    assert "Oncozol email that calls it the best treatment" in request

    side.click("rae", "Approve")
    [post] = side.posted("kudos")
    assert "the best treatment" in post
    assert len(side.dm("bob")) == 1


def test_slack_edit_and_resend_brings_the_form_back_with_the_recipients_and_the_rewrite(
    chat: Chat,
) -> None:
    chat.slack.say("alice", f"/kudos @bob @carol {BLOCKED}")
    assert "[Edit and resend]" in chat.slack.ephemeral("alice")[-1]

    chat.slack.click("alice", "Edit and resend")

    form = chat.slack.form("alice")
    assert "Who deserves kudos?: @Bob, @Carol" in form
    assert "Which value did they live?: #collaboration" in form
    assert "an approved treatment option" in form and "the best treatment" not in form
    assert chat.slack.submit("alice") == ""
    assert "Kudos recorded for Bob, Carol" in chat.slack.ephemeral("alice")[-1]
    [post] = chat.slack.posted("kudos")
    assert "@Bob and @Carol" in post and "an approved treatment option" in post


def test_teams_edit_and_resend_brings_the_form_back_with_the_recipients_and_the_rewrite(
    chat: Chat,
) -> None:
    chat.teams.say("alice", f"@Plaudit kudos @bob @carol {BLOCKED}", where="channel")
    [notice] = chat.teams.posted("kudos")  # the thread hears no findings
    assert "I didn't publish that kudos" in notice and "Oncozol" not in notice
    [findings] = chat.teams.card_to("alice")
    assert "not posted: its wording is not compliant" in findings
    assert findings.endswith("[Edit and resend] [Ask for review]")

    form = chat.teams.click("alice", "Edit and resend")

    assert "Who: Bob, Carol" in form
    assert "Company value: #collaboration" in form
    assert "an approved treatment option" in form and "the best treatment" not in form
    answer = chat.teams.click("alice", "Send kudos")
    assert "Kudos recorded for Bob, Carol" in answer
    assert any("Alice recognised Bob, Carol" in p for p in chat.teams.posted("kudos"))


def test_a_possible_adverse_event_is_never_posted_and_drug_safety_gets_the_words(
    side: Side,
) -> None:
    side.command("alice", f"kudos @bob {ADVERSE}")

    answer = side.private("alice")[-1]
    assert "mentions what may be an adverse event, so it was not posted" in answer
    assert "passed to drug safety" in answer
    assert side.posted("kudos") == [] and side.dm("bob") == []
    [alert] = side.posted("safety")
    assert "PV case #1: possible adverse event reported by" in alert and "Alice" in alert
    assert "hospitalised with a severe rash after starting Larkspur" in alert
