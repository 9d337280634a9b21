"""A collaboration drill-down (one region, therapeutic area or team) from the kept rollups.

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
the recognitions as before (`drill` gives None), as it does for a drill-down by more than
one field and a threshold above `CAP`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import case, literal, select
from sqlmodel import Session

from handlers import collaboration as co
from handlers import rollups
from handlers.rollup_tally import CAP, WHOLE, Scoped

UNSAFE, SAFE = 1, CAP  # a rest's people, as far as a threshold up to CAP can tell


class Figures(NamedTuple):
    """One period's cell or class of the whole or the drill-down."""

    pairs: int
    persons: int
    people: str  # up to CAP of their ids, "3,17,40" (cells only)


Cells = dict[tuple[int, str, str | None, str | None], Figures]  # period, boundary, sides
Classes = dict[tuple[int, str, int], Figures]  # period, boundary, across


@dataclass(frozen=True)
class Read:
    cells: dict[Scoped, Cells]
    classes: dict[Scoped, Classes]


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


def read(session: Session, every: co.Every, labels: Sequence[str], drill: Scoped, k: int) -> Read:
    """The whole's and the drill-down's cells and classes of these periods; a cell's people
    only when fewer than `k` (nothing else needs them)."""
    index = {label: i for i, label in enumerate(labels)}
    pair, share = rollups.PAIR, rollups.SHARE
    read = Read({}, {})
    for dimension, value in (WHOLE, drill):
        cells: Cells = {}
        for label, by, g, r, n, persons, people in co.execute(
            session,
            select(
                pair.c.label,
                pair.c.boundary,
                pair.c.giver_side,
                pair.c.recipient_side,
                pair.c.pairs,
                pair.c.persons,
                case((pair.c.persons < k, pair.c.people), else_=literal("")),
            ).where(
                pair.c.every == every,
                pair.c.label.in_(list(labels)),
                pair.c.dimension == dimension,
                pair.c.value == value,
            ),
        ).all():
            cells[(index[label], by, g or None, r or None)] = Figures(n, persons, people)
        classes: Classes = {}
        for label, by, across, n, persons in co.execute(
            session,
            select(
                share.c.label, share.c.boundary, share.c.across, share.c.pairs, share.c.persons
            ).where(
                share.c.every == every,
                share.c.label.in_(list(labels)),
                share.c.dimension == dimension,
                share.c.value == value,
            ),
        ).all():
            classes[(index[label], by, across)] = Figures(n, persons, "")
        read.cells[(dimension, value)], read.classes[(dimension, value)] = cells, classes
    return read


def rest(whole: Iterable[Figures], inside: Iterable[Figures], k: int) -> int | None:
    """The people of what a drill-down leaves out, as far as threshold `k` can tell (0,
    UNSAFE or SAFE), from the whole's and the drill-down's figures of the same periods
    (in the same order, absent ones as empty); None: undecided."""
    whole, inside = list(whole), list(inside)
    if sum(w.pairs for w in whole) == sum(i.pairs for i in inside):
        return 0
    if max(w.persons - i.persons for w, i in zip(whole, inside, strict=True)) >= k:
        return SAFE
    if all(w.persons < k for w in whole) and (len(whole) == 1 or _union(whole) < k):
        return UNSAFE
    return None


NONE = Figures(0, 0, "")


def drill(
    session: Session, every: co.Every, periods: tuple[co.Bucket, ...], scope: co.Scope, k: int
) -> co.Collaboration | None:
    """The drill-down's figures from the kept rollups, the same as counted from the
    recognitions when they were computed; None when they cannot be read or decided."""
    chosen = scoped(scope)
    if chosen is None or k > CAP:
        return None
    labels = [p.label for p in periods]
    as_of = rollups.computed(session, every, labels)
    if as_of is None:
        return None
    kept = read(session, every, labels, chosen, k)
    n = range(len(periods))
    shares: dict[co.Boundary, tuple[co.Share, ...]] = {}
    for by in co.BOUNDARIES:
        whole, inside = kept.classes[WHOLE], kept.classes[chosen]
        found = {(i, a): (f.pairs, f.persons) for (i, b, a), f in inside.items() if b == by}
        left: dict[co.Key, tuple[int, int]] = {}
        for i in n:
            for a in (0, 1):
                people = rest([whole.get((i, by, a), NONE)], [inside.get((i, by, a), NONE)], k)
                if people is None:
                    return None
                left[(i, a)] = (0, people)
        shares[by] = co.held_shares(periods, found, left, k)
    matrices = {}
    for by in co.BOUNDARIES:
        matrix = _matrix(kept, chosen, by, shares[by], n, k)
        if matrix is None:
            return None
        matrices[by] = matrix
    teams = {(g, r) for (_i, b, g, r) in kept.cells[chosen] if b == "team"}
    return co.Collaboration(
        every=every,
        periods=periods,
        threshold=k,
        shares=shares,
        matrices=matrices,
        islands=co.held_islands(session, teams, k),
        as_of=as_of,
    )


def _matrix(
    kept: Read,
    chosen: Scoped,
    by: co.Boundary,
    shares: Sequence[co.Share],
    n: range,
    k: int,
) -> co.Matrix | None:
    """The drill-down's matrix over its shown periods; what it leaves out over them all."""
    shown = {i for i, share in enumerate(shares) if share.total is not None}
    whole, inside = kept.cells[WHOLE], kept.cells[chosen]
    by_cell: dict[co.Key, list[Figures]] = {}
    for (i, b, g, r), f in inside.items():
        if b == by and i in shown and g is not None and r is not None:
            by_cell.setdefault((g, r), []).append(f)
    found = {key: (sum(f.pairs for f in cells), _up_to(cells, k)) for key, cells in by_cell.items()}
    left_out: dict[co.Key, tuple[int, int]] = {}
    sides = {(g, r) for (_i, b, g, r) in whole if b == by and g is not None and r is not None}
    for g, r in sides:
        people = rest(
            (whole.get((i, by, g, r), NONE) for i in n),
            (inside.get((i, by, g, r), NONE) for i in n),
            k,
        )
        if people is None:
            return None
        left_out[(g, r)] = (0, people)
    return co.held_matrix(by, found, left_out, k)


def _up_to(cells: Sequence[Figures], k: int) -> int:
    """The distinct people of one cell's periods, as far as threshold `k` can tell: exact
    below `k`, otherwise at least `k` (all a threshold, or the matrix's order, looks at)."""
    most = max(f.persons for f in cells)
    return most if most >= k or len(cells) == 1 else _union(cells)


def _union(cells: Iterable[Figures]) -> int:
    """The distinct people of cells each with fewer than `k` people (all of them read)."""
    return len({p for f in cells if f.people for p in f.people.split(",")})
