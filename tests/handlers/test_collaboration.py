"""Cross-functional recognition and engagement rates, on small organisations worked out by
hand; and a property test: no figure below the anonymity threshold reaches any surface."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import Session

from handlers import collaboration as co
from handlers import cross_functional as cf
from handlers import digests, engagement
from handlers.policy import KudosPolicy
from handlers.surveys import Survey
from storage import migrate
from storage.db import make_engine
from storage.models import Member, Recognition, RecognitionRecipient

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def people(s: Session, *rows: tuple[str, str | None, str | None]) -> dict[str, int]:
    """Members by name: (name, team, function), all in region EU, area Oncology."""
    made = {}
    for name, team, function in rows:
        m = Member(
            display_name=name,
            email=f"{name}@example.com",
            team=team,
            function=function,
            region="EU",
            therapeutic_area="Oncology",
        )
        s.add(m)
        s.flush()
        assert m.id is not None
        made[name] = m.id
    return made


def kudos(
    s: Session,
    giver: int,
    *recipients: int,
    at: datetime = NOW - DAY,
    outcome: str = "pass",
    revoked: bool = False,
    private: bool = False,
) -> None:
    r = Recognition(
        dedupe_key=f"k{giver}:{recipients}:{at.isoformat()}:{outcome}:{revoked}:{private}",
        giver_id=giver,
        text="thanks",
        text_sha256="0" * 64,
        source="cli",
        platform="cli",
        outcome=outcome,
        giver_local_date=at.date(),
        created_at=at,
        revoked_at=at if revoked else None,
        private=private,
    )
    s.add(r)
    s.flush()
    for member in recipients:
        s.add(RecognitionRecipient(recognition_id=r.id or 0, member_id=member))
    s.flush()


def test_the_threshold_is_the_strictest_survey_minimum() -> None:
    assert co.threshold([]) == co.MIN_GROUP == 5
    pulse = Survey(id="p", title="P", questions=(), min_responses=3)
    assert co.threshold([pulse, Survey(id="q", title="Q", questions=(), min_responses=8)]) == 8


def test_weeks_and_months_end_with_the_one_holding_now() -> None:
    weeks = co.buckets(NOW, "week", 3)
    assert [b.label for b in weeks] == ["2026-W46", "2026-W47", "2026-W48"]
    assert weeks[-1].start == datetime(2026, 11, 23, tzinfo=UTC) <= NOW < weeks[-1].end
    months = co.buckets(datetime(2026, 1, 31, tzinfo=UTC), "month", 3)
    assert [b.label for b in months] == ["2025-11", "2025-12", "2026-01"]
    assert months[0].end == months[1].start == datetime(2025, 12, 1, tzinfo=UTC)


def _org(s: Session) -> dict[str, int]:
    """Brand (marketing a-c, medical d), Digital (IT e-g), Safety (medical h-i), all EU;
    one leaver (z, Brand) and a person with no team (n)."""
    ids = people(
        s,
        *((n, "Brand", "marketing") for n in "abc"),
        ("d", "Brand", "medical"),
        *((n, "Digital", "IT") for n in "efg"),
        *((n, "Safety", "medical") for n in "hi"),
        ("n", None, "IT"),
    )
    ids |= people(s, ("z", "Brand", "marketing"))
    s.get_one(Member, ids["z"]).active = False
    return ids


def test_shares_matrix_and_islands_by_hand(session: Session) -> None:
    p = _org(session)
    kudos(session, p["a"], p["b"], p["c"])  # Brand -> Brand twice, marketing inside
    kudos(session, p["a"], p["d"])  # Brand -> Brand, marketing -> medical
    kudos(session, p["e"], p["a"])  # Digital -> Brand, IT -> marketing
    kudos(session, p["f"], p["b"], private=True)  # private kudos count, as on the boards
    kudos(session, p["h"], p["i"])  # Safety -> Safety: an island of two
    kudos(session, p["g"], p["c"], outcome="hold")  # not published
    kudos(session, p["g"], p["a"], revoked=True)  # taken back
    kudos(session, p["z"], p["a"])  # a leaver's
    kudos(session, p["n"], p["e"])  # no team: only the function counts
    kudos(session, p["e"], p["f"], at=NOW - 5 * DAY)  # last week: Digital inside
    week = co.buckets(NOW, "week", 2)
    team = co.shares(session, week, "team", co.Scope(), 1)
    assert [(r.label, r.crossing, r.total) for r in team] == [
        ("2026-W47", 0, 1),
        ("2026-W48", 2, 6),
    ]
    function = co.shares(session, week, "function", co.Scope(), 1)
    assert [(r.crossing, r.total) for r in function] == [(0, 1), (3, 7)]
    assert function[-1].share == 3 / 7
    source = co.pairs(week[0].start, week[-1].end)
    m = co.matrix(session, source, "team", 1)
    assert m.names == ("Brand", "Digital", "Safety")
    assert m.cells == {
        ("Brand", "Brand"): 3,
        ("Digital", "Brand"): 2,
        ("Digital", "Digital"): 1,
        ("Safety", "Safety"): 1,
    }
    assert m.cell("Brand", "Digital") == 0
    assert co.islands(session, source, 2) == ("Safety",)
    assert co.islands(session, source, 3) == ()  # Safety has two people: not named
    # Region EU holds everyone; a team drill-down keeps pairs with a Safety person in them.
    assert co.shares(session, week, "team", co.Scope(region="EU"), 1) == team
    safety = co.matrix(
        session, co.pairs(week[0].start, week[-1].end, co.Scope(team="Safety")), "team", 1
    )
    assert safety.cells == {("Safety", "Safety"): 1}


def test_small_cells_are_held_back_with_a_second_one(session: Session) -> None:
    p = _org(session)
    kudos(session, p["a"], p["b"], p["c"], p["d"])  # Brand inside: 4 people
    kudos(session, p["e"], p["f"], p["g"])  # Digital inside: 3 people
    kudos(session, p["h"], p["i"])  # Safety inside: 2 people
    kudos(session, p["e"], p["a"])  # Digital -> Brand: 2 people
    source = co.pairs(NOW - 7 * DAY, NOW)
    m = co.matrix(session, source, "team", 3)
    # Safety's diagonal cell (2 people) is held; then Digital's (3), the smallest shown,
    # since 2 held-back people could be recovered from the chart's "inside" figures.
    assert m.cells[("Safety", "Safety")] is None
    assert m.cells[("Digital", "Digital")] is None
    assert m.cells[("Brand", "Brand")] == 3
    assert m.cells[("Digital", "Brand")] is None  # 2 people, alone in its class
    assert m.held == 3
    shares = co.shares(session, co.buckets(NOW, "week", 1), "team", co.Scope(), 3)
    assert (shares[0].crossing, shares[0].total, shares[0].share) == (None, None, None)


def test_engagement_per_head_and_inclusion(session: Session) -> None:
    p = _org(session)
    kudos(session, p["a"], p["b"], p["d"])
    kudos(session, p["b"], p["a"])
    kudos(session, p["e"], p["d"])  # d gave none: 2 kudos received without giving
    kudos(session, p["e"], p["f"], at=NOW - 40 * DAY)  # outside the period
    found = engagement.engagement(
        session, label="2026-W48", start=NOW - 7 * DAY, end=NOW, scope=co.Scope(), k=1
    )
    rows = {(r.by, r.name): r for r in found.rows}
    brand = rows[("team", "Brand")]  # a, b, c, d (z left)
    assert (brand.heads, brand.givers, brand.receivers, brand.received) == (4, 2, 3, 4)
    assert brand.inclusion == 2 and brand.per_head(brand.givers) == 0.5
    everyone = rows[("everyone", "everyone")]
    assert (everyone.heads, everyone.givers, everyone.receivers, everyone.inclusion) == (
        10,
        3,
        3,
        2,
    )
    assert rows[("region", "EU")].heads == 10 and rows[("therapeutic_area", "Oncology")].heads == 10
    digital = engagement.engagement(
        session, label="x", start=NOW - 7 * DAY, end=NOW, scope=co.Scope(team="Digital"), k=1
    )
    assert [(r.by, r.name, r.heads, r.givers) for r in digital.rows] == [
        ("everyone", "everyone", 3, 1),
        ("team", "Digital", 3, 1),
        ("region", "EU", 3, 1),
        ("therapeutic_area", "Oncology", 3, 1),
    ]


def test_engagement_holds_back_small_teams_and_what_subtraction_would_give(
    session: Session,
) -> None:
    _org(session)  # Brand 4, Digital 3, Safety 2, no team 1: 10 heads
    found = engagement.engagement(
        session, label="x", start=NOW - 7 * DAY, end=NOW, scope=co.Scope(), k=4
    )
    shown = {(r.by, r.name): r.heads for r in found.rows}
    # Brand alone (4) would leave 6 outside it: fine; Digital (3) and Safety (2) are small.
    assert shown[("team", "Brand")] == 4
    assert shown[("team", "Digital")] is None and shown[("team", "Safety")] is None
    assert shown[("everyone", "everyone")] == 10
    # With k=7 Brand's remainder (6) would be too small beside the total: Brand goes too.
    strict = engagement.engagement(
        session, label="x", start=NOW - 7 * DAY, end=NOW, scope=co.Scope(), k=7
    )
    assert {(r.by, r.name): r.heads for r in strict.rows}[("team", "Brand")] is None


def test_the_digest_line_counts_the_reports_kudos_this_month(session: Session) -> None:
    p = _org(session)
    boss = session.get_one(Member, p["d"])
    for name in "abc":
        session.get_one(Member, p[name]).manager_id = boss.id
    session.flush()
    kudos(session, p["a"], p["b"])  # inside marketing
    kudos(session, p["e"], p["c"])  # IT -> marketing: across
    kudos(session, p["a"], p["e"], at=datetime(2026, 10, 30, tzinfo=UTC))  # last month
    since = cf.month_start(NOW, ZoneInfo("Europe/Berlin"))
    assert since == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    ids = [p["a"], p["b"], p["c"]]
    assert cf.team_month(session, ids, since=since, now=NOW, k=2) == {"crossing": 1, "total": 2}
    assert cf.team_month(session, ids, since=since, now=NOW, k=3) == {"fewer_than": 3}
    assert cf.team_month(session, [p["h"]], since=since, now=NOW, k=1) is None
    assert cf.digest_line({"crossing": 1, "total": 2}) == [
        "Your team's cross-functional kudos this month: 1 of 2 (50%)."
    ]
    assert "fewer than 4 people" in cf.digest_line({"fewer_than": 4})[0]
    d = digests.build(session, boss, now=NOW, policy=KudosPolicy(), least=2)
    assert d is not None and d.cross_functional == {"crossing": 1, "total": 2}
    assert "Your team's cross-functional kudos this month: 1 of 2 (50%)." in digests.lines(d)
    held = digests.build(session, boss, now=NOW, policy=KudosPolicy(), least=9)
    assert held is not None and "not shown, fewer than 9 people" in "\n".join(digests.lines(held))


# -- the property: nothing below the threshold reaches a surface ---------------------------

TEAMS, FUNCTIONS = ("A", "B", "C"), ("x", "y")
Person = tuple[int, int]  # team, function indexes
Gift = tuple[int, int, int]  # giver, recipient (indexes into the people), days ago


def _people_behind(
    org: Sequence[Person], gifts: Sequence[Gift], keep: object
) -> tuple[int, set[int]]:
    """Pairs and distinct people of the gifts `keep` accepts (brute force)."""
    chosen = [(g, r) for g, r, _ago in gifts if keep(org[g], org[r])]  # type: ignore[operator]
    return len(chosen), {p for pair in chosen for p in pair}


_ENGINES: list[Engine] = []


def _engine() -> Engine:
    """One migrated in-memory database for every example, emptied before each."""
    if not _ENGINES:
        _ENGINES.append(make_engine("sqlite://"))
        migrate.upgrade(_ENGINES[0])
    with _ENGINES[0].begin() as c:
        for table in ("recognition_recipient", "recognition", "member"):
            c.execute(text(f"DELETE FROM {table}"))
    return _ENGINES[0]


def _at(n: int, ago: int) -> datetime:
    return NOW - timedelta(days=ago, minutes=n)


def _seed(engine: Engine, org: Sequence[Person], gifts: Sequence[Gift]) -> list[int]:
    with Session(engine) as s:
        ids = list(
            people(s, *((f"p{i}", TEAMS[t], FUNCTIONS[f]) for i, (t, f) in enumerate(org))).values()
        )
        for n, (g, r, ago) in enumerate(gifts):
            if g != r:
                kudos(s, ids[g], ids[r], at=_at(n, ago))
        s.commit()
    return ids


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    org=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1)), min_size=2, max_size=9),
    raw=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(0, 12)), max_size=25),
    k=st.integers(2, 4),
)
def test_no_figure_below_the_threshold_reaches_any_surface(
    org: list[Person], raw: list[Gift], k: int
) -> None:
    gifts = [(g % len(org), r % len(org), ago) for g, r, ago in raw if g % len(org) != r % len(org)]
    engine = _engine()
    _seed(engine, org, gifts)
    with Session(engine) as s:
        found = co.collaboration(s, now=NOW, every="week", scope=co.Scope(), k=k)
        eng = engagement.engagement(
            s, label="w", start=NOW - 7 * DAY, end=NOW, scope=co.Scope(), k=k
        )
    recent = [g for n, g in enumerate(gifts) if NOW - 7 * DAY <= _at(n, g[2]) < NOW]
    for by, index in (("team", 0), ("function", 1)):
        # The matrix counts the periods whose share is shown, and only those.
        periods = found.shares[by]  # type: ignore[index]
        kept = [p for p, sh in zip(found.periods, periods, strict=True) if sh.total is not None]
        visible = [
            g for n, g in enumerate(gifts) if any(p.start <= _at(n, g[2]) < p.end for p in kept)
        ]
        for (giver, taker), shown in found.matrices[by].cells.items():  # type: ignore[index]
            if shown is None:
                continue
            names = TEAMS if by == "team" else FUNCTIONS
            n, behind = _people_behind(
                org,
                visible,
                lambda a, b: names[a[index]] == giver and names[b[index]] == taker,  # noqa: B023
            )
            assert shown == n and len(behind) >= k
        for share in found.shares[by]:  # type: ignore[index]
            if share.total is None or not share.total:
                continue
            assert share.crossing is not None
            period = next(b for b in found.periods if b.label == share.label)
            inside = [g for n, g in enumerate(gifts) if period.start <= _at(n, g[2]) < period.end]
            for across in (True, False):
                n, behind = _people_behind(
                    org,
                    inside,
                    lambda a, b: (a[index] != b[index]) == across,  # noqa: B023
                )
                assert n == 0 or len(behind) >= k
    for row in eng.rows:
        if row.held:
            continue
        members = [
            i
            for i, (t, _f) in enumerate(org)
            if row.by in ("everyone", "region", "therapeutic_area")
            or (row.by == "team" and TEAMS[t] == row.name)
        ]
        assert row.heads == len(members) >= k
        assert row.givers == len({g for g, _r, ago in recent if g in members})
    held = [r for r in eng.rows if r.held and r.by == "team"]
    shown_teams = [r for r in eng.rows if not r.held and r.by == "team"]
    everyone = next(r for r in eng.rows if r.by == "everyone")
    if everyone.heads is not None and held:
        # Total minus the teams shown covers the held-back teams: never fewer than k people.
        assert everyone.heads - sum(r.heads or 0 for r in shown_teams) >= k


def test_combinations_are_few_rows_not_people(session: Session) -> None:
    _org(session)
    combos, _as_of = engagement.combinations(session, NOW - 7 * DAY, NOW, co.Scope())
    assert len(combos) == 4  # Brand, Digital, Safety, no team: grouped in SQL
    assert sorted(f[0] for _g, f in combos) == [1, 2, 3, 4]
    assert list(itertools.chain.from_iterable(g for g, _f in combos))


def test_a_held_month_cannot_be_read_off_the_matrix(session: Session) -> None:
    """September's kudos between A and B are shown (six people behind them), November's
    (one giver, one recipient) are held back; the matrix counts the months shown only, so
    its cell less September's figure does not give November's away."""
    names = [(f"a{n}", "A", "Sales") for n in range(3)] + [(f"b{n}", "B", "IT") for n in range(3)]
    ids = people(session, *names)
    september, november = datetime(2026, 9, 10, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)
    for n in range(3):  # Sept: a0, a1, a2 to b0, b1, b2, twice each
        for twice in range(2):
            kudos(session, ids[f"a{n}"], ids[f"b{n}"], at=september + n * DAY + twice * HOUR)
    for thrice in range(3):  # Nov: a0 to b0 only
        kudos(session, ids["a0"], ids["b0"], at=november + thrice * HOUR)
    session.commit()
    found = co.collaboration(session, now=NOW, every="month", scope=co.Scope(), k=5)
    months = {s.label: s for s in found.shares["team"]}
    assert (months["2026-09"].crossing, months["2026-09"].total) == (6, 6)
    assert months["2026-11"].crossing is None  # two people behind it
    assert found.matrices["team"].cells.get(("A", "B")) == 6  # September's only


def test_a_drill_down_cannot_be_subtracted_from_the_whole_view(session: Session) -> None:
    """Team A: five people in EU, two in US. The EU drill-down may not show team A's five,
    since the whole view's seven less them would be the two in US; and the kudos a
    drill-down leaves out must stand behind nobody or the threshold, for the shares too."""
    ids = {}
    for n, region in enumerate(["EU"] * 5 + ["US"] * 2):
        m = Member(display_name=f"a{n}", email=f"a{n}@example.com", team="A",
                   function="Sales", region=region, therapeutic_area="Oncology")  # fmt: skip
        session.add(m)
        session.flush()
        ids[n] = m.id or 0
    for n in range(6):  # everyone but a6 gives; a5 (US) to a6 (US) is the part left out
        kudos(session, ids[n], ids[(n + 1) % 7], at=NOW - DAY - n * HOUR)
    session.commit()
    week = (NOW - 7 * DAY, NOW)
    whole = engagement.engagement(session, label="w", start=week[0], end=week[1],
                                  scope=co.Scope(), k=3)  # fmt: skip
    eu = engagement.engagement(session, label="w", start=week[0], end=week[1],
                               scope=co.Scope(region="EU"), k=3)  # fmt: skip
    shown = {(r.by, r.name): r.heads for r in whole.rows if not r.held}
    assert shown[("team", "A")] == 7
    in_eu = {(r.by, r.name): r.heads for r in eu.rows if not r.held}
    assert ("team", "A") not in in_eu  # 7 - 5 would be the two in US
    narrowed = co.collaboration(session, now=NOW, every="week", scope=co.Scope(region="EU"), k=3)
    # Pairs with a side in EU: a0..a4 giving, a5 receiving; left out: a5 -> a6, two people.
    (this_week,) = [s for s in narrowed.shares["team"] if s.label == "2026-W48"]
    assert this_week.total is None
    whole_share = co.collaboration(session, now=NOW, every="week", scope=co.Scope(), k=3)
    assert [s.total for s in whole_share.shares["team"] if s.label == "2026-W48"] == [6]
