"""Identity links: an email links a platform identity to a member once (the member's first
identity on that platform), audited; it never moves an identity a member already has; an
admin can undo a link (`plaudit roster unlink`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot.cli.main import main
from handlers import kudos, members
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.db import make_engine
from storage.models import AuditEntry, Member, Recognition
from tests.harness import audit_proof

TENANT = "72f988bf-0000-0000-0000-000000000001"
ELSEWHERE = "0badc0de-0000-0000-0000-000000000002"


def teams(aad: str, name: str, email: str | None, tenant: str = TENANT) -> Person:
    return Person("teams", tenant, aad, name, timezone="Europe/London", email=email)


def slack(user: str, name: str, email: str | None, team: str = "T0001") -> Person:
    return Person("slack", team, user, name, timezone="Europe/London", email=email)


def roster_member(session: Session, email: str, name: str, **fields: object) -> Member:
    member = Member(email=email, display_name=name, **fields)  # type: ignore[arg-type]
    session.add(member)
    session.commit()
    return member


def upsert(session: Session, person: Person, clock: FixedClock) -> int:
    (row,) = members.upsert_many([person], session=session, now=clock.now())
    session.commit()
    return row.id


def audit(session: Session, action: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
    return list(session.exec(stmt))


def test_an_email_links_the_first_teams_identity_to_the_roster_member_and_audits_it(
    session: Session, clock: FixedClock
) -> None:
    megan = roster_member(session, "meganb@contoso.example", "Megan Bowen", team="Brand")

    linked = upsert(session, teams("aad-megan", "Megan B", "MeganB@contoso.example"), clock)

    assert linked == megan.id
    session.refresh(megan)
    assert megan.teams_aad_id == "aad-megan" and megan.team == "Brand"
    (entry,) = audit(session, "member.linked")
    assert entry.subject == f"member:{megan.id}" and entry.actor == "teams:aad-megan"
    assert entry.detail["by"] == "email"
    assert (entry.detail["platform"], entry.detail["user_id"]) == ("teams", "aad-megan")
    assert entry.detail["member"]["email"] == "meganb@contoso.example"
    # Seen again: recognised by AAD id, nothing more to link or audit.
    assert upsert(session, teams("aad-megan", "Megan Bowen", "meganb@contoso.example"), clock) == (
        megan.id
    )
    assert len(audit(session, "member.linked")) == 1
    assert audit_proof(session).intact


def test_an_email_never_moves_a_teams_identity_or_lets_another_act_as_her(
    session: Session, clock: FixedClock
) -> None:
    megan = roster_member(session, "meganb@contoso.example", "Megan Bowen")
    upsert(session, teams("aad-megan", "Megan Bowen", "meganb@contoso.example"), clock)

    # Someone else (another tenant, a renamed account) with her address.
    impostor = teams("aad-mallory", "Megan (admin)", "meganb@contoso.example", ELSEWHERE)
    other = upsert(session, impostor, clock)

    assert other != megan.id
    session.refresh(megan)
    assert (megan.teams_aad_id, megan.display_name) == ("aad-megan", "Megan Bowen")
    stranger = session.get(Member, other)
    assert stranger is not None and stranger.email is None  # the address stays with Megan
    assert len(audit(session, "member.linked")) == 1
    # Kudos given by that identity are theirs, not Megan's.
    alex = roster_member(session, "alexw@contoso.example", "Alex Wilber")
    event = KudosRequested(
        key="k1",
        giver=impostor,
        recipients=(teams("aad-alex", "Alex Wilber", alex.email),),
        message="for the site activation email",
        values=(),
        source="command",
    )
    result = kudos.give(event, session=session, policy=KudosPolicy(), clock=clock)
    session.commit()
    assert isinstance(result, kudos.Recorded), result
    assert session.exec(select(Recognition.giver_id)).one() == other
    # Recognised as their member, the impostor carries no email (so no reviewer's rights).
    seen = members.recognise(impostor, session=session, now=clock.now())
    assert seen.email is None
    real = members.recognise(
        teams("aad-megan", "Megan Bowen", "whatever@contoso.example"),
        session=session,
        now=clock.now(),
    )
    assert real.email == "meganb@contoso.example"


def test_an_email_never_moves_a_slack_identity_in_the_same_workspace(
    session: Session, clock: FixedClock
) -> None:
    alice = roster_member(session, "alice@example.com", "Alice")
    assert upsert(session, slack("U0001", "Alice", "alice@example.com"), clock) == alice.id

    other = upsert(session, slack("U0666", "alice", "ALICE@example.com"), clock)

    assert other != alice.id
    session.refresh(alice)
    assert (alice.slack_team_id, alice.slack_user_id) == ("T0001", "U0001")
    assert [e.detail["user_id"] for e in audit(session, "member.linked")] == ["U0001"]


def test_a_member_known_in_slack_links_their_first_teams_identity_once(
    session: Session, clock: FixedClock
) -> None:
    alice = upsert(session, slack("U0001", "Alice", "alice@example.com"), clock)
    assert upsert(session, teams("aad-alice", "Alice", "alice@example.com"), clock) == alice
    (entry,) = audit(session, "member.linked")
    assert entry.detail["member"]["slack"] == "T0001/U0001"
    assert entry.detail["member"]["email"] == "alice@example.com"
    assert upsert(session, teams("aad-other", "Alice", "alice@example.com"), clock) != alice


def test_unlink_takes_the_identity_off_and_it_is_not_linked_again(
    session: Session, clock: FixedClock
) -> None:
    megan = roster_member(session, "meganb@contoso.example", "Megan Bowen")
    upsert(session, teams("aad-wrong", "Megan", "meganb@contoso.example"), clock)

    done = members.unlink(
        "MeganB@contoso.example", "teams", session=session, now=clock.now(), actor="cli"
    )
    session.commit()

    assert isinstance(done, members.Unlinked)
    session.refresh(megan)
    assert megan.teams_aad_id is None and megan.email == "meganb@contoso.example"
    detached = session.get(Member, done.detached_id)
    assert detached is not None and detached.teams_aad_id == "aad-wrong"
    assert detached.email is None
    (entry,) = audit(session, "member.unlinked")
    assert entry.subject == f"member:{megan.id}" and entry.actor == "cli"
    assert entry.detail["user_id"] == "aad-wrong"
    assert entry.detail["now_member"] == done.detached_id
    # The unlinked identity comes back with the same address: it stays apart.
    assert upsert(session, teams("aad-wrong", "Megan", "meganb@contoso.example"), clock) == (
        done.detached_id
    )
    # Her real Teams identity is her first one again, and links.
    assert upsert(session, teams("aad-megan", "Megan", "meganb@contoso.example"), clock) == (
        megan.id
    )
    assert audit_proof(session).intact


def test_unlink_refuses_what_it_cannot_do_and_changes_nothing(
    session: Session, clock: FixedClock
) -> None:
    roster_member(session, "li@example.com", "Li Wei")
    now = clock.now()
    assert members.unlink("ghost@example.com", "teams", session=session, now=now, actor="cli") == (
        "No member with email ghost@example.com."
    )
    assert members.unlink("li@example.com", "slack", session=session, now=now, actor="cli") == (
        "li@example.com has no Slack identity to unlink."
    )
    assert "unknown platform" in str(
        members.unlink("li@example.com", "email", session=session, now=now, actor="cli")
    )
    assert audit(session, "member.unlinked") == []
    assert len(session.exec(select(Member)).all()) == 1


def test_plaudit_roster_unlink_from_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAUDIT_CONFIG", raising=False)
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    main(["db", "upgrade"])
    engine = make_engine(os.environ["PLAUDIT_DATABASE_URL"])
    with Session(engine) as s:
        s.add(
            Member(
                display_name="Dana", email="dana@lk.test", slack_team_id="T1", slack_user_id="U1"
            )
        )
        s.commit()
    capsys.readouterr()

    assert main(["roster", "unlink", "dana@lk.test", "--platform", "slack"]) == 0
    assert "no longer linked to Slack user U1" in capsys.readouterr().out
    assert main(["roster", "unlink", "dana@lk.test", "--platform", "slack"]) == 1
    assert "has no Slack identity" in capsys.readouterr().out
    assert main(["roster", "unlink", "dana@lk.test"]) == 2
    assert "--platform" in capsys.readouterr().err
    with Session(engine) as s:
        dana = s.exec(select(Member).where(Member.email == "dana@lk.test")).one()
        assert dana.slack_user_id is None
        assert [e.action for e in s.exec(select(AuditEntry))] == ["member.unlinked"]
    engine.dispose()
