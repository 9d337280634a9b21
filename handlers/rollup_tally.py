"""Counting one period's giver-recipient pairs into the kept rollups' cells.

Every pair is counted for the whole organisation and for each drill-down it falls in: the
team, region and therapeutic area of its giver and of its recipient (one drill-down when
both share it), as the collaboration page's drill-down keeps the pairs with either person
inside. Within each, by boundary (team, function):

- a cell per (giver side, recipient side): pairs, the exact number of distinct people
  behind them, and up to `CAP` of their ids (the union of capped sets over several periods
  tells whether any threshold up to `CAP` is met);
- a class per across (1) or inside (0) the boundary, among pairs with both sides known:
  pairs and exact distinct people, what a period's share is thresholded on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CAP = 32  # people kept per cell: thresholds up to this are decided exactly
NOBODY = ""  # a side the roster leaves empty, or the whole organisation's drill-down
WHOLE = (NOBODY, NOBODY)  # (dimension, value) of the whole organisation
DIMENSIONS = ("team", "region", "therapeutic_area")

Scoped = tuple[str, str]  # (dimension, value): WHOLE, or e.g. ("region", "EMEA")
CellKey = tuple[str, str, str, str, str]  # dimension, value, boundary, giver, recipient sides
ClassKey = tuple[str, str, str, int]  # dimension, value, boundary, across


@dataclass
class Tally:
    pairs: int = 0
    people: set[int] = field(default_factory=set)

    def capped(self) -> str:
        return ",".join(map(str, sorted(self.people)[:CAP]))


CELL = ("dimension", "value", "boundary", "giver_side", "recipient_side")
CLASS = ("dimension", "value", "boundary", "across")


@dataclass
class Counted:
    cells: dict[CellKey, Tally]
    classes: dict[ClassKey, Tally]
    members: dict[int, list[int]]  # member id: [given, received]
    pairs: int

    def rows(self, key: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        """Rows of pair_rollup, share_rollup and member_rollup, each with `key`."""
        return {
            "pair_rollup": [
                {
                    **key,
                    **dict(zip(CELL, cell_key, strict=True)),
                    "pairs": cell.pairs,
                    "persons": len(cell.people),
                    "people": cell.capped(),
                }
                for cell_key, cell in self.cells.items()
            ],
            "share_rollup": [
                {
                    **key,
                    **dict(zip(CLASS, class_key, strict=True)),
                    "pairs": kind.pairs,
                    "persons": len(kind.people),
                }
                for class_key, kind in self.classes.items()
            ],
            "member_rollup": [
                {**key, "member_id": m, "given": given, "received": received}
                for m, (given, received) in self.members.items()
            ],
        }


def tally(rows: Iterable[Any]) -> Counted:
    """Cells, classes and members' kudos from (giver, recipient, teams, functions, regions,
    therapeutic areas) rows, giver's side first in each."""
    cells: dict[CellKey, Tally] = {}
    classes: dict[ClassKey, Tally] = {}
    members: dict[int, list[int]] = {}
    counted = 0
    for giver, recipient, g_team, r_team, g_fn, r_fn, g_region, r_region, g_ta, r_ta in rows:
        counted += 1
        scopes: list[Scoped] = [WHOLE]
        for dimension, g, r in (
            ("team", g_team, r_team),
            ("region", g_region, r_region),
            ("therapeutic_area", g_ta, r_ta),
        ):
            if g is not None:
                scopes.append((dimension, g))
            if r is not None and r != g:
                scopes.append((dimension, r))
        for by, g, r in (("team", g_team, r_team), ("function", g_fn, r_fn)):
            sides = (g or NOBODY, r or NOBODY)
            across = None if g is None or r is None else int(g != r)
            for dimension, value in scopes:
                cell = cells.get((dimension, value, by, *sides))
                if cell is None:
                    cell = cells[(dimension, value, by, *sides)] = Tally()
                cell.pairs += 1
                cell.people.update((giver, recipient))
                if across is not None:
                    kind = classes.get((dimension, value, by, across))
                    if kind is None:
                        kind = classes[(dimension, value, by, across)] = Tally()
                    kind.pairs += 1
                    kind.people.update((giver, recipient))
        members.setdefault(giver, [0, 0])[0] += 1
        members.setdefault(recipient, [0, 0])[1] += 1
    return Counted(cells, classes, members, counted)
