"""Engagement rates: active givers and receivers per head by team, region and therapeutic
area in a week or month, and the kudos received by people who gave none (inclusion).

Heads are the active members (not bots) of a group. Members are counted in SQL, grouped by
their (team, region, therapeutic area); the groups are made from those combinations. A
group is shown only when it holds at least the threshold of heads, and the groups shown pass
a complementary suppression over all three dimensions and the total together (as survey
breakdowns do): every cell of their Venn diagram holds nobody or at least the threshold of
heads, so no total minus groups, overlap or remainder narrows down to fewer people.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, literal, select
from sqlmodel import Session

from handlers import rollups
from handlers.collaboration import M, Scope, execute, pairs, safe

Group = tuple[str, str]  # (everyone | team | region | therapeutic_area, name)
DIMENSIONS = ("team", "region", "therapeutic_area")
EVERYONE: Group = ("everyone", "everyone")


@dataclass(frozen=True)
class Row:
    """One group's figures in the period; every figure None when the group is held back."""

    by: str
    name: str
    heads: int | None
    givers: int | None  # active givers: gave at least one kudos
    receivers: int | None  # active receivers: received at least one
    received: int | None  # kudos (points) received
    inclusion: int | None  # of those, received by people who gave none

    @property
    def held(self) -> bool:
        return self.heads is None

    def per_head(self, figure: int | None) -> float | None:
        return None if figure is None or not self.heads else figure / self.heads


@dataclass(frozen=True)
class Engagement:
    label: str
    threshold: int
    rows: tuple[Row, ...]  # everyone first, then teams, regions, areas, names sorted
    as_of: datetime | None = None  # counted from rollups computed then

    @property
    def held(self) -> int:
        return sum(1 for r in self.rows if r.held)


Figures = tuple[int, int, int, int, int]  # heads, givers, receivers, received, inclusion


def combinations(
    session: Session, start: datetime, end: datetime, scope: Scope
) -> tuple[list[tuple[frozenset[Group], Figures]], datetime | None]:
    """Each (team, region, therapeutic area) combination of members in `scope`, with its
    figures for [start, end), counted in SQL: members' kudos from the kept rollups when
    they cover the span exactly (and when they were computed), else from the recognitions."""
    kept = rollups.covering(session, start, end)
    if kept is not None:
        every, labels, as_of = kept
        gave, got = rollups.member_counts(every, labels)
    else:
        as_of = None
        source = pairs(start, end)
        gave = (
            select(source.c.giver.label("id"), func.count().label("n"))
            .group_by(source.c.giver)
            .subquery("gave")
        )
        got = (
            select(source.c.recipient.label("id"), func.count().label("n"))
            .group_by(source.c.recipient)
            .subquery("got")
        )
    one, zero = literal(1), literal(0)
    stmt = (
        select(
            M.c.team,
            M.c.region,
            M.c.therapeutic_area,
            func.count(),
            func.sum(case((gave.c.n > 0, one), else_=zero)),
            func.sum(case((got.c.n > 0, one), else_=zero)),
            func.sum(func.coalesce(got.c.n, 0)),
            func.sum(case((gave.c.n.is_(None), func.coalesce(got.c.n, 0)), else_=zero)),
        )
        .select_from(M)
        .outerjoin(gave, gave.c.id == M.c.id)
        .outerjoin(got, got.c.id == M.c.id)
        .where(M.c.active.is_(True), M.c.is_bot.is_(False), scope.where(M))
        .group_by(M.c.team, M.c.region, M.c.therapeutic_area)
    )
    found = []
    for team, region, area, *figures in execute(session, stmt):
        groups = {EVERYONE} | {
            (by, str(name))
            for by, name in zip(DIMENSIONS, (team, region, area), strict=True)
            if name is not None
        }
        heads, givers, receivers, received, inclusion = (int(f or 0) for f in figures)
        found.append((frozenset(groups), (heads, givers, receivers, received, inclusion)))
    return found, as_of


def shown_groups(
    combos: Iterable[tuple[frozenset[Group], int]], candidates: Iterable[Group], k: int
) -> frozenset[Group]:
    """The candidate groups that may be shown: each holds at least `k` heads and every cell
    of their Venn diagram (with the total) holds none or at least `k`. The survey results'
    rule, over weighted combinations of members rather than one entry per person."""
    weighted = list(combos)
    size: Counter[Group] = Counter()
    for groups, heads in weighted:
        for group in groups:
            size[group] += heads
    shown = {g for g in candidates if size[g] >= k}
    while shown:
        cells: Counter[frozenset[Group]] = Counter()
        for groups, heads in weighted:
            cells[groups & shown] += heads
        small = sorted((n, sorted(c), c) for c, n in cells.items() if 0 < n < k)
        if not small:
            break
        cell = small[0][2]
        merging = [g for g in shown if cells.get(cell ^ {g}, 0) > 0]
        around = merging or [g for g in shown if g in cell] or list(shown)
        shown.discard(min(around, key=lambda g: (size[g], g)))
    return frozenset(shown)


def engagement(
    session: Session, *, label: str, start: datetime, end: datetime, scope: Scope, k: int
) -> Engagement:
    """Every group's figures in [start, end), held back as the module says; the total row
    (everyone in the scope) is held back when it has fewer than `k` heads."""
    combos, as_of = combinations(session, start, end, scope)
    totals: dict[Group, list[int]] = {}
    for groups, figures in combos:
        for group in groups:
            totals.setdefault(group, [0] * 5)
            totals[group] = [a + b for a, b in zip(totals[group], figures, strict=True)]
    named = [g for g in totals if g != EVERYONE]
    shown = shown_groups(((g - {EVERYONE}, f[0]) for g, f in combos), named, k)
    if totals.get(EVERYONE, [0])[0] >= k:
        shown |= {EVERYONE}
    if scope.narrowed:  # the whole view less this one must not narrow to a few people
        shown &= apart(session, start, end, scope, k)
    order = {"everyone": 0, **{by: i + 1 for i, by in enumerate(DIMENSIONS)}}
    rows = []
    for group in sorted(totals, key=lambda g: (order[g[0]], g[1])):
        if group in shown:
            heads, givers, receivers, received, inclusion = totals[group]
            rows.append(Row(*group, heads, givers, receivers, received, inclusion))
        else:
            rows.append(Row(*group, None, None, None, None, None))
    return Engagement(label, k, tuple(rows), as_of)


SCOPE: Group = ("scope", "inside")


def _inside(groups: frozenset[Group], scope: Scope) -> bool:
    wanted = (
        ("team", scope.team),
        ("region", scope.region),
        ("therapeutic_area", scope.therapeutic_area),
    )
    return all(value is None or (by, value) in groups for by, value in wanted)


def apart(
    session: Session, start: datetime, end: datetime, scope: Scope, k: int
) -> frozenset[Group]:
    """The groups a drill-down may show: checked over everyone, with the drill-down as one
    more group, so that each group's part inside it and its part outside it (what the whole
    view less the drill-down's gives) both hold nobody or at least `k` people. Nothing, when
    the drill-down itself cannot stand beside the rest."""
    combos = [
        (groups | {SCOPE} if _inside(groups, scope) else groups, figures[0])
        for groups, figures in combinations(session, start, end, Scope())[0]
    ]
    named = {g for groups, _heads in combos for g in groups if g != EVERYONE}
    shown = shown_groups(((g - {EVERYONE}, heads) for g, heads in combos), named, k)
    if SCOPE not in shown:
        return frozenset()
    outside = sum(heads for groups, heads in combos if SCOPE not in groups)
    return frozenset(shown | ({EVERYONE} if safe(outside, k) else set()))
