"""Recounting sprint totals sprint by sprint while kudos go on: the result is what one full
recount gives, each kudos given or taken back meanwhile counted once; boards say so."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from bot.chat import texts
from bot.jobs import sweep
from bot.runtime import BoardSettings
from handlers import kudos, leaderboard, sprints
from handlers.clock import FixedClock
from handlers.events import KudosRequested
from handlers.leaderboard import counting, recount
from handlers.policy import KudosPolicy
from handlers.sprints import SprintCalendar
from storage.db import transaction
from storage.models import LeaderboardTotal, MilestoneAward, MilestoneShare, Recognition
from tests.conftest import slack_person

T = TypeVar("T")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
OLD = SprintCalendar()
# Other ids (a fiscal year from February) and other edges (Auckland's midnight).
NEW = SprintCalendar(timezone="Pacific/Auckland", fiscal_start_month=2)
SAME_IDS = SprintCalendar(timezone="America/Los_Angeles")  # same ids, other edges
PEOPLE = [slack_person(f"U{n:04d}", name) for n, name in enumerate(("Ann", "Ben", "Cat", "Dan"))]
VALUES: tuple[tuple[str, ...], ...] = (
    (),
    ("#collaboration",),
    ("#site-activation", "#Collaboration"),
)


def policy(calendar: SprintCalendar) -> KudosPolicy:
    return KudosPolicy(
        recognition_channel="C0KUDOS", daily_allowance=500, min_message_length=0, sprints=calendar
    )


def write(engine: Engine) -> recount.Runner:
    def run(work: Callable[[Session], T]) -> T:
        with transaction(engine) as session:
            return work(session)

    return run


class Office:
    """People giving kudos and taking some back, each in a transaction of its own."""

    def __init__(self, engine: Engine, seed: int = 7) -> None:
        self.engine, self.rng, self.n = engine, random.Random(seed), 0
        self.given: list[int] = []

    def give(self, calendar: SprintCalendar, at: datetime) -> None:
        self.n += 1
        giver, *to = self.rng.sample(PEOPLE, self.rng.randint(2, 3))
        values = self.rng.choice(VALUES)
        event = KudosRequested(
            f"k{self.n}", giver, tuple(to), "thanks " + " ".join(values), values, "command", "C1"
        )
        with transaction(self.engine) as session:
            done = kudos.give(event, session=session, policy=policy(calendar), clock=FixedClock(at))
        assert isinstance(done, kudos.Recorded), done
        self.given.append(done.recognition_id)

    def take_back(self, calendar: SprintCalendar, at: datetime) -> None:
        """What taking a reaction kudos back does: revoked and its tally taken back."""
        chosen = self.given.pop(self.rng.randrange(len(self.given)))
        with transaction(self.engine) as session:
            found = session.get(Recognition, chosen)
            assert found is not None and found.revoked_at is None
            found.revoked_at = at
            session.add(found)
            sprints.tally_recognition(session, calendar, chosen, sign=-1)

    def award(self, calendar: SprintCalendar, at: datetime, *members: int) -> None:
        sprint = calendar.sprint_of(at)
        assert sprint is not None
        self.n += 1
        with transaction(self.engine) as session:
            award = MilestoneAward(
                key=f"m{self.n}",
                milestone_id="m",
                sprint=sprint.id,
                title="Launch",
                points=6,
                awarded_at=at,
                detail={},
            )
            session.add(award)
            session.flush()
            assert award.id is not None
            shares = dict.fromkeys(members, 6 // len(members))
            for member, points in shares.items():
                share = MilestoneShare(
                    award_id=award.id, member_id=member, sprint=sprint.id, points=points
                )
                session.add(share)
            sprints.add_milestone(session, sprint.id, shares)

    def year(self, calendar: SprintCalendar) -> None:
        """Kudos across the year up to NOW (some taken back), and two milestones."""
        at = NOW - timedelta(days=400)
        while at < NOW:
            self.give(calendar, at)
            if self.rng.random() < 0.15:
                self.take_back(calendar, at)
            at += timedelta(days=self.rng.randint(1, 9), hours=self.rng.randint(0, 23))
        self.award(calendar, NOW - timedelta(days=200), 1, 2)
        self.award(calendar, NOW - timedelta(days=3), 3)


def totals(engine: Engine) -> set[tuple[str, str, int, int, int, int, int]]:
    """The kept rows that say anything (a kudos taken back leaves zeros incrementally)."""
    with Session(engine) as session:
        return {
            (t.sprint, t.value_tag, t.member_id, t.received, t.given, t.milestone, t.points)
            for t in session.exec(select(LeaderboardTotal))
            if t.received or t.given or t.milestone
        }


def full_recount(engine: Engine, calendar: SprintCalendar) -> set[Any]:
    write(engine)(lambda s: sprints.rebuild(s, calendar, now=NOW))
    return totals(engine)


@pytest.fixture
def counted(file_engine: Engine) -> Iterator[tuple[Engine, Office]]:
    """A year of kudos counted under the old settings."""
    office = Office(file_engine)
    office.year(OLD)
    write(file_engine)(lambda s: sprints.rebuild(s, OLD, now=NOW))
    yield file_engine, office


@pytest.mark.parametrize("calendar", [NEW, SAME_IDS], ids=["new ids", "same ids"])
def test_kudos_given_and_taken_back_during_a_recount_count_once(
    counted: tuple[Engine, Office], calendar: SprintCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, office = counted
    monkeypatch.setattr(recount, "CHUNK", 3)  # many settling transactions, kudos between
    assert write(engine)(lambda s: recount.mark(s, calendar=calendar, now=NOW))
    meanwhile = {"on": True, "kudos": 0}

    def busy_office() -> None:
        if meanwhile["on"]:
            office.give(calendar, NOW)
            office.take_back(calendar, NOW)
            meanwhile["kudos"] += 1

    original = counting.count_sprint

    def counting_meanwhile(session: Session, sprint: sprints.Sprint) -> Any:
        busy_office()  # committed after this count's snapshot was taken
        return original(session, sprint)

    def settling(work: Callable[[Session], T]) -> T:
        result = write(engine)(work)
        busy_office()  # between settling transactions
        return result

    monkeypatch.setattr(counting, "count_sprint", counting_meanwhile)
    done = recount.recount(
        calendar, read=recount.reader(engine, write(engine)), write=settling, now=NOW
    )
    meanwhile["on"] = False
    assert done is not None and done.finished and done.sprints >= 4
    assert meanwhile["kudos"] > 10
    with Session(engine) as session:
        assert not recount.recounting(session)
        assert not sprints.needs_rebuild(session, calendar)
    recounted = totals(engine)
    assert recounted == full_recount(engine, calendar)
    assert {t[0] for t in recounted} <= {s.id for s in planned(engine, calendar)}


def planned(engine: Engine, calendar: SprintCalendar) -> list[sprints.Sprint]:
    """The sprints from the first kudos or award to the last."""
    return counting.sprints_between(calendar, write(engine)(counting.span))


def test_two_recounts_at_once_never_add_a_difference_twice(
    counted: tuple[Engine, Office], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, office = counted
    runner = write(engine)
    read = recount.reader(engine, runner)
    assert runner(lambda s: recount.mark(s, calendar=NEW, now=NOW))
    original = counting.count_sprint
    other: list[recount.Recounted | None] = []

    def counting_meanwhile(session: Session, sprint: sprints.Sprint) -> Any:
        if not other:  # another process settles the sprint this one is counting, and stops
            other.append(None)
            stop = iter([False, True])
            other[0] = recount.recount(NEW, read=read, write=runner, now=NOW, stop=stop.__next__)
            office.give(NEW, NOW)
        return original(session, sprint)

    monkeypatch.setattr(counting, "count_sprint", counting_meanwhile)
    first = recount.recount(NEW, read=read, write=runner, now=NOW)
    monkeypatch.undo()
    assert other[0] == recount.Recounted(1, finished=False)
    assert first is not None and first.finished
    assert totals(engine) == full_recount(engine, NEW)


def test_a_recount_stopped_half_way_resumes_with_the_sprints_left(
    counted: tuple[Engine, Office],
) -> None:
    engine, _ = counted
    runner = write(engine)
    read = recount.reader(engine, runner)
    assert runner(lambda s: recount.mark(s, calendar=NEW, now=NOW))
    asked = iter([False, False, True])
    stopped = recount.recount(NEW, read=read, write=runner, now=NOW, stop=lambda: next(asked))
    assert stopped == recount.Recounted(2, finished=False)
    with Session(engine) as session:
        assert recount.recounting(session)
    rest = recount.recount(NEW, read=read, write=runner, now=NOW)
    assert rest is not None and rest.finished
    assert rest.sprints == len(planned(engine, NEW)) - 2
    assert totals(engine) == full_recount(engine, NEW)


def test_verifying_repairs_totals_that_drifted_in_the_current_sprint(
    counted: tuple[Engine, Office],
) -> None:
    engine, _ = counted
    runner = write(engine)
    read = recount.reader(engine, runner)
    right = totals(engine)
    assert recount.verify(OLD, read=read, write=runner, now=NOW) == recount.Verified("2026Q4", 0)
    with transaction(engine) as session:
        session.connection().execute(
            text(
                "UPDATE leaderboard_total SET received = received + 5, points = points + 5 "
                "WHERE sprint = '2026Q4' AND value_tag = ''"
            )
        )
    drifted = totals(engine)
    assert drifted != right
    repaired = recount.verify(OLD, read=read, write=runner, now=NOW)
    assert repaired is not None and repaired.repaired >= 2
    assert totals(engine) == right
    # Under settings the totals were not counted with there is nothing to verify against.
    assert recount.verify(NEW, read=read, write=runner, now=NOW) is None


def test_a_database_with_nothing_to_count_is_current_at_once(engine: Engine) -> None:
    runner = write(engine)
    assert not runner(lambda s: recount.mark(s, calendar=NEW, now=NOW))
    with Session(engine) as session:
        assert not sprints.needs_rebuild(session, NEW)
        assert not recount.recounting(session)


def test_boards_say_they_are_being_recounted_and_nothing_is_frozen_meanwhile(
    counted: tuple[Engine, Office],
) -> None:
    engine, _ = counted
    runner = write(engine)
    ended = NEW.last_ended(NOW)
    current = NEW.sprint_of(NOW)
    assert ended is not None and current is not None
    assert runner(lambda s: recount.mark(s, calendar=NEW, now=NOW))
    board = runner(lambda s: leaderboard.board(s, current))
    assert board.recounting and board.rows == ()
    assert leaderboard.lines(board)[1] == leaderboard.RECOUNTING
    shown = texts.board_lines(board.as_json(), title="Leaderboard")
    assert shown[1] == (texts.Words(leaderboard.RECOUNTING),)
    with pytest.raises(ValueError, match="being recounted"):
        runner(lambda s: leaderboard.freeze(s, ended, now=NOW, rules={}))
    settings = BoardSettings(update_cron="0 10 * * *")
    later = ended.end + timedelta(hours=1)
    steps = {
        "close": lambda s: sweep.close_sprint(
            ended, s, now=later, settings=settings, channel="C0KUDOS"
        ),
        "update": lambda s: sweep.post_update(
            current, s, period="p1", now=NOW, settings=settings, channel="C0KUDOS"
        ),
    }
    assert not runner(steps["close"]) and not runner(steps["update"])  # held, not claimed
    recount.recount(NEW, read=recount.reader(engine, runner), write=runner, now=NOW)
    board = runner(lambda s: leaderboard.board(s, current))
    assert not board.recounting and board.rows and "recounting" not in board.as_json()
    assert runner(steps["close"]) and runner(steps["update"])
