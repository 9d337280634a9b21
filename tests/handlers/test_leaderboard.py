"""Sprints and leaderboards: the calendar, tallies, ranks, filters, milestones, snapshots."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlmodel import Session, select

from handlers import kudos, leaderboard, milestones, reactions, sprints
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person, ReactionAdded, ReactionRemoved
from handlers.policy import KudosPolicy
from storage.models import (
    BcPromotion,
    LeaderboardTotal,
    Member,
    MilestoneAward,
    SprintSnapshot,
)
from tests.conftest import slack_person

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CAL = sprints.SprintCalendar()
POLICY = KudosPolicy(recognition_channel="C0KUDOS", daily_allowance=50, min_message_length=0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("calendar", "moment", "sprint", "start", "end"),
    [
        (CAL, "2026-11-24T10:00", "2026Q4", "2026-10-01T00:00", "2027-01-01T00:00"),
        (CAL, "2026-01-01T00:00", "2026Q1", "2026-01-01T00:00", "2026-04-01T00:00"),
        (
            sprints.SprintCalendar(fiscal_start_month=4),
            "2026-05-10T00:00",
            "FY2027Q1",
            "2026-04-01T00:00",
            "2026-07-01T00:00",
        ),
        (
            sprints.SprintCalendar(fiscal_start_month=4),
            "2027-02-10T00:00",
            "FY2027Q4",
            "2027-01-01T00:00",
            "2027-04-01T00:00",
        ),
        (
            sprints.SprintCalendar(fiscal_start_month=11),
            "2027-01-15T00:00",
            "FY2027Q1",
            "2026-11-01T00:00",
            "2027-02-01T00:00",
        ),
        # Midnight in Berlin: 30 September 22:30 UTC is already the fourth quarter there.
        (
            sprints.SprintCalendar(timezone="Europe/Berlin"),
            "2026-09-30T22:30",
            "2026Q4",
            "2026-09-30T22:00",
            "2026-12-31T23:00",
        ),
    ],
)
def test_the_sprint_calendar(
    calendar: sprints.SprintCalendar, moment: str, sprint: str, start: str, end: str
) -> None:
    found = calendar.sprint_of(at(moment))
    assert found == sprints.Sprint(sprint, at(start), at(end))
    assert calendar.by_id(sprint, near=at(moment)) == found


def test_explicit_ranges_replace_quarters() -> None:
    calendar = sprints.SprintCalendar(
        ranges=(sprints.SprintRange("launch", date(2026, 11, 1), date(2026, 11, 30)),)
    )
    assert calendar.sprint_of(at("2026-11-30T23:59")) is not None
    assert calendar.sprint_of(at("2026-12-01T00:00")) is None
    assert calendar.by_id("launch", near=T0) == calendar.sprint_of(T0)


def person(user: str, name: str) -> Person:
    return slack_person(user, name)


PEOPLE = {
    "ann": person("U0001", "Ann"),
    "ben": person("U0002", "Ben"),
    "cat": person("U0003", "Cat"),
    "dan": person("U0004", "Dan"),
}


class Kudos:
    def __init__(self, session: Session, clock: FixedClock) -> None:
        self.session, self.clock, self.n = session, clock, 0

    def __call__(self, giver: str, *to: str, values: tuple[str, ...] = ()) -> None:
        self.n += 1
        event = KudosRequested(
            key=f"k{self.n}",
            giver=PEOPLE[giver],
            recipients=tuple(PEOPLE[t] for t in to),
            message="thanks for the launch checklist " + " ".join(values),
            values=values,
            source="command",
            channel_id="C0GENERAL",
        )
        result = kudos.give(event, session=self.session, policy=POLICY, clock=self.clock)
        assert isinstance(result, kudos.Recorded), result
        self.session.commit()


def set_team(session: Session, **teams: str) -> None:
    for name, team in teams.items():
        member = session.exec(select(Member).where(Member.display_name == name.title())).one()
        member.team = team
        member.region = "EMEA" if team == "Brand" else "NA"
        session.add(member)
    session.commit()


def sprint() -> sprints.Sprint:
    found = CAL.sprint_of(T0)
    assert found is not None
    return found


def ranks(board: leaderboard.Board) -> list[tuple[int, str, int]]:
    return [(r.rank, r.name, r.points) for r in board.rows]


def test_dense_ranks_with_ties_filters_and_givers(session: Session, clock: FixedClock) -> None:
    give = Kudos(session, clock)
    give("ann", "ben", "cat", values=("#site-activation",))
    give("dan", "ben", values=("#collaboration",))
    give("ben", "cat")
    give("ann", "dan")
    set_team(session, ann="Brand", ben="Brand", cat="Medical", dan="Medical")
    b = leaderboard.board(session, sprint())
    assert ranks(b) == [(1, "Ben", 2), (1, "Cat", 2), (2, "Dan", 1)]
    medical = leaderboard.board(session, sprint(), filters=leaderboard.Filters(team="medical"))
    assert ranks(medical) == [(1, "Cat", 2), (2, "Dan", 1)]
    valued = leaderboard.board(
        session, sprint(), filters=leaderboard.Filters(value="#site-activation")
    )
    assert ranks(valued) == [(1, "Ben", 1), (1, "Cat", 1)]
    givers = leaderboard.board(session, sprint(), by="givers")
    assert ranks(givers) == [(1, "Ann", 3), (2, "Ben", 1), (2, "Dan", 1)]
    teams = leaderboard.board(session, sprint(), by="team")
    assert ranks(teams) == [(1, "Medical", 3), (2, "Brand", 2)]
    top1 = leaderboard.board(session, sprint(), top=1)
    assert [r.name for r in top1.rows] == ["Ben", "Cat"]  # a tie at the edge stays in
    assert "1. Ben: 2" in leaderboard.lines(b)
    # A glance (`most`): at most that many rows, the highest first, ranks as on the board.
    glance = leaderboard.board(session, sprint(), most=2)
    assert ranks(glance) == [(1, "Ben", 2), (1, "Cat", 2)]
    assert ranks(leaderboard.board(session, sprint(), top=2, most=3)) == ranks(b)
    givers_glance = leaderboard.board(session, sprint(), by="givers", most=1)
    assert ranks(givers_glance) == [(1, "Ann", 3)]


def test_eligibility_leaves_out_inactive_excluded_and_other_sprints(
    session: Session, clock: FixedClock
) -> None:
    give = Kudos(session, clock)
    give("ann", "ben")
    give("ann", "cat")
    give("ann", "dan")
    clock.advance(days=40)  # next quarter
    give("ann", "ben")
    dan = session.exec(select(Member).where(Member.display_name == "Dan")).one()
    dan.active = False
    session.add(dan)
    session.commit()
    b = leaderboard.board(session, sprint(), exclude=["CAT@example.com"])
    assert ranks(b) == [(1, "Ben", 1)]
    nxt = CAL.sprint_of(clock.now())
    assert nxt is not None and nxt.id == "2027Q1"
    assert ranks(leaderboard.board(session, nxt)) == [(1, "Ben", 1)]


def test_milestone_shares_count_and_stay_apart(session: Session, clock: FixedClock) -> None:
    give = Kudos(session, clock)
    give("ann", "ben")
    set_team(session, ann="Brand", ben="Brand")
    session.add(
        BcPromotion(id=7, name="Spring launch", status="ENABLED", current_uses=0, fetched_at=T0)
    )
    session.commit()
    rule = milestones.Milestone(
        id="launch", title="Promotion live", source="promotion", points=5, team="Brand"
    )
    awarded = milestones.evaluate([rule], session=session, now=T0, calendar=CAL, policy=POLICY)
    again = milestones.evaluate([rule], session=session, now=T0, calendar=CAL, policy=POLICY)
    session.commit()
    assert [a.points for a in awarded] == [5] and again == []
    assert sorted(awarded[0].shares.values()) == [2, 3]
    b = leaderboard.board(session, sprint())
    rows = {r.name: r for r in b.rows}
    assert rows["Ann"].points == rows["Ann"].milestone_points == 3
    assert (rows["Ben"].recognition_points, rows["Ben"].milestone_points) == (1, 2)
    teams = leaderboard.board(session, sprint(), by="team")
    assert ranks(teams) == [(1, "Brand", 6)]
    # Filtering by a value counts recognitions with that value only.
    assert leaderboard.board(session, sprint(), filters=leaderboard.Filters(value="#x")).rows == ()
    assert session.exec(select(MilestoneAward)).one().sprint == "2026Q4"
    # A recount from the recognitions and awards gives the same board.
    before = ranks(leaderboard.board(session, sprint()))
    sprints.rebuild(session, CAL, now=T0)
    session.commit()
    assert ranks(leaderboard.board(session, sprint())) == before


def test_reaction_taken_back_and_rebuild_agree_with_incremental_totals(
    session: Session, clock: FixedClock
) -> None:
    give = Kudos(session, clock)
    rng = random.Random(7)
    names = list(PEOPLE)
    for _ in range(40):
        giver = rng.choice(names)
        to = rng.sample([n for n in names if n != giver], rng.randint(1, 2))
        give(giver, *to, values=rng.choice([(), ("#collaboration",), ("#site-activation",)]))
        clock.advance(hours=rng.randint(1, 72))
    added = ReactionAdded("r1", PEOPLE["ann"], PEOPLE["ben"], "clap", "C1", "111.1")
    reactions.react(added, session=session, policy=POLICY, clock=clock)
    reactions.unreact(
        ReactionRemoved("r2", PEOPLE["ann"], "clap", "C1", "111.1"),
        session=session,
        policy=POLICY,
        clock=clock,
    )
    session.commit()

    def totals() -> set[tuple[str, str, int, int, int]]:
        rows = session.exec(select(LeaderboardTotal)).all()
        return {(r.sprint, r.value_tag, r.member_id, r.received, r.given) for r in rows}

    incremental = totals()
    if session.get_bind().dialect.name == "postgresql":
        # Stored times are naive UTC: the session's zone must not move sprint edges.
        session.connection().execute(text("SET TIME ZONE 'America/New_York'"))
    assert sprints.rebuild(session, CAL, now=clock.now()) > 0
    session.commit()
    rebuilt = totals()
    # A reaction taken back leaves zero rows behind incrementally; a rebuild has none.
    assert {t for t in incremental if t[3] or t[4]} == rebuilt
    assert not sprints.needs_rebuild(session, CAL)
    assert sprints.needs_rebuild(session, replace(CAL, fiscal_start_month=4))


def test_a_frozen_sprint_does_not_change_afterwards(session: Session, clock: FixedClock) -> None:
    give = Kudos(session, clock)
    give("ann", "ben")
    give("cat", "ben")
    snapshot = leaderboard.freeze(session, sprint(), now=T0, rules={"top": 10})
    session.commit()
    frozen = dict(snapshot.data)
    give("dan", "cat")
    set_team(session, ben="Medical")
    again = leaderboard.freeze(session, sprint(), now=T0 + timedelta(days=1), rules={"top": 3})
    session.commit()
    assert again.id == snapshot.id and again.data == frozen
    assert leaderboard.verify(again)
    people = frozen["boards"]["person"]["rows"]
    assert [(r["name"], r["points"]) for r in people] == [("Ben", 2)]
    stored = session.exec(select(SprintSnapshot)).one()
    stored.data = {**stored.data, "rules": {"top": 99}}
    assert not leaderboard.verify(stored)


def test_a_member_on_two_platforms_is_one_row(session: Session, clock: FixedClock) -> None:
    give = Kudos(session, clock)
    give("ann", "ben")
    ben = session.exec(select(Member).where(Member.display_name == "Ben")).one()
    ben.teams_aad_id = "00000000-0000-0000-0000-00000000000b"
    session.add(ben)
    session.commit()
    give("cat", "ben")
    assert ranks(leaderboard.board(session, sprint())) == [(1, "Ben", 2)]
    count = session.connection().execute(sa_select(LeaderboardTotal.__table__)).all()  # type: ignore[attr-defined]
    assert len({row.member_id for row in count if row.received}) == 1
