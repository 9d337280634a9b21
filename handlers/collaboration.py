"""Cross-functional recognition: the share of kudos crossing a team or function boundary
over time, who recognises whom (team x team, function x function) and the teams that are
islands; a figure with fewer people behind it than the anonymity threshold is never given.

A kudos to two people is two giver-recipient pairs, as it is two points. Only published
kudos count (passed or warned, not taken back), private ones too, as on the boards (no words
are shown here); both people are active members and not bots. A pair counts for a boundary
only when the roster gives both people that field. A drill-down (region, therapeutic area,
team) keeps the pairs with either person inside it.

Held back: a figure whose pairs involve fewer than `threshold` distinct people (givers and
recipients together). A share is shown only when both its parts (across, inside) are empty
or reach the threshold, so the total minus the crossing ones gives nothing away. The matrix
has no totals; since the share chart's periods add up to its two classes of cells (the
diagonal, and the rest), a class with a held-back cell holds back more of its smallest cells
until the held-back people of that class reach the threshold (at least a second cell).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Subquery,
    and_,
    case,
    false,
    func,
    not_,
    or_,
    select,
    true,
    union,
)
from sqlmodel import Session

from handlers import drilldowns
from handlers.surveys import Survey
from storage.models import Member, Recognition, RecognitionRecipient
from storage.models.recognition import PUBLISHED

MIN_GROUP = 5  # a survey's `min_responses` when plaudit.yaml sets none
Every = Literal["week", "month"]
Boundary = Literal["team", "function"]
BOUNDARIES: tuple[Boundary, ...] = ("team", "function")
WINDOW: dict[Every, int] = {"week": 12, "month": 6}  # periods the page looks back over

_R = Recognition.metadata.tables["recognition"]
_RR = RecognitionRecipient.metadata.tables["recognition_recipient"]
M = Member.metadata.tables["member"]


def threshold(surveys: Iterable[Survey]) -> int:
    """The one anonymity threshold: the strictest `min_responses` of the configured surveys
    (the survey default when there are none), for survey results and these figures alike."""
    return max((s.min_responses for s in surveys), default=MIN_GROUP)


@dataclass(frozen=True)
class Scope:
    """A drill-down: people of this region, therapeutic area and team (None: any)."""

    region: str | None = None
    therapeutic_area: str | None = None
    team: str | None = None

    def where(self, member: Any) -> ColumnElement[bool]:
        """Whether a member (a `Member` table alias) is inside the scope."""
        wanted = [
            member.c[name] == value
            for name, value in (
                ("region", self.region),
                ("therapeutic_area", self.therapeutic_area),
                ("team", self.team),
            )
            if value is not None
        ]
        return and_(true(), *wanted)

    @property
    def narrowed(self) -> bool:
        return any((self.region, self.therapeutic_area, self.team))


@dataclass(frozen=True)
class Bucket:
    label: str  # 2026-W48 | 2026-11
    start: datetime
    end: datetime


def buckets(now: datetime, every: Every, count: int | None = None) -> tuple[Bucket, ...]:
    """The last `count` ISO weeks or calendar months (UTC), oldest first; the last holds
    `now` (so it is the period to date)."""
    count = count or WINDOW[every]
    now = now.astimezone(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    found: list[Bucket] = []
    if every == "week":
        start = day - timedelta(days=day.weekday())
        for _n in range(count):
            year, week, _day = start.isocalendar()
            found.append(Bucket(f"{year}-W{week:02d}", start, start + timedelta(days=7)))
            start -= timedelta(days=7)
    else:
        start = day.replace(day=1)
        for _n in range(count):
            end = (start + timedelta(days=32)).replace(day=1)
            found.append(Bucket(f"{start.year}-{start.month:02d}", start, end))
            start = (start - timedelta(days=1)).replace(day=1)
    return tuple(reversed(found))


def months(start: datetime, end: datetime) -> tuple[Bucket, ...]:
    """The calendar months (UTC) holding [start, end), oldest first."""
    last = end - timedelta(microseconds=1)
    return buckets(last, "month", (last.year - start.year) * 12 + last.month - start.month + 1)


def pairs(
    start: datetime,
    end: datetime,
    scope: Scope = Scope(),
    people: Sequence[int] | None = None,
    *,
    outside: bool = False,
) -> Subquery:
    """Giver-recipient pairs of published kudos in [start, end): when, who, both sides'
    team, function, region and area; with `people`, those with one of them on either side.
    `outside`: the pairs a drill-down leaves out (neither side in `scope`)."""
    giver, taker = M.alias("giver"), M.alias("taker")
    stmt = (
        select(
            _R.c.created_at.label("at"),
            _R.c.giver_id.label("giver"),
            _RR.c.member_id.label("recipient"),
            giver.c.team.label("g_team"),
            taker.c.team.label("r_team"),
            giver.c.function.label("g_function"),
            taker.c.function.label("r_function"),
            giver.c.region.label("g_region"),
            taker.c.region.label("r_region"),
            giver.c.therapeutic_area.label("g_area"),
            taker.c.therapeutic_area.label("r_area"),
        )
        .select_from(_R)
        .join(_RR, _RR.c.recognition_id == _R.c.id)
        .join(giver, giver.c.id == _R.c.giver_id)
        .join(taker, taker.c.id == _RR.c.member_id)
        .where(
            _R.c.outcome.in_(PUBLISHED),
            _R.c.revoked_at.is_(None),
            _R.c.created_at >= start,
            _R.c.created_at < end,
            *(side.c.active.is_(True) for side in (giver, taker)),
            *(side.c.is_bot.is_(False) for side in (giver, taker)),
        )
    )
    if scope.narrowed:
        inside = or_(scope.where(giver), scope.where(taker))
        stmt = stmt.where(not_(inside) if outside else inside)
    if people is not None:
        ids = list(people) or [-1]
        stmt = stmt.where(or_(giver.c.id.in_(ids), taker.c.id.in_(ids)))
    return stmt.subquery("pairs")


Key = tuple[Any, ...]


def execute(session: Session, stmt: Any, rows: Any = None) -> Any:
    """Rows of a Core statement (with `rows` of parameters, for many), after what the
    session holds unwritten (a Core statement on the connection would not flush it)."""
    session.flush()
    return session.connection().execute(stmt, rows)


def counted(
    session: Session,
    source: Subquery,
    keys: Sequence[tuple[str, ColumnElement[Any]]],
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[Key, tuple[int, int]]:
    """Pairs and distinct people (givers and recipients together) per key, grouped in SQL.
    The keys are labelled in a subquery first, so PostgreSQL groups by a column and never
    compares two renderings of an expression with parameters."""
    inner = select(
        *(expr.label(name) for name, expr in keys), source.c.giver, source.c.recipient
    ).where(*where)
    keyed = inner.subquery("keyed")
    names = [keyed.c[name] for name, _expr in keys]
    kudos = execute(session, select(*names, func.count()).group_by(*names)).all()
    persons = union(
        select(*names, keyed.c.giver.label("person")),
        select(*names, keyed.c.recipient.label("person")),
    ).subquery("persons")
    by_person = [persons.c[name] for name, _expr in keys]
    people = {
        tuple(row[:-1]): int(row[-1])
        for row in execute(session, select(*by_person, func.count()).group_by(*by_person))
    }
    return {tuple(row[:-1]): (int(row[-1]), people.get(tuple(row[:-1]), 0)) for row in kudos}


def _both(source: Subquery, by: Boundary) -> list[ColumnElement[bool]]:
    return [source.c[f"g_{by}"].is_not(None), source.c[f"r_{by}"].is_not(None)]


def _across(source: Subquery, by: Boundary) -> ColumnElement[Any]:
    return case((source.c[f"g_{by}"] != source.c[f"r_{by}"], 1), else_=0)


@dataclass(frozen=True)
class Share:
    """One period's pairs across a boundary among those with both sides known; None: held
    back (fewer people than the threshold behind one of its parts)."""

    label: str
    crossing: int | None
    total: int | None

    @property
    def share(self) -> float | None:
        if self.crossing is None or not self.total:
            return None
        return self.crossing / self.total


def safe(people: int, k: int) -> bool:
    """A figure over `people` may be shown: nobody, or at least `k` of them."""
    return people == 0 or people >= k


def shares(
    session: Session, periods: Sequence[Bucket], by: Boundary, scope: Scope, k: int
) -> tuple[Share, ...]:
    """Each period's share of pairs crossing the `by` boundary."""

    def count(source: Subquery) -> dict[Key, tuple[int, int]]:
        ends = ((source.c.at < b.end, i) for i, b in enumerate(periods))
        which = case(*ends, else_=len(periods) - 1)
        keys = [("period", which), ("across", _across(source, by))]
        return counted(session, source, keys, _both(source, by))

    found = count(pairs(periods[0].start, periods[-1].end, scope))
    # A drill-down's figure is the whole view's less what it leaves out: that rest must
    # stand behind no one or at least `k` people too.
    rest = (
        count(pairs(periods[0].start, periods[-1].end, scope, outside=True))
        if scope.narrowed
        else {}
    )
    return held_shares(periods, found, rest, k)


