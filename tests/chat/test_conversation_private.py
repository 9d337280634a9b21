"""Private kudos (`kudos private @name …`, the form's "private" option): checked and counted
like any other, delivered to the recipients alone, and never posted in a channel, quoted in
a digest or shown in the feed. As the people involved see it, in Slack and in Teams."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from storage import feed
from storage.models import Recognition
from tests.harness import eventually
from tests.transcript import Chat, Side

WORDS = "for covering my shift at the Leeds site visit #collaboration"


def test_a_private_kudos_counts_reaches_only_its_recipient_and_is_posted_nowhere(
    side: Side, chat: Chat
) -> None:
    side.command("alice", f"kudos private @bob {WORDS}")

    answer = side.private("alice")[-1]
    assert "Private kudos recorded for Bob" in answer and "Only they see it" in answer
    [dm] = side.dm("bob")
    assert "Alice gave you private kudos" in dm and "covering my shift" in dm
    assert "Only you see this kudos" in dm
    assert side.posted("kudos") == []
    assert side.dm("carol") == []

    side.command("alice", "kudos leaderboard")
    assert re.search(r"^1\. @?Bob: 1$", side.seen("alice")[-1], re.MULTILINE)
    with Session(chat.engine) as s:
        [kudos] = s.exec(select(Recognition)).all()
        assert kudos.private and kudos.outcome == "pass" and "covering my shift" in kudos.text
        [shown] = feed.recognitions(s, outcomes=("pass", "warn"), limit=10)
    assert "covering my shift" not in shown.text and shown.text == feed.PRIVATE


def test_the_slack_form_sends_a_private_kudos(chat: Chat) -> None:
    chat.slack.command("alice", "kudos private")
    eventually(lambda: bool(chat.slack.fake.calls("views.open")))  # (opened after the ack)
    form = chat.slack.form("alice")
    private_box = next(b for b in form.raw["blocks"] if b.get("block_id") == "private")
    assert private_box["element"]["initial_options"]  # ticked, as asked

    errors = chat.slack.submit("alice", {"recipients": ["bob"], "message": WORDS})
    assert errors == ""
    assert "Alice gave you private kudos" in chat.slack.dm("bob")[-1]
    assert chat.slack.posted("kudos") == []


def test_the_teams_form_sends_a_private_kudos(chat: Chat) -> None:
    chat.teams.say("alice", "@Plaudit kudos", where="channel")
    answer = chat.teams.click(
        "alice", "Send kudos", {"recipients": ["bob"], "message": WORDS, "private": "true"}
    )
    assert "Private kudos recorded for Bob" in answer
    assert "Alice gave you private kudos" in chat.teams.dm("bob")[-1]
    for where in ("kudos", "channel"):  # (the form itself was posted where it was asked for)
        assert not any("covering my shift" in said for said in chat.teams.posted(where))


def test_unticked_the_form_posts_publicly(chat: Chat) -> None:
    chat.slack.command("alice", "kudos")
    eventually(lambda: bool(chat.slack.fake.calls("views.open")))
    form = chat.slack.form("alice")
    private_box = next(b for b in form.raw["blocks"] if b.get("block_id") == "private")
    assert "initial_options" not in private_box["element"]
    assert chat.slack.submit("alice", {"recipients": ["bob"], "message": WORDS}) == ""
    [post] = chat.slack.posted("kudos")
    assert "covering my shift" in post
