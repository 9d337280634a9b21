"""Migration 0008: roster members and the Slack members made for them become one member,
with the union of their records, counts kept, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Date, DateTime, Engine, bindparam, inspect, text
from sqlmodel import Session, col, select

from storage import migrate
from storage.audit import GENESIS
from storage.audit_verify import unkeyed_hash
from storage.models import (
    AuditEntry,
    LeaderboardTotal,
    Member,
    MilestoneAward,
    MilestoneShare,
    Outbox,
    PvCase,
    Recognition,
    RecognitionRecipient,
    Review,
    SurveyAnswer,
    SurveyInvite,
    SurveyRound,
)
from tests.harness import audit_proof

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SALT = "ab" * 16


# The columns revision 0007 has (the model has grown since): written as SQL, not through
# the model, so the row fits the schema of the revision under test.
_INSERT_RECOGNITION = text(
    "INSERT INTO recognition (dedupe_key, giver_id, text, text_sha256, value_tags, source, "
    "platform, workspace, reactions, outcome, findings, giver_local_date, created_at) "
    "VALUES (:key, :giver, 'Thanks for the site activation email', :sha, "
    "'[\"#collaboration\"]', 'command', 'slack', 'T0001', '[]', 'pass', '[]', :day, :at) "
    "RETURNING id"
).bindparams(bindparam("at", type_=DateTime()), bindparam("day", type_=Date()))


@contextmanager
def _later_member_columns(engine: Engine) -> Iterator[None]:
    """The member columns later revisions add, there only while the seed is written through
    the model (which has them); revision 0007's own columns hold everything seeded."""
    have = {c["name"] for c in inspect(engine).get_columns("member")}
    later = [c for c in Member.__table__.columns if c.name not in have]  # type: ignore[attr-defined]
    with engine.begin() as c:
        for column in later:
            kind = column.type.compile(engine.dialect)
            c.execute(text(f"ALTER TABLE member ADD COLUMN {column.name} {kind}"))
    try:
        yield
    finally:
        with engine.begin() as c:
            for column in later:
                c.execute(text(f"ALTER TABLE member DROP COLUMN {column.name}"))


def _recognition(s: Session, key: str, giver: Member, *recipients: Member) -> int:
    assert giver.id is not None
    values = {"key": key, "giver": giver.id, "sha": "0" * 64, "day": date(2026, 11, 24)}
    new_id = s.connection().execute(_INSERT_RECOGNITION, {**values, "at": T0}).scalar_one()
    for person in recipients:
        assert person.id is not None
        s.add(RecognitionRecipient(recognition_id=new_id, member_id=person.id))
    s.flush()
    return int(new_id)


def _round(s: Session, number: int, *, anonymous: bool = False) -> SurveyRound:
    round_ = SurveyRound(
        survey_id="pulse",
        period=f"2026-W{47 + number}",
        number=number,
        definition={},
        anonymous=anonymous,
        opened_by="schedule",
        opened_at=T0,
        closes_at=T0 + timedelta(days=3),
        salt=SALT if anonymous else None,
    )
    s.add(round_)
    s.flush()
    return round_


def _token(member_id: int) -> str:
    return hmac.new(bytes.fromhex(SALT), str(member_id).encode(), hashlib.sha256).hexdigest()


