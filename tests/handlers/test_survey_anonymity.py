"""Anonymous survey results: no published figures, alone or combined, give away one answer.

The attack of the finding: the company-wide mean over six answers minus a team's mean over
five is the sixth answer; a region's mean minus a team's inside it is another's. The checks
here read what `results()` publishes (which chat, the dashboard, the CLI and the CSV only
render) and test by brute force that no difference, overlap or linear combination of the
published groups isolates fewer than `min_responses` answers.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from compliance_rules import default_rules
from handlers import exports, surveys
from handlers.events import Person
from handlers.policy import KudosPolicy
from handlers.surveys import suppression
from storage.models import Member, SurveyAnswer

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = b"survey-secret-for-tests-0123456789abcdef"
RULES = default_rules()
POLICY = KudosPolicy()
ENERGY = surveys.Question("energy", "scale", "How energised do you feel?", ("Drained", "Great"))
ENPS = surveys.Question("enps", "enps", "Would you recommend working here?")


def pulse(k: int = 5) -> surveys.Survey:
    return surveys.Survey(
        id="pulse",
        title="Pulse",
        questions=(ENERGY, ENPS),
        anonymous=True,
        min_responses=k,
        owners=("lead@example.com",),
    )


Group = tuple[str, str]


def roster(session: Session, cells: list[tuple[str | None, str | None, int]]) -> list[Member]:
    """Members by (team, region, how many)."""
    members: list[Member] = []
    before = len(session.exec(select(Member.id)).all())
    for team, region, count in cells:
        for _ in range(count):
            n = before + len(members) + 1
            members.append(
                Member(
                    slack_team_id="T0001",
                    slack_user_id=f"U{n:04d}",
                    email=f"user{n}@example.com",
                    display_name=f"User {n}",
                    team=team,
                    region=region,
                )
            )
    session.add_all(members)
    session.flush()
    return members


def answer(session: Session, member: Member, round_id: int, question: str, score: int) -> None:
    assert member.slack_user_id is not None
    who = Person("slack", "T0001", member.slack_user_id, member.display_name)
    outcome = surveys.answer(
        surveys.SurveyAnswered(who, round_id, question, score=score),
        session=session,
        now=T0 + timedelta(hours=1),
        rules=RULES,
        policy=POLICY,
        secret=SECRET,
    )
    assert isinstance(outcome, surveys.Answered), outcome


def run_round(
    session: Session, survey: surveys.Survey, answers: list[tuple[Member, str, int]]
) -> tuple[surveys.Results, list[SurveyAnswer]]:
    """Open a round for everyone, take the answers, close it: what it publishes, and the
    answer rows it was computed from."""
    opened = surveys.open_round(survey, session=session, now=T0, period="p")
    assert isinstance(opened, surveys.Opened)
    for member, question, score in answers:
        answer(session, member, opened.round_id, question, score)
    res = surveys.close_round(opened.round_id, session=session, now=T0 + timedelta(days=3))
    assert res is not None
    rows = list(session.exec(select(SurveyAnswer).where(SurveyAnswer.round_id == opened.round_id)))
    return res, rows


# -- what is published, as sets of respondents ---------------------------------------------


def group_sets(rows: list[SurveyAnswer]) -> dict[Group, set[str]]:
    found: dict[Group, set[str]] = {}
    for row in rows:
        for by in ("team", "region"):
            name = getattr(row, by)
            if name:
                found.setdefault((by, name), set()).add(row.respondent)
    return found


def published(
    res: surveys.Results, rows: list[SurveyAnswer]
) -> list[tuple[str, set[str], dict[Group, set[str]]]]:
    """Each family of published figures: (what, the total's respondents, the shown groups'
    respondents). Participation per group is one family, each shown question another."""
    families = []
    everyone = {r.respondent for r in rows}
    by_group = group_sets(rows)
    listed = {(g.by, g.name): by_group[(g.by, g.name)] for g in res.groups}
    for g in res.groups:
        assert g.respondents == len(by_group[(g.by, g.name)])
    families.append(("respondents", everyone, listed))
    for q in res.questions:
        if q.hidden:
            continue
        answered_rows = [r for r in rows if r.question_id == q.id]
        answered = {r.respondent for r in answered_rows}
        assert q.answers == len(answered)
        inside = group_sets(answered_rows)
        figures = {(g.by, g.name): inside[(g.by, g.name)] for g in res.groups if q.id in g.means}
        families.append((q.id, answered, figures))
    return families


def rank(vectors: list[list[Fraction]]) -> int:
    rows = [list(v) for v in vectors]
    found = 0
    width = len(rows[0]) if rows else 0
    for column in range(width):
        pivot = next((i for i in range(found, len(rows)) if rows[i][column] != 0), None)
        if pivot is None:
            continue
        rows[found], rows[pivot] = rows[pivot], rows[found]
        for i in range(len(rows)):
            if i != found and rows[i][column] != 0:
                factor = rows[i][column] / rows[found][column]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[found], strict=True)]
        found += 1
    return found


def determined(person: str, total: set[str], sets: list[set[str]]) -> bool:
    """Whether sums over `sets` (counts, distributions, means, eNPS are all such sums) pin
    down `person`'s answer: their indicator is a linear combination of the sets'."""
    order = sorted(total)
    matrix = [[Fraction(int(p in s)) for p in order] for s in sets]
    alone = [Fraction(int(p == person)) for p in order]
    return rank([*matrix, alone]) == rank(matrix)


def assert_nothing_isolated(res: surveys.Results, rows: list[SurveyAnswer], k: int) -> None:
    for what, total, groups in published(res, rows):
        if what != "respondents" or not res.hidden:
            assert len(total) >= k, what
        sets: list[tuple[str, set[str]]] = [("total", total), *groups.items()]  # type: ignore[list-item]
        for name, members in groups.items():
            assert len(members) >= k, (what, name)
        # Pairs: a group minus another, the other minus it, their overlap.
        for (a, x), (b, y) in itertools.combinations(sets, 2):
            for part in (x - y, y - x, x & y):
                assert len(part) == 0 or len(part) >= k, (what, a, b, len(part))
        # Any combination: every cell of the Venn diagram of the total and the groups.
        if not groups:
            continue  # the total alone: its own threshold, checked above
        cells = Counter(frozenset(n for n, m in groups.items() if p in m) for p in total)
        assert all(n >= k for n in cells.values()), (what, cells)
        for person in total:
            assert not determined(person, total, [m for _, m in sets]), (what, person)


# -- the attack of the finding ----------------------------------------------------------------


def csv_figures(res: surveys.Results) -> dict[tuple[str, str, str], object]:
    """What the CSV export publishes, by (section, item, answer)."""
    return {
        (str(s), str(i), str(a)): v for _, _, s, i, a, v in exports.survey_rows(res, scoped=False)
    }


def recovered(
    figures: dict[tuple[str, str, str], object],
    whole: tuple[str, str],
    part: tuple[str, str],
    sizes: tuple[int, int],
) -> int | None:
    """The answer left over when `part`'s mean over sizes[1] answers is taken from `whole`'s
    over sizes[0] (("question", "") is the company-wide figure); None when either is not
    published."""

    def mean(section: str, item: str) -> float | None:
        key = (
            (section, ENERGY.text, "mean")
            if section == "question"
            else (section, item, ENERGY.text)
        )
        value = figures.get(key)
        return None if value is None else float(value)  # type: ignore[arg-type]

    big, small = mean(*whole), mean(*part)
    if big is None or small is None:
        return None
    return round(sizes[0] * big - sizes[1] * small)


def test_the_company_mean_minus_a_team_mean_no_longer_gives_the_sixth_answer(
    session: Session,
) -> None:
    """Six answered the energy question: five of Brand and one of Digital. Brand (six
    people) and Digital (five) are both big enough, but on this question the company-wide
    mean over six minus Brand's over five would be the Digital answer."""
    brand = roster(session, [("Brand", "EMEA", 6)])
    digital = roster(session, [("Digital", "US", 5)])
    answers = [(m, "enps", 8) for m in brand + digital]
    answers += [(m, "energy", s) for m, s in zip(brand[:5], (4, 4, 3, 5, 4), strict=True)]
    answers.append((digital[0], "energy", 1))
    res, rows = run_round(session, pulse(), answers)
    figures = csv_figures(res)
    assert figures[("question", ENERGY.text, "answers")] == 6  # the total is still shown
    assert recovered(figures, ("question", ""), ("team", "Brand"), (6, 5)) is None
    assert recovered(figures, ("question", ""), ("region", "EMEA"), (6, 5)) is None
    brand_group = next(g for g in res.groups if g.name == "Brand")
    assert "energy" not in brand_group.means and "enps" in brand_group.means
    assert_nothing_isolated(res, rows, 5)


