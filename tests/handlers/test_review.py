"""Workflows of the compliance gate: block, ask for review, approve once, reject, PV cases."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, select

from handlers import kudos, review
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import AuditEntry, Outbox, PvCase, Recognition, Review

POLICY = KudosPolicy(
    recognition_channel="C0KUDOS",
    review_channel="C0REVIEW",
    safety_channel="C0SAFETY",
    safety_webhook="https://safety.example/intake",
    reviewers=("U0REV", "ra@example.com"),
)
REVIEWER = Person("slack", "T0001", "U0REV", "Rae", email="ra@example.com")


def give(
    session: Session, giver: Person, to: Person, text: str, clock: FixedClock, key: str
) -> kudos.KudosResult:
    event = KudosRequested(key, giver, (to,), text, (), "command", "C0001")
    result = kudos.give(event, session=session, policy=POLICY, clock=clock)
    session.commit()
    return result


def outbox(session: Session, template: str) -> list[Outbox]:
    return list(session.exec(select(Outbox).where(Outbox.template == template)))


def test_blocked_then_asked_for_review_then_approved_is_published_once(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    blocked = give(
        session, alice, bob, "the Oncozol email calls it the best treatment", clock, "k1"
    )
    assert isinstance(blocked, kudos.Stopped) and blocked.outcome.value == "block"
    assert outbox(session, "kudos.public") == []

    asked = review.ask(
        blocked.recognition_id, alice, session=session, policy=POLICY, now=clock.now()
    )
    session.commit()
    assert isinstance(asked, review.Decided) and asked.status == "pending"
    (card,) = outbox(session, "review.request")
    assert card.channel == "C0REVIEW"
    again = review.ask(
        blocked.recognition_id, alice, session=session, policy=POLICY, now=clock.now()
    )
    assert isinstance(again, review.NotAllowed)

    for _ in range(2):  # a second click changes nothing
        review.decide(
            asked.review_id,
            REVIEWER,
            approve=True,
            reason=None,
            session=session,
            policy=POLICY,
            now=clock.now(),
        )
        session.commit()
    assert len(outbox(session, "kudos.public")) == 1
    assert session.exec(select(Recognition)).one().outcome == "pass"
    assert session.exec(select(Review)).one().decided_by == "slack:U0REV"


def test_only_the_giver_can_ask_and_only_reviewers_can_decide(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    blocked = give(
        session, alice, bob, "the Oncozol email calls it the best treatment", clock, "k1"
    )
    assert isinstance(blocked, kudos.Stopped)
    assert isinstance(
        review.ask(blocked.recognition_id, bob, session=session, policy=POLICY, now=clock.now()),
        review.NotAllowed,
    )
    asked = review.ask(
        blocked.recognition_id, alice, session=session, policy=POLICY, now=clock.now()
    )
    assert isinstance(asked, review.Decided)
    refused = review.decide(
        asked.review_id,
        alice,
        approve=True,
        reason=None,
        session=session,
        policy=POLICY,
        now=clock.now(),
    )
    assert isinstance(refused, review.NotAllowed)
    assert session.exec(select(Review)).one().status == "pending"


def test_held_by_the_gate_and_rejected_with_a_reason_tells_the_giver(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    held = give(
        session, alice, bob, "great idea to show Cardivex in pregnancy at the booth", clock, "k1"
    )
    assert isinstance(held, kudos.Stopped) and held.outcome.value == "hold"
    (pending,) = review.pending(session)
    assert pending[0].requested_by.startswith("rules:")
    no_reason = review.decide(
        pending[0].id or 0,
        REVIEWER,
        approve=False,
        reason=" ",
        session=session,
        policy=POLICY,
        now=clock.now(),
    )
    assert isinstance(no_reason, review.NotAllowed)
    reviewer_by_email = replace(REVIEWER, user_id="U0OTHER")
    done = review.decide(
        pending[0].id or 0,
        reviewer_by_email,
        approve=False,
        reason="Off-label use",
        session=session,
        policy=POLICY,
        now=clock.now(),
    )
    session.commit()
    assert isinstance(done, review.Decided) and done.status == "rejected"
    assert outbox(session, "kudos.public") == []
    (notice,) = outbox(session, "notice")
    assert notice.channel == alice.user_id and "Off-label use" in notice.data["text"]
    assert review.pending(session) == []


def test_an_adverse_event_opens_a_case_and_notifies_drug_safety_everywhere(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    text = "thanks for the call where the caller's husband was hospitalized while taking Somnira"
    result = give(session, alice, bob, text, clock, "k1")
    assert isinstance(result, kudos.Stopped) and result.outcome.value == "route_pv"
    assert "drug safety" in result.message
    case = session.exec(select(PvCase)).one()
    assert case.text == text and case.aware_at == clock.now() and "Alice" in case.reporter
    slack, hook = outbox(session, "pv.alert"), outbox(session, "pv.case")
    assert slack[0].channel == "C0SAFETY" and slack[0].data["case_id"] == case.id
    assert hook[0].platform == "webhook" and hook[0].data["url"] == "https://safety.example/intake"
    assert outbox(session, "kudos.public") == []
    # The recognition keeps only a mark: the report is drug safety's alone.
    assert session.exec(select(Recognition)).one().text.startswith("[held by drug safety #")
    actions = [e.action for e in session.exec(select(AuditEntry))]
    assert "pv.case_opened" in actions and "kudos.route_pv" in actions
