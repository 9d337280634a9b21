"""Separation of duties in review, as people meet it in Slack and Teams: a reviewer who gave
a held kudos cannot approve or reject it (on either platform), someone who is no reviewer
cannot either, another reviewer can, a rejection needs a reason, and a second decision
changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage.models import AuditEntry, Recognition, Review
from tests.transcript import CAST, POLICY, Chat, Side

HELD = "for the great idea to show Cardivex in pregnancy at the booth #collaboration"
HELD_TOO = "for the plan to show Cardivex in pregnancy at the congress #collaboration"
# Rae (the reviewer of every conversation test) and Frank review; Bob does not.
REVIEWERS = replace(POLICY, reviewers=(CAST["rae"].email, CAST["frank"].email))


@pytest.fixture
def chat(file_engine: Engine) -> Iterator[Chat]:
    with Chat(file_engine, policy=REVIEWERS) as running:
        yield running


@pytest.fixture(params=["slack", "teams"])
def side(request: pytest.FixtureRequest, chat: Chat) -> Side:
    chosen: Side = chat[request.param]
    return chosen


def reviews(chat: Chat) -> list[tuple[str, str | None, str | None]]:
    with Session(chat.engine) as s:
        return [
            (r.status, r.decided_by, r.reason)
            for r in s.exec(select(Review).order_by(col(Review.id)))
        ]


def decisions(chat: Chat) -> list[tuple[str, dict[str, object]]]:
    with Session(chat.engine) as s:
        decided = ("review.approved", "review.rejected")
        query = select(AuditEntry).where(col(AuditEntry.action).in_(decided))
        return [(e.action, e.detail) for e in s.exec(query.order_by(col(AuditEntry.id)))]


def reject(chat: Chat, platform: str, who: str, reason: str) -> str:
    """`who` presses Reject on the review card and gives `reason`; what they are told."""
    if platform == "teams":
        return str(chat.teams.click(who, "Reject", {"reason": reason}))
    opened = len(chat.slack_api.calls("views.open"))
    chat.slack.click(who, "Reject")
    if len(chat.slack_api.calls("views.open")) == opened:  # no form: refused at once
        return str(chat.slack.ephemeral(who)[-1])
    return str(chat.slack.submit(who, {"reason": reason}))  # the form's errors, if any


def test_a_reviewer_cannot_approve_or_reject_the_kudos_they_gave(chat: Chat, side: Side) -> None:
    side.command("rae", f"kudos @bob {HELD}")
    side.command("rae", f"kudos @carol {HELD_TOO}")
    assert "held for a compliance reviewer" in side.private("rae")[-1]
    cards = side.posted("review")
    assert len(cards) == 2 and all("[Approve] [Reject]" in card for card in cards)

    side.click("rae", "Approve")  # on the latest card: review #2
    told = side.private("rae")[-1]
    assert "You gave the kudos in review #2" in told and "nothing was changed" in told
    # In Teams her answer replaced that card for her, so she presses Reject on the other.
    answer = reject(chat, side.platform, "rae", "Off-label, and I wrote it")
    assert re.search(r"You gave the kudos in review #[12]", answer)
    if side.platform == "slack":
        assert chat.slack_api.calls("views.open") == []  # no reason form for her
    assert side.posted("kudos") == [] and side.dm("bob") == [] and side.dm("carol") == []
    assert reviews(chat) == [("pending", None, None)] * 2 and decisions(chat) == []

    side.click("bob", "Approve")  # no reviewer at all
    assert "Only reviewers" in side.private("bob")[-1]
    assert reviews(chat) == [("pending", None, None)] * 2

    side.click("frank", "Approve")  # another reviewer
    assert re.search(r"Review #2:? approved", side.private("frank")[-1])
    [post] = side.posted("kudos")
    assert "Cardivex in pregnancy at the congress" in post
    assert [status for status, _, _ in reviews(chat)] == ["pending", "approved"]
    assert [action for action, _ in decisions(chat)] == ["review.approved"]


def test_the_giver_is_known_across_platforms(chat: Chat) -> None:
    """Rae gives the kudos in Slack and presses Approve on the Teams review card."""
    chat.teams.install("frank")  # the bot has met the tenant, so it can post the card
    chat.slack.command("rae", f"kudos @bob {HELD}")
    [card] = chat.teams.posted("review")
    assert "[Approve] [Reject]" in card

    answer = chat.teams.click("rae", "Approve")
    assert "You gave the kudos in review #1" in answer and "[Approve]" not in answer
    assert chat.slack.posted("kudos") == [] and chat.teams.posted("kudos") == []
    assert reviews(chat) == [("pending", None, None)] and decisions(chat) == []
    with Session(chat.engine) as s:
        assert s.exec(select(Recognition.outcome)).one() == "hold"

    assert "Review #1 approved by Frank" in chat.teams.click("frank", "Approve")
    assert [status for status, _, _ in reviews(chat)] == ["approved"]


def test_rejecting_needs_a_reason_which_the_giver_and_the_trail_keep(
    chat: Chat, side: Side
) -> None:
    side.command("alice", f"kudos @bob {HELD}")
    side.posted("review")

    answer = reject(chat, side.platform, "frank", "   ")
    assert "Say why it is rejected" in answer
    if side.platform == "teams":  # the card comes back to be filled in
        assert "Held for compliance review #1" in answer and "[Approve] [Reject]" in answer
    assert reviews(chat) == [("pending", None, None)] and decisions(chat) == []

    reject(chat, side.platform, "frank", "Off-label population")
    [(status, decided_by, reason)] = reviews(chat)
    assert (status, reason) == ("rejected", "Off-label population")
    assert decided_by is not None and decided_by.startswith(f"{side.platform}:")
    assert decisions(chat) == [("review.rejected", {"review": 1, "reason": "Off-label population"})]
    assert "Off-label population" in side.private("alice")[-1]
    assert side.posted("kudos") == []

    side.click("rae", "Approve")  # too late: it was rejected
    assert "already rejected; nothing was changed" in side.private("rae")[-1]
    assert side.posted("kudos") == [] and len(decisions(chat)) == 1