def test_a_region_mean_minus_a_team_mean_inside_it_no_longer_gives_an_answer(
    session: Session,
) -> None:
    """Brand (five, all in EMEA) and Medical (five in EMEA, five in APAC). On the energy
    question only one of Medical's EMEA people answered: EMEA over six minus Brand over five,
    or Medical over six minus APAC over five, would be that answer."""
    brand = roster(session, [("Brand", "EMEA", 5)])
    emea = roster(session, [("Medical", "EMEA", 5)])
    apac = roster(session, [("Medical", "APAC", 5)])
    everyone = brand + emea + apac
    answers = [(m, "enps", 9) for m in everyone]
    answers += [(m, "energy", s) for m, s in zip(brand, (3, 4, 4, 5, 4), strict=True)]
    answers += [(m, "energy", s) for m, s in zip(apac, (2, 3, 3, 3, 4), strict=True)]
    answers.append((emea[0], "energy", 1))
    res, rows = run_round(session, pulse(), answers)
    figures = csv_figures(res)
    assert figures[("question", ENERGY.text, "answers")] == 11
    assert recovered(figures, ("region", "EMEA"), ("team", "Brand"), (6, 5)) is None
    assert recovered(figures, ("team", "Medical"), ("region", "APAC"), (6, 5)) is None
    assert_nothing_isolated(res, rows, 5)
    # Chat and the dashboard render these same results: no such figure there either.
    assert not any("energy" in g.means for g in res.groups if g.name in ("EMEA", "APAC"))