def _seed(s: Session) -> dict[str, Any]:
    """Alice from the roster (Slack id, no workspace) and the member Slack made for her."""
    boss = Member(email="boss@lk.test", display_name="Boss")
    s.add(boss)
    s.flush()
    alice = Member(
        email="alice@lk.test",
        display_name="Alice Roster",
        slack_user_id="U0ALICE",
        team="Digital",
        region="EU",
        manager_id=boss.id,
        roles=["reviewer"],
    )
    dup = Member(
        slack_team_id="T0001",
        slack_user_id="U0ALICE",
        display_name="alice",
        timezone="Europe/Berlin",
    )
    bob = Member(
        slack_team_id="T0001", slack_user_id="U0BOB", email="bob@lk.test", display_name="Bob"
    )
    # Left alone: a roster id seen in two workspaces (whose is it?), and one never seen.
    zed = Member(email="zed@lk.test", display_name="Zed", slack_user_id="U0ZED")
    zed1 = Member(slack_team_id="T0001", slack_user_id="U0ZED", display_name="zed one")
    zed2 = Member(slack_team_id="T0002", slack_user_id="U0ZED", display_name="zed two")
    solo = Member(email="solo@lk.test", display_name="Solo", slack_user_id="U0SOLO")
    s.add_all([alice, dup, bob, zed, zed1, zed2, solo])
    s.flush()
    managed = Member(email="eve@lk.test", display_name="Eve", manager_id=dup.id)
    s.add(managed)
    given = _recognition(s, "r1", dup, bob)
    _recognition(s, "r2", bob, dup)
    _recognition(s, "r3", bob, alice)
    review = Review(recognition_id=given, requested_by=f"member:{dup.id}", created_at=T0)
    s.add(review)
    for member_id, tag, received, given_n in (
        (dup.id, "", 1, 1),
        (alice.id, "", 1, 0),
        (dup.id, "#collaboration", 1, 0),
    ):
        s.add(
            LeaderboardTotal(
                sprint="2026-S24",
                value_tag=tag,
                member_id=member_id or 0,
                received=received,
                given=given_n,
                points=received,
            )
        )
    award = MilestoneAward(
        key="launch",
        milestone_id="launch",
        sprint="2026-S24",
        title="Launch",
        points=3,
        awarded_at=T0,
    )
    s.add(award)
    s.flush()
    s.add(
        MilestoneShare(award_id=award.id or 0, member_id=dup.id or 0, sprint="2026-S24", points=2)
    )
    s.add(
        MilestoneShare(award_id=award.id or 0, member_id=alice.id or 0, sprint="2026-S24", points=1)
    )
    both, only_dup, anon = _round(s, 1), _round(s, 2), _round(s, 3, anonymous=True)
    s.add(SurveyInvite(round_id=both.id or 0, member_id=alice.id or 0, send_at=T0, sent_at=T0))
    s.add(
        SurveyInvite(
            round_id=both.id or 0,
            member_id=dup.id or 0,
            send_at=T0,
            sent_at=T0 + timedelta(minutes=5),
            reminders_sent=1,
            responded=True,
        )
    )
    s.add(SurveyInvite(round_id=only_dup.id or 0, member_id=dup.id or 0, send_at=T0))
    s.add(
        SurveyAnswer(
            round_id=both.id or 0,
            respondent=f"member:{dup.id}",
            member_id=dup.id,
            question_id="q1",
            score=4,
        )
    )
    s.add(
        SurveyAnswer(
            round_id=anon.id or 0, respondent=_token(dup.id or 0), question_id="q1", score=2
        )
    )
    s.add(
        PvCase(source="kudos", reporter_member_id=dup.id, reporter="alice", aware_at=T0, text="x")
    )
    s.add(
        Outbox(
            key=f"recognition:{given}:dm:{dup.id}",
            platform="slack",
            workspace="T0001",
            channel="U0ALICE",
            kind="dm",
            template="notice",
            data={},
        )
    )
    s.add(
        Outbox(
            key=f"survey:{both.id}:{dup.id}:invite",
            platform="slack",
            workspace="T0001",
            channel="U0ALICE",
            kind="dm",
            template="survey.invite",
            data={},
        )
    )
    # At 0007 entries carried an unkeyed hash chain, which 0008 extends.
    entry = {"at": T0, "actor": "roster", "action": "roster.imported", "subject": "roster"}
    digest = unkeyed_hash(GENESIS, SimpleNamespace(**entry, detail={}))
    s.connection().execute(
        text(
            "INSERT INTO audit_entry (at, actor, action, subject, detail, prev_hash, hash) "
            "VALUES (:at, :actor, :action, :subject, '{}', :prev, :hash)"
        ).bindparams(bindparam("at", type_=DateTime())),
        {**entry, "at": T0.replace(tzinfo=None), "prev": GENESIS, "hash": digest},
    )
    s.commit()
    return {
        "alice": alice.id,
        "dup": dup.id,
        "bob": bob.id,
        "boss": boss.id,
        "eve": managed.id,
        "both": both.id,
        "only_dup": only_dup.id,
        "anon": anon.id,
        "review": review.id,
    }


