"""Pulse surveys as use cases: rounds once, invitations once, answers, anonymity, results."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, inspect
from sqlmodel import Session, col, func, select

from bot.chat.charts import survey_png
from compliance_rules import default_rules
from handlers import surveys
from handlers.events import Person
from handlers.policy import KudosPolicy
from storage.models import Member, Outbox, PvCase, SurveyAnswer, SurveyInvite, SurveyRound

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
POLICY = KudosPolicy(safety_channel="C0SAFETY")
RULES = default_rules()

PULSE = surveys.Survey(
    id="pulse",
    title="Weekly pulse",
    intro="Two minutes, please.",
    questions=(
        surveys.Question("energy", "scale", "How energised do you feel?", ("Drained", "Great")),
        surveys.Question("enps", "enps", "Would you recommend working here?"),
        surveys.Question("focus", "choice", "What got in the way?", options=("Meetings", "Tools")),
        surveys.Question("comment", "text", "Anything else?", optional=True),
    ),
    schedule=surveys.Schedule(cron="0 10 * * mon", timezone="Europe/Berlin"),
    open_for=timedelta(days=3),
    remind_after=timedelta(days=1),
    max_reminders=2,
    anonymous=True,
    min_responses=5,
    owners=("lead@example.com",),
    results_channel="C0RESULTS",
)


def add_members(
    session: Session, count: int, *, tz: str = "Europe/London", team: str = "Brand", start: int = 1
) -> list[Member]:
    members = [
        Member(
            slack_team_id="T0001",
            slack_user_id=f"U{start + i:04d}",
            email=f"user{start + i}@example.com",
            display_name=f"User {start + i}",
            timezone=tz,
            team=team,
            region="EMEA",
        )
        for i in range(count)
    ]
    session.add_all(members)
    session.commit()
    return members


def person(member: Member) -> Person:
    assert member.slack_user_id is not None
    return Person("slack", "T0001", member.slack_user_id, member.display_name)


def open_pulse(session: Session, survey: surveys.Survey = PULSE, now: datetime = T0) -> int:
    result = surveys.open_round(survey, session=session, now=now, period="2026-11-23T09:00")
    session.commit()
    assert isinstance(result, surveys.Opened)
    return result.round_id


def give(session: Session, member: Member, round_id: int, qid: str, **value: object) -> object:
    result = surveys.answer(
        surveys.SurveyAnswered(person(member), round_id, qid, **value),  # type: ignore[arg-type]
        session=session,
        now=T0 + timedelta(hours=1),
        rules=RULES,
        policy=POLICY,
    )
    session.commit()
    return result


def outbox(session: Session, template: str) -> list[Outbox]:
    return list(session.exec(select(Outbox).where(Outbox.template == template)))


def test_a_round_opens_once_per_period_and_invites_each_member_once(session: Session) -> None:
    add_members(session, 3)
    round_id = open_pulse(session)
    again = surveys.open_round(PULSE, session=session, now=T0, period="2026-11-23T09:00")
    assert again == surveys.AlreadyOpen(round_id)
    assert surveys.deliver_due(session=session, now=T0 + timedelta(minutes=5)) == 0
    session.commit()
    invites = outbox(session, "survey.invite")
    assert sorted(o.channel for o in invites) == ["U0001", "U0002", "U0003"]
    assert {o.kind for o in invites} == {"dm"}
    assert invites[0].data["questions"][0]["id"] == "energy"
    rounds = session.exec(select(SurveyRound)).all()
    # No key is stored: anonymous tokens are keyed by a secret outside the database.
    assert len(rounds) == 1 and rounds[0].number == 1 and rounds[0].salt is None


def test_a_crash_in_the_middle_of_fan_out_loses_and_doubles_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        add_members(session, 40)
        local = surveys.Survey(
            **{**PULSE.__dict__, "schedule": surveys.Schedule(local_time=time(10, 0))}
        )
        opened = surveys.open_round(
            local,
            session=session,
            now=T0,
            period="2026-11-23",
            local_day=T0.date(),
        )
        session.commit()
        assert isinstance(opened, surveys.Opened) and opened.due_now == 0
    # The process dies after queuing but before committing: nothing of it stays.
    with Session(engine) as session:
        assert surveys.deliver_due(session=session, now=T0 + timedelta(hours=2)) == 40
        session.rollback()
    with Session(engine) as session:
        assert not outbox(session, "survey.invite")
    # After the restart, the sweep runs (twice, as two replicas would) and each gets one.
    for _ in range(2):
        with Session(engine) as session:
            surveys.deliver_due(session=session, now=T0 + timedelta(hours=2))
            session.commit()
    with Session(engine) as session:
        channels = [o.channel for o in outbox(session, "survey.invite")]
        assert len(channels) == 40 and len(set(channels)) == 40
        sent = session.exec(
            select(func.count(col(SurveyInvite.id))).where(col(SurveyInvite.sent_at).is_not(None))
        ).one()
        assert sent == 40


def test_local_schedule_reaches_each_person_at_ten_their_time_across_dst(session: Session) -> None:
    tokyo = add_members(session, 1, tz="Asia/Tokyo", start=1)[0]
    london = add_members(session, 1, tz="Europe/London", start=2)[0]
    new_york = add_members(session, 1, tz="America/New_York", start=3)[0]
    weekly = surveys.Survey(
        **{**PULSE.__dict__, "schedule": surveys.Schedule(local_day=0, local_time=time(10, 0))}
    )
    # 9 March 2026: New York has just moved to summer time, London has not yet.
    before = datetime(2026, 3, 8, 20, 0, tzinfo=UTC)
    assert surveys.local_period(weekly, before - timedelta(days=1)) is None
    period, day = surveys.local_period(weekly, before) or ("", None)
    assert period == "2026-W11" and day is not None and day.isoformat() == "2026-03-09"
    opened = surveys.open_round(weekly, session=session, now=before, period=period, local_day=day)
    assert isinstance(opened, surveys.Opened) and opened.due_now == 0
    sends = {i.member_id: i.send_at for i in session.exec(select(SurveyInvite)).all()}
    assert sends[tokyo.id] == datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    assert sends[london.id] == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert sends[new_york.id] == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)

    def delivered_at(at: datetime) -> list[str]:
        surveys.deliver_due(session=session, now=at)
        session.commit()
        return sorted(o.channel for o in outbox(session, "survey.invite"))

    assert delivered_at(datetime(2026, 3, 9, 0, 59, tzinfo=UTC)) == []
    assert delivered_at(datetime(2026, 3, 9, 1, 0, tzinfo=UTC)) == ["U0001"]
    assert delivered_at(datetime(2026, 3, 9, 13, 59, tzinfo=UTC)) == ["U0001", "U0002"]
    assert delivered_at(datetime(2026, 3, 9, 14, 0, tzinfo=UTC)) == ["U0001", "U0002", "U0003"]
    # After London's change too (30 March), London's 10:00 is 09:00 UTC.
    spring = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    assert surveys.local_send_time(spring.date(), time(10), "Europe/London") == spring


def test_answers_are_upserted_and_the_message_can_be_redrawn(session: Session) -> None:
    (member,) = add_members(session, 1)
    round_id = open_pulse(session)
    first = give(session, member, round_id, "energy", score=2)
    second = give(session, member, round_id, "energy", score=4)
    assert isinstance(first, surveys.Answered) and isinstance(second, surveys.Answered)
    assert second.answers == {"energy": 4}
    assert second.invite["answers"] == {"energy": 4}
    give(session, member, round_id, "focus", choices=("Tools",))
    rows = session.exec(select(SurveyAnswer)).all()
    assert sorted((r.question_id, r.score, r.choices) for r in rows) == [
        ("energy", 4, []),
        ("focus", None, ["Tools"]),
    ]
    invite = session.exec(select(SurveyInvite)).one()
    assert invite.responded


@pytest.mark.parametrize(
    ("qid", "value", "reason"),
    [
        ("energy", {"score": 6}, "invalid"),
        ("enps", {"score": -1}, "invalid"),
        ("focus", {"choices": ("Lunch",)}, "invalid"),
        ("focus", {"choices": ("Meetings", "Tools")}, "invalid"),
        ("comment", {"text": "   "}, "invalid"),
        ("nope", {"score": 3}, "invalid"),
    ],
)
def test_bad_answers_are_refused_and_change_nothing(
    session: Session, qid: str, value: dict[str, object], reason: str
) -> None:
    (member,) = add_members(session, 1)
    round_id = open_pulse(session)
    result = give(session, member, round_id, qid, **value)
    assert isinstance(result, surveys.AnswerRefused) and result.reason == reason
    assert session.exec(select(SurveyAnswer)).all() == []


def test_answers_after_close_or_from_outsiders_are_refused(session: Session) -> None:
    insider, outsider = add_members(session, 2)
    round_id = open_pulse(session)
    session.delete(
        session.exec(select(SurveyInvite).where(SurveyInvite.member_id == outsider.id)).one()
    )
    session.commit()
    refused = give(session, outsider, round_id, "energy", score=3)
    assert isinstance(refused, surveys.AnswerRefused) and refused.reason == "not_invited"
    surveys.close_round(round_id, session=session, now=T0 + timedelta(minutes=30))
    session.commit()
    late = give(session, insider, round_id, "energy", score=3)
    assert isinstance(late, surveys.AnswerRefused) and late.reason == "closed"
    assert "closed" in late.message
    assert session.exec(select(SurveyAnswer)).all() == []


def answer_all(session: Session, members: list[Member], round_id: int) -> None:
    for index, member in enumerate(members):
        give(session, member, round_id, "energy", score=index % 5 + 1)
        give(session, member, round_id, "enps", score=(10, 9, 8, 6, 3)[index % 5])
        give(session, member, round_id, "comment", text=f"More focus time, please ({index}).")


def test_four_anonymous_answers_show_nothing_but_participation(session: Session) -> None:
    members = add_members(session, 6)
    round_id = open_pulse(session)
    answer_all(session, members[:4], round_id)
    result = surveys.close_round(round_id, session=session, now=T0 + timedelta(days=3))
    session.commit()
    assert result is not None and result.hidden
    assert result.respondents == 4 and result.invited == 6
    assert result.questions == () and result.groups == ()
    text = "\n".join(surveys.summary_lines(result))
    assert "More focus time" not in text and "not shown" in text
    assert survey_png(result.as_json()) is None
    posted = outbox(session, "survey.results")
    assert {o.channel for o in posted} == {"C0RESULTS"}  # the owner is not a member here
    assert all("More focus time" not in str(o.data) for o in posted)


def test_five_anonymous_answers_are_shown_and_cannot_be_joined_to_people(
    session: Session, engine: Engine
) -> None:
    members = add_members(session, 5, team="Brand")
    members += add_members(session, 2, team="Medical", start=10)
    lead = Member(
        slack_team_id="T0001",
        slack_user_id="U0LEAD",
        email="lead@example.com",
        display_name="Lead",
    )
    session.add(lead)
    session.commit()
    round_id = open_pulse(session)
    answer_all(session, members, round_id)
    result = surveys.close_round(round_id, session=session, now=T0 + timedelta(days=3))
    session.commit()
    assert result is not None and not result.hidden and result.respondents == 7
    comment = next(q for q in result.questions if q.id == "comment")
    assert len(comment.texts) == 7
    # Medical (two people) is not even stored with the answers; Brand alone would then
    # give Medical away as "everyone minus Brand", so teams are not broken down at all.
    assert [(g.by, g.name) for g in result.groups] == [("region", "EMEA")]
    assert result.suppressed_groups == 1
    medical = {m.id for m in members if m.team == "Medical"}
    assert len(medical) == 2
    assert sorted(str(r.team) for r in session.exec(select(SurveyAnswer))).count("None") == 6
    assert {o.channel for o in outbox(session, "survey.results")} == {"C0RESULTS", "U0LEAD"}
    # The answer table has no column pointing at a person, and the key is gone.
    columns = {c["name"] for c in inspect(engine).get_columns("survey_answer")}
    assert {"member_id", "respondent"} <= columns
    rows = session.exec(select(SurveyAnswer)).all()
    assert all(r.member_id is None for r in rows)
    round_ = session.get(SurveyRound, round_id)
    assert round_ is not None and round_.salt is None
    tokens = {r.respondent for r in rows}
    ids = {str(m.id) for m in members} | {f"member:{m.id}" for m in members}
    assert not tokens & ids and all(len(t) == 64 for t in tokens)
    with pytest.raises(ValueError):
        surveys.respondent_token(round_, members[0].id or 0)


def test_named_surveys_keep_the_member(session: Session) -> None:
    (member,) = add_members(session, 1)
    named = surveys.Survey(**{**PULSE.__dict__, "anonymous": False})
    round_id = open_pulse(session, named)
    give(session, member, round_id, "energy", score=5)
    row = session.exec(select(SurveyAnswer)).one()
    assert row.member_id == member.id and row.respondent == f"member:{member.id}"


def test_enps_and_distribution_maths() -> None:
    assert surveys.enps([10, 9, 8, 7, 6, 0]) == round(100 * (2 - 2) / 6)
    assert surveys.enps([10, 10, 9, 3]) == 50
    assert surveys.enps([0, 1, 2]) == -100
    assert surveys.enps([]) is None


def test_results_figures_on_known_answers(session: Session) -> None:
    members = add_members(session, 5)
    round_id = open_pulse(session)
    answer_all(session, members, round_id)
    result = surveys.results(session, round_id)
    energy = next(q for q in result.questions if q.id == "energy")
    enps = next(q for q in result.questions if q.id == "enps")
    assert energy.distribution == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    assert energy.mean == 3.0
    assert enps.enps == 0  # 2 promoters, 1 passive, 2 detractors
    assert enps.distribution["10"] == 1 and enps.distribution["3"] == 1
    assert result.participation == 1.0
    png = survey_png(result.as_json())
    assert png is not None and png.startswith(b"\x89PNG") and len(png) > 5000


def test_trend_compares_with_earlier_rounds(session: Session) -> None:
    members = add_members(session, 5)
    first = open_pulse(session)
    answer_all(session, members, first)
    surveys.close_round(first, session=session, now=T0 + timedelta(days=3))
    second = surveys.open_round(
        PULSE, session=session, now=T0 + timedelta(days=7), period="2026-11-30T09:00"
    )
    session.commit()
    assert isinstance(second, surveys.Opened) and second.number == 2
    result = surveys.results(session, second.round_id)
    assert [p.number for p in result.trend] == [1]
    assert result.trend[0].scores["energy"] == 3.0 and result.trend[0].participation == 1.0


def test_an_adverse_event_in_a_free_text_answer_reaches_drug_safety_anonymously(
    session: Session,
) -> None:
    (member,) = add_members(session, 1)
    round_id = open_pulse(session)
    result = give(
        session,
        member,
        round_id,
        "comment",
        text="A patient on Larkspur told me she had a severe rash after her second dose.",
    )
    assert isinstance(result, surveys.Answered) and result.note and "drug safety" in result.note
    case = session.exec(select(PvCase)).one()
    assert case.source == "survey" and case.reporter == "anonymous"
    assert case.reporter_member_id is None
    alerts = outbox(session, "pv.alert")
    assert [a.channel for a in alerts] == ["C0SAFETY"]
    row = session.exec(select(SurveyAnswer)).one()
    assert "adverse_event_mention" in row.flags


def test_an_adverse_event_answer_goes_to_drug_safety_only_never_into_results(
    session: Session,
) -> None:
    members = add_members(session, 6)
    round_id = open_pulse(session)
    adverse = "A patient on Larkspur told me she had a severe rash after her second dose."
    for i, member in enumerate(members[:5]):
        give(session, member, round_id, "comment", text=f"More time for planning, please ({i})")
    give(session, members[5], round_id, "comment", text=adverse)
    surveys.close_round(round_id, session=session, now=T0 + timedelta(days=3))
    session.commit()
    (comment,) = [q for q in surveys.results(session, round_id).questions if q.id == "comment"]
    assert len(comment.texts) == 5 and all("planning" in t for t in comment.texts)
    assert comment.answers == 6  # counted, but its words are drug safety's alone
    assert adverse in session.exec(select(PvCase)).one().text


def test_patient_identifiers_in_a_free_text_answer_are_not_kept(session: Session) -> None:
    (member,) = add_members(session, 1)
    round_id = open_pulse(session)
    result = give(
        session, member, round_id, "comment", text="Patient MRN 12345678 was so grateful, thanks!"
    )
    assert isinstance(result, surveys.Answered)
    row = session.exec(select(SurveyAnswer)).one()
    assert row.text is not None and "12345678" not in row.text
    assert "[patient identifier]" in row.text


def test_reminders_go_to_non_responders_at_most_max_times(session: Session) -> None:
    responder, silent = add_members(session, 2)
    round_id = open_pulse(session)
    give(session, responder, round_id, "energy", score=3)
    assert surveys.remind_due(session=session, now=T0 + timedelta(hours=23)) == 0
    for day in (1, 2, 2, 3):
        surveys.remind_due(session=session, now=T0 + timedelta(days=day, minutes=1))
        session.commit()
    reminders = [o for o in outbox(session, "survey.invite") if o.data["reminder"]]
    assert [(o.channel, o.data["reminder"]) for o in reminders] == [("U0002", 1), ("U0002", 2)]
    assert silent.slack_user_id == "U0002"


def test_rounds_close_once_when_their_time_is_up(session: Session) -> None:
    add_members(session, 2)
    round_id = open_pulse(session)
    assert surveys.close_due(session=session, now=T0 + timedelta(days=2)) == []
    assert surveys.close_due(session=session, now=T0 + timedelta(days=3)) == [round_id]
    assert surveys.close_due(session=session, now=T0 + timedelta(days=4)) == []
    assert surveys.close_round(round_id, session=session, now=T0 + timedelta(days=5)) is None
    session.commit()
    assert len(outbox(session, "survey.results")) == 1


def test_audiences_narrow_by_roster_fields(session: Session) -> None:
    add_members(session, 2, team="Brand")
    add_members(session, 3, team="Medical", start=10)
    medical = surveys.Survey(**{**PULSE.__dict__, "audience": surveys.Audience(teams=("Medical",))})
    opened = surveys.open_round(medical, session=session, now=T0, period="p")
    assert isinstance(opened, surveys.Opened) and opened.invited == 3
    channel = surveys.open_round(
        PULSE, session=session, now=T0, period="q", channel_members=["U0001", "U0010", "U9999"]
    )
    assert isinstance(channel, surveys.Opened) and channel.invited == 2
    nobody = surveys.Survey(**{**PULSE.__dict__, "audience": surveys.Audience(teams=("Legal",))})
    assert isinstance(
        surveys.open_round(nobody, session=session, now=T0, period="r"), surveys.Skipped
    )


def test_a_question_few_answered_is_not_shown_in_an_anonymous_survey(session: Session) -> None:
    members = add_members(session, 6)
    round_id = open_pulse(session)
    for member in members:
        give(session, member, round_id, "energy", score=4)
    give(session, members[0], round_id, "enps", score=2)
    result = surveys.results(session, round_id)
    assert not result.hidden and result.respondents == 6
    by_id = {q.id: q for q in result.questions}
    assert by_id["energy"].mean == 4.0 and not by_id["energy"].hidden
    assert by_id["enps"].hidden and by_id["enps"].enps is None and by_id["enps"].mean is None
    assert "fewer than 5 answered it" in "\n".join(surveys.summary_lines(result))
    (team,) = [g for g in result.groups if g.by == "team"]
    assert team.means == {"energy": 4.0}  # enps left out inside the group too


def test_saving_the_same_adverse_event_again_opens_no_second_case(session: Session) -> None:
    (member,) = add_members(session, 1)
    round_id = open_pulse(session)
    text = "A patient on Larkspur told me she had a severe rash after her second dose."
    give(session, member, round_id, "comment", text=text)
    again = give(session, member, round_id, "comment", text=text)
    assert isinstance(again, surveys.Answered) and again.note and "already" in again.note
    assert len(session.exec(select(PvCase)).all()) == 1
    give(session, member, round_id, "comment", text=text + " She also had a fever.")
    assert len(session.exec(select(PvCase)).all()) == 2


def test_answers_keep_only_groups_big_enough_to_hide_in(session: Session) -> None:
    add_members(session, 5, team="Brand")
    (lonely,) = add_members(session, 1, team="Legal", start=20)
    lonely.region = "APAC"
    session.add(lonely)
    session.commit()
    round_id = open_pulse(session)
    give(session, lonely, round_id, "energy", score=1)
    row = session.exec(select(SurveyAnswer)).one()
    assert (row.team, row.region) == (None, None)


def test_summary_lines_say_one_written_answer_and_one_person() -> None:
    from handlers.counts import count

    assert count(1, "written answer") == "1 written answer"
    assert count(2, "written answer") == "2 written answers"
    assert count(1, "person", "people") == "1 person"
    assert count(5, "person", "people") == "5 people"
