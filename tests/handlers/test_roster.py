"""Roster import: good, bad and mixed files, idempotence, managers, cycles, leavers."""

from __future__ import annotations

from sqlmodel import Session, select

from handlers import roster
from handlers.clock import FixedClock
from storage.models import Member

HEADER = list(roster.COLUMNS)


def rows(*lines: str) -> list[roster.Row]:
    out = []
    for number, line in enumerate(lines, start=2):
        cells = line.split(",")
        out.append(
            roster.Row(
                number, dict(zip(HEADER, cells + [""] * (len(HEADER) - len(cells)), strict=True))
            )
        )
    return out


GOOD = (
    "ceo@lk.test,Morgan Lee,U0CEO0001,,,Leadership,Global,,Europe/London,admin",
    "dana@lk.test,Dana Reyes,U0DANA001,,ceo@lk.test,Digital,EU,Oncology,Europe/Berlin,"
    "manager;reviewer",
    "li@lk.test,Li Wei,,aad-li,dana@lk.test,Digital,APAC,Oncology,Asia/Singapore,",
)


def by_email(session: Session) -> dict[str, Member]:
    return {m.email or "": m for m in session.exec(select(Member))}


def test_a_good_file_creates_members_and_links_managers(
    session: Session, clock: FixedClock
) -> None:
    report = roster.import_rows(rows(*GOOD), session=session, now=clock.now())
    session.commit()
    assert (report.created, report.rejected) == ([2, 3, 4], [])
    people = by_email(session)
    assert people["li@lk.test"].manager_id == people["dana@lk.test"].id
    assert people["dana@lk.test"].roles == ["manager", "reviewer"]
    assert people["dana@lk.test"].timezone == "Europe/Berlin"
    assert people["li@lk.test"].teams_aad_id == "aad-li"


def test_importing_the_same_file_again_changes_nothing(session: Session, clock: FixedClock) -> None:
    roster.import_rows(rows(*GOOD), session=session, now=clock.now())
    session.commit()
    again = roster.import_rows(rows(*GOOD), session=session, now=clock.now())
    assert (again.created, again.updated, again.unchanged) == ([], [], [2, 3, 4])
    changed = list(GOOD)
    changed[2] = changed[2].replace("APAC", "EU")
    third = roster.import_rows(rows(*changed), session=session, now=clock.now())
    assert (third.updated, third.unchanged) == ([4], [2, 3])


def test_bad_rows_are_reported_and_never_stop_the_good_ones(
    session: Session, clock: FixedClock
) -> None:
    mixed = rows(
        GOOD[0],
        ",No Email",
        "not-an-email,Someone",
        "x@lk.test,X,,,,,,,Mars/Olympus",
        "y@lk.test,Y,,,,,,,,wizard",
        "z@lk.test,Z,,,nobody@lk.test",
        "ceo@lk.test,Again",
        "w@lk.test,W,C0NOTAUSER",
        GOOD[1],
    )
    report = roster.import_rows(mixed, session=session, now=clock.now())
    session.commit()
    assert report.created == [2, 10]
    reasons = dict(report.rejected)
    assert reasons[3] == "email is missing"
    assert "not an email address" in reasons[4]
    assert "IANA zone" in reasons[5]
    assert "unknown role(s) wizard" in reasons[6]
    assert "neither in this file nor a member" in reasons[7]
    assert "appears again (first on line 2)" in reasons[8]
    assert "not a Slack user id" in reasons[9]
    assert set(by_email(session)) == {"ceo@lk.test", "dana@lk.test"}


def test_manager_cycles_are_rejected(session: Session, clock: FixedClock) -> None:
    report = roster.import_rows(
        rows(
            "a@lk.test,A,,,b@lk.test",
            "b@lk.test,B,,,a@lk.test",
            "c@lk.test,C,,,c@lk.test",
        ),
        session=session,
        now=clock.now(),
    )
    assert [line for line, _ in report.rejected] == [2, 3, 4]
    assert "comes back" in dict(report.rejected)[2]
    assert "own manager" in dict(report.rejected)[4]
    assert by_email(session) == {}


def test_leavers_are_deactivated_not_deleted_and_come_back_when_listed(
    session: Session, clock: FixedClock
) -> None:
    roster.import_rows(rows(*GOOD), session=session, now=clock.now())
    gone = roster.deactivate_missing(
        {"ceo@lk.test", "dana@lk.test"}, session=session, now=clock.now()
    )
    session.commit()
    assert gone == ["li@lk.test"]
    assert by_email(session)["li@lk.test"].active is False
    back = roster.import_rows(rows(*GOOD), session=session, now=clock.now())
    assert back.updated == [4]
    assert by_email(session)["li@lk.test"].active is True
    assert roster.deactivate("nobody@lk.test", session=session, now=clock.now()) is False
