"""Pilot against control, before and after: a difference-in-differences over the rollout's
cohorts, with the number of people behind every figure and the anonymity threshold kept.

The pilot's start splits time in two windows of equal length. For each metric the change in
the pilot group is compared with the change in the control group over the same windows:
(pilot after - pilot before) - (control after - control before). What the control group
changed by is what would have happened anyway, if the two groups would have moved alike
without Plaudit (the parallel-trends assumption, which nothing here can prove).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from handlers.collaboration import execute
from handlers.kpi_trends import published_on
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

LONGEST = timedelta(days=91)  # each window: a quarter at most
LIMITS = (
    "Pilot and control were not chosen at random: teams differ in work, season and manager, "
    "and whatever else changed for one group and not the other at the start shows here too.",
    "A difference-in-differences holds only if both groups would have moved alike without "
    "Plaudit; nothing in these figures can prove that.",
    "Small groups swing: a figure behind few people moves a lot with one person, and a "
    "figure behind fewer people than the anonymity threshold is not shown at all.",
    "People who know they are in a pilot may behave differently for a while (novelty), and "
    "the control group gets the same pulse survey, which is itself a change.",
)


@dataclass(frozen=True)
class Figure:
    """One group's figure in one window; `value` None when held back or when there is none."""

    value: float | None
    people: int  # behind the figure: members (per head), senders, invitees or respondents
    held: bool = False  # fewer people than the threshold


@dataclass(frozen=True)
class Row:
    metric: str
    pilot_before: Figure
    pilot_after: Figure
    control_before: Figure
    control_after: Figure

    @property
    def difference(self) -> float | None:
        """(pilot after - before) - (control after - before), or None if any is missing."""
        values = (self.pilot_after, self.pilot_before, self.control_after, self.control_before)
        a, b, c, d = (f.value for f in values)
        if a is None or b is None or c is None or d is None:
            return None
        return round((a - b) - (c - d), 3)


@dataclass(frozen=True)
class Comparison:
    pilot: Cohort
    control: Cohort
    before: tuple[date, date]  # first and last day
    after: tuple[date, date]
    rows: list[Row]
    limits: tuple[str, ...]


def windows(start: date, today: date) -> tuple[tuple[date, date], tuple[date, date]] | None:
    """The windows before and after `start`, of equal length (the days since the start, a
    quarter at most); None before a whole day has passed since it."""
    length = min(today - start, LONGEST)
    if length < timedelta(days=1):
        return None
    return (start - length, start - timedelta(days=1)), (start, start + length - timedelta(1))


def _held(value: float | None, people: int, least: int) -> Figure:
    if 0 < people < least:  # (nobody behind it: no figure, and nothing to hold back)
        return Figure(None, people, held=True)
    return Figure(None if value is None else round(value, 3), people)


@dataclass(frozen=True)
class Person:
    """A member as a cohort places them (the columns `Rollout.member_of` reads)."""

    id: int
    email: str | None
    team: str | None
    region: str | None
    therapeutic_area: str | None


def _groups(
    session: Session, rollout: Rollout, pilot: Cohort, control: Cohort
) -> dict[str, list[Person]]:
    m = Member.metadata.tables["member"]
    everyone = execute(
        session,
        sa_select(m.c.id, m.c.email, m.c.team, m.c.region, m.c.therapeutic_area).where(
            m.c.active.is_(True), m.c.is_bot.is_(False)
        ),
    )
    found: dict[str, list[Person]] = {pilot.id: [], control.id: []}
    for row in everyone:
        member = Person(*row)
        cohort = rollout.member_of(member)
        if cohort is not None and cohort.id in found:
            found[cohort.id].append(member)
    return found


Counts = tuple[dict[int, int], dict[int, int]]  # kudos given by member; received by member


def _counts(session: Session, window: tuple[date, date]) -> Counts:
    """Published kudos in `window` (by the giver's day), given and received, per member: two
    grouped scans of the window, whatever the groups (an id list per group would repeat it)."""
    counted = published_on(*window)
    giver = col(Recognition.giver_id)
    given = session.exec(select(giver, func.count()).where(*counted).group_by(giver))
    taker = col(RecognitionRecipient.member_id)
    received = session.exec(
        select(taker, func.count())
        .join(Recognition, col(Recognition.id) == RecognitionRecipient.recognition_id)
        .where(*counted)
        .group_by(taker)
    )
    return {m: int(n) for m, n in given}, {m: int(n) for m, n in received}


def _kudos(counts: Counts, ids: list[int]) -> tuple[int, int, int]:
    """Kudos the group gave, distinct givers among it, and kudos it received."""
    given, received = counts
    return (
        sum(given.get(m, 0) for m in ids),
        sum(1 for m in ids if given.get(m)),
        sum(received.get(m, 0) for m in ids),
    )


def _moments(window: tuple[date, date]) -> tuple[datetime, datetime]:
    """The window's first and last days as [start, end) moments, UTC."""
    return (
        datetime.combine(window[0], time(0), UTC),
        datetime.combine(window[1] + timedelta(days=1), time(0), UTC),
    )


def _participation(
    session: Session, ids: list[int], window: tuple[date, date]
) -> tuple[float | None, int]:
    since, until = _moments(window)
    invited, answered, people = session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(case((col(SurveyInvite.responded), 1), else_=0)), 0),
            func.count(func.distinct(SurveyInvite.member_id)),
        )
        .join(SurveyRound, col(SurveyRound.id) == SurveyInvite.round_id)
        .where(
            col(SurveyInvite.member_id).in_(ids),
            col(SurveyRound.opened_at) >= since,
            col(SurveyRound.opened_at) < until,
        )
    ).one()
    # People, not invitations: two people invited to three rounds are two.
    return (int(answered) / int(invited) if invited else None), int(people)


