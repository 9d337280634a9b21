"""Kudos by emoji reaction: once per reactor and message, taken back the same day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlmodel import Session, select

from handlers import kudos, reactions
from handlers.clock import FixedClock
from handlers.events import Person, ReactionAdded, ReactionRemoved
from handlers.policy import KudosPolicy
from storage.models import Outbox, Recognition, RecognitionRecipient


def added(
    reactor: Person, author: Person, *, key: str, emoji: str = "clap", ts: str = "1.1"
) -> ReactionAdded:
    return ReactionAdded(
        key=key,
        reactor=reactor,
        author=author,
        emoji=emoji,
        channel_id="C0001",
        message_ref=ts,
        permalink="https://example.slack.com/archives/C0001/p11",
    )


def removed(reactor: Person, *, key: str, emoji: str = "clap", ts: str = "1.1") -> ReactionRemoved:
    return ReactionRemoved(
        key=key, reactor=reactor, emoji=emoji, channel_id="C0001", message_ref=ts
    )


def react(
    session: Session, event: ReactionAdded, policy: KudosPolicy, clock: FixedClock
) -> reactions.ReactionResult:
    result = reactions.react(event, session=session, policy=policy, clock=clock)
    session.commit()
    return result


def unreact(
    session: Session, event: ReactionRemoved, policy: KudosPolicy, clock: FixedClock
) -> reactions.ReactionResult:
    result = reactions.unreact(event, session=session, policy=policy, clock=clock)
    session.commit()
    return result


def live(session: Session) -> list[Recognition]:
    return [r for r in session.exec(select(Recognition)) if r.revoked_at is None]


def test_a_kudos_emoji_gives_one_kudos_to_the_author_and_posts_it(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    result = react(session, added(alice, bob, key="e1"), policy, clock)
    assert isinstance(result, kudos.Recorded) and result.recipients == ("Bob",)
    (recognition,) = live(session)
    assert recognition.source == "reaction" and recognition.permalink
    assert session.exec(select(RecognitionRecipient)).one().member_id != recognition.giver_id
    templates = sorted(o.template for o in session.exec(select(Outbox)))
    assert templates == ["kudos.public", "kudos.received"]


def test_redelivery_another_emoji_and_readding_still_make_one(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    react(session, added(alice, bob, key="e1"), policy, clock)
    assert isinstance(react(session, added(alice, bob, key="e1"), policy, clock), kudos.Duplicate)
    assert isinstance(
        react(session, added(alice, bob, key="e2", emoji="tada"), policy, clock), kudos.Duplicate
    )
    unreact(session, removed(alice, key="e3"), policy, clock)  # tada is still there
    assert len(live(session)) == 1
    taken = unreact(session, removed(alice, key="e4", emoji="tada"), policy, clock)
    assert isinstance(taken, reactions.Revoked)
    assert live(session) == []
    react(session, added(alice, bob, key="e5"), policy, clock)
    assert len(live(session)) == 1
    assert len(session.exec(select(Recognition)).all()) == 1
    assert len(session.exec(select(Outbox).where(Outbox.template == "kudos.public")).all()) == 1


def test_removal_on_a_later_day_keeps_the_kudos(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    react(session, added(alice, bob, key="e1"), policy, clock)
    clock.at = datetime(2026, 11, 25, 10, tzinfo=UTC)
    kept = unreact(session, removed(alice, key="e2"), policy, clock)
    assert isinstance(kept, reactions.Ignored)
    assert len(live(session)) == 1


def test_other_emoji_own_messages_and_bots_are_ignored(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    bot = Person("slack", "T0001", "UBOT1", "deploybot", is_bot=True)
    assert isinstance(
        react(session, added(alice, bob, key="a", emoji="eyes"), policy, clock), reactions.Ignored
    )
    assert isinstance(
        react(session, added(alice, alice, key="b"), policy, clock), reactions.Ignored
    )
    assert isinstance(react(session, added(alice, bot, key="c"), policy, clock), reactions.Ignored)
    assert session.exec(select(Recognition)).all() == []


def test_no_allowance_left_means_a_private_note_and_no_kudos(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    policy = KudosPolicy(daily_allowance=1)
    react(session, added(alice, bob, key="a", ts="1.1"), policy, clock)
    result = react(session, added(alice, bob, key="b", ts="2.2"), policy, clock)
    assert isinstance(result, kudos.Refused) and result.reason == "allowance"
    assert len(live(session)) == 1
    notice = session.exec(select(Outbox).where(Outbox.kind == "ephemeral")).one()
    assert notice.user == alice.user_id and "used all 1" in notice.data["text"]


def test_a_guest_s_reaction_or_a_guest_s_message_gives_no_kudos_unless_guests_are_allowed(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    guest = replace(bob, external=True)
    assert isinstance(
        react(session, added(alice, guest, key="g1"), policy, clock), reactions.Ignored
    )
    assert isinstance(
        react(session, added(guest, alice, key="g2"), policy, clock), reactions.Ignored
    )
    assert live(session) == []

    allowed = replace(policy, allow_guests=True)
    result = react(session, added(alice, guest, key="g3", ts="2.2"), allowed, clock)
    assert isinstance(result, kudos.Recorded) and result.recipients == ("Bob",)
