"""Kudos by emoji reaction: one recognition per reactor and message, however often it arrives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, select

from handlers import kudos, members, posts, rollout, sprints
from handlers.clock import Clock, local_date
from handlers.events import CardReaction, ReactionAdded, ReactionRemoved
from handlers.i18n import _
from handlers.messages import Template
from handlers.policy import KudosPolicy
from storage import outbox_retract, people, queries
from storage.models import Recognition, RecognitionRecipient
from storage.models.recognition import PUBLISHED
from storage.people import MemberRow


@dataclass(frozen=True)
class Ignored:
    """Not a kudos reaction, or nothing to change."""

    reason: str


@dataclass(frozen=True)
class Revoked:
    """The reaction kudos was taken back; its point and the allowance it used are returned."""

    recognition_id: int


ReactionResult = kudos.Recorded | kudos.Refused | kudos.Duplicate | Ignored | Revoked


def message_key(event: ReactionAdded | ReactionRemoved | CardReaction) -> str:
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
    if not policy.allow_guests and (event.reactor.external or event.author.external):
        return Ignored("a guest or someone outside the company")
    now = clock.now()
    reactor, author = members.upsert_many([event.reactor, event.author], session=session, now=now)
    return _record(
        session,
        event,
        reactor,
        [author],
        policy=policy,
        now=now,
        permalink=event.permalink,
        announce=True,
    )


def second(
    event: CardReaction, *, session: Session, policy: KudosPolicy, clock: Clock
) -> ReactionResult:
    """A reaction on the bot's public kudos post seconds it: one more point to each of its
    recipients from the reactor (Teams tells a bot only of reactions to its own posts)."""
    if event.emoji not in _kudos_reactions(policy, event.reactor.platform):
        return Ignored("not a kudos reaction")
    if not queries.claim_inbound(session=session, key=event.key, kind="reaction_added"):
        return kudos.Duplicate()
    if event.reactor.is_bot:
        return Ignored("bot")
    if event.reactor.external and not policy.allow_guests:
        return Ignored("a guest or someone outside the company")
    original_id = queries.recognition_of_post(
        session=session,
        platform=event.reactor.platform,
        message_ref=event.message_ref,
        template=Template.KUDOS_PUBLIC,
    )
    original = session.get(Recognition, original_id) if original_id else None
    if original is None or original.revoked_at is not None or original.outcome not in PUBLISHED:
        return Ignored("not a published kudos")
    now = clock.now()
    (reactor,) = members.upsert_many([event.reactor], session=session, now=now)
    if reactor.id == original.giver_id:
        return Ignored("own kudos")
    recipient_ids = [
        m
        for m in session.exec(
            select(RecognitionRecipient.member_id).where(
                RecognitionRecipient.recognition_id == original.id
            )
        )
        if m != reactor.id
    ]
    if not recipient_ids:
        return Ignored("own kudos")
    recipients = [people.by_id(session=session, member_id=m) for m in recipient_ids]
    return _record(session, event, reactor, recipients, policy=policy, now=now, announce=False)


def _record(
    session: Session,
    event: ReactionAdded | CardReaction,
    reactor: MemberRow,
    recipients: list[MemberRow],
    *,
    policy: KudosPolicy,
    now: datetime,
    permalink: str | None = None,
    announce: bool,
) -> ReactionResult:
    """Record (or bring back) the reaction kudos of `reactor` on one message."""
    day = local_date(now, reactor.timezone)
    key = message_key(event)
    # The reactor, then the recognition, locked: allowance and emoji list, one at a time.
    people.hold(session=session, member_id=reactor.id)
    existing = kudos.find_recognition(session, key, lock=True)
    if existing and existing.revoked_at is None:
        if event.emoji not in existing.reactions:
            existing.reactions = [*existing.reactions, event.emoji]
            session.add(existing)
        return kudos.Duplicate()
    allowed = _allowed(session, event, policy, reactor, recipients, day)
    if isinstance(allowed, kudos.Refused):
        return allowed
    left, shadow = allowed
    if existing:  # removed earlier, added again: the same recognition comes back
        recognition = _restored(existing, event.emoji, day)
    else:
        recognition = _new_recognition(event, key, reactor, permalink, day, now)
    recognition.private = shadow  # a shadow cohort's kudos is counted, not announced
    session.add(recognition)
    session.flush()
    assert recognition.id is not None
    recipient_ids = [r.id for r in recipients]
    if not existing:
        for member_id in recipient_ids:
            session.add(RecognitionRecipient(recognition_id=recognition.id, member_id=member_id))
    sprints.tally(
        session,
        policy.sprints,
        at=recognition.created_at,
        giver_id=reactor.id,
        recipient_ids=recipient_ids,
        tags=(),
    )
    queries.append_audit(
        session=session,
        actor=f"member:{reactor.id}",
        action="kudos.reaction" if not existing else "kudos.reaction_restored",
        subject=f"recognition:{recognition.id}",
        detail={"recipients": recipient_ids, "emoji": event.emoji},
        at=now,
    )
    again = hashlib.sha256(event.key.encode()).hexdigest()[:12] if existing else ""  # new keys
    _queue_posts(
        session, event, recognition, reactor, recipients, policy, permalink, announce, again
    )
    names = tuple(r.display_name for r in recipients)
    return kudos.Recorded(recognition.id, names, left - len(recipients), private=shadow)


def _allowed(
    session: Session,
    event: ReactionAdded | CardReaction,
    policy: KudosPolicy,
    reactor: MemberRow,
    recipients: list[MemberRow],
    day: date,
) -> kudos.Refused | tuple[int, bool]:
    """(kudos left today, whether in shadow) when the reaction may count: Plaudit is on
    for everyone in it (`rollout:`) and the reactor's allowance covers it."""
    pilot = rollout.gate(session, policy.rollout, reactor, recipients, day)
    if pilot.refusal:
        return _tell(session, event, kudos.Refused(*pilot.refusal))
    left = policy.daily_allowance - queries.points_given_on(
        session=session, giver_id=reactor.id, day=day
    )
    if left < len(recipients):
        return _refuse(session, event, policy, left, len(recipients))
    return left, pilot.shadow


