"""The review queue: held kudos wait for a reviewer, who approves (published once) or rejects.

Separation of duties lives here, so every surface (Slack, Teams, the dashboard, the CLI)
keeps it: only reviewers decide, nobody decides on a kudos they gave or asked to have
reviewed, a rejection needs a reason (kept on the review and in the audit trail), and a
decision on a review already decided changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from handlers import messages, posts, sprints
from handlers.events import Person
from handlers.i18n import N_, _, speaking
from handlers.messages import Template
from handlers.policy import KudosPolicy
from storage import people, queries
from storage.models import Member, Recognition, RecognitionRecipient, Review
from storage.people import MemberRow

# Rows read to be changed are locked FOR NO KEY UPDATE (rows pointing at them need not wait).
_LOCK = {"key_share": True}
# Why a step was refused, for surfaces that answer differently (the dashboard's status codes).
REFUSED = "refused"
NOT_REVIEWER = "not_reviewer"
OWN_TEXT = "own_text"
NO_SUCH_REVIEW = "no_such_review"
ALREADY_DECIDED = "already_decided"
NEEDS_REASON = "needs_reason"
MAX_REASON = 1000  # the length of `Review.reason`
REVIEWER_ROLE = "reviewer"  # the roster role that makes a member a reviewer
# Whole sentences per decision, so a translation can agree with it.
_DECIDED = {
    "approved": N_("Review #{number} was already approved; nothing was changed."),
    "rejected": N_("Review #{number} was already rejected; nothing was changed."),
}
_DECIDED_ANYHOW = N_("Review #{number} was already {status}; nothing was changed.")


@dataclass(frozen=True)
class Decided:
    review_id: int
    status: str


@dataclass(frozen=True)
class NotAllowed:
    message: str
    code: str = REFUSED


ReviewResult = Decided | NotAllowed


def open_review(
    session: Session,
    recognition: Recognition,
    *,
    requested_by: str,
    policy: KudosPolicy,
    now: datetime,
) -> Review:
    """Queue a held recognition for review and tell the reviewers."""
    assert recognition.id is not None
    review = Review(recognition_id=recognition.id, requested_by=requested_by, created_at=now)
    session.add(review)
    session.flush()
    data = _request(review, recognition)
    channels = [
        ("slack", recognition.workspace, policy.review_channel, ""),
        ("teams", None, policy.teams_review_channel, ":teams"),
    ]
    queries.enqueue_many(
        session=session,
        messages=[
            messages.message(
                Template.REVIEW_REQUEST,
                data,
                key=f"review:{review.id}:request{suffix}",
                platform=platform,
                workspace=workspace if platform == "slack" else None,
                channel=channel,
                kind="post",
            )
            for platform, workspace, channel, suffix in channels
            if channel
        ],
    )
    queries.append_audit(
        session=session,
        actor=requested_by,
        action="review.opened",
        subject=f"recognition:{recognition.id}",
        detail={"review": review.id},
        at=now,
    )
    return review


def ask(
    recognition_id: int, giver: Person, *, session: Session, policy: KudosPolicy, now: datetime
) -> ReviewResult:
    """The giver of a blocked kudos asks a reviewer to look at it."""
    valid = 0 < recognition_id < 2**31
    recognition = (
        session.get(Recognition, recognition_id, with_for_update=_LOCK, populate_existing=True)
        if valid
        else None
    )
    member = _member(session, giver)
    if recognition is None or member is None or recognition.giver_id != member:
        return NotAllowed(_("That kudos is not yours to send for review."))
    if recognition.outcome != "block":
        return NotAllowed(_("Only a blocked kudos can be sent for review."))
    if session.exec(select(Review).where(Review.recognition_id == recognition_id)).first():
        return NotAllowed(_("That kudos is already waiting for a reviewer."))
    recognition.outcome = "hold"
    session.add(recognition)
    review = open_review(
        session, recognition, requested_by=f"member:{member}", policy=policy, now=now
    )
    assert review.id is not None
    return Decided(review.id, "pending")


def pending(session: Session) -> list[tuple[Review, Recognition]]:
    stmt = (
        select(Review, Recognition)
        .join(Recognition, col(Recognition.id) == col(Review.recognition_id))
        .where(Review.status == "pending")
        .order_by(col(Review.id))
    )
    return [(r, g) for r, g in session.exec(stmt)]


def decide(
    review_id: int,
    reviewer: Person,
    *,
    approve: bool,
    reason: str | None,
    session: Session,
    policy: KudosPolicy,
    now: datetime,
) -> ReviewResult:
    """Approve (publish exactly once) or reject (tell the giver why) a held kudos, when
    `reviewer` may decide on it; a refusal changes nothing."""
    if 0 < review_id < 2**31:
        # As committed now, and locked: a second reviewer deciding at once (at another
        # replica) waits, then finds it decided and is told so.
        session.get(Review, review_id, with_for_update=_LOCK, populate_existing=True)
    refused = check_decider(review_id, reviewer, session=session, policy=policy)
    if refused is not None:
        return refused
    reason = (reason or "").strip() or None
    if not approve and reason is None:
        return NotAllowed(
            _("Say why it is rejected, so the giver can learn from it."), NEEDS_REASON
        )
    if reason is not None and len(reason) > MAX_REASON:
        return NotAllowed(_("Keep the reason under 1,000 characters."), NEEDS_REASON)
    review = session.get(Review, review_id)
    assert review is not None
    recognition = session.get(Recognition, review.recognition_id)
    assert recognition is not None and recognition.id is not None
    review.status = "approved" if approve else "rejected"
    review.decided_by = f"{reviewer.platform}:{reviewer.user_id}"
    review.decided_at = now
    review.reason = reason
    session.add(review)
    giver = people.by_id(session=session, member_id=recognition.giver_id)
    if approve:
        _publish(session, recognition, giver, policy)
    else:
        _tell_rejected(session, review, recognition, giver, reason)
    queries.append_audit(
        session=session,
        actor=review.decided_by,
        action=f"review.{review.status}",
        subject=f"recognition:{recognition.id}",
        detail={"review": review.id, "reason": reason},
        at=now,
    )
    assert review.id is not None
    return Decided(review.id, review.status)


def check_decider(
    review_id: int, person: Person, *, session: Session, policy: KudosPolicy
) -> NotAllowed | None:
    """Why `person` may not decide on review `review_id` now; None when they may."""
    decider = _decider(session, person, policy)
    if not decider.reviewer:
        return _not_reviewer()
    # A number no review can have (the column is a 32-bit integer) is simply not found.
    review = session.get(Review, review_id) if 0 < review_id < 2**31 else None
    recognition = session.get(Recognition, review.recognition_id) if review else None
    if review is None or recognition is None:
        return NotAllowed(_("There is no review #{number}.", number=review_id), NO_SUCH_REVIEW)
    return _refusal(review, recognition, decider)


def refusals(session: Session, person: Person, policy: KudosPolicy) -> dict[int, NotAllowed]:
    """Why `person` may not decide on each pending review they may not decide on, by id."""
    decider = _decider(session, person, policy)
    found: dict[int, NotAllowed] = {}
    for review, recognition in pending(session):
        refused = _refusal(review, recognition, decider) if decider.reviewer else _not_reviewer()
        if refused is not None and review.id is not None:
            found[review.id] = refused
    return found


def request(session: Session, review_id: int) -> messages.ReviewRequest | None:
    """What the review card of a pending review shows, to draw it again."""
    review = session.get(Review, review_id)
    if review is None or review.status != "pending":
        return None
    recognition = session.get(Recognition, review.recognition_id)
    return _request(review, recognition) if recognition is not None else None


@dataclass(frozen=True)
class _Decider:
    """Who is deciding: the members they are (by platform id or email), and whether they
    are a reviewer (named in `compliance.reviewers`, or holding the roster role)."""

    members: frozenset[int]
    reviewer: bool


def _decider(session: Session, person: Person, policy: KudosPolicy) -> _Decider:
    """Who is deciding. Reviewer rights come only from the member behind this platform
    identity (its ids and its own email, never the address a directory reports for the
    identity); their own text is looked for more widely, by that address too, so giving in
    one place and deciding in another is still caught."""
    by_id = people.by_platform_ids(
        session=session, platform=person.platform, workspace=person.workspace, ids=[person.user_id]
    )
    by_email = (
        people.by_platform_ids(
            session=session, platform="email", workspace=None, ids=[person.email]
        )
        if person.email and person.platform != "email"
        else []
    )
    own, email_counts = _behind(person, by_id, by_email)
    ids = {m.id for m in (*by_id, *by_email)}
    members = list(session.exec(select(Member).where(col(Member.id).in_(ids)))) if ids else []
    behind = [m for m in members if m.id in {o.id for o in own}]
    names = {person.user_id.lower()} | ({(person.email or "").lower()} if email_counts else set())
    for m in behind:
        names |= {(people.platform_id(m, p) or "").lower() for p in ("slack", "teams", "email")}
    listed = {r.strip().lower() for r in policy.reviewers} - {""}
    on_roster = any(m.active and REVIEWER_ROLE in {r.lower() for r in m.roles} for m in behind)
    return _Decider(frozenset(ids), bool(names & listed) or on_roster)


def _behind(
    person: Person, by_id: list[MemberRow], by_email: list[MemberRow]
) -> tuple[list[MemberRow], bool]:
    """The member behind this identity, and whether the identity's email speaks for it.
    By platform id; or, for an identity seen for the first time, as `members.upsert_many`
    would link it on first sight: to the member holding its email when that member has no
    identity on this platform yet, or to a new member when no member holds the email. An
    address held by a member who is someone else on this platform gives nothing."""
    if by_id or person.platform == "email" or not person.email:
        return by_id, person.platform == "email"
    linkable = [m for m in by_email if people.platform_id(m, person.platform) is None]
    return linkable, not by_email or bool(linkable)


def _refusal(review: Review, recognition: Recognition, decider: _Decider) -> NotAllowed | None:
    """Why a reviewer may not decide on `review`: decided already, or their own text."""
    number = review.id
    if review.status != "pending":
        return NotAllowed(
            _(_DECIDED.get(review.status, _DECIDED_ANYHOW), number=number, status=review.status),
            ALREADY_DECIDED,
        )
    if recognition.giver_id in decider.members:
        return NotAllowed(
            _(
                "You gave the kudos in review #{number}, so another reviewer decides on it; "
                "nothing was changed.",
                number=number,
            ),
            OWN_TEXT,
        )
    kind, _sep, member = review.requested_by.partition(":")
    if kind == "member" and member.isdigit() and int(member) in decider.members:
        return NotAllowed(
            _(
                "You asked for review #{number}, so another reviewer decides on it; "
                "nothing was changed.",
                number=number,
            ),
            OWN_TEXT,
        )
    return None


def _not_reviewer() -> NotAllowed:
    return NotAllowed(
        _("Only reviewers can approve or reject held kudos; nothing was changed."), NOT_REVIEWER
    )


def _request(review: Review, recognition: Recognition) -> messages.ReviewRequest:
    assert review.id is not None and recognition.id is not None
    return {
        "review_id": review.id,
        "recognition_id": recognition.id,
        "text": recognition.text,
        "rules": [f["rule"] for f in recognition.findings],
        "requested_by": review.requested_by,
    }


def _publish(
    session: Session, recognition: Recognition, giver: MemberRow, policy: KudosPolicy
) -> None:
    """An approved kudos counts and is posted, as if it had passed the gate."""
    assert recognition.id is not None
    recognition.outcome = "pass"
    session.add(recognition)
    sprints.tally_recognition(session, policy.sprints, recognition.id)
    recipient_ids = list(
        session.exec(
            select(RecognitionRecipient.member_id).where(
                RecognitionRecipient.recognition_id == recognition.id
            )
        )
    )
    recipients = [people.by_id(session=session, member_id=m) for m in recipient_ids]
    post = posts.Post(
        recognition.id,
        recognition.source,
        recognition.text,
        tuple(recognition.value_tags),
        recognition.channel_id,
        permalink=recognition.permalink,
        platform=recognition.platform if recognition.platform == "teams" else "slack",
        private=recognition.private,
    )
    posts.queue_posts(session, post, giver, recipients, policy)


def _tell_rejected(
    session: Session,
    review: Review,
    recognition: Recognition,
    giver: MemberRow,
    reason: str | None,
) -> None:
    """The giver hears, privately and in their language, why their kudos was not approved."""
    with speaking(giver.locale):
        text = _("Your kudos was not approved by compliance review: {reason}", reason=reason)
    notice = posts.dm(
        giver,
        key=f"review:{review.id}:rejected",
        template=Template.NOTICE,
        data={"text": text},
        prefer=recognition.platform,
    )
    if notice:
        queries.enqueue(session=session, message=notice)


def _member(session: Session, person: Person) -> int | None:
    found = people.by_platform_ids(
        session=session, platform=person.platform, workspace=person.workspace, ids=[person.user_id]
    )
    return found[0].id if found else None
