"""Pilot against control, before and after: figures worked out by hand, the threshold kept,
and the imported baseline read and checked."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from handlers import baseline, pilots_kept
from handlers.pilots import compare, windows
from handlers.rollout import Cohort, Rollout
from storage.models import (
    BaselineFigure,
    Member,
    Recognition,
    RecognitionRecipient,
    SurveyAnswer,
    SurveyInvite,
    SurveyRound,
)

START = date(2026, 11, 1)
TODAY = date(2026, 11, 11)  # ten whole days after the start
NOW = datetime.combine(TODAY, time(9), UTC)
ROLLOUT = Rollout(
    cohorts=(
        Cohort("onc", "Oncology pilot", "on", START, teams=("Onc",)),
        Cohort("cardio", "Cardiology control", "control", START, teams=("Cardio",)),
    ),
    outside="off",
)


def test_the_windows_are_equal_and_meet_at_the_start() -> None:
    assert windows(START, TODAY) == (
        (date(2026, 10, 22), date(2026, 10, 31)),
        (date(2026, 11, 1), date(2026, 11, 10)),
    )
    assert windows(START, START) is None
    before, after = windows(START, START + timedelta(days=400)) or ((START, START),) * 2
    assert (after[1] - after[0]).days + 1 == 91 and before[1] == START - timedelta(days=1)


def people(session: Session, team: str, n: int) -> list[Member]:
    found = [Member(display_name=f"{team}{i}", email=f"{team}{i}@x.example", team=team)
             for i in range(n)]  # fmt: skip
    session.add_all(found)
    session.flush()
    return found


def give(session: Session, giver: Member, to: Member, day: date, times: int = 1) -> None:
    for _ in range(times):
        key = f"{giver.id}-{to.id}-{day}-{len(session.exec(select(Recognition.id)).all())}"
        row = Recognition(dedupe_key=key, giver_id=giver.id or 0, text="thanks",
                          text_sha256=hashlib.sha256(b"t").hexdigest(), source="command",
                          platform="slack", outcome="pass", giver_local_date=day,
                          created_at=datetime.combine(day, time(12), UTC))  # fmt: skip
        session.add(row)
        session.flush()
        session.add(RecognitionRecipient(recognition_id=row.id or 0, member_id=to.id or 0))


def test_the_difference_in_differences_is_the_hand_worked_one(session: Session) -> None:
    onc, cardio = people(session, "Onc", 5), people(session, "Cardio", 4)
    before, after = date(2026, 10, 25), date(2026, 11, 5)
    give(session, onc[0], onc[1], before, times=2)  # pilot gives 2 before, 10 after
    give(session, onc[0], onc[2], after, times=6)
    give(session, onc[3], cardio[0], after, times=4)
    give(session, cardio[0], cardio[1], before, times=2)  # control gives 2 before, 4 after
    give(session, cardio[1], cardio[2], after, times=4)
    give(session, cardio[1], cardio[2], date(2026, 10, 21))  # outside both windows
    session.add_all(
        BaselineFigure(metric="enps", team=t, period_start=date(2026, 10, 23),
                       period_end=date(2026, 10, 30), value=Decimal(v), people=n, imported_at=NOW)
        for t, v, n in (("Onc", 10, 20), ("Cardio", 20, 10))
    )  # fmt: skip
    session.commit()
    found = compare(session, ROLLOUT, today=TODAY, least=3)
    assert found is not None
    rows = {r.metric: r for r in found.rows}
    given = rows["kudos given per head"]
    assert [f.value for f in (given.pilot_before, given.pilot_after)] == [0.4, 2.0]
    assert [f.value for f in (given.control_before, given.control_after)] == [0.5, 1.0]
    assert given.difference == pytest.approx(1.1) and given.pilot_after.people == 5
    share = rows["share of people who gave kudos"]
    assert (share.pilot_before.value, share.pilot_after.value) == (0.2, 0.4)
    received = rows["kudos received per head"]  # Onc got 2 then 6; Cardio 2 then 4 + 4
    assert received.difference == pytest.approx((1.2 - 0.4) - (2.0 - 0.5))
    enps = rows["eNPS"]
    assert (enps.pilot_before.value, enps.pilot_before.people) == (10.0, 20)
    assert enps.pilot_after.value is None and enps.difference is None  # nothing after yet
    assert any("moved alike" in line for line in found.limits)


def test_a_group_smaller_than_the_threshold_shows_no_figure(session: Session) -> None:
    onc, cardio = people(session, "Onc", 2), people(session, "Cardio", 4)
    give(session, onc[0], onc[1], date(2026, 11, 2), times=3)
    give(session, cardio[0], cardio[1], date(2026, 11, 2))
    session.commit()
    found = compare(session, ROLLOUT, today=TODAY, least=3)
    assert found is not None
    for row in found.rows[:3]:  # the kudos figures: two people behind each
        assert row.pilot_after.held and row.pilot_after.value is None
    for row in found.rows[3:]:  # no survey and no baseline: nobody behind them, nothing held
        assert not row.pilot_after.held and row.pilot_after.people == 0
    assert all(row.difference is None for row in found.rows)
    assert compare(session, Rollout(ROLLOUT.cohorts[:1]), today=TODAY, least=3) is None


def test_the_baseline_file_is_checked_row_by_row_and_replaces_a_repeat(session: Session) -> None:
    row = {"metric": "Participation", "team": "Onc", "start": "2026-07-01",
           "end": "2026-09-30", "value": "64%", "people": "25"}  # fmt: skip
    figure = baseline.read(row, TODAY)
    assert (figure.metric, figure.value, figure.people) == ("participation", Decimal("0.64"), 25)
    for wrong, says in [
        ({"metric": "happiness"}, "metric:"),
        ({"metric": "enps", "value": "150"}, "outside -100 to 100"),
        ({"value": "lots"}, "not a number"),
        ({"end": "2026-06-30"}, "on or after start"),
        ({"end": "2027-01-01"}, "not in the future"),
        ({"people": "0"}, "people:"),
        ({"team": ""}, "team:"),
    ]:
        with pytest.raises(baseline.BaselineError, match=says):
            baseline.read({**row, **wrong}, TODAY)
    with pytest.raises(baseline.BaselineError, match=r"^line 3: people"):
        baseline.read_all([(2, row), (3, {**row, "people": "x"})], TODAY)
    assert baseline.store([figure], session=session, now=NOW) == (1, 0)
    again = baseline.read({**row, "value": "0.7"}, TODAY)
    assert baseline.store([again], session=session, now=NOW) == (0, 1)
    (stored,) = session.exec(select(BaselineFigure)).all()
    assert stored.value == Decimal("0.70")


def pulse(session: Session, number: int, day: date) -> SurveyRound:
    opened = datetime.combine(day, time(10), UTC)
    found = SurveyRound(
        survey_id="pulse", period=f"p{number}", number=number, anonymous=True, opened_by="cli",
        definition={"questions": [{"id": "e", "type": "enps", "text": "Recommend us?"}]},
        opened_at=opened, closes_at=opened + timedelta(days=3), status="closed",
    )  # fmt: skip
    session.add(found)
    session.flush()
    return found


def answers(session: Session, round_: SurveyRound, team: str, scores: list[int]) -> None:
    session.add_all(
        SurveyAnswer(round_id=round_.id or 0, respondent=f"{team}-{n}", question_id="e",
                     score=score, team=team)
        for n, score in enumerate(scores)
    )  # fmt: skip


def test_enps_counts_rounds_whose_teams_reach_the_threshold_and_people_not_answers(
    session: Session,
) -> None:
    onc, cardio = people(session, "Onc", 5), people(session, "Cardio", 4)
    first, second = pulse(session, 1, date(2026, 11, 2)), pulse(session, 2, date(2026, 11, 9))
    answers(session, first, "Onc", [10, 9, 3])  # +33: 3 respondents, the threshold
    answers(session, second, "Onc", [10, 10, 10])  # +100
    answers(session, first, "Cardio", [10, 2])  # two respondents: the round is not used
    answers(session, second, "Cardio", [9, 9])
    for member in onc[:2]:  # two people invited to both rounds: two people, four invitations
        for r in (first, second):
            session.add(SurveyInvite(round_id=r.id or 0, member_id=member.id or 0,
                                     send_at=r.opened_at, responded=True))  # fmt: skip
    session.commit()
    found = compare(session, ROLLOUT, today=TODAY, least=3)
    assert found is not None
    rows = {r.metric: r for r in found.rows}
    enps = rows["eNPS"]
    assert (
        enps.pilot_after.value == pytest.approx(100 * (5 - 1) / 6, abs=1e-3)
        and enps.pilot_after.people == 3
    )
    assert enps.control_after.value is None and not enps.control_after.held
    participation = rows["survey participation"].pilot_after
    assert participation.held and participation.people == 2
    assert len(cardio) == 4
    regional = Rollout(
        (ROLLOUT.cohorts[0], Cohort("apac", "APAC control", "control", START, regions=("APAC",)))
    )
    by_region = compare(session, regional, today=TODAY, least=3)
    assert by_region is not None
    assert {r.metric: r for r in by_region.rows}["eNPS"].pilot_after.value is None
    assert any("cannot be told apart" in line for line in by_region.limits)


def test_the_kept_comparison_is_the_one_worked_out_for_the_same_inputs(session: Session) -> None:
    onc, cardio = people(session, "Onc", 5), people(session, "Cardio", 4)
    give(session, onc[0], onc[1], date(2026, 10, 25), times=2)
    give(session, onc[0], onc[2], date(2026, 11, 5), times=6)
    give(session, cardio[1], cardio[2], date(2026, 11, 5), times=4)
    session.commit()
    assert pilots_kept.kept(session, ROLLOUT, today=TODAY, least=3) is None  # nothing kept
    assert pilots_kept.keep(session, ROLLOUT, today=TODAY, least=3, now=NOW)
    session.commit()
    found = pilots_kept.kept(session, ROLLOUT, today=TODAY, least=3)
    assert found is not None
    comparison, as_of = found
    assert as_of == NOW
    assert comparison == compare(session, ROLLOUT, today=TODAY, least=3)
    assert any(r.difference for r in comparison.rows)
    # Another day, threshold or rollout: worked out again, not read.
    assert pilots_kept.kept(session, ROLLOUT, today=TODAY + timedelta(days=1), least=3) is None
    assert pilots_kept.kept(session, ROLLOUT, today=TODAY, least=4) is None
    moved = Rollout(
        cohorts=(replace(ROLLOUT.cohorts[0], start=START - timedelta(days=1)), ROLLOUT.cohorts[1])
    )
    assert pilots_kept.kept(session, moved, today=TODAY, least=3) is None
    # Without both cohorts there is nothing to keep, and nothing kept is left behind.
    assert not pilots_kept.keep(
        session, Rollout(ROLLOUT.cohorts[:1]), today=TODAY, least=3, now=NOW
    )
    assert pilots_kept.kept(session, ROLLOUT, today=TODAY, least=3) is None