def _refuse(
    session: Session,
    event: ReactionAdded | CardReaction,
    policy: KudosPolicy,
    left: int,
    needed: int,
) -> kudos.Refused:
    """Over the daily allowance: the reactor is told, privately, that it did not count."""
    message = _over_allowance(event, policy.daily_allowance, left, needed)
    return _tell(session, event, kudos.Refused("allowance", message))


def _tell(
    session: Session, event: ReactionAdded | CardReaction, refusal: kudos.Refused
) -> kudos.Refused:
    """The reactor is told, privately, why their reaction did not count."""
    kudos.notify(
        session,
        key=f"{event.key}:refused",
        person=event.reactor,
        channel_id=event.channel_id,
        text=refusal.message,
    )
    return refusal


def _over_allowance(
    event: ReactionAdded | CardReaction, allowance: int, left: int, needed: int
) -> str:
    """Why the reaction did not count: Slack names its emoji, other platforms say reaction."""
    emoji = f":{event.emoji}:"
    if event.reactor.platform == "slack" and left <= 0:
        return _(
            "You've used all {allowance} kudos for today, so your {emoji} didn't count. "
            "Your allowance resets at midnight your time.",
            allowance=allowance,
            emoji=emoji,
        )
    if left <= 0:
        return _(
            "You've used all {allowance} kudos for today, so your reaction didn't count. "
            "Your allowance resets at midnight your time.",
            allowance=allowance,
        )
    if event.reactor.platform == "slack":
        return _(
            "You have {left} of {allowance} kudos left today and seconding this needs "
            "{needed}, so your {emoji} didn't count. Your allowance resets at midnight your time.",
            left=left,
            allowance=allowance,
            needed=needed,
            emoji=emoji,
        )
    return _(
        "You have {left} of {allowance} kudos left today and seconding this needs "
        "{needed}, so your reaction didn't count. Your allowance resets at midnight your time.",
        left=left,
        allowance=allowance,
        needed=needed,
    )


def _restored(recognition: Recognition, emoji: str, day: date) -> Recognition:
    recognition.revoked_at = None
    recognition.reactions = [emoji]
    recognition.giver_local_date = day
    return recognition


def _queue_posts(
    session: Session,
    event: ReactionAdded | CardReaction,
    recognition: Recognition,
    reactor: MemberRow,
    recipients: list[MemberRow],
    policy: KudosPolicy,
    permalink: str | None,
    announce: bool,
    again: str = "",
) -> None:
    """The recipients' DMs, and the public post when the reaction is announced (and not
    private: a shadow cohort's)."""
    assert recognition.id is not None
    post = posts.Post(
        recognition.id,
        "reaction",
        "",
        (),
        event.channel_id if announce else None,
        permalink=permalink,
        emoji=event.emoji,
        platform=event.reactor.platform,
        private=recognition.private,
        again=again,
    )
    posts.queue_posts(session, post, reactor, recipients, policy if announce else _NO_PUBLIC_POST)


def _new_recognition(
    event: ReactionAdded | CardReaction,
    key: str,
    reactor: MemberRow,
    permalink: str | None,
    day: date,
    now: datetime,
) -> Recognition:
    return Recognition(
        dedupe_key=key,
        giver_id=reactor.id,
        text="",
        text_sha256=_EMPTY_SHA256,
        value_tags=[],
        source="reaction",
        platform=event.reactor.platform,
        workspace=event.reactor.workspace,
        channel_id=event.channel_id,
        message_ref=event.message_ref,
        permalink=permalink,
        reactions=[event.emoji],
        outcome="pass",
        findings=[],
        giver_local_date=day,
        created_at=now,
    )


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()  # a reaction kudos has no words
_NO_PUBLIC_POST = KudosPolicy(recognition_channel=None, teams_recognition_channel=None)


def _kudos_reactions(policy: KudosPolicy, platform: str) -> tuple[str, ...]:
    return policy.teams_reactions if platform == "teams" else policy.reaction_emoji


def unreact(
    event: ReactionRemoved, *, session: Session, policy: KudosPolicy, clock: Clock
) -> ReactionResult:
    """Take a reaction kudos back when its last kudos emoji goes, on the same local day."""
    if event.emoji not in _kudos_reactions(policy, event.reactor.platform):
        return Ignored("not a kudos emoji")
    if not queries.claim_inbound(session=session, key=event.key, kind="reaction_removed"):
        return kudos.Duplicate()
    key = message_key(event)
    recognition = kudos.find_recognition(session, key, lock=True)
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
        # Its post and its recipients' messages go too, as when any kudos is taken back.
        outbox_retract.retract(session, key_prefix=f"recognition:{recognition.id}:", now=now)
        return Revoked(recognition.id)
    return Ignored("other kudos emoji remain" if remaining else "given on an earlier day")
