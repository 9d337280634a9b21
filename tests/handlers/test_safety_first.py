"""Screen first, then refuse: a possible adverse event reaches drug safety however the kudos
that carried it is refused, and the reporter is told only what is true."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from compliance_rules import default_rules
from handlers import kudos, safety, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import Member, Outbox, PvCase, Recognition
from storage.outbox import undelivered_safety_count
from tests.conftest import slack_person

AE = "for handling the call where a patient had a severe rash after the second dose of Cardiva"
SAFE = KudosPolicy(recognition_channel="C0KUDOS", safety_channel="C0SAFETY")
NOWHERE = KudosPolicy(recognition_channel="C0KUDOS")
PASSED = "passed to drug safety, who may contact you"
NOT_ROUTED = "no drug-safety destination is configured"


def request(giver: Person, *recipients: Person, key: str = "k1", **kw: object) -> KudosRequested:
    fields: dict[str, object] = {
        "key": key,
        "giver": giver,
        "recipients": recipients,
        "message": AE,
        "values": (),
        "source": "command",
        "channel_id": "C0GENERAL",
    } | kw
    return KudosRequested(**fields)  # type: ignore[arg-type]


def give(
    session: Session, event: KudosRequested, policy: KudosPolicy, clock: FixedClock
) -> kudos.KudosResult:
    result = kudos.give(event, session=session, policy=policy, clock=clock)
    session.commit()
    return result


def refusals(alice: Person, bob: Person) -> dict[str, tuple[KudosRequested, KudosPolicy]]:
    """Every reason `give()` refuses for, each with an adverse event in its text."""
    many = [slack_person(f"U1{i:03}", f"P{i}") for i in range(11)]
    return {
        "not_people": (request(alice, non_people=("@marketing",)), SAFE),
        "no_recipients": (request(alice), SAFE),
        "unknown_user": (
            request(alice, Person("slack", "T0001", "U404", "U404", exists=False)),
            SAFE,
        ),
        "bot": (request(alice, slack_person("UBOT9", "Deploybot", is_bot=True)), SAFE),
        "giver": (request(replace(alice, is_bot=True), bob), SAFE),
        "self": (request(alice, replace(alice)), SAFE),
        "too_many": (request(alice, *many), SAFE),
        "too_short": (request(alice, bob), replace(SAFE, min_message_length=500)),
        "unknown_value": (request(alice, bob, values=("#speed",)), SAFE),
        "value_required": (request(alice, bob), replace(SAFE, require_value=True)),
        "allowance": (request(alice, bob), replace(SAFE, daily_allowance=0)),
    }


@pytest.mark.parametrize("reason", list(refusals(slack_person("U1", "A"), slack_person("U2", "B"))))
def test_each_refusal_of_an_adverse_event_still_opens_a_case_and_says_so(
    reason: str, session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    event, policy = refusals(alice, bob)[reason]
    result = give(session, event, policy, clock)

    assert isinstance(result, kudos.Refused) and result.reason == reason, result
    assert result.to_drug_safety
    assert PASSED in result.message
    refusal_sentence = result.message.split("\n")[0]
    assert refusal_sentence and "adverse event" not in refusal_sentence  # the reason comes first
    case = session.exec(select(PvCase)).one()
    assert case.source == "kudos" and case.text == AE and case.recognition_id is None
    assert case.rules  # the rules that found it
    (alert,) = session.exec(select(Outbox)).all()
    assert alert.template == "pv.alert" and alert.channel == "C0SAFETY"
    assert session.exec(select(Recognition)).all() == []  # the kudos itself is still refused


def test_the_case_names_the_giver_who_is_a_member(
    session: Session, clock: FixedClock, alice: Person
) -> None:
    give(session, request(alice), SAFE, clock)
    case = session.exec(select(PvCase)).one()
    member = session.exec(select(Member).where(Member.slack_user_id == "U0001")).one()
    assert case.reporter_member_id == member.id and case.reporter.startswith("Alice <")


def test_a_retried_refusal_opens_no_second_case_but_still_says_it_went(
    session: Session, clock: FixedClock, alice: Person
) -> None:
    first = give(session, request(alice), SAFE, clock)
    again = give(session, request(alice), SAFE, clock)
    assert isinstance(first, kudos.Refused) and isinstance(again, kudos.Refused)
    assert again.to_drug_safety and PASSED in again.message
    assert len(session.exec(select(PvCase)).all()) == 1
    other = give(session, request(alice, key="k2"), SAFE, clock)
    assert isinstance(other, kudos.Refused) and other.to_drug_safety
    assert len(session.exec(select(PvCase)).all()) == 2


def test_a_refusal_without_an_adverse_event_opens_nothing(
    session: Session, clock: FixedClock, alice: Person
) -> None:
    result = give(session, request(alice, message="for the site activation email"), SAFE, clock)
    assert isinstance(result, kudos.Refused) and not result.to_drug_safety
    assert "drug safety" not in result.message
    assert session.exec(select(PvCase)).all() == []


def test_the_check_runs_once_per_kudos(
    session: Session,
    clock: FixedClock,
    alice: Person,
    bob: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import compliance_rules

    calls: list[str] = []
    real = compliance_rules.check

    def counted(text: str, *args: object, **kw: object) -> compliance_rules.Result:
        calls.append(text)
        return real(text, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(compliance_rules, "check", counted)
    give(session, request(alice, bob), replace(SAFE, daily_allowance=0), clock)
    give(session, request(alice, bob, key="k2"), SAFE, clock)
    assert calls == [AE, AE]


def test_without_a_destination_the_giver_is_told_the_truth_and_the_case_counts_undelivered(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    stopped = give(session, request(alice, bob), NOWHERE, clock)
    assert isinstance(stopped, kudos.Stopped) and stopped.outcome.value == "route_pv"
    assert NOT_ROUTED in stopped.message and "passed to drug safety" not in stopped.message
    assert "report it to your drug-safety team directly" in stopped.message

    refused = give(session, request(alice, key="k2"), NOWHERE, clock)
    assert isinstance(refused, kudos.Refused) and refused.reason == "no_recipients"
    assert NOT_ROUTED in refused.message and "passed to drug safety" not in refused.message

    assert len(session.exec(select(PvCase)).all()) == 2  # recorded all the same
    assert session.exec(select(Outbox).where(Outbox.template == "pv.alert")).all() == []
    assert undelivered_safety_count(session) == 2


def test_undelivered_counts_dead_rows_and_cases_never_queued_but_not_open_rows(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    give(session, request(alice, bob, key="sent"), SAFE, clock)
    assert undelivered_safety_count(session) == 0  # queued: pending is not undelivered
    give(session, request(alice, bob, key="nowhere"), NOWHERE, clock)
    assert undelivered_safety_count(session) == 1
    row = session.exec(select(Outbox).where(Outbox.template == "pv.alert")).one()
    row.status = "dead"
    session.add(row)
    session.commit()
    assert undelivered_safety_count(session) == 2
    unsent = session.exec(select(PvCase).where(PvCase.id != int(row.key.split(":")[1]))).one()
    unsent.status = "closed"  # a person dealt with it
    session.add(unsent)
    session.commit()
    assert undelivered_safety_count(session) == 1


def test_screen_opens_a_case_once_per_key_and_keeps_anonymous_reports_nameless(
    session: Session, clock: FixedClock, alice: Person
) -> None:
    rules = default_rules()

    def screen(text: str, reporter: Person | None, key: str) -> safety.Screened | None:
        found = safety.screen(
            text,
            reporter,
            "kudos",
            session=session,
            policy=SAFE,
            clock=clock,
            rules=rules,
            key=key,
        )
        session.commit()
        return found

    assert screen("for the site activation email", alice, "a") is None
    opened = screen(AE * 60, alice, "b")  # far over any length limit: screened whole
    assert opened is not None and opened.case_id is not None and PASSED in opened.message
    again = screen(AE * 60, alice, "b")
    assert again is not None and again.case_id is None and PASSED in again.message
    nameless = screen(AE, None, "c")
    assert nameless is not None and "without your name" in nameless.message
    cases = session.exec(select(PvCase).order_by(PvCase.id)).all()  # type: ignore[arg-type]
    assert [c.reporter_member_id is not None for c in cases] == [True, False]
    assert cases[1].reporter == "anonymous"
    assert len(session.exec(select(Outbox)).all()) == 2


def test_screen_names_a_reporter_who_is_not_a_member_without_adding_them(
    session: Session, clock: FixedClock
) -> None:
    stranger = Person("slack", "T0001", "U0999", "U0999", exists=False)
    found = safety.screen(
        AE, stranger, "kudos", session=session, policy=SAFE, clock=clock, rules=None, key="s"
    )
    session.commit()
    assert found is not None and found.case_id is not None
    assert session.exec(select(PvCase)).one().reporter == "U0999 (U0999)"
    assert session.exec(select(Member)).all() == []


def test_a_survey_answer_without_a_destination_says_so(session: Session, clock: FixedClock) -> None:
    member = Member(
        slack_team_id="T0001", slack_user_id="U0001", display_name="Ana", email="a@x.io"
    )
    session.add(member)
    session.commit()
    pulse = surveys.Survey(
        id="pulse",
        title="Pulse",
        intro="",
        questions=(surveys.Question("comment", "text", "Anything else?", optional=True),),
        schedule=surveys.Schedule(cron="0 10 * * mon", timezone="UTC"),
        open_for=timedelta(days=3),
        anonymous=False,
    )
    opened = surveys.open_round(pulse, session=session, now=clock.now(), period="p1")
    assert isinstance(opened, surveys.Opened)
    text = "A patient on Larkspur told me she had a severe rash after her second dose."
    event = surveys.SurveyAnswered(
        Person("slack", "T0001", "U0001", "Ana"), opened.round_id, "comment", text=text
    )
    result = surveys.answer(
        event, session=session, now=clock.now(), rules=default_rules(), policy=NOWHERE
    )
    session.commit()
    assert isinstance(result, surveys.Answered) and result.note
    assert NOT_ROUTED in result.note and "passed to drug safety" not in result.note
    assert session.exec(select(PvCase)).one().source == "survey"
    assert undelivered_safety_count(session) == 1


def test_a_refused_text_that_could_not_be_checked_in_time_goes_to_drug_safety(
    session: Session,
    clock: FixedClock,
    alice: Person,
    bob: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import compliance_rules

    timed_out = compliance_rules.Result(compliance_rules.Outcome.HOLD, (), incomplete=True)
    monkeypatch.setattr(compliance_rules, "check", lambda *a, **kw: timed_out)
    refused = give(session, request(alice, message="for the launch"), SAFE, clock)
    assert isinstance(refused, kudos.Refused) and refused.to_drug_safety
    assert session.exec(select(PvCase)).one().rules == ["check_incomplete"]
    # A kudos that is not refused is held for a reviewer, as before: no case.
    held = give(session, request(alice, bob, message="for the launch", key="k2"), SAFE, clock)
    assert isinstance(held, kudos.Stopped) and held.outcome.value == "hold"
    assert len(session.exec(select(PvCase)).all()) == 1
