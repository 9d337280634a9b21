"""The review queue: held kudos wait for a reviewer, who approves (published once) or rejects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from handlers import messages, posts, sprints
from handlers.events import Person
from handlers.messages import Template
from handlers.policy import KudosPolicy
from storage import people, queries
from storage.models import Recognition, RecognitionRecipient, Review
from storage.people import MemberRow


@dataclass(frozen=True)
class Decided:
    review_id: int
    status: str


@dataclass(frozen=True)
class NotAllowed:
    message: str


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
    assert review.id is not None
    data = {
        "review_id": review.id,
        "recognition_id": recognition.id,
        "text": recognition.text,
        "rules": [f["rule"] for f in recognition.findings],
        "requested_by": requested_by,
    }
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
    recognition = session.get(Recognition, recognition_id)
    member = _member(session, giver)
    if recognition is None or member is None or recognition.giver_id != member:
        return NotAllowed("That kudos is not yours to send for review.")
    if recognition.outcome != "block":
        return NotAllowed("Only a blocked kudos can be sent for review.")
    if session.exec(select(Review).where(Review.recognition_id == recognition_id)).first():
        return NotAllowed("That kudos is already waiting for a reviewer.")
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
    """Approve (publish exactly once) or reject (tell the giver why) a held kudos."""
    if not _is_reviewer(reviewer, policy):
        return NotAllowed("Only reviewers named in plaudit.yaml can decide on held kudos.")
    review = session.get(Review, review_id)
    if review is None:
        return NotAllowed(f"There is no review #{review_id}.")
    if review.status != "pending":
        return NotAllowed(f"Review #{review_id} was already {review.status}.")
    if not approve and not (reason or "").strip():
        return NotAllowed("Say why it is rejected, so the giver can learn from it.")
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
        platform=recognition.platform if recognition.platform == "teams" else "slack",
    )
    posts.queue_posts(session, post, giver, recipients, policy)


def _tell_rejected(
    session: Session,
    review: Review,
    recognition: Recognition,
    giver: MemberRow,
    reason: str | None,
) -> None:
    """The giver hears, privately, why their kudos was not approved."""
    notice = posts.dm(
        giver,
        key=f"review:{review.id}:rejected",
        template=Template.NOTICE,
        data={"text": f"Your kudos was not approved by compliance review: {reason}"},
        prefer=recognition.platform,
    )
    if notice:
        queries.enqueue(session=session, message=notice)


def _is_reviewer(person: Person, policy: KudosPolicy) -> bool:
    allowed = {r.lower() for r in policy.reviewers}
    return person.user_id.lower() in allowed or (person.email or "").lower() in allowed


def _member(session: Session, person: Person) -> int | None:
    found = people.by_platform_ids(
        session=session, platform=person.platform, workspace=person.workspace, ids=[person.user_id]
    )
    return found[0].id if found else None
