"""Pilot cohorts: who Plaudit is on for, measured in shadow, or held back as a control group."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.config import ConfigError, OrgConfig, load
from bot.dashboard import configuration
from bot.dashboard.config import DashboardConfig
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import kudos, leaderboard, reactions, rollout, stats, surveys
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person, ReactionAdded
from handlers.policy import KudosPolicy
from handlers.rollout import Cohort, Place, Rollout
from storage.models import (
    AuditEntry,
    Member,
    Outbox,
    PvCase,
    Recognition,
    SurveyAnswer,
    SurveyInvite,
)
from tests.conftest import slack_person

COHORTS: dict[str, Any] = {
    "outside": "off",
    "cohorts": [
        {"id": "onc-pilot", "title": "Oncology pilot", "mode": "on", "start": "2026-10-01",
         "teams": ["Oncology"], "people": ["Gus@example.com"]},
        {"id": "cardio-shadow", "title": "Cardiology, measured", "mode": "shadow",
         "start": "2026-10-01", "teams": ["Cardiology"]},
        {"id": "apac-control", "title": "APAC control group", "mode": "control",
         "start": "2026-10-01", "regions": ["APAC"]},
        {"id": "neuro-later", "title": "Neurology, next year", "mode": "on",
         "start": "2027-01-01", "therapeutic_areas": ["Neurology"]},
    ],
}  # fmt: skip
# Who is who (U0001 Alice ... U0007 Gus): team, region, therapeutic area.
ROSTER = {
    "Alice": ("Oncology", "EMEA", None),  # on
    "Bob": ("Oncology", "EMEA", None),  # on
    "Carol": ("Cardiology", "EMEA", None),  # shadow
    "Dave": ("Brand", "APAC", None),  # control
    "Erin": (None, "EMEA", None),  # in no cohort: off
    "Finn": ("Brand", "EMEA", "Neurology"),  # their cohort starts next year: off till then
    "Gus": ("Cardiology", "APAC", None),  # named in the pilot's people: on
}
SAFETY = "C0SAFETY"


def pilot_policy(**rollout: Any) -> KudosPolicy:
    org = OrgConfig.model_validate({"rollout": {**COHORTS, **rollout}})
    return replace(org.policy(), recognition_channel="C0KUDOS", safety_channel=SAFETY)


POLICY = pilot_policy()


def who(name: str) -> Person:
    return slack_person(f"U{list(ROSTER).index(name) + 1:04d}", name)


@pytest.fixture
def roster(session: Session) -> None:
    for name, (team, region, area) in ROSTER.items():
        p = who(name)
        session.add(
            Member(
                slack_team_id=p.workspace,
                slack_user_id=p.user_id,
                email=p.email,
                display_name=name,
                team=team,
                region=region,
                therapeutic_area=area,
            )
        )
    session.commit()


def give(
    session: Session, clock: FixedClock, giver: str, *to: str, message: str | None = None
) -> kudos.KudosResult:
    event = KudosRequested(
        key=f"k:{giver}:{'+'.join(to)}",
        giver=who(giver),
        recipients=tuple(who(n) for n in to),
        message=message or "for the site activation email #site-activation",
        values=() if message else ("#site-activation",),
        source="command",
        channel_id="C0GENERAL",
    )
    result = kudos.give(event, session=session, policy=POLICY, clock=clock)
    session.commit()
    return result


def outbox(session: Session) -> list[tuple[str, str]]:
    return sorted((o.kind, o.channel) for o in session.exec(select(Outbox)))


# -- configuration ----------------------------------------------------------------------------


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "plaudit.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    return str(caught.value)


COHORT = "\n    - {id: %s, title: T, mode: on, start: 2026-10-01, %s}"


@pytest.mark.parametrize(
    ("cohorts", "expected"),
    [
        (COHORT % ("a", "teams: [X]") * 2, "rollout: Value error, cohort ids must be unique: a"),
        (COHORT % ("Pilot 1", "teams: [X]"), "cohort id 'Pilot 1' must be lower-case"),
        (COHORT % ("a", "teams: []"), "cohort a needs at least one of teams, regions"),
        (
            COHORT % ("a", "people: [ana@example.com]")
            + COHORT % ("b", "people: [Ana@Example.com]"),
            "ana@example.com is in the people of both cohorts a and b",
        ),
        (COHORT % ("a", "people: [ana]"), "'ana' is not an email address"),
        (COHORT % ("a", "teams: [X], mode: pilot"), "rollout.cohorts.0.mode"),
        (COHORT % ("a", "teams: [X], leaders: [Y]"), "rollout.cohorts.0.leaders: unknown key"),
        ("", "with outside: off, list at least one cohort"),
    ],
)
def test_the_rollout_section_is_checked_with_precise_errors(
    tmp_path: Path, cohorts: str, expected: str
) -> None:
    message = _error(tmp_path, f"rollout:\n  outside: off\n  cohorts:{cohorts or ' []'}\n")
    assert expected.removeprefix("rollout: Value error, ") in message
    assert "plaudit.yaml: rollout" in message


def test_bare_on_and_off_in_yaml_read_as_the_words(tmp_path: Path) -> None:
    path = tmp_path / "plaudit.yaml"
    path.write_text(
        "rollout:\n  outside: off\n  cohorts:\n"
        "    - {id: onc, title: Oncology, mode: on, start: 2026-10-01, teams: [Oncology]}\n",
        encoding="utf-8",
    )
    built = load(path).policy().rollout
    assert built is not None and built.outside == "off" and built.cohorts[0].mode == "on"


def test_no_rollout_section_means_on_for_everyone(tmp_path: Path) -> None:
    assert OrgConfig().policy().rollout is None
    assert rollout.modes(Session(), None, [1, 2], date(2026, 1, 1)) == {1: "on", 2: "on"}
    built = POLICY.rollout
    assert built is not None and built.outside == "off"
    assert [c.id for c in built.cohorts][:2] == ["onc-pilot", "cardio-shadow"]
    assert built.cohorts[0].people == ("gus@example.com",)


# -- resolving a member's cohort --------------------------------------------------------------

DAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("place", "cohort", "mode"),
    [
        (Place(team="Oncology"), "onc-pilot", "on"),
        (Place(team="Cardiology"), "cardio-shadow", "shadow"),
        (Place(region="APAC"), "apac-control", "control"),
        (Place(team="Oncology", region="APAC"), "onc-pilot", "on"),  # the first listed wins
        (Place(email="GUS@example.com", team="Cardiology", region="APAC"), "onc-pilot", "on"),
        (Place(therapeutic_area="Neurology"), None, "off"),  # its start is next year
        (Place(team="Brand", region="EMEA"), None, "off"),
        (Place(), None, "off"),
    ],
)
def test_a_member_is_in_one_cohort_from_its_start(
    place: Place, cohort: str | None, mode: str
) -> None:
    assert POLICY.rollout is not None
    found = POLICY.rollout.cohort_of(place, DAY)
    assert (found.id if found else None) == cohort
    assert POLICY.rollout.mode_for(place, DAY) == mode


def test_a_cohort_starts_on_its_start_date_and_outside_on_leaves_others_on() -> None:
    later = Cohort("later", "Later", "control", date(2027, 1, 1), therapeutic_areas=("Neurology",))
    plan = Rollout((later,), outside="on")
    place = Place(therapeutic_area="Neurology")
    assert plan.member_of(place) == later and plan.cohort_of(place, DAY) is None
    assert plan.mode_for(place, DAY) == "on"
    assert plan.mode_for(place, date(2027, 1, 1)) == "control"
    assert plan.mode_for(Place(team="Oncology"), DAY) == "on"


# -- kudos ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("roster")
def test_kudos_within_the_pilot_are_recorded_and_posted(
    session: Session, clock: FixedClock
) -> None:
    result = give(session, clock, "Alice", "Bob", "Gus")
    assert isinstance(result, kudos.Recorded) and not result.private
    assert ("post", "C0KUDOS") in outbox(session)


@pytest.mark.usefixtures("roster")
def test_a_shadow_kudos_is_counted_but_not_announced(session: Session, clock: FixedClock) -> None:
    result = give(session, clock, "Carol", "Alice")  # a shadow giver to someone on
    assert isinstance(result, kudos.Recorded) and result.private
    assert outbox(session) == [("dm", "U0001")]  # the recipient hears; no channel post
    recognition = session.exec(select(Recognition)).one()
    assert recognition.private and recognition.outcome == "pass"
    again = give(session, clock, "Bob", "Carol")  # someone on to a shadow recipient
    assert isinstance(again, kudos.Recorded) and again.private
    assert [k for k, _ in outbox(session)] == ["dm", "dm"]
    assert stats.me(who("Carol"), session=session, policy=POLICY, clock=clock).received == 1
    sprint = POLICY.sprints.sprint_of(clock.now())
    assert sprint is not None
    board = {r.name: r.points for r in leaderboard.board(session, sprint, top=None).rows}
    assert board["Alice"] == 1 and board["Carol"] == 1


@pytest.mark.usefixtures("roster")
@pytest.mark.parametrize("giver", ["Erin", "Finn", "Dave"])  # outside, not started, control
def test_a_giver_plaudit_is_not_on_for_is_refused_and_nothing_is_recorded(
    session: Session, clock: FixedClock, giver: str
) -> None:
    result = give(session, clock, giver, "Alice")
    assert isinstance(result, kudos.Refused) and result.reason == "rollout"
    assert result.message == (
        "Plaudit isn't switched on for you yet: your team joins the pilot later."
    )
    assert not result.to_drug_safety
    assert session.exec(select(Recognition)).all() == []
    assert session.exec(select(AuditEntry)).all() == [] and outbox(session) == []


@pytest.mark.usefixtures("roster")
def test_a_giver_the_roster_has_not_placed_is_outside(session: Session, clock: FixedClock) -> None:
    stranger = slack_person("U0999", "Zed")
    event = KudosRequested("k9", stranger, (who("Alice"),), "for the launch deck", (), "command")
    result = kudos.give(event, session=session, policy=POLICY, clock=clock)
    assert isinstance(result, kudos.Refused) and result.reason == "rollout"
    assert session.exec(select(Member).where(Member.slack_user_id == "U0999")).first() is None


@pytest.mark.usefixtures("roster")
@pytest.mark.parametrize(
    ("to", "message"),
    [
        (("Dave",), "Dave isn't in the Plaudit pilot yet, so kudos can't go to them for now."),
        (("Bob", "Erin", "Finn"), "Erin and Finn aren't in the Plaudit pilot yet"),
    ],
)
def test_kudos_to_people_outside_or_in_the_control_group_are_refused(
    session: Session, clock: FixedClock, to: tuple[str, ...], message: str
) -> None:
    result = give(session, clock, "Alice", *to)
    assert isinstance(result, kudos.Refused) and result.reason == "rollout_recipient"
    assert result.message.startswith(message)
    assert session.exec(select(Recognition)).all() == [] and outbox(session) == []


@pytest.mark.usefixtures("roster")
def test_a_possible_adverse_event_from_outside_the_pilot_still_reaches_drug_safety(
    session: Session, clock: FixedClock
) -> None:
    text = (
        "for handling the call where a patient had a severe rash after the second dose of Cardiva"
    )
    result = give(session, clock, "Erin", "Alice", message=text)
    assert isinstance(result, kudos.Refused) and result.reason == "rollout"
    assert result.to_drug_safety and "switched on for you yet" in result.message
    case = session.exec(select(PvCase)).one()
    assert case.source == "kudos"
    assert ("post", SAFETY) in outbox(session)
    assert session.exec(select(Recognition)).all() == []
    control = give(session, clock, "Alice", "Dave", message=text)  # refused for the recipient
    assert isinstance(control, kudos.Refused) and control.to_drug_safety
    assert len(session.exec(select(PvCase)).all()) == 2


# -- reactions --------------------------------------------------------------------------------


def react(session: Session, clock: FixedClock, reactor: str, author: str) -> Any:
    event = ReactionAdded(f"r:{reactor}", who(reactor), who(author), "clap", "C0001", "1.1")
    result = reactions.react(event, session=session, policy=POLICY, clock=clock)
    session.commit()
    return result


@pytest.mark.usefixtures("roster")
def test_reactions_follow_the_cohorts(session: Session, clock: FixedClock) -> None:
    shadow = react(session, clock, "Carol", "Alice")
    assert isinstance(shadow, kudos.Recorded) and shadow.private
    assert session.exec(select(Recognition)).one().private
    assert outbox(session) == [("dm", "U0001")]  # no channel post
    refused = react(session, clock, "Bob", "Dave")
    assert isinstance(refused, kudos.Refused) and refused.reason == "rollout_recipient"
    off = react(session, clock, "Erin", "Bob")
    assert isinstance(off, kudos.Refused) and off.reason == "rollout"
    assert len(session.exec(select(Recognition)).all()) == 1
    notices = session.exec(select(Outbox).where(Outbox.template == "notice")).all()
    assert sorted(n.data["text"][:10] for n in notices) == ["Dave isn't", "Plaudit is"]
    on = react(session, clock, "Alice", "Bob")
    assert isinstance(on, kudos.Recorded) and not on.private
    assert ("post", "C0KUDOS") in outbox(session)


# -- surveys ----------------------------------------------------------------------------------

PULSE = surveys.Survey(
    id="pulse",
    title="Pulse",
    intro="",
    questions=(surveys.Question("energy", "scale", "How energised do you feel?", ("Low", "High")),),
    schedule=surveys.Schedule(cron="0 10 * * mon", timezone="UTC"),
    open_for=timedelta(days=3),
    anonymous=False,
)


def invited(session: Session, round_id: int) -> list[str]:
    rows = session.exec(
        select(Member.display_name)
        .join(SurveyInvite, SurveyInvite.member_id == Member.id)  # type: ignore[arg-type]
        .where(SurveyInvite.round_id == round_id)
    )
    return sorted(rows)


@pytest.mark.usefixtures("roster")
def test_surveys_skip_people_plaudit_is_off_for_and_include_the_control_group(
    session: Session, clock: FixedClock
) -> None:
    opened = surveys.open_round(
        PULSE, session=session, now=clock.now(), period="p", rollout=POLICY.rollout
    )
    assert isinstance(opened, surveys.Opened)
    assert invited(session, opened.round_id) == ["Alice", "Bob", "Carol", "Dave", "Gus"]


@pytest.mark.usefixtures("roster")
def test_an_answer_from_someone_plaudit_is_off_for_is_refused_and_not_kept(
    session: Session, clock: FixedClock
) -> None:
    opened = surveys.open_round(PULSE, session=session, now=clock.now(), period="p")  # everyone
    assert isinstance(opened, surveys.Opened) and opened.invited == len(ROSTER)

    def answer(name: str) -> surveys.Answered | surveys.AnswerRefused:
        event = surveys.SurveyAnswered(who(name), opened.round_id, "energy", score=4)
        return surveys.answer(
            event, session=session, now=clock.now(), rules=default_rules(), policy=POLICY
        )

    refused = answer("Erin")
    assert isinstance(refused, surveys.AnswerRefused) and refused.reason == "not_on"
    assert "isn't switched on for you yet" in refused.message
    assert session.exec(select(SurveyAnswer)).all() == []
    assert isinstance(answer("Dave"), surveys.Answered)  # the control group is surveyed
    assert len(session.exec(select(SurveyAnswer)).all()) == 1


@pytest.mark.usefixtures("roster")
def test_coverage_counts_the_active_members_of_each_cohort(session: Session) -> None:
    assert POLICY.rollout is not None
    assert rollout.coverage(session, POLICY.rollout) == {
        "onc-pilot": 3,
        "cardio-shadow": 1,
        "apac-control": 1,
        "neuro-later": 1,
    }


@pytest.mark.usefixtures("roster")
def test_the_configuration_page_lists_the_cohorts(
    engine: Engine, session: Session, clock: FixedClock
) -> None:
    runtime = Runtime(engine=engine, policy=POLICY, rules=default_rules(), clock=clock)
    assert POLICY.rollout is not None
    covered = rollout.coverage(session, POLICY.rollout)
    shown = {
        s.title: dict(s.rows)
        for s in configuration.sections(runtime, DashboardConfig("x" * 32), covered)
    }
    cohorts = shown["Pilot cohorts"]
    assert cohorts["Oncology pilot (onc-pilot)"] == (
        "on; since 2026-10-01; team Oncology, gus@example.com; 3 active members today"
    )
    assert cohorts["APAC control group (apac-control)"].startswith("control group")
    assert cohorts["Neurology, next year (neuro-later)"].startswith("on; from 2027-01-01;")
    plain = replace(runtime, policy=KudosPolicy())
    without = configuration.sections(plain, DashboardConfig("x" * 32))
    assert dict(next(s for s in without if s.title == "Pilot cohorts").rows) == {
        "Rollout": "none: Plaudit is on for everyone"
    }


NOTE = surveys.Question("note", "text", "Anything else?", optional=True)


@pytest.mark.usefixtures("roster")
def test_a_refused_answer_that_may_tell_of_an_adverse_event_still_reaches_drug_safety(
    session: Session, clock: FixedClock
) -> None:
    """Out of the pilot, or the round closed: the answer is refused and not kept, but its
    words are screened first, once, and the person is told they went to drug safety."""
    survey = replace(PULSE, questions=(*PULSE.questions, NOTE))
    opened = surveys.open_round(survey, session=session, now=clock.now(), period="p")
    assert isinstance(opened, surveys.Opened)
    ae = "my patient had a severe rash and was hospitalised after the second dose of Cardivex"

    def answer(name: str, text: str, at: Any = None) -> surveys.Answered | surveys.AnswerRefused:
        event = surveys.SurveyAnswered(who(name), opened.round_id, "note", text=text)
        return surveys.answer(
            event, session=session, now=at or clock.now(), rules=default_rules(), policy=POLICY
        )

    refused = answer("Erin", ae)
    assert isinstance(refused, surveys.AnswerRefused) and refused.reason == "not_on"
    assert "drug safety" in refused.message
    assert answer("Erin", ae) == refused  # the same words again: no second case
    late = answer("Alice", ae + " again", at=clock.now() + timedelta(days=4))
    assert isinstance(late, surveys.AnswerRefused) and late.reason == "closed"
    cases = session.exec(select(PvCase)).all()
    assert [c.source for c in cases] == ["survey", "survey"]
    assert session.exec(select(SurveyAnswer)).all() == []
    plain = answer("Erin", "the new canteen is lovely")
    assert isinstance(plain, surveys.AnswerRefused) and "drug safety" not in plain.message
    assert len(session.exec(select(PvCase)).all()) == 2