def test_groups_that_give_nothing_away_are_still_shown(session: Session) -> None:
    """Two teams of five in two regions, everyone answering: every figure is shown."""
    members = roster(session, [("Brand", "EMEA", 5), ("Digital", "US", 5)])
    answers = [(m, q, 3) for m in members for q in ("energy", "enps")]
    res, rows = run_round(session, pulse(), answers)
    assert {(g.by, g.name) for g in res.groups} == {
        ("team", "Brand"),
        ("team", "Digital"),
        ("region", "EMEA"),
        ("region", "US"),
    }
    assert all(set(g.means) == {"energy", "enps"} for g in res.groups)
    assert res.suppressed_groups == 0
    assert_nothing_isolated(res, rows, 5)


# -- property: random rosters and answers ------------------------------------------------------

TEAMS = st.lists(
    st.tuples(st.sampled_from(["Brand", "Digital", "Medical", None]), st.integers(1, 15)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)
PERSON = st.tuples(
    st.sampled_from(["EMEA", "US", "APAC", None]),
    st.one_of(st.none(), st.integers(1, 5)),  # energy, or skipped
    st.one_of(st.none(), st.integers(0, 10)),  # enps, or skipped
)


@pytest.fixture
def rolled_back(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(teams=TEAMS, k=st.sampled_from([2, 3, 5]), data=st.data())
def test_no_published_figures_determine_an_answer(
    rolled_back: Session, teams: list[tuple[str | None, int]], k: int, data: st.DataObject
) -> None:
    session = rolled_back
    try:
        cells: list[tuple[str | None, str | None, int]] = []
        plan: list[tuple[int | None, int | None]] = []
        for team, size in teams:
            people = data.draw(st.lists(PERSON, min_size=size, max_size=size))
            for region, energy, score in people:
                cells.append((team, region, 1))
                plan.append((energy, score))
        members = roster(session, cells)
        answers = [
            (m, q, v)
            for m, (energy, score) in zip(members, plan, strict=True)
            for q, v in (("energy", energy), ("enps", score))
            if v is not None
        ]
        res, rows = run_round(session, pulse(k), answers)
        assert_nothing_isolated(res, rows, k)
    finally:
        session.rollback()


@settings(max_examples=400, deadline=None)
@given(
    people=st.lists(
        st.tuples(st.sampled_from(["A", "B", "C", None]), st.sampled_from(["X", "Y", "Z", None])),
        min_size=1,
        max_size=45,
    ),
    k=st.integers(2, 6),
)
def test_shown_groups_leave_no_cell_smaller_than_k(
    people: list[tuple[str | None, str | None]], k: int
) -> None:
    """The suppression rule alone, on many rosters: whatever it keeps, every difference and
    overlap of the total and the kept groups holds none or at least k people."""
    memberships = {
        f"p{i}": frozenset(g for g in (("team", team), ("region", region)) if g[1] is not None)
        for i, (team, region) in enumerate(people)
    }
    candidates = {g for groups in memberships.values() for g in groups}
    kept = suppression.shown_groups(memberships, candidates, k)  # type: ignore[arg-type]
    assert kept <= candidates
    total = set(memberships)
    groups = {g: {p for p, m in memberships.items() if g in m} for g in kept}
    cells = Counter(frozenset(g for g in kept if p in groups[g]) for p in total)
    assert all(n >= k for n in cells.values()) or not kept
    for x, y in itertools.combinations([total, *groups.values()], 2):
        for part in (x - y, y - x, x & y):
            assert len(part) == 0 or len(part) >= k
    if len(total) >= k:
        sets = [total, *groups.values()]
        assert not any(determined(p, total, sets) for p in total)