def test_0008_merges_each_roster_member_with_the_slack_member_made_for_them(
    engine: Engine,
) -> None:
    migrate.downgrade(engine, "0007")
    with _later_member_columns(engine), Session(engine) as s:
        ids = _seed(s)

    migrate.upgrade(engine)

    alice_id = ids["alice"]
    with Session(engine) as s:
        assert s.get(Member, ids["dup"]) is None
        alice = s.get(Member, alice_id)
        assert alice is not None
        assert (alice.slack_team_id, alice.slack_user_id) == ("T0001", "U0ALICE")
        assert (alice.email, alice.display_name, alice.team) == (
            "alice@lk.test",
            "Alice Roster",
            "Digital",
        )
        assert alice.manager_id == ids["boss"] and alice.roles == ["reviewer"]
        assert alice.timezone == "Europe/Berlin"  # the roster gave none; Slack's is kept
        # Recognitions: the one she gave in Slack, and both she received.
        given = s.exec(select(Recognition).where(Recognition.giver_id == alice_id)).all()
        assert [r.dedupe_key for r in given] == ["r1"]
        received = s.exec(
            select(Recognition.dedupe_key)
            .join(RecognitionRecipient, col(RecognitionRecipient.recognition_id) == Recognition.id)
            .where(RecognitionRecipient.member_id == alice_id)
            .order_by(col(Recognition.dedupe_key))
        ).all()
        assert received == ["r2", "r3"]
        totals = {
            t.value_tag: (t.received, t.given, t.points)
            for t in s.exec(select(LeaderboardTotal).where(LeaderboardTotal.member_id == alice_id))
        }
        assert totals == {"": (2, 1, 2), "#collaboration": (1, 0, 1)}
        shares = s.exec(select(MilestoneShare).where(MilestoneShare.member_id == alice_id)).all()
        assert [m.points for m in shares] == [3]
        invites = {
            i.round_id: i
            for i in s.exec(select(SurveyInvite).where(SurveyInvite.member_id == alice_id))
        }
        assert set(invites) == {ids["both"], ids["only_dup"]}
        merged = invites[ids["both"]]
        assert merged.responded and merged.reminders_sent == 1 and merged.sent_at == T0
        answers = s.exec(select(SurveyAnswer).order_by(col(SurveyAnswer.round_id))).all()
        assert [(a.respondent, a.member_id) for a in answers] == [
            (f"member:{alice_id}", alice_id),
            (_token(alice_id), None),
        ]
        assert s.exec(select(PvCase.reporter_member_id)).one() == alice_id
        eve = s.get(Member, ids["eve"])
        assert eve is not None and eve.manager_id == alice_id
        review = s.get(Review, ids["review"])
        assert review is not None and review.requested_by == f"member:{alice_id}"
        keys = set(s.exec(select(Outbox.key)))
        assert keys == {
            f"recognition:{given[0].id}:dm:{alice_id}",
            f"survey:{ids['both']}:{alice_id}:invite",
        }
        # Ambiguous and unseen roster ids are left as they were.
        zed = s.exec(select(Member).where(Member.slack_user_id == "U0ZED")).all()
        assert len(zed) == 3
        solo = s.exec(select(Member).where(Member.email == "solo@lk.test")).one()
        assert solo.slack_team_id is None
        # The audit trail is still one unbroken chain, and records the merge.
        assert audit_proof(s).intact
        last = s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
        assert last is not None and last.action == "member.merged"
        assert last.subject == f"member:{alice_id}" and last.detail["merged"] == ids["dup"]

    # Stepping down changes nothing; stepping up again finds nothing more to merge.
    migrate.downgrade(engine, "0007")
    migrate.upgrade(engine)
    with Session(engine) as s:
        assert len(s.exec(select(Member)).all()) == 8
        proof = audit_proof(s)
        assert proof.intact and proof.sealed == 2
