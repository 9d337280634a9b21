"""Taking a published kudos back: its giver within the window or an admin at any time; the
points come off every board (the running totals then equal a recount), the allowance comes
back, its messages are taken back from the outbox, and the decision is audited. Everyone
else, and anything not published or already taken back, gets a clear refusal and changes
nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from handlers import kudos, retraction, sprints
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage import queries
from storage.models import AuditEntry, LeaderboardTotal, Member, Outbox, Recognition

TEXT = "for the site activation checklist #collaboration"


def give(
    session: Session, policy: KudosPolicy, clock: FixedClock, giver: Person, *to: Person
) -> int:
    event = KudosRequested(
        key=f"k:{giver.user_id}:{len(to)}:{clock.now().isoformat()}",
        giver=giver,
        recipients=to,
        message=TEXT,
        values=("#collaboration",),
        source="command",
        channel_id="C0001",
    )
    result = kudos.give(event, session=session, policy=policy, clock=clock)
    session.commit()
    assert isinstance(result, kudos.Recorded), result
    return result.recognition_id


def totals(session: Session) -> set[tuple[str, str, int, int, int]]:
    return {
        (t.sprint, t.value_tag, t.member_id, t.received, t.given)
        for t in session.exec(select(LeaderboardTotal))
        if t.received or t.given
    }


def audited(session: Session) -> int:
    return len(list(session.exec(select(AuditEntry).where(AuditEntry.action == "kudos.retracted"))))


def take_back(
    session: Session,
    number: int,
    who: Person | None,
    policy: KudosPolicy,
    clock: FixedClock,
    **kw: str,
) -> retraction.RetractResult:
    result = retraction.retract(number, who, session=session, policy=policy, clock=clock, **kw)
    session.commit()
    return result


def test_the_giver_takes_it_back_within_the_window(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    number = give(session, policy, clock, alice, bob)
    assert session.exec(select(Outbox).where(Outbox.key.startswith(f"recognition:{number}:")))
    clock.advance(minutes=59)

    result = take_back(session, number, alice, policy, clock, reason="wrong Bob")

    assert result == retraction.Retracted(number, 0)  # nothing had been delivered yet
    recognition = session.get(Recognition, number)
    assert recognition is not None and recognition.revoked_at is not None
    # Never sent, so never to be sent: the post and the DM are gone from the outbox.
    left = session.exec(select(Outbox).where(Outbox.key.startswith(f"recognition:{number}:")))
    assert list(left) == []
    # Off the board, and the running totals are what a recount says.
    assert not any(t[3] for t in totals(session))
    before = totals(session)
    sprints.rebuild(session, policy.sprints, now=clock.now())
    assert totals(session) == before
    # The point is the giver's to give again today.
    giver = session.exec(select(Member).where(Member.email == alice.email)).one()
    assert giver.id is not None
    day = recognition.giver_local_date
    assert queries.points_given_on(session=session, giver_id=giver.id, day=day) == 0
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "kudos.retracted"))
    assert entry.actor == f"member:{giver.id}" and entry.subject == f"recognition:{number}"
    assert entry.detail["by"] == "giver" and entry.detail["reason"] == "wrong Bob"


def test_after_the_window_only_an_admin_can(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    number = give(session, policy, clock, alice, bob)
    clock.advance(minutes=61)

    late = take_back(session, number, alice, policy, clock)
    assert isinstance(late, retraction.NotRetracted) and late.code == "too_late"
    assert "within 60 minutes" in late.message and "ask an admin" in late.message
    recognition = session.get(Recognition, number)
    assert recognition is not None and recognition.revoked_at is None
    assert any(t[3] for t in totals(session))

    admin = session.exec(select(Member).where(Member.email == bob.email)).one()
    admin.roles = ["admin"]
    session.add(admin)
    session.commit()
    done = take_back(session, number, bob, policy, clock)
    assert done == retraction.Retracted(number, 0)
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "kudos.retracted"))
    assert entry.detail["by"] == "admin" and entry.actor == f"member:{admin.id}"


def test_the_dashboard_or_cli_admin_is_named_in_the_audit(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    number = give(session, policy, clock, alice, bob)
    clock.advance(days=3)
    done = take_back(session, number, None, policy, clock, admin="dashboard:ana@example.com")
    assert isinstance(done, retraction.Retracted)
    [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "kudos.retracted"))
    assert entry.actor == "dashboard:ana@example.com"


def test_others_and_impossible_cases_are_refused_and_change_nothing(
    session: Session,
    policy: KudosPolicy,
    clock: FixedClock,
    alice: Person,
    bob: Person,
    carol: Person,
) -> None:
    number = give(session, policy, clock, alice, bob)
    before = totals(session)

    assert take_back(session, number, bob, policy, clock) == retraction.NotRetracted(
        "not_yours", f"Only its giver or an admin can take back kudos #{number}."
    )
    stranger = take_back(session, number, carol, policy, clock)
    assert isinstance(stranger, retraction.NotRetracted) and stranger.code == "not_yours"
    missing = take_back(session, number + 100, alice, policy, clock)
    assert isinstance(missing, retraction.NotRetracted) and missing.code == "unknown"
    assert totals(session) == before
    assert audited(session) == 0

    assert isinstance(take_back(session, number, alice, policy, clock), retraction.Retracted)
    again = take_back(session, number, alice, policy, clock)
    assert isinstance(again, retraction.NotRetracted) and again.code == "already"
    assert audited(session) == 1


def test_a_held_kudos_is_not_taken_back(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    event = KudosRequested(
        key="k:held",
        giver=alice,
        recipients=(bob,),
        message="for the Oncozol email that calls it the best treatment #collaboration",
        values=("#collaboration",),
        source="command",
        channel_id="C0001",
    )
    stopped = kudos.give(event, session=session, policy=policy, clock=clock)
    session.commit()
    assert isinstance(stopped, kudos.Stopped)
    refused = take_back(session, stopped.recognition_id, alice, policy, clock)
    assert isinstance(refused, retraction.NotRetracted) and refused.code == "not_published"