def held_shares(
    periods: Sequence[Bucket],
    found: Mapping[Key, tuple[int, int]],
    rest: Mapping[Key, tuple[int, int]],
    k: int,
) -> tuple[Share, ...]:
    """Shares from pairs and people by (period index, across 1 | inside 0), thresholded."""
    out = []
    for i, period in enumerate(periods):
        across, inside = found.get((i, 1), (0, 0)), found.get((i, 0), (0, 0))
        shown = safe(across[1], k) and safe(inside[1], k)
        shown = shown and all(safe(rest.get((i, a), (0, 0))[1], k) for a in (0, 1))
        out.append(
            Share(
                period.label,
                across[0] if shown else None,
                across[0] + inside[0] if shown else None,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Matrix:
    """Pairs from each giver's side to each recipient's (team or function), names sorted;
    a cell absent has no pairs, a cell None is held back."""

    by: Boundary
    names: tuple[str, ...]
    cells: Mapping[tuple[str, str], int | None]

    def cell(self, giver: str, recipient: str) -> int | None:
        return self.cells.get((giver, recipient), 0)

    @property
    def held(self) -> int:
        return sum(1 for v in self.cells.values() if v is None)


def matrix(
    session: Session, source: Subquery, by: Boundary, k: int, rest: Subquery | None = None
) -> Matrix:
    """The `by` x `by` matrix of `source`'s pairs, thresholded (see the module's note);
    `rest`: the pairs a drill-down leaves out, whose cells must not give one away either."""

    def count(pairs: Subquery) -> dict[Key, tuple[int, int]]:
        keys = [("g", pairs.c[f"g_{by}"]), ("r", pairs.c[f"r_{by}"])]
        return counted(session, pairs, keys, _both(pairs, by))

    return held_matrix(by, count(source), count(rest) if rest is not None else {}, k)


def held_matrix(
    by: Boundary,
    found: Mapping[Key, tuple[int, int]],
    left_out: Mapping[Key, tuple[int, int]],
    k: int,
) -> Matrix:
    """A matrix from pairs and people by (giver side, recipient side), thresholded. A
    class's smallest cells are held back first: fewest people (counted up to `k`, which is
    all a threshold can tell), then fewest pairs."""
    held = {key for key, (_kudos, people) in found.items() if people < k}
    held |= {key for key, (_kudos, people) in left_out.items() if not safe(people, k)}
    for diagonal in (True, False):
        group = {key: v for key, v in found.items() if (key[0] == key[1]) == diagonal}
        while True:
            hidden = [group[key][1] for key in group if key in held]
            shown = sorted((min(v[1], k), v[0], key) for key, v in group.items() if key not in held)
            if not hidden or sum(hidden) >= k or not shown:
                break
            held.add(shown[0][2])
    names = sorted({str(n) for key in found for n in key})
    cells = {(str(g), str(r)): None if (g, r) in held else v[0] for (g, r), v in found.items()}
    return Matrix(by, tuple(names), cells)


def islands(session: Session, source: Subquery, k: int) -> tuple[str, ...]:
    """Teams with kudos inside them and none to or from another team in `source`, among
    teams of at least `k` active members (a smaller team is not named)."""
    found = counted(session, source, [("g", source.c.g_team), ("r", source.c.r_team)])
    return held_islands(session, found, k)


def held_islands(session: Session, found: Iterable[Key], k: int) -> tuple[str, ...]:
    """The islands among (giver team, recipient team) keys; None: no team on the roster."""
    found = list(found)
    inside = {g for (g, r) in found if g == r and g is not None}
    crossing = {t for (g, r) in found if g != r for t in (g, r)}
    stmt = select(M.c.team, func.count()).where(
        M.c.active.is_(True), M.c.is_bot.is_(False), M.c.team.in_(sorted(inside))
    )
    heads: dict[str, int] = dict(execute(session, stmt.group_by(M.c.team)).all())
    return tuple(sorted(t for t in inside - crossing if int(heads.get(t, 0)) >= k))


@dataclass(frozen=True)
class Collaboration:
    every: Every
    periods: tuple[Bucket, ...]
    threshold: int
    shares: Mapping[Boundary, tuple[Share, ...]]
    matrices: Mapping[Boundary, Matrix]
    islands: tuple[str, ...]
    as_of: datetime | None = None  # kept figures (handlers/rollups.py) computed then


def collaboration(
    session: Session, *, now: datetime, every: Every, scope: Scope, k: int
) -> Collaboration:
    """Shares per period, matrices and islands over the window of `every` ending now, from
    the kept rollups when they can give them (`drilldowns.kept`)."""
    periods = buckets(now, every)
    kept = drilldowns.kept(session, every, periods, scope, k)
    if kept is not None:
        return kept
    source = pairs(periods[0].start, periods[-1].end, scope)
    rest = pairs(periods[0].start, periods[-1].end, scope, outside=True) if scope.narrowed else None
    found = {by: shares(session, periods, by, scope, k) for by in BOUNDARIES}
    return Collaboration(
        every=every,
        periods=periods,
        threshold=k,
        shares=found,
        # Over the periods shown only: a held period would be the matrix less the others.
        matrices={
            by: matrix(session, shown(source, periods, found[by]), by, k, rest) for by in found
        },
        islands=islands(session, source, k),
    )


def shown(source: Subquery, periods: Sequence[Bucket], found: Sequence[Share]) -> Subquery:
    """`source`'s pairs in the periods whose share is shown (not held back)."""
    kept = [p for p, share in zip(periods, found, strict=True) if share.total is not None]
    if len(kept) == len(periods):
        return source
    inside = [and_(source.c.at >= p.start, source.c.at < p.end) for p in kept]
    return select(source).where(or_(*inside) if inside else false()).subquery("shown")
