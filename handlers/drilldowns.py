"""The collaboration view from the kept rollups: the whole, or a drill-down (one region,
therapeutic area or team).

The drill-down keeps the pairs with either person inside it; the rollups hold them per
period, cell and class (`rollup_tally`), so its own figures are read as the whole view's
are. What a drill-down leaves out (the pairs with neither person inside) must stand behind
nobody or at least `k` people too, or the whole view less the drill-down would give a small
group away. That rest is not kept; it is decided from what is:

- its pairs are the whole's less the drill-down's, exactly;
- its people are at least the whole's less the drill-down's (the whole's people are the
  rest's and the drill-down's together), in any one period;
- its people are at most the whole's.

No pairs: nobody. At least `k` by the lower bound: enough. Fewer than `k` people in the
whole: too few. Anything else cannot be decided from the rollups, and the page counts from
the recognitions as before (`kept` gives None), as it does for a drill-down by more than
one field and a threshold above `CAP`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlmodel import Session

from handlers import collaboration as co
from handlers import rollups
from handlers.rollup_tally import CAP, NOBODY, WHOLE, Scoped

UNSAFE, SAFE = 1, CAP  # a rest's people, as far as a threshold up to CAP can tell


def scoped(scope: co.Scope) -> Scoped | None:
    """The one (dimension, value) a drill-down is by, or None (several, or none)."""
    chosen = [
        (dimension, value)
        for dimension, value in (
            ("team", scope.team),
            ("region", scope.region),
            ("therapeutic_area", scope.therapeutic_area),
        )
        if value is not None
    ]
    return chosen[0] if len(chosen) == 1 else None


def rest(left: int, lower: int, whole: int | None, k: int) -> int | None:
    """The people of what a drill-down leaves out, as far as threshold `k` can tell (0,
    UNSAFE or SAFE); None: undecided. `left`: its pairs; `lower`: the most, in any one
    period, of the whole's people less the drill-down's; `whole`: the whole's distinct
    people when every period has fewer than `k` (None otherwise)."""
    if left == 0:
        return 0
    if lower >= k:
        return SAFE
    if whole is not None and whole < k:
        return UNSAFE
    return None


def kept(
    session: Session, every: co.Every, periods: tuple[co.Bucket, ...], scope: co.Scope, k: int
) -> co.Collaboration | None:
    """The whole view's or a drill-down's figures from the kept rollups, the same as
    counted from the recognitions when they were computed; None when they cannot be read
    or decided."""
    chosen = scoped(scope) if scope.narrowed else WHOLE
    if chosen is None or k > CAP:
        return None
    labels = [p.label for p in periods]
    as_of = rollups.computed(session, every, labels)
    if as_of is None:
        return None
    shares = _shares(session, every, periods, chosen, k)
    if shares is None:
        return None
    matrices = {}
    for by in co.BOUNDARIES:
        shown = [
            p.label for p, share in zip(periods, shares[by], strict=True) if share.total is not None
        ]
        left_out = _left_out(session, every, labels, chosen, by, k) if chosen != WHOLE else {}
        if left_out is None:
            return None
        found = _inside(session, every, shown, chosen, by, k)
        matrices[by] = co.held_matrix(by, found, left_out, k)
    pair = rollups.PAIR
    teams = co.execute(
        session,
        select(pair.c.giver_side, pair.c.recipient_side)
        .where(*_of(pair, every, labels, chosen), pair.c.boundary == "team")
        .distinct(),
    )
    return co.Collaboration(
        every=every,
        periods=periods,
        threshold=k,
        shares=shares,
        matrices=matrices,
        islands=co.held_islands(session, {(g or None, r or None) for g, r in teams}, k),
        as_of=as_of,
    )


def _of(table: Any, every: str, labels: Sequence[str], chosen: Scoped) -> list[ColumnElement[bool]]:
    return [
        table.c.every == every,
        table.c.label.in_(list(labels)),
        table.c.dimension == chosen[0],
        table.c.value == chosen[1],
    ]


def _shares(
    session: Session, every: co.Every, periods: tuple[co.Bucket, ...], chosen: Scoped, k: int
) -> dict[co.Boundary, tuple[co.Share, ...]] | None:
    """Each period's shares of the drill-down, its classes read whole; None: undecided."""
    share = rollups.SHARE
    index = {p.label: i for i, p in enumerate(periods)}
    kept: dict[Scoped, dict[tuple[int, str, int], tuple[int, int]]] = {}
    for drill_down in (WHOLE, chosen):
        rows = co.execute(
            session,
            select(
                share.c.label, share.c.boundary, share.c.across, share.c.pairs, share.c.persons
            ).where(*_of(share, every, list(index), drill_down)),
        )
        kept[drill_down] = {(index[lb], by, a): (n, people) for lb, by, a, n, people in rows}
    found: dict[co.Boundary, tuple[co.Share, ...]] = {}
    for by in co.BOUNDARIES:
        inside = {(i, a): v for (i, b, a), v in kept[chosen].items() if b == by}
        left: dict[co.Key, tuple[int, int]] = {}
        for i in range(len(periods) if chosen != WHOLE else 0):
            for a in (0, 1):
                w, d = kept[WHOLE].get((i, by, a), (0, 0)), inside.get((i, a), (0, 0))
                people = rest(w[0] - d[0], w[1] - d[1], w[1] if w[1] < k else None, k)
                if people is None:
                    return None
                left[(i, a)] = (0, people)
        found[by] = co.held_shares(periods, inside, left, k)
    return found


