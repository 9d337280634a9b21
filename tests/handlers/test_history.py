"""Importing past recognitions: checked like new ones, idempotent, never posted."""

from __future__ import annotations

from sqlmodel import Session, select

from handlers import history, roster
from handlers.clock import FixedClock
from handlers.policy import KudosPolicy
from storage.models import Member, Outbox, PvCase, Recognition

POLICY = KudosPolicy(safety_channel="C0SAFETY")


def rows(*records: tuple[str, ...]) -> list[history.Row]:
    return [
        history.Row(n, dict(zip(history.COLUMNS, r, strict=False)))
        for n, r in enumerate(records, start=2)
    ]


FILE = rows(
    (
        "2025-10-02",
        "ana@lk.test",
        "dana@lk.test",
        "thanks for the launch checklist",
        "collaboration",
    ),
    (
        "2025-11-14T16:30",
        "dana@lk.test",
        "ana@lk.test",
        "the Oncozol email calls it the best treatment",
        "",
    ),
    (
        "2025-12-01",
        "dana@lk.test",
        "left@lk.test",
        "for covering the congress booth",
        "#site-activation",
    ),
    (
        "2025-12-03",
        "ana@lk.test",
        "dana@lk.test",
        "the caller's husband was hospitalized while taking Somnira",
        "",
    ),
    ("31/12/2025", "ana@lk.test", "dana@lk.test", "for the new year plan", ""),
    ("2025-12-05", "ana@lk.test", "ana@lk.test", "for myself", ""),
    ("2025-12-06", "ana@lk.test", "dana", "for the deck", ""),
    ("2025-12-07", "ana@lk.test", "dana@lk.test", "", ""),
)


def test_history_is_imported_checked_and_never_posted(session: Session, clock: FixedClock) -> None:
    roster.import_rows(
        [roster.Row(2, {"email": "ana@lk.test"}), roster.Row(3, {"email": "dana@lk.test"})],
        session=session,
        now=clock.now(),
    )
    report = history.import_rows(FILE, session=session, rules=None, policy=POLICY, now=clock.now())
    session.commit()
    assert report.imported == [2, 3, 4, 5]
    assert [line for line, _ in report.flagged] == [3, 5]
    reasons = dict(report.rejected)
    assert "not a date" in reasons[6] and "same person" in reasons[7]
    assert "not an email" in reasons[8] and "message is empty" in reasons[9]
    found = {r.text_sha256: r for r in session.exec(select(Recognition))}
    assert {r.outcome for r in found.values()} == {"pass", "block", "route_pv"}
    first = next(r for r in found.values() if r.text == "thanks for the launch checklist")
    assert first.value_tags == ["#collaboration"] and first.source == "import"
    assert first.created_at.isoformat().startswith("2025-10-02")
    leaver = session.exec(select(Member).where(Member.email == "left@lk.test")).one()
    assert leaver.active is False
    # Old posts are not re-posted; a possible adverse event still reaches drug safety.
    assert [o.template for o in session.exec(select(Outbox))] == ["pv.alert"]
    assert session.exec(select(PvCase)).one().source == "import"


def test_importing_the_same_file_twice_changes_nothing(session: Session, clock: FixedClock) -> None:
    history.import_rows(FILE[:3], session=session, rules=None, policy=POLICY, now=clock.now())
    session.commit()
    again = history.import_rows(
        FILE[:3], session=session, rules=None, policy=POLICY, now=clock.now()
    )
    assert (again.imported, again.duplicates) == ([], [2, 3, 4])
    assert len(session.exec(select(Recognition)).all()) == 3
