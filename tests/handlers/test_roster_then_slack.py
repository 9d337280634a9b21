"""One person from the roster and from Slack is one member, whichever came first: the roster
gives a Slack user id with no workspace, and the first sighting in a workspace claims it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from compliance_rules import default_rules
from handlers import kudos, leaderboard, roster, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage.models import AuditEntry, Member
from tests.harness import audit_proof

POLICY = KudosPolicy(recognition_channel="C0KUDOS", min_message_length=0)
RULES = default_rules()
PULSE = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    intro="Two minutes, please.",
    questions=(surveys.Question("energy", "scale", "How energised?", ("Drained", "Great")),),
    schedule=surveys.Schedule(cron="0 10 * * mon", timezone="Europe/Berlin"),
    open_for=timedelta(days=3),
    anonymous=False,
    min_responses=1,
    results_channel="C0RESULTS",
)
HEADER = list(roster.COLUMNS)
BOARD = [("ben@lk.test", 1), ("dana@lk.test", 1)]  # one row each, Dana's with her email


def row(line: int, **values: str) -> roster.Row:
    return roster.Row(line, {k: values.get(k, "") for k in HEADER})


ROSTER = (
    row(2, email="boss@lk.test", display_name="Morgan Lee"),
    row(
        3,
        email="dana@lk.test",
        display_name="Dana Reyes",
        slack_id="U0DANA",
        manager_email="boss@lk.test",
        team="Digital",
    ),
)


def dana_in_slack(*, email: str | None = None) -> Person:
    return Person("slack", "T0001", "U0DANA", "dana", timezone="Europe/Berlin", email=email)


BEN = Person("slack", "T0001", "U0BEN", "Ben", timezone="Europe/London", email="ben@lk.test")


def import_roster(session: Session, clock: FixedClock) -> roster.Report:
    report = roster.import_rows(list(ROSTER), session=session, now=clock.now())
    session.commit()
    return report


def give(session: Session, clock: FixedClock, key: str, giver: Person, *to: Person) -> None:
    event = KudosRequested(
        key=key,
        giver=giver,
        recipients=to,
        message="thanks for the launch checklist",
        values=(),
        source="command",
        channel_id="C0GENERAL",
    )
    result = kudos.give(event, session=session, policy=POLICY, clock=clock, rules=RULES)
    session.commit()
    assert isinstance(result, kudos.Recorded), result


def answer(session: Session, clock: FixedClock, person: Person) -> object:
    opened = surveys.open_round(PULSE, session=session, now=clock.now(), period="2026-W48")
    session.commit()
    assert isinstance(opened, surveys.Opened)
    result = surveys.answer(
        surveys.SurveyAnswered(person, opened.round_id, "energy", score=4),
        session=session,
        now=clock.now() + timedelta(minutes=5),
        rules=RULES,
        policy=POLICY,
    )
    session.commit()
    return result


def danas(session: Session) -> list[Member]:
    stmt = select(Member).where(Member.slack_user_id == "U0DANA").order_by(col(Member.id))
    return list(session.exec(stmt))


def board_names(session: Session, clock: FixedClock) -> list[tuple[str, str | None, int]]:
    sprint = POLICY.sprints.sprint_of(clock.now())
    assert sprint is not None
    board = leaderboard.board(session, sprint, top=None)
    return [(r.name, r.email, r.points) for r in board.rows]


def assert_one_dana(session: Session) -> Member:
    (dana,) = danas(session)
    boss = session.exec(select(Member).where(Member.email == "boss@lk.test")).one()
    assert (dana.email, dana.slack_team_id, dana.team) == ("dana@lk.test", "T0001", "Digital")
    assert dana.manager_id == boss.id
    return dana


def test_roster_then_slack_is_one_member_with_her_survey_and_one_board_row(
    session: Session, clock: FixedClock
) -> None:
    assert import_roster(session, clock).created == [2, 3]

    give(session, clock, "k1", dana_in_slack(), BEN)  # Slack shares no email here
    give(session, clock, "k2", BEN, dana_in_slack())

    dana = assert_one_dana(session)
    answered = answer(session, clock, dana_in_slack())
    assert isinstance(answered, surveys.Answered), answered
    names = board_names(session, clock)
    assert sorted((email or "", points) for _, email, points in names) == BOARD
    claims = [
        e
        for e in session.exec(select(AuditEntry).where(AuditEntry.action == "member.linked"))
        if e.subject == f"member:{dana.id}"
    ]
    assert [(c.detail["by"], c.detail["workspace"]) for c in claims] == [("user_id", "T0001")]
    assert audit_proof(session).intact


def test_slack_then_roster_is_one_member_with_her_survey_and_one_board_row(
    session: Session, clock: FixedClock
) -> None:
    give(session, clock, "k1", dana_in_slack(), BEN)  # no email from Slack: no link yet
    give(session, clock, "k2", BEN, dana_in_slack())
    assert len(danas(session)) == 1

    report = import_roster(session, clock)

    assert (report.created, report.updated, report.rejected) == ([2], [3], [])
    dana = assert_one_dana(session)
    answered = answer(session, clock, dana_in_slack())
    assert isinstance(answered, surveys.Answered), answered
    names = board_names(session, clock)
    assert sorted((email or "", points) for _, email, points in names) == BOARD
    linked = session.exec(select(AuditEntry).where(AuditEntry.action == "member.linked")).all()
    assert [(e.subject, e.detail["by"]) for e in linked] == [(f"member:{dana.id}", "roster")]
    assert import_roster(session, clock).unchanged == [2, 3]


def test_a_roster_id_that_is_someone_elses_is_refused_and_changes_nothing(
    session: Session, clock: FixedClock
) -> None:
    give(session, clock, "k1", dana_in_slack(email="dana.other@lk.test"), BEN)

    report = import_roster(session, clock)

    ((line, why),) = report.rejected
    assert line == 3
    assert "slack_id U0DANA already belongs to dana.other@lk.test" in why
    assert [m.email for m in danas(session)] == ["dana.other@lk.test"]
    assert session.exec(select(Member).where(Member.email == "dana@lk.test")).first() is None