def _enps(
    session: Session, teams: set[str], window: tuple[date, date], least: int
) -> tuple[float | None, int]:
    """eNPS of the answers from the group's teams (answers keep the team, not the person) in
    rounds opened in `window`: % promoters (9-10) minus % detractors (0-6). A round counts
    only when each of the group's teams that answered it has at least `least` respondents
    (as the survey results show them); the people behind the figure are the most
    respondents of one round, since answers of different rounds cannot be told apart."""
    since, until = _moments(window)
    rounds = session.exec(
        select(SurveyRound).where(
            col(SurveyRound.opened_at) >= since, col(SurveyRound.opened_at) < until
        )
    ).all()
    asked = {
        (r.id, q["id"])
        for r in rounds
        for q in r.definition.get("questions", ())
        if q.get("type") == "enps"
    }
    if not asked or not teams:
        return None, 0
    answers = [
        a
        for a in session.exec(
            select(SurveyAnswer).where(
                col(SurveyAnswer.round_id).in_(sorted({r for r, _ in asked})),
                col(SurveyAnswer.team).in_(sorted(teams)),
                col(SurveyAnswer.score).is_not(None),
            )
        )
        if (a.round_id, a.question_id) in asked and a.score is not None
    ]
    by_round: dict[int, dict[str, set[str]]] = {}
    for a in answers:
        by_round.setdefault(a.round_id, {}).setdefault(a.team or "", set()).add(a.respondent)
    kept = {r for r, per in by_round.items() if all(len(p) >= least for p in per.values())}
    scores = [a.score for a in answers if a.round_id in kept and a.score is not None]
    if not scores:
        return None, 0
    promoters = sum(1 for x in scores if x >= 9)
    detractors = sum(1 for x in scores if x <= 6)
    people = max(sum(len(p) for p in by_round[r].values()) for r in kept)
    return 100 * (promoters - detractors) / len(scores), people


def _baseline(
    session: Session, metric: str, teams: set[str], window: tuple[date, date]
) -> tuple[float | None, int]:
    """The imported figures of the group's teams whose period lies in `window`, weighted by
    the people behind each."""
    rows = session.exec(
        select(BaselineFigure).where(
            BaselineFigure.metric == metric,
            col(BaselineFigure.team).in_(sorted(teams)),
            col(BaselineFigure.period_start) >= window[0],
            col(BaselineFigure.period_end) <= window[1],
        )
    ).all()
    weight = sum(r.people for r in rows)
    if not weight:
        return None, 0
    # People behind it: the largest single figure's (periods may count the same people).
    value = float(sum(Decimal(r.value) * r.people for r in rows) / weight)
    return value, max(r.people for r in rows)


Measure = Callable[[list[Person], tuple[date, date]], tuple[float | None, int]]


def compare(session: Session, rollout: Rollout, *, today: date, least: int) -> Comparison | None:
    """The first `on` cohort against the first `control` cohort; None without both, or
    before the pilot's first whole day."""
    pilot = next((c for c in rollout.cohorts if c.mode == "on"), None)
    control = next((c for c in rollout.cohorts if c.mode == "control"), None)
    if pilot is None or control is None:
        return None
    split = windows(pilot.start, today)
    if split is None:
        return None
    groups = _groups(session, rollout, pilot, control)

    def ids(people: list[Person]) -> list[int]:
        return [m.id for m in people]

    by_window = {window: _counts(session, window) for window in split}
    # Answers and imported figures know a team, not a person: they describe a cohort only
    # when both cohorts are whole teams, and different ones.
    by_team = all(not (c.regions or c.therapeutic_areas or c.people) for c in (pilot, control))
    by_team = by_team and not set(pilot.teams) & set(control.teams)

    def per_head(pick: int) -> Measure:
        def measure(people: list[Person], window: tuple[date, date]) -> tuple[float | None, int]:
            counts = _kudos(by_window[window], ids(people))
            return (counts[pick] / len(people) if people else None), len(people)

        return measure

    def surveyed(metric: str) -> Measure:
        """Plaudit's own pulse where it has one for the window, else the imported figure."""

        def measure(people: list[Person], window: tuple[date, date]) -> tuple[float | None, int]:
            found: tuple[float | None, int] = (None, 0)
            if metric == "participation":
                found = _participation(session, ids(people), window)
            if found[0] is not None or not by_team:
                return found
            teams = {m.team for m in people if m.team}
            if metric == "enps":
                found = _enps(session, teams, window, least)
            return found if found[0] is not None else _baseline(session, metric, teams, window)

        return measure

    measures: Sequence[tuple[str, Measure]] = (
        ("kudos given per head", per_head(0)),
        ("share of people who gave kudos", per_head(1)),
        ("kudos received per head", per_head(2)),
        ("survey participation", surveyed("participation")),
        ("eNPS", surveyed("enps")),
        ("engagement (imported)", surveyed("engagement")),
    )
    rows = [
        Row(
            name,
            *(
                _held(*measure(groups[cohort.id], window), least)
                for cohort in (pilot, control)
                for window in split
            ),
        )
        for name, measure in measures
    ]
    limits: tuple[str, ...] = LIMITS
    if not by_team:
        limits = (*limits, "eNPS and imported figures are kept by team, not by person: with a "
                  "cohort chosen by region, area or people they cannot be told apart, so "
                  "they are not shown.")  # fmt: skip
    if control.start != pilot.start:
        limits = (*limits, "The control group's start date differs from the pilot's; the "
                  "windows follow the pilot's.")  # fmt: skip
    return Comparison(pilot, control, split[0], split[1], rows, limits)