def _small(table: Any, k: int) -> Any:
    """The people ids of a cell's periods with fewer than `k` people, joined by commas."""
    return func.aggregate_strings(case((table.c.persons < k, table.c.people)), ",")


def _inside(
    session: Session, every: co.Every, labels: Sequence[str], chosen: Scoped, by: str, k: int
) -> dict[co.Key, tuple[int, int]]:
    """The drill-down's cells over `labels`: pairs, and people as far as `k` can tell
    (exact below it, at least `k` otherwise: all a threshold or the matrix's order uses)."""
    pair = rollups.PAIR
    sides = (pair.c.giver_side, pair.c.recipient_side)
    rows = co.execute(
        session,
        select(*sides, func.sum(pair.c.pairs), func.max(pair.c.persons), _small(pair, k))
        .where(*_of(pair, every, labels, chosen), pair.c.boundary == by)
        .where(*(side != NOBODY for side in sides))
        .group_by(*sides),
    )
    return {(g, r): (int(n), _up_to(int(most), ids, k)) for g, r, n, most, ids in rows}


def _up_to(most: int, ids: str | None, k: int) -> int:
    return most if most >= k else len(set(ids.split(","))) if ids else 0


def _left_out(
    session: Session, every: co.Every, labels: Sequence[str], chosen: Scoped, by: str, k: int
) -> dict[co.Key, tuple[int, int]] | None:
    """What the drill-down leaves out of each of the whole's cells over `labels`, decided
    (`rest`); None: a cell is undecided."""
    whole, inside = rollups.PAIR.alias("whole"), rollups.PAIR.alias("inside")
    sides = (whole.c.giver_side, whole.c.recipient_side)
    joined = whole.outerjoin(
        inside,
        and_(
            inside.c.every == whole.c.every,
            inside.c.label == whole.c.label,
            inside.c.dimension == chosen[0],
            inside.c.value == chosen[1],
            inside.c.boundary == whole.c.boundary,
            inside.c.giver_side == whole.c.giver_side,
            inside.c.recipient_side == whole.c.recipient_side,
        ),
    )
    zero = literal(0)
    rows = co.execute(
        session,
        select(
            *sides,
            func.sum(whole.c.pairs - func.coalesce(inside.c.pairs, zero)),
            func.max(whole.c.persons - func.coalesce(inside.c.persons, zero)),
            func.max(whole.c.persons),
            _small(whole, k),
        )
        .select_from(joined)
        .where(*_of(whole, every, labels, WHOLE), whole.c.boundary == by)
        .where(*(side != NOBODY for side in sides))
        .group_by(*sides),
    )
    found: dict[co.Key, tuple[int, int]] = {}
    for g, r, left, lower, most, ids in rows:
        people = rest(int(left), int(lower), _up_to(int(most), ids, k) if most < k else None, k)
        if people is None:
            return None
        found[(g, r)] = (0, people)
    return found
