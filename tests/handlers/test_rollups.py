"""Kept analytics rollups: every figure read from them equals the one counted from the
recognitions (random organisations, several thresholds, both databases), they are as old as
they say, and the scheduler keeps them."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.cli.report import html as report_html
from bot.jobs.scheduler import Scheduler
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import collaboration as co
from handlers import drilldowns, engagement, kpi_trends, rollups
from handlers.clock import FixedClock
from handlers.policy import KudosPolicy
from handlers.report import _crossing, quarter
from storage.models import Member, PairRollup, Recognition, RollupPeriod
from tests.handlers.test_collaboration import DAY, NOW, kudos, people

TEAMS = ("Brand", "Medical", "Regulatory", "Market access", None)
FUNCTIONS = ("Marketing", "Medical", "IT", None)
REGIONS = ("EU", "EU", "US", None)
AREAS = ("Oncology", "Cardiology", None)


def organisation(session: Session, seed: int, size: int = 30, given: int = 400) -> list[int]:
    """`size` people over uneven teams, functions, regions and areas (some unknown), and
    `given` kudos over
    the last 40 weeks: one to three recipients, some held, some taken back; and a bot."""
    rng = random.Random(seed)
    rows = [(f"p{seed}x{n}", rng.choice(TEAMS), rng.choice(FUNCTIONS)) for n in range(size)]
    ids = list(people(session, *rows).values())
    for member in session.exec(select(Member).where(Member.id.in_(ids))):  # type: ignore[union-attr]
        member.region, member.therapeutic_area = rng.choice(REGIONS), rng.choice(AREAS)
    bot = Member(display_name="bot", email=f"bot{seed}@example.com", team="Brand", is_bot=True)
    session.add(bot)
    session.flush()
    assert bot.id is not None
    for n in range(given):
        giver = rng.choice([*ids, bot.id])
        to = rng.sample([i for i in ids if i != giver], rng.choice((1, 1, 1, 2, 3)))
        at = NOW - timedelta(hours=rng.randint(0, 40 * 7 * 24))
        outcome = rng.choice(("pass", "pass", "pass", "warn", "hold", "block"))
        kudos(
            session,
            giver,
            *to,
            at=at + n * timedelta(seconds=1),
            outcome=outcome,
            revoked=n % 17 == 0,
        )
    session.commit()
    return ids


def same_figures(a: co.Collaboration, b: co.Collaboration) -> None:
    assert a.periods == b.periods
    assert a.shares == b.shares
    assert {by: (m.names, dict(m.cells)) for by, m in a.matrices.items()} == {
        by: (m.names, dict(m.cells)) for by, m in b.matrices.items()
    }
    assert a.islands == b.islands


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_from_the_rollups_equal_those_counted_from_the_kudos(
    session: Session, seed: int
) -> None:
    organisation(session, seed)
    windows = [(every, k) for every in rollups.EVERIES for k in (2, 3, 5, 8)]
    counted = {
        (every, k): co.collaboration(session, now=NOW, every=every, scope=co.Scope(), k=k)
        for every, k in windows
    }
    month = co.buckets(NOW, "month", 3)
    spans = [(month[0].label, month[0].start, month[0].end), ("to date", month[2].start, NOW)]
    tables = {
        (label, k): engagement.engagement(
            session, label=label, start=start, end=end, scope=co.Scope(), k=k
        )
        for label, start, end in spans
        for k in (2, 5)
    }
    quarter = co.Bucket("Q", month[0].start, NOW)
    crossing = {k: _crossing(session, quarter, k) for k in (2, 5)}
    assert all(c.as_of is None for c in counted.values())
    assert all(t.as_of is None for t in tables.values())

    assert rollups.maintain(session, NOW) == rollups.KEEP["week"] + rollups.KEEP["month"]
    session.commit()

    for (every, k), expected in counted.items():
        kept = co.collaboration(session, now=NOW, every=every, scope=co.Scope(), k=k)
        assert kept.as_of == NOW
        same_figures(kept, expected)
    for (label, k), expected_table in tables.items():
        _label, start, end = next(s for s in spans if s[0] == label)
        table = engagement.engagement(
            session, label=label, start=start, end=end, scope=co.Scope(), k=k
        )
        assert table.as_of == NOW
        assert table.rows == expected_table.rows
    for k, expected_crossing in crossing.items():
        shares, islands, as_of = _crossing(session, quarter, k)
        assert (shares, islands) == expected_crossing[:2]
        assert as_of == NOW and expected_crossing[2] is None
    # The figures are not empty: the comparison compared something.
    assert any(s.total for c in counted.values() for s in c.shares["team"])
    assert any(m.cells for c in counted.values() for m in c.matrices.values())


@pytest.mark.parametrize("seed", [6, 7])
def test_kudos_by_day_from_the_kept_months_equal_those_counted(session: Session, seed: int) -> None:
    organisation(session, seed, given=300)
    # Givers far east and west: their day is the UTC one's neighbour, across month ends too.
    for r in session.exec(select(Recognition)).all():
        if r.id and r.id % 3:
            r.giver_local_date += timedelta(days=1 if r.id % 3 == 1 else -1)
            session.add(r)
    session.commit()
    today = NOW.date()
    counted = {
        team: kpi_trends.trend(session, today=today, weeks=20, kind=None, team=team)
        for team in (None, "Brand", "Medical")
    }
    assert all(t.as_of is None for t in counted.values())
    rollups.maintain(session, NOW)
    session.commit()
    for team, expected in counted.items():
        kept = kpi_trends.trend(session, today=today, weeks=20, kind=None, team=team)
        assert kept.as_of == NOW
        assert kept.weeks == expected.weeks
    assert (
        sum(w.kudos for w in counted[None].weeks) > sum(w.kudos for w in counted["Brand"].weeks) > 0
    )
    # Twelve months are kept: a longer series counts from the recognitions.
    longer = kpi_trends.trend(session, today=today, weeks=60, kind=None, team=None)
    assert longer.as_of is None


def test_the_report_says_as_of_when_it_read_kept_rollups(session: Session) -> None:
    organisation(session, 8, given=150)
    period = KudosPolicy().sprints.sprint_of(NOW)
    assert period is not None
    counted = quarter(session, period, now=NOW, least=2, rollout=None)
    assert counted.as_of is None and " as of " not in report_html(counted)
    rollups.maintain(session, NOW)
    session.commit()
    kept = quarter(session, period, now=NOW, least=2, rollout=None)
    assert kept.as_of == NOW and "Kudos counted as of 2026-11-24 10:00 UTC" in report_html(kept)
    assert (kept.crossing, kept.islands, kept.everyone) == (
        counted.crossing,
        counted.islands,
        counted.everyone,
    )


DRILL_DOWNS = (
    *(co.Scope(team=t) for t in TEAMS if t),
    *(co.Scope(region=r) for r in ("EU", "US")),
    *(co.Scope(therapeutic_area=a) for a in ("Oncology", "Cardiology")),
)


@pytest.mark.parametrize("seed", [1, 2])
def test_drill_downs_from_the_rollups_equal_those_counted_from_the_kudos(
    session: Session, seed: int
) -> None:
    organisation(session, seed)
    asked = [
        (every, k, scope) for every in rollups.EVERIES for k in (2, 5) for scope in DRILL_DOWNS
    ]
    counted = {
        (every, k, scope): co.collaboration(session, now=NOW, every=every, scope=scope, k=k)
        for every, k, scope in asked
    }
    assert all(c.as_of is None for c in counted.values())
    rollups.maintain(session, NOW)
    session.commit()
    decided = 0
    for (every, k, scope), expected in counted.items():
        kept = co.collaboration(session, now=NOW, every=every, scope=scope, k=k)
        same_figures(kept, expected)
        decided += kept.as_of == NOW
    # Some are read from the rollups (a small organisation's weeks are sparse: most of
    # those are undecided there and counted).
    assert decided >= 3, (decided, len(asked))
    assert any(s.total for c in counted.values() for s in c.shares["function"])
    assert any(
        v is None for c in counted.values() for m in c.matrices.values() for v in m.cells.values()
    )


def test_a_drill_down_by_two_fields_is_counted_from_the_kudos(session: Session) -> None:
    organisation(session, 4)
    rollups.maintain(session, NOW)
    scope = co.Scope(team="Brand", region="EU")
    found = co.collaboration(session, now=NOW, every="month", scope=scope, k=2)
    assert found.as_of is None
    assert any(s.total for s in found.shares["team"])


def test_what_a_drill_down_leaves_out_is_decided_only_when_the_rollups_can() -> None:
    rest, safe, unsafe = drilldowns.rest, drilldowns.SAFE, drilldowns.UNSAFE
    # No pairs left out: nobody.
    assert rest(0, 0, 3, 5) == 0
    # In some period the whole has at least 5 people more than the drill-down: enough.
    assert rest(40, 10, None, 5) == safe
    # Pairs left out and four people in the whole: one to four of them, too few for 5...
    assert rest(4, 2, 4, 5) == unsafe
    # ... and enough for 1.
    assert rest(4, 2, 4, 1) == safe
    # The whole has 5 or more people, the drill-down all but two of them in every
    # period: two to all of them are left out, undecided.
    assert rest(8, 2, None, 5) is None
    assert rest(8, 2, 7, 8) == unsafe


def test_an_undecided_drill_down_is_counted_from_the_kudos(session: Session) -> None:
    # Region EU is c alone. Of Medical's kudos to Medical, c's two are inside the
    # drill-down and d's to e is left out: the whole has c, d and e behind the cell and
    # the drill-down all three too, so the rollups cannot tell whether the one or two
    # people left out reach the threshold.
    made = people(
        session,
        ("a", "Brand", "Marketing"),
        ("b", "Brand", "Marketing"),
        ("c", "Medical", "Medical"),
        ("d", "Medical", "Medical"),
        ("e", "Medical", "Medical"),
    )
    for name in "abde":
        member = session.get(Member, made[name])
        assert member is not None
        member.region = "US"
    a, b, c, d, e = made.values()
    for giver, taker in ((a, b), (b, a), (c, d), (d, e), (e, c)):
        kudos(session, giver, taker)
    session.commit()
    scope = co.Scope(region="EU")
    counted = co.collaboration(session, now=NOW, every="month", scope=scope, k=2)
    rollups.maintain(session, NOW)
    session.commit()
    found = co.collaboration(session, now=NOW, every="month", scope=scope, k=2)
    assert found.as_of is None
    same_figures(found, counted)
    assert found.matrices["team"].cell("Medical", "Medical") == 2


def test_a_view_needing_a_period_not_kept_counts_from_the_kudos(session: Session) -> None:
    organisation(session, 5)
    rollups.maintain(session, NOW)
    later = NOW + timedelta(days=40)  # a month no run has computed yet
    assert co.collaboration(session, now=later, every="month", scope=co.Scope(), k=3).as_of is None
    # A threshold above what the rollups keep is counted from the kudos too.
    above = co.collaboration(session, now=NOW, every="month", scope=co.Scope(), k=rollups.CAP + 1)
    assert above.as_of is None


def test_the_rollups_are_as_old_as_they_say_until_the_next_run(session: Session) -> None:
    ids = people(session, ("a", "Brand", "IT"), ("b", "Medical", "IT"), ("c", "Medical", "IT"))
    kudos(session, ids["a"], ids["b"], at=NOW - DAY)
    session.commit()
    rollups.maintain(session, NOW)
    session.commit()
    before = co.collaboration(session, now=NOW, every="week", scope=co.Scope(), k=2)
    assert (before.shares["team"][-1].crossing, before.shares["team"][-1].total) == (1, 1)
    kudos(session, ids["b"], ids["c"], at=NOW)
    session.commit()
    still = co.collaboration(session, now=NOW, every="week", scope=co.Scope(), k=2)
    assert still.shares == before.shares and still.as_of == NOW
    later = NOW + timedelta(minutes=5)
    rollups.maintain(session, later)
    session.commit()
    after = co.collaboration(session, now=later, every="week", scope=co.Scope(), k=2)
    assert (after.shares["team"][-1].crossing, after.shares["team"][-1].total) == (1, 2)
    assert after.as_of == NOW  # the oldest kept period of the view was computed then


def test_a_run_computes_the_current_periods_the_stalest_and_all_after_a_roster_change(
    session: Session,
) -> None:
    ids = people(session, ("a", "Brand", "IT"), ("b", "Medical", "IT"))
    kudos(session, ids["a"], ids["b"], at=NOW - 30 * DAY)
    session.commit()
    everything = rollups.KEEP["week"] + rollups.KEEP["month"]
    assert len(rollups.due(session, NOW)) == everything  # nothing kept yet
    rollups.maintain(session, NOW)
    session.commit()
    due = rollups.due(session, NOW + timedelta(minutes=5), most=4)
    current = {(e, co.buckets(NOW, e, 1)[0].label) for e in rollups.EVERIES}
    assert {(e, b.label) for e, b in due} >= current and len(due) == 2 + 4
    member = session.get(Member, ids["b"])
    assert member is not None
    member.display_name, member.timezone = "Bea", "Europe/Paris"  # nothing counted changes
    session.add(member)
    session.commit()
    assert len(rollups.due(session, NOW + timedelta(minutes=5))) == 2 + 4
    member.team = "Brand"
    session.add(member)
    session.commit()
    assert len(rollups.due(session, NOW + timedelta(minutes=5))) == everything
    rollups.maintain(session, NOW + timedelta(minutes=5))
    session.commit()
    moved = co.collaboration(
        session, now=NOW + timedelta(minutes=5), every="month", scope=co.Scope(), k=2
    )
    assert moved.as_of is not None
    assert all(not s.crossing for s in moved.shares["team"])  # both now in Brand


def test_periods_outside_every_window_are_dropped(session: Session) -> None:
    ids = people(session, ("a", "Brand", "IT"), ("b", "Medical", "IT"))
    kudos(session, ids["a"], ids["b"], at=NOW - DAY)
    session.commit()
    rollups.maintain(session, NOW)
    session.commit()
    labels = set(session.exec(select(RollupPeriod.label)).all())
    rollups.maintain(session, NOW + timedelta(weeks=13))
    session.commit()
    kept = set(session.exec(select(RollupPeriod.label)).all())
    this_week = co.buckets(NOW, "week", 1)[0].label
    assert this_week in labels and this_week not in kept  # 13 weeks on: out of the window
    assert len(kept) == rollups.KEEP["week"] + rollups.KEEP["month"]


def test_a_cell_keeps_at_most_cap_people_and_still_decides_every_threshold(
    session: Session,
) -> None:
    crowd = people(session, *[(f"g{n}", "Brand", "IT") for n in range(rollups.CAP + 10)])
    target = people(session, ("t", "Medical", "IT"))["t"]
    for n, giver in enumerate(crowd.values()):
        kudos(session, giver, target, at=NOW - DAY + n * timedelta(seconds=1))
    session.commit()
    rollups.maintain(session, NOW)
    session.commit()
    cell = session.exec(
        select(PairRollup).where(
            PairRollup.every == "week",
            PairRollup.dimension == "",
            PairRollup.boundary == "team",
            PairRollup.giver_side == "Brand",
            PairRollup.recipient_side == "Medical",
        )
    ).one()
    assert cell.pairs == rollups.CAP + 10 and len(cell.people.split(",")) == rollups.CAP
    assert cell.persons == rollups.CAP + 11
    found = co.collaboration(session, now=NOW, every="week", scope=co.Scope(), k=rollups.CAP)
    assert found.matrices["team"].cell("Brand", "Medical") == rollups.CAP + 10


@pytest.fixture
def runtime(engine: Engine) -> Runtime:
    return Runtime(
        engine=engine, policy=KudosPolicy(), rules=default_rules(), clock=FixedClock(NOW)
    )


def test_the_scheduler_keeps_the_rollups(runtime: Runtime, session: Session) -> None:
    ids = people(session, ("a", "Brand", "IT"), ("b", "Medical", "IT"))
    kudos(session, ids["a"], ids["b"], at=NOW - DAY)
    session.commit()
    done = asyncio.run(Scheduler(runtime).refresh_analytics())
    assert done == rollups.KEEP["week"] + rollups.KEEP["month"]
    session.expire_all()
    assert session.exec(select(func.count()).select_from(RollupPeriod)).one() == done
    found = co.collaboration(session, now=NOW, every="week", scope=co.Scope(), k=2)
    assert found.as_of == NOW and found.shares["team"][-1].crossing == 1
