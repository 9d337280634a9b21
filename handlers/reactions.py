"""Kudos by emoji reaction: one recognition per reactor and message, however often it arrives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import Session

from handlers import kudos, members, posts, sprints
from handlers.clock import Clock, local_date
from handlers.events import ReactionAdded, ReactionRemoved
from handlers.policy import KudosPolicy
from storage import queries
from storage.models import Recognition, RecognitionRecipient


@dataclass(frozen=True)
class Ignored:
    """Not a kudos reaction, or nothing to change."""

    reason: str


@dataclass(frozen=True)
class Revoked:
    """The reaction kudos was taken back; its point and the allowance it used are returned."""

    recognition_id: int


ReactionResult = kudos.Recorded | kudos.Refused | kudos.Duplicate | Ignored | Revoked


def message_key(event: ReactionAdded | ReactionRemoved) -> str:
    """One recognition per reactor and message, whichever kudos emoji and however often."""
    r = event.reactor
    return f"reaction:{r.workspace}:{r.user_id}:{event.channel_id}:{event.message_ref}"


def react(
    event: ReactionAdded, *, session: Session, policy: KudosPolicy, clock: Clock
) -> ReactionResult:
    """Turn a kudos emoji on a colleague's message into a recognition."""
    if event.emoji not in policy.reaction_emoji:
        return Ignored("not a kudos emoji")
    if not queries.claim_inbound(session=session, key=event.key, kind="reaction_added"):
        return kudos.Duplicate()
    if event.author.is_bot or not event.author.exists or event.author.deleted:
        return Ignored("author is not a member")
    if event.reactor.is_bot or event.reactor.user_id == event.author.user_id:
        return Ignored("own message or bot")
    now = clock.now()
    reactor, author = members.upsert_many([event.reactor, event.author], session=session, now=now)
    day = local_date(now, reactor.timezone)
    key = message_key(event)
    existing = kudos.find_recognition(session, key)
    if existing and existing.revoked_at is None:
        if event.emoji not in existing.reactions:
            existing.reactions = [*existing.reactions, event.emoji]
            session.add(existing)
        return kudos.Duplicate()
    left = policy.daily_allowance - queries.points_given_on(
        session=session, giver_id=reactor.id, day=day
    )
    if left < 1:
        message = (
            f"You've used all {policy.daily_allowance} kudos for today, so your :{event.emoji}: "
            "didn't count. Your allowance resets at midnight your time."
        )
        kudos.notify(
            session,
            key=f"{event.key}:refused",
            person=event.reactor,
            channel_id=event.channel_id,
            text=message,
        )
        return kudos.Refused("allowance", message)
    if existing:  # removed earlier, added again: the same recognition comes back
        recognition = existing
        recognition.revoked_at = None
        recognition.reactions = [event.emoji]
        recognition.giver_local_date = day
    else:
        recognition = Recognition(
            dedupe_key=key,
            giver_id=reactor.id,
            text="",
            text_sha256=hashlib.sha256(b"").hexdigest(),
            value_tags=[],
            source="reaction",
            platform=event.reactor.platform,
            workspace=event.reactor.workspace,
            channel_id=event.channel_id,
            message_ref=event.message_ref,
            permalink=event.permalink,
            reactions=[event.emoji],
            outcome="pass",
            findings=[],
            giver_local_date=day,
            created_at=now,
        )
    session.add(recognition)
    session.flush()
    assert recognition.id is not None
    if not existing:
        session.add(RecognitionRecipient(recognition_id=recognition.id, member_id=author.id))
    sprints.tally(
        session,
        policy.sprints,
        at=recognition.created_at,
        giver_id=reactor.id,
        recipient_ids=[author.id],
        tags=(),
    )
    queries.append_audit(
        session=session,
        actor=f"member:{reactor.id}",
        action="kudos.reaction" if not existing else "kudos.reaction_restored",
        subject=f"recognition:{recognition.id}",
        detail={"recipients": [author.id], "emoji": event.emoji},
        at=now,
    )
    if not existing:
        post = posts.Post(
            recognition.id,
            "reaction",
            "",
            (),
            event.channel_id,
            permalink=event.permalink,
            emoji=event.emoji,
        )
        posts.queue_posts(session, post, reactor, [author], policy)
    return kudos.Recorded(recognition.id, (author.display_name,), left - 1)


def unreact(
    event: ReactionRemoved, *, session: Session, policy: KudosPolicy, clock: Clock
) -> ReactionResult:
    """Take a reaction kudos back when its last kudos emoji goes, on the same local day."""
    if event.emoji not in policy.reaction_emoji:
        return Ignored("not a kudos emoji")
    if not queries.claim_inbound(session=session, key=event.key, kind="reaction_removed"):
        return kudos.Duplicate()
    key = message_key(event)
    recognition = kudos.find_recognition(session, key)
    if recognition is None or recognition.revoked_at is not None:
        return Ignored("no recognition to take back")
    remaining = [e for e in recognition.reactions if e != event.emoji]
    recognition.reactions = remaining
    now = clock.now()
    reactor = members.find(event.reactor, session=session)
    tz = reactor.timezone if reactor else None
    if not remaining and local_date(now, tz) == recognition.giver_local_date:
        recognition.revoked_at = now
        assert recognition.id is not None
        sprints.tally_recognition(session, policy.sprints, recognition.id, sign=-1)
        queries.append_audit(
            session=session,
            actor=f"member:{recognition.giver_id}",
            action="kudos.reaction_removed",
            subject=f"recognition:{recognition.id}",
            detail={"emoji": event.emoji},
            at=now,
        )
    session.add(recognition)
    if recognition.revoked_at is not None:
        assert recognition.id is not None
        return Revoked(recognition.id)
    return Ignored("other kudos emoji remain" if remaining else "given on an earlier day")
