"""Separation of duties in compliance review: nobody decides on their own text, only
reviewers decide, a rejection needs a reason that is kept with the decision, and a second
decision changes nothing."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, col, select

from handlers import kudos, members, review
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import AuditEntry, Member, Outbox, Recognition, Review

POLICY = KudosPolicy(
    recognition_channel="C0KUDOS",
    review_channel="C0REVIEW",
    reviewers=("U0REV", "rex@example.com"),
)
RAE = Person("slack", "T0001", "U0REV", "Rae", email="ra@example.com")  # listed by Slack id
REX = Person("slack", "T0001", "U0REX", "Rex", email="rex@example.com")  # listed by email
HELD = "great idea to show Cardivex in pregnancy at the booth"
BLOCKED = "the Oncozol email calls it the best treatment"


def give(session: Session, giver: Person, to: Person, text: str, clock: FixedClock) -> int:
    event = KudosRequested(f"k:{giver.user_id}:{text}", giver, (to,), text, (), "command", "C1")
    result = kudos.give(event, session=session, policy=POLICY, clock=clock)
    session.commit()
    assert isinstance(result, kudos.Stopped | kudos.Recorded), result
    return result.recognition_id


def pending_id(session: Session, recognition_id: int) -> int:
    found = session.exec(select(Review).where(Review.recognition_id == recognition_id)).one()
    assert found.id is not None
    return found.id


def decide(
    session: Session,
    review_id: int,
    who: Person,
    clock: FixedClock,
    *,
    approve: bool,
    reason: str | None = None,
) -> review.ReviewResult:
    result = review.decide(
        review_id,
        who,
        approve=approve,
        reason=reason,
        session=session,
        policy=POLICY,
        now=clock.now(),
    )
    session.commit()
    return result


def state(session: Session) -> tuple[object, ...]:
    """Everything a decision could change: reviews, outcomes, the audit trail, the outbox."""
    session.expire_all()
    reviews = [
        (r.id, r.status, r.decided_by, r.decided_at, r.reason)
        for r in session.exec(select(Review).order_by(col(Review.id)))
    ]
    outcomes = [(g.id, g.outcome) for g in session.exec(select(Recognition))]
    audit = [e.action for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))]
    outbox = sorted(o.key for o in session.exec(select(Outbox)))
    return reviews, outcomes, audit, outbox


def refused(result: review.ReviewResult, code: str) -> str:
    assert isinstance(result, review.NotAllowed), result
    assert result.code == code, result
    assert "nothing was changed" in result.message.lower() or code == review.NEEDS_REASON
    return result.message


def test_a_reviewer_may_not_approve_or_reject_their_own_kudos(
    session: Session, clock: FixedClock, bob: Person
) -> None:
    review_id = pending_id(session, give(session, RAE, bob, HELD, clock))
    # Rae's Teams identity, linked to her member by her email the first time it is seen
    # (as the Teams adapter does).
    teams_rae = Person("teams", "tenant", "aad-rae", "Rae", email="RA@example.com")
    members.upsert_many([teams_rae], session=session, now=clock.now())
    session.commit()
    before = state(session)

    approve = decide(session, review_id, RAE, clock, approve=True)
    assert "You gave" in refused(approve, review.OWN_TEXT)
    reject = decide(session, review_id, RAE, clock, approve=False, reason="Off-label use")
    refused(reject, review.OWN_TEXT)
    # The same person elsewhere: on Teams, the dashboard or the terminal.
    for elsewhere in (teams_rae, Person.by_email("ra@example.com", "Rae")):
        refused(decide(session, review_id, elsewhere, clock, approve=True), review.OWN_TEXT)
    # An identity that only claims the address of a reviewer known on Slack is no reviewer.
    members.upsert_many([REX], session=session, now=clock.now())
    session.commit()
    before = state(session)
    claimer = Person("slack", "T0002", "U0FAKE", "Rex?", email="rex@example.com")
    refused(decide(session, review_id, claimer, clock, approve=True), review.NOT_REVIEWER)
    assert state(session) == before

    done = decide(session, review_id, REX, clock, approve=True)
    assert isinstance(done, review.Decided) and done.status == "approved"


def test_whoever_asked_for_the_review_may_not_decide_on_it(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    give(session, RAE, bob, "thanks for the launch checklist review", clock)  # Rae is a member
    recognition_id = give(session, alice, bob, BLOCKED, clock)
    rae = session.exec(select(Member).where(Member.slack_user_id == "U0REV")).one()
    recognition = session.get(Recognition, recognition_id)
    assert recognition is not None
    opened = review.open_review(
        session, recognition, requested_by=f"member:{rae.id}", policy=POLICY, now=clock.now()
    )
    session.commit()
    assert opened.id is not None
    before = state(session)

    for approve in (True, False):
        result = decide(session, opened.id, RAE, clock, approve=approve, reason="Claim")
        assert "You asked" in refused(result, review.OWN_TEXT)
    assert state(session) == before
    assert isinstance(decide(session, opened.id, REX, clock, approve=True), review.Decided)


def test_only_reviewers_decide_whatever_else_they_are(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    review_id = pending_id(session, give(session, alice, bob, HELD, clock))
    admin = Member(email="ada@example.com", display_name="Ada", roles=["admin", "safety"])
    roster_reviewer = Member(email="rita@example.com", display_name="Rita", roles=["Reviewer"])
    gone = Member(email="gus@example.com", display_name="Gus", roles=["reviewer"], active=False)
    session.add_all([admin, roster_reviewer, gone])
    session.commit()
    before = state(session)

    for who in (
        bob,
        Person.by_email("ada@example.com", "Ada"),
        Person.by_email("gus@example.com", "Gus"),
    ):
        for approve in (True, False):
            result = decide(session, review_id, who, clock, approve=approve, reason="No")
            assert "Only reviewers" in refused(result, review.NOT_REVIEWER)
    assert state(session) == before
    assert review.check_decider(
        review_id, Person.by_email("ada@example.com", "Ada"), session=session, policy=POLICY
    ) == review.NotAllowed(
        "Only reviewers can approve or reject held kudos; nothing was changed.",
        review.NOT_REVIEWER,
    )

    # The roster role counts on every surface, as the dashboard always let it.
    rita = Person.by_email("rita@example.com", "Rita")
    assert review.check_decider(review_id, rita, session=session, policy=POLICY) is None
    done = decide(session, review_id, rita, clock, approve=False, reason="Off-label use")
    assert isinstance(done, review.Decided) and done.status == "rejected"


def test_rejecting_needs_a_reason_and_nothing_changes_without_one(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    review_id = pending_id(session, give(session, alice, bob, HELD, clock))
    before = state(session)
    for reason in (None, "", "   \n "):
        result = decide(session, review_id, RAE, clock, approve=False, reason=reason)
        assert "Say why it is rejected" in refused(result, review.NEEDS_REASON)
    too_long = decide(session, review_id, RAE, clock, approve=False, reason="x" * 1001)
    assert "1,000 characters" in refused(too_long, review.NEEDS_REASON)
    assert state(session) == before


def test_the_reason_is_recorded_on_the_review_and_in_the_audit_trail(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    review_id = pending_id(session, give(session, alice, bob, HELD, clock))
    by_email = replace(REX, platform="email", workspace=None, user_id="rex@example.com")
    done = decide(session, review_id, by_email, clock, approve=False, reason="  Off-label use \n")
    assert isinstance(done, review.Decided) and done.status == "rejected"

    row = session.get(Review, review_id)
    assert row is not None
    assert (row.status, row.reason, row.decided_by) == (
        "rejected",
        "Off-label use",
        "email:rex@example.com",
    )
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "review.rejected")).one()
    assert entry.actor == "email:rex@example.com"
    assert entry.detail == {"review": review_id, "reason": "Off-label use"}
    (notice,) = session.exec(select(Outbox).where(Outbox.key == f"review:{review_id}:rejected"))
    assert notice.data["text"].endswith("review: Off-label use")


def test_a_second_decision_changes_nothing_and_says_so(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    review_id = pending_id(session, give(session, alice, bob, HELD, clock))
    first = decide(session, review_id, RAE, clock, approve=True)
    assert isinstance(first, review.Decided) and first.status == "approved"
    after_first = state(session)

    clock.advance(minutes=5)
    for who, approve in ((REX, False), (RAE, True), (REX, True)):
        again = decide(session, review_id, who, clock, approve=approve, reason="Changed my mind")
        message = refused(again, review.ALREADY_DECIDED)
        assert f"Review #{review_id} was already approved" in message
    assert state(session) == after_first
    assert len(session.exec(select(Outbox).where(Outbox.template == "kudos.public")).all()) == 1
