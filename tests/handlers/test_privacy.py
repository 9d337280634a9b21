"""A person's data: export everything, erase while keeping counts and drug-safety records."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, col, select

from compliance_rules import default_rules
from handlers import kudos, privacy, stats, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import AuditEntry, Member, Outbox, PvCase, Recognition, SurveyAnswer
from tests.harness import audit_proof

POLICY = KudosPolicy(recognition_channel="C0KUDOS", safety_channel="C0SAFETY")


def give(
    session: Session, giver: Person, to: Person, text: str, key: str, clock: FixedClock
) -> None:
    event = KudosRequested(key, giver, (to,), text, (), "command", "C0001")
    kudos.give(event, session=session, policy=POLICY, clock=clock)
    session.commit()


def setup(session: Session, clock: FixedClock, alice: Person, bob: Person) -> None:
    give(session, alice, bob, "thanks Bob for the Oncozol portal launch", "k1", clock)
    give(session, bob, alice, "for the great review of my deck", "k2", clock)
    give(session, bob, alice, "the caller said she had a rash after the first dose", "k3", clock)


def test_export_holds_everything_about_the_person(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    setup(session, clock, alice, bob)
    data = privacy.export("BOB@example.com", session=session, now=clock.now())
    assert data is not None
    json.dumps(data)  # JSON-ready
    assert data["member"]["email"] == "bob@example.com"
    assert [r["text"] for r in data["recognitions_received"]] == [
        "thanks Bob for the Oncozol portal launch"
    ]
    assert len(data["recognitions_given"]) == 2
    # The report itself may name a patient: it is held by drug safety, not exported.
    (case,) = data["pv_cases_reported"]
    assert case["source"] == "kudos" and case["text"] == "[held by drug safety]"
    assert "the caller said" not in json.dumps(data)
    assert privacy.export("nobody@example.com", session=session, now=clock.now()) is None


def test_erase_pseudonymises_keeps_counts_and_pv_cases_and_audits_without_data(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    setup(session, clock, alice, bob)
    before = stats.me(alice, session=session, policy=POLICY, clock=clock)
    result = privacy.erase("bob@example.com", session=session, now=clock.now())
    session.commit()
    assert result == {"texts_rewritten": 1, "messages_scrubbed": 4, "pv_cases_kept": 1}
    bob_row = session.exec(
        select(Member).where(col(Member.display_name).startswith("former"))
    ).one()
    assert (bob_row.email, bob_row.slack_user_id, bob_row.active) == (None, None, False)
    texts = [r.text for r in session.exec(select(Recognition))]
    assert not any("Bob" in t for t in texts)
    assert any("former member" in t for t in texts)
    rows = list(session.exec(select(Outbox)))
    assert not any("bob" in str(o.data).lower() for o in rows if o.template != "pv.alert")
    assert next(o for o in rows if o.template == "pv.alert").status == "pending"
    after = stats.me(alice, session=session, policy=POLICY, clock=clock)
    assert (after.received, after.given) == (before.received, before.given)
    assert session.exec(select(PvCase)).one().text.startswith("the caller said")
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "privacy.erased")).one()
    assert "bob" not in json.dumps(entry.detail).lower()
    assert audit_proof(session).intact


def test_named_survey_answers_are_exported_and_anonymous_ones_cannot_be(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    setup(session, clock, alice, bob)
    question = surveys.Question("comment", "text", "Anything else?")
    named = surveys.Survey("named", "Named", (question,), anonymous=False, owners=("x@y.z",))
    hidden = surveys.Survey("anon", "Anon", (question,), anonymous=True, owners=("x@y.z",))
    for survey in (named, hidden):
        opened = surveys.open_round(survey, session=session, now=clock.now(), period="p")
        assert isinstance(opened, surveys.Opened)
        answered = surveys.answer(
            surveys.SurveyAnswered(bob, opened.round_id, "comment", text=f"Bob says {survey.id}"),
            session=session,
            now=clock.now() + timedelta(minutes=1),
            rules=default_rules(),
            policy=POLICY,
        )
        assert isinstance(answered, surveys.Answered)
    session.commit()
    data = privacy.export("bob@example.com", session=session, now=clock.now())
    assert data is not None
    assert [a["text"] for a in data["survey_answers"]] == ["Bob says named"]
    assert sorted(i["survey"] for i in data["survey_invitations"]) == ["anon", "named"]
    privacy.erase("bob@example.com", session=session, now=clock.now())
    session.commit()
    texts = sorted(a.text or "" for a in session.exec(select(SurveyAnswer)))
    assert all("Bob" not in t for t in texts) and len(texts) == 2
