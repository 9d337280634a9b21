"""Manager digests: content on a seeded team, local send times, never twice, preview."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cli.main import main
from compliance_rules import default_rules
from handlers import digests, kudos, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested
from handlers.policy import KudosPolicy
from storage import migrate
from storage.db import make_engine
from storage.models import Member, Outbox, Review
from tests.conftest import slack_person

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 09:00 in London
POLICY = KudosPolicy(
    recognition_channel="C0KUDOS", min_message_length=0, daily_allowance=20, reviewers=("U0MGR",)
)
PEOPLE = {
    "mia": slack_person("U0MGR", "Mia"),
    "ann": slack_person("U0001", "Ann"),
    "ben": slack_person("U0002", "Ben"),
    "cal": slack_person("U0003", "Cal"),
    "dee": slack_person("U0004", "Dee"),  # in another team
}


def seed(session: Session) -> None:
    """Mia manages Ann, Ben and Cal (Brand); Dee is in Medical."""
    long_ago = MONDAY - timedelta(days=90)
    for key, person in PEOPLE.items():
        session.add(
            Member(
                slack_team_id="T0001",
                slack_user_id=person.user_id,
                email=f"{key}@example.com",
                display_name=person.display_name,
                team="Medical" if key == "dee" else "Brand",
                created_at=long_ago,
            )
        )
    session.commit()
    mia = session.exec(select(Member).where(Member.display_name == "Mia")).one()
    for name in ("Ann", "Ben", "Cal"):
        report = session.exec(select(Member).where(Member.display_name == name)).one()
        report.manager_id = mia.id
        session.add(report)
    session.commit()


def give(session: Session, at: datetime, giver: str, *to: str, text: str, n: int) -> None:
    event = KudosRequested(
        f"k{n}",
        PEOPLE[giver],
        tuple(PEOPLE[t] for t in to),
        text,
        ("#collaboration",) if "#collaboration" in text else (),
        "command",
        "C0GENERAL",
    )
    result = kudos.give(event, session=session, policy=POLICY, clock=FixedClock(at))
    assert isinstance(result, kudos.Recorded | kudos.Stopped), result
    session.commit()


def manager(session: Session) -> Member:
    return session.exec(select(Member).where(Member.display_name == "Mia")).one()


def test_digest_content(session: Session) -> None:
    seed(session)
    day = MONDAY - timedelta(days=2)
    give(session, day, "dee", "ann", "ben", text="thanks for the launch plan #collaboration", n=1)
    give(session, day, "ann", "dee", text="great site activation checklist", n=2)
    give(session, day, "dee", "ann", text="the best treatment for every patient", n=3)  # blocked
    give(session, MONDAY - timedelta(days=20), "dee", "ben", text="older thanks", n=4)
    session.add(Review(recognition_id=3, requested_by="member:5"))
    session.commit()
    d = digests.build(session, manager(session), now=MONDAY, policy=POLICY)
    assert d is not None
    assert (d.reports, d.received, d.given) == (3, 1, 1)
    assert d.top_values == (("#collaboration", 1),)
    assert [h.text for h in d.highlights] == ["thanks for the launch plan #collaboration"]
    assert d.quiet == ("Cal",)  # Ann and Ben had kudos in the last 30 days
    assert (d.team, d.team_rank, d.sprint) == ("Brand", 1, "2026Q4")
    assert d.reviews_pending == 1  # Mia is a reviewer
    text = "\n".join(digests.lines(d))
    assert "best treatment" not in text  # only what passed compliance
    assert "Cal" in text and "#1 in sprint 2026Q4" in text
    dee = session.exec(select(Member).where(Member.display_name == "Dee")).one()
    assert digests.build(session, dee, now=MONDAY, policy=POLICY) is None  # no reports


def test_survey_figures_only_when_the_team_meets_the_threshold(session: Session) -> None:
    seed(session)
    pulse = surveys.Survey(
        id="pulse",
        title="Pulse",
        questions=(surveys.Question("enps", "enps", "Recommend us?"),),
        anonymous=False,
        min_responses=3,
        owners=("mia@example.com",),
    )
    opened = surveys.open_round(pulse, session=session, now=MONDAY - timedelta(days=5), period="p")
    assert isinstance(opened, surveys.Opened)
    for name, score in (("ann", 10), ("ben", 9)):
        surveys.answer(
            surveys.SurveyAnswered(PEOPLE[name], opened.round_id, "enps", score=score),
            session=session,
            now=MONDAY - timedelta(days=4),
            rules=default_rules(),
            policy=POLICY,
        )
    surveys.close_round(opened.round_id, session=session, now=MONDAY - timedelta(days=2))
    session.commit()
    d = digests.build(session, manager(session), now=MONDAY, policy=POLICY)
    assert d is not None and d.survey is None  # two of Brand answered; three needed
    opened2 = surveys.open_round(pulse, session=session, now=MONDAY - timedelta(days=2), period="q")
    assert isinstance(opened2, surveys.Opened)
    for name, score in (("ann", 10), ("ben", 9), ("cal", 3)):
        surveys.answer(
            surveys.SurveyAnswered(PEOPLE[name], opened2.round_id, "enps", score=score),
            session=session,
            now=MONDAY - timedelta(days=1),
            rules=default_rules(),
            policy=POLICY,
        )
    surveys.close_round(opened2.round_id, session=session, now=MONDAY - timedelta(hours=1))
    session.commit()
    d = digests.build(session, manager(session), now=MONDAY, policy=POLICY)
    assert d is not None and d.survey is not None
    assert d.survey["participation"] == pytest.approx(0.75)  # 3 of Brand's 4
    assert d.survey["enps"] == 33


def test_sent_at_each_managers_local_time_once(session: Session) -> None:
    seed(session)
    schedule = digests.DigestSchedule(weekday=0, at=time(9, 0))
    mia = manager(session)
    mia.timezone = "Asia/Tokyo"  # Monday 09:00 in Tokyo is Monday 00:00 UTC
    session.add(mia)
    session.commit()

    def sweep(at: datetime) -> int:
        queued = digests.send_due(session, now=at, policy=POLICY, schedule=schedule)
        session.commit()
        return queued

    assert sweep(datetime(2026, 11, 22, 23, 59, tzinfo=UTC)) == 0
    assert sweep(datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) == 1
    assert sweep(datetime(2026, 11, 23, 0, 30, tzinfo=UTC)) == 0  # never twice
    assert sweep(datetime(2026, 11, 24, 1, 0, tzinfo=UTC)) == 0  # a day late: wait
    assert sweep(datetime(2026, 11, 30, 0, 0, tzinfo=UTC)) == 1  # next week
    rows = session.exec(select(Outbox).where(Outbox.template == "digest.weekly")).all()
    assert [(r.channel, r.kind) for r in rows] == [("U0MGR", "dm"), ("U0MGR", "dm")]
    assert rows[0].data["week"] == "2026-W48" and rows[0].data["lines"]


def test_a_quiet_week_is_a_note_or_nothing(session: Session) -> None:
    seed(session)
    for member in session.exec(select(Member)):
        member.created_at = MONDAY - timedelta(days=3)  # nobody is overdue for thanks yet
        session.add(member)
    session.commit()
    skip = digests.DigestSchedule(empty="skip")
    assert digests.send_due(session, now=MONDAY, policy=KudosPolicy(), schedule=skip) == 0
    next_week = MONDAY + timedelta(days=7)
    note = digests.DigestSchedule(empty="note")
    assert digests.send_due(session, now=next_week, policy=KudosPolicy(), schedule=note) == 1
    (row,) = session.exec(select(Outbox).where(Outbox.template == "digest.weekly")).all()
    assert "A quiet week" in "\n".join(row.data["lines"])


def test_digest_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", url)
    monkeypatch.setenv("PLAUDIT_CONFIG", str(tmp_path / "absent.yaml"))
    engine: Engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        seed(session)
        give(session, datetime.now(UTC), "dee", "ann", text="thanks for the review", n=1)
    engine.dispose()
    assert main(["digest", "preview", "--manager", "MIA@example.com"]) == 0
    out = capsys.readouterr().out
    assert "3 direct reports" in out and '"thanks for the review" - Dee to Ann' in out
    assert main(["digest", "preview", "--manager", "dee@example.com"]) == 1
    assert main(["digest", "preview", "--manager", "nobody@example.com"]) == 2
