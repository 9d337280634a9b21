"""Retention: stopped texts and PV cases' links go when their time is up, nothing else."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot import config as org_config
from bot.jobs.scheduler import Scheduler
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import kudos, retention, review
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from handlers.retention import ERASED, Retention
from storage.models import AuditEntry, Outbox, PvCase, Recognition, Review
from tests.harness import audit_proof

REVIEWER = "U0REVIEW"
POLICY = KudosPolicy(
    recognition_channel="C0KUDOS",
    review_channel="C0REVIEW",
    safety_channel="C0SAFETY",
    reviewers=(REVIEWER,),
)
BLOCKED = "the Oncozol email calls it the best treatment"
HELD = "great idea to show Cardivex in pregnancy at the booth"
PUBLISHED = "thanks for the site activation email that got three sites live"
ADVERSE = "the caller said she had a rash after the first dose of Somnira"


def give(
    session: Session, clock: FixedClock, giver: Person, to: Person, text: str, key: str
) -> int:
    event = KudosRequested(key, giver, (to,), text, (), "command", "C0001")
    kudos.give(event, session=session, policy=POLICY, clock=clock)
    session.commit()
    found = kudos.find_recognition(session, key)
    assert found is not None and found.id is not None
    return found.id


def text_of(session: Session, recognition_id: int) -> str:
    session.expire_all()
    row = session.get(Recognition, recognition_id)
    assert row is not None
    return row.text


def decide(session: Session, clock: FixedClock, recognition_id: int, approve: bool) -> None:
    found = session.exec(select(Review).where(Review.recognition_id == recognition_id)).one()
    assert found.id is not None
    reviewer = Person("slack", "T1", REVIEWER, "Rita Reviewer")
    result = review.decide(
        found.id,
        reviewer,
        approve=approve,
        reason=None if approve else "off-label",
        session=session,
        policy=POLICY,
        now=clock.now(),
    )
    assert isinstance(result, review.Decided)
    session.commit()


def test_stopped_texts_are_erased_after_their_days_and_nothing_else(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    blocked_old = give(session, clock, alice, bob, BLOCKED, "k1")
    published = give(session, clock, alice, bob, PUBLISHED, "k2")
    rejected = give(session, clock, alice, bob, HELD, "k3")
    approved = give(session, clock, alice, bob, HELD + " today", "k4")
    pending = give(session, clock, alice, bob, HELD + " again", "k5")
    decide(session, clock, rejected, approve=False)
    decide(session, clock, approved, approve=True)
    clock.advance(days=20)
    blocked_new = give(session, clock, alice, bob, BLOCKED + " ever", "k6")
    clock.advance(days=11)  # k1 and the rejection are 31 days old, k6 is 11

    policy = Retention(stopped_text_days=30)
    done = retention.purge(session, retention=policy, now=clock.now())
    session.commit()

    assert done == retention.Purged(texts=2, pv_links=0)
    assert text_of(session, blocked_old) == ERASED
    assert text_of(session, rejected) == ERASED
    assert text_of(session, blocked_new) == BLOCKED + " ever"
    assert text_of(session, published) == PUBLISHED
    assert text_of(session, approved) == HELD + " today"
    assert text_of(session, pending) == HELD + " again"
    # The review request that quoted the rejected text no longer holds it.
    quoted = [
        o.data
        for o in session.exec(select(Outbox).where(Outbox.template == "review.request"))
        if o.data["recognition_id"] == rejected
    ]
    assert quoted and all(d["text"] == ERASED for d in quoted)
    # The hash of the original stays; the audit says what was done, without any text.
    erased_row = session.get(Recognition, blocked_old)
    assert erased_row is not None and len(erased_row.text_sha256) == 64
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "retention.purge")).one()
    assert entry.detail["texts"] == 2 and "Oncozol" not in str(entry.detail)
    assert audit_proof(session).intact
    # A second run finds nothing, and writes no audit entry.
    again = retention.purge(session, retention=policy, now=clock.now())
    session.commit()
    assert not again.any
    assert (
        len(session.exec(select(AuditEntry).where(AuditEntry.action == "retention.purge")).all())
        == 1
    )


def test_pv_cases_keep_their_record_but_lose_the_link_to_chat(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    source = give(session, clock, alice, bob, ADVERSE, "k1")
    case = session.exec(select(PvCase)).one()
    assert case.recognition_id == source and case.reporter_member_id is not None
    clock.advance(days=364)
    policy = Retention(pv_link_days=365)
    assert not retention.purge(session, retention=policy, now=clock.now()).any

    clock.advance(days=2)
    done = retention.purge(session, retention=policy, now=clock.now())
    session.commit()

    assert done.pv_links == 1
    session.expire_all()
    case = session.exec(select(PvCase)).one()
    assert case.recognition_id is None and case.reporter_member_id is None
    assert case.text == ADVERSE  # drug safety's record stays whole
    assert text_of(session, source) == ERASED


def test_nothing_is_erased_without_a_retention_policy(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    blocked = give(session, clock, alice, bob, BLOCKED, "k1")
    clock.advance(days=3650)
    assert not Retention().on
    assert not retention.purge(session, retention=Retention(), now=clock.now()).any
    assert text_of(session, blocked) == BLOCKED
    assert (
        session.exec(
            select(col(AuditEntry.id)).where(AuditEntry.action == "retention.purge")
        ).first()
        is None
    )


def test_the_retention_section_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("retention:\n  stopped_text_days: 90\n  pv_link_days: 730\n")
    assert org_config.load(good).retention.retention() == Retention(90, 730)
    for body, problem in (
        ("retention:\n  stopped_text_days: 0\n", "retention.stopped_text_days"),
        ("retention:\n  keep_forever: true\n", "retention.keep_forever: unknown key"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(body)
        with pytest.raises(org_config.ConfigError, match=problem):
            org_config.load(bad)


def test_the_scheduler_purges_once_a_day(
    file_engine: Engine, clock: FixedClock, alice: Person, bob: Person
) -> None:
    with Session(file_engine, expire_on_commit=False) as s:
        blocked = give(s, clock, alice, bob, BLOCKED, "k1")
        clock.advance(days=2)
        again = give(s, clock, alice, bob, BLOCKED + " ever", "k2")
    clock.advance(days=1, hours=1)  # k1 is three days old, k2 one
    runtime = Runtime(
        engine=file_engine,
        policy=POLICY,
        rules=default_rules(),
        clock=clock,
        surveys=(),
        digests=None,
        retention=Retention(stopped_text_days=2),
    )
    try:
        assert asyncio.run(Scheduler(runtime).sweep())["purged"] == 1
        clock.advance(hours=1)
        assert asyncio.run(Scheduler(runtime).sweep())["purged"] == 0  # once a day
        clock.advance(days=1)
        assert asyncio.run(Scheduler(runtime).sweep())["purged"] == 1
    finally:
        runtime.close()
    with Session(file_engine) as s:
        assert text_of(s, blocked) == ERASED and text_of(s, again) == ERASED
