"""Giving kudos: what is recorded, what is refused, and the messages each owes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlmodel import Session, select

import compliance_rules
from handlers import kudos, stats
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage import queries
from storage.models import AuditEntry, Member, Outbox, PvCase, Recognition, RecognitionRecipient
from tests.conftest import slack_person
from tests.harness import audit_proof


def request(
    giver: Person,
    *recipients: Person,
    message: str = "for the site activation email #site-activation",
    values: tuple[str, ...] = ("#site-activation",),
    key: str = "k1",
    **kw: object,
) -> KudosRequested:
    return KudosRequested(
        key=key,
        giver=giver,
        recipients=recipients,
        message=message,
        values=values,
        source="command",
        channel_id="C0GENERAL",
        **kw,  # type: ignore[arg-type]
    )


def give(
    session: Session, event: KudosRequested, policy: KudosPolicy, clock: FixedClock
) -> kudos.KudosResult:
    result = kudos.give(event, session=session, policy=policy, clock=clock)
    session.commit()
    return result


def test_kudos_is_recorded_with_a_point_per_recipient_and_queued_posts(
    session: Session,
    policy: KudosPolicy,
    clock: FixedClock,
    alice: Person,
    bob: Person,
    carol: Person,
) -> None:
    result = give(session, request(alice, bob, carol), policy, clock)

    assert isinstance(result, kudos.Recorded)
    assert result.recipients == ("Bob", "Carol")
    assert result.allowance_left == 3
    recognition = session.exec(select(Recognition)).one()
    assert recognition.outcome == "pass"
    assert recognition.value_tags == ["#site-activation"]
    assert len(session.exec(select(RecognitionRecipient)).all()) == 2
    rows = {o.key: o for o in session.exec(select(Outbox))}
    public = rows[f"recognition:{recognition.id}:public"]
    assert public.channel == "C0KUDOS" and public.template == "kudos.public"
    dms = [o for o in rows.values() if o.kind == "dm"]
    assert sorted(o.channel for o in dms) == ["U0002", "U0003"]
    assert session.exec(select(AuditEntry)).one().action == "kudos.pass"


def test_without_a_recognition_channel_the_post_goes_where_the_command_was_used(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    give(session, request(alice, bob), KudosPolicy(), clock)
    public = session.exec(select(Outbox).where(Outbox.kind == "post")).one()
    assert public.channel == "C0GENERAL"


def test_one_member_per_person_however_often_they_appear(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    give(session, request(alice, bob, key="a"), policy, clock)
    give(session, request(bob, alice, key="b"), policy, clock)
    assert len(session.exec(select(Member)).all()) == 2


def test_the_same_delivery_twice_records_once(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    first = give(session, request(alice, bob), policy, clock)
    second = give(session, request(alice, bob), policy, clock)
    assert isinstance(first, kudos.Recorded)
    assert isinstance(second, kudos.Duplicate)
    assert len(session.exec(select(Recognition)).all()) == 1
    assert len(session.exec(select(Outbox)).all()) == 2


def refusal(
    session: Session, event: KudosRequested, policy: KudosPolicy, clock: FixedClock
) -> kudos.Refused:
    result = give(session, event, policy, clock)
    assert isinstance(result, kudos.Refused), result
    assert session.exec(select(Recognition)).all() == []
    assert session.exec(select(Outbox)).all() == []
    return result


def test_refusals_are_answers_that_change_nothing(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    cases = {
        "self": request(alice, replace(alice)),
        "no_recipients": request(alice),
        "bot": request(alice, slack_person("UBOT9", "Deploybot", is_bot=True)),
        "unknown_user": request(alice, Person("slack", "T0001", "U404", "U404", exists=False)),
        "too_short": request(alice, bob, message="thx #collaboration", values=("#collaboration",)),
        "unknown_value": request(alice, bob, message="for the launch #speed", values=("#speed",)),
        "not_people": request(alice, non_people=("@marketing",)),
        "too_many": request(alice, *[slack_person(f"U1{i:03}", f"P{i}") for i in range(11)]),
    }
    for reason, event in cases.items():
        result = refusal(session, event, policy, clock)
        assert result.reason == reason, (reason, result)
        assert result.message


def test_a_required_value_must_be_given(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    policy = KudosPolicy(require_value=True)
    result = refusal(
        session, request(alice, bob, message="for the great launch", values=()), policy, clock
    )
    assert result.reason == "value_required"
    assert "#site-activation" in result.message


def test_allowance_runs_out_and_resets_at_the_givers_local_midnight(
    session: Session, clock: FixedClock, alice: Person
) -> None:
    policy = KudosPolicy(daily_allowance=2)
    giver = replace(alice, timezone="America/Los_Angeles")  # 02:00 local at 10:00 UTC
    team = [slack_person(f"U2{i:03}", f"T{i}") for i in range(3)]
    assert isinstance(
        give(session, request(giver, team[0], team[1], key="1"), policy, clock), kudos.Recorded
    )
    refused = give(session, request(giver, team[2], key="2"), policy, clock)
    assert isinstance(refused, kudos.Refused) and refused.reason == "allowance"
    assert "0 of 2" in refused.message

    clock.at = datetime(2026, 11, 25, 7, 59, tzinfo=UTC)  # 23:59 in Los Angeles: same day
    again = give(session, request(giver, team[2], key="3"), policy, clock)
    assert isinstance(again, kudos.Refused)
    clock.at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # local midnight
    assert isinstance(
        give(session, request(giver, team[2], key="4"), policy, clock), kudos.Recorded
    )


def test_a_blocked_kudos_is_stored_redacted_never_posted_and_costs_no_allowance(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    text = "for helping patient John Smith MRN 1234567 with enrolment"
    result = give(session, request(alice, bob, message=text, values=()), policy, clock)

    assert isinstance(result, kudos.Stopped)
    assert result.outcome.value == "block"
    assert "not posted" in result.message
    stored = session.exec(select(Recognition)).one()
    assert "1234567" not in stored.text
    assert session.exec(select(Outbox)).all() == []
    alice_id = session.exec(select(Member).where(Member.slack_user_id == "U0001")).one().id
    assert alice_id is not None
    assert queries.points_given_on(session=session, giver_id=alice_id, day=clock.now().date()) == 0


def test_a_possible_adverse_event_goes_to_drug_safety_and_not_to_the_channel(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    policy = KudosPolicy(recognition_channel="C0KUDOS", safety_channel="C0SAFETY")
    text = (
        "for handling the call where a patient had a severe rash after the second dose of Cardiva"
    )
    result = give(session, request(alice, bob, message=text, values=()), policy, clock)

    assert isinstance(result, kudos.Stopped) and result.outcome.value == "route_pv"
    (row,) = session.exec(select(Outbox)).all()
    assert row.channel == "C0SAFETY" and row.template == "pv.alert"
    assert "text" not in row.data  # the case holds it; the dispatcher adds it as it sends
    (case,) = session.exec(select(PvCase)).all()
    assert row.data["case_id"] == case.id and case.text == text  # no key: kept redacted


def test_me_counts_this_quarter_and_what_is_left_today(
    session: Session,
    policy: KudosPolicy,
    clock: FixedClock,
    alice: Person,
    bob: Person,
    carol: Person,
) -> None:
    give(session, request(alice, bob, carol, key="1"), policy, clock)
    give(session, request(bob, alice, key="2"), policy, clock)
    mine = stats.me(alice, session=session, policy=policy, clock=clock)
    assert (mine.received, mine.given, mine.allowance_left) == (1, 2, 3)
    clock.at = datetime(2027, 1, 2, 12, tzinfo=UTC)  # next quarter
    later = stats.me(alice, session=session, policy=policy, clock=clock)
    assert (later.received, later.given, later.allowance_left) == (0, 0, 5)


def test_every_decision_is_audited_and_sealed_against_editing(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    for n in range(3):
        give(session, request(alice, bob, key=f"k{n}"), policy, clock)
    proof = audit_proof(session)
    assert (proof.intact, proof.sealed) == (True, 3)
    entry = session.exec(select(AuditEntry).where(AuditEntry.id == 2)).one()
    entry.detail = {**entry.detail, "values": ["#tampered"]}
    session.add(entry)
    session.commit()
    proof = audit_proof(session)
    assert not proof.intact and proof.first_bad == 2 and proof.sealed == 1


def test_the_audit_entry_names_the_rule_packs_that_decided(
    session: Session, policy: KudosPolicy, clock: FixedClock, alice: Person, bob: Person
) -> None:
    give(session, request(alice, bob), policy, clock)
    entry = session.exec(select(AuditEntry)).one()
    assert entry.detail["packs"] == list(compliance_rules.default_rules().packs)
    assert entry.detail["packs"][0] == "default@1"
