"""Complementary suppression: which group figures may be shown beside a total.

A figure over a group is safe alone when the group holds at least `k` answers, but figures
combine: the company-wide mean over six answers minus a team's mean over five is the sixth
answer, and so is a region's minus a team inside it. Every figure published for a question
(count, distribution, mean, eNPS) is a sum over the people it covers, so what any set of
them can reveal is a sum over a cell of their Venn diagram: the people inside exactly the
same shown groups (and the total). A set of groups may be shown only when every such cell
holds nobody or at least `k` people; then any total minus groups, group minus group, overlap
or remainder covers nobody or at least `k` answers, and no answer is determined.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

Group = tuple[str, str]  # (team | region, name)
Memberships = Mapping[str, frozenset[Group]]  # respondent -> the groups their answer counts in


def sizes(people: Memberships) -> Counter[Group]:
    """How many of `people` each group holds."""
    return Counter(group for groups in people.values() for group in groups)


def cells(people: Memberships, shown: Iterable[Group]) -> Counter[frozenset[Group]]:
    """The Venn diagram of the total and the shown groups: how many people are in exactly
    each combination of shown groups (the empty combination: in the total only)."""
    chosen = frozenset(shown)
    return Counter(groups & chosen for groups in people.values())


def shown_groups(people: Memberships, candidates: Iterable[Group], k: int) -> frozenset[Group]:
    """The candidates that may be shown beside the total of `people`: each holds at least
    `k` of them, and every cell of their Venn diagram holds none or at least `k`.

    Groups are dropped one at a time until that holds (it always does in the end: with no
    group left, the one cell is the total, whose own threshold is the caller's). A cell
    that is too small is merged with a neighbouring one by dropping the smallest group that
    separates them; when no neighbour has anyone in it, the smallest group around the cell
    (or of all, for the remainder) goes.
    """
    count = sizes(people)
    shown = {g for g in candidates if count[g] >= k}
    while shown:
        diagram = cells(people, shown)
        small = sorted(
            (cell for cell, n in diagram.items() if 0 < n < k),
            key=lambda cell: (diagram[cell], sorted(cell)),
        )
        if not small:
            break
        shown.discard(_to_drop(small[0], diagram, shown, count))
    return frozenset(shown)


def _to_drop(
    cell: frozenset[Group],
    diagram: Counter[frozenset[Group]],
    shown: set[Group],
    count: Counter[Group],
) -> Group:
    """The group whose removal best mends the too-small `cell`: the smallest one whose
    removal merges the cell with a non-empty neighbour, else the smallest one around it."""

    def smallest(groups: Iterable[Group]) -> Group | None:
        return min(groups, key=lambda g: (count[g], g), default=None)

    merging = smallest(g for g in shown if diagram.get(cell ^ {g}, 0) > 0)
    chosen = merging or smallest(cell) or smallest(shown)
    assert chosen is not None  # called only while some group is shown
    return chosen
