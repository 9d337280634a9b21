"""Kept analytics: each week's and month's published kudos, rolled up.

The collaboration page, the engagement rates and the quarterly report need, for every
period, the giver-recipient pairs from each team (or function) to each other and how many
distinct people stand behind them, and each member's kudos given and received. Counted
from the recognitions on every view, a year of a large organisation (a million kudos)
takes seconds; kept per period, a view reads a few thousand rows.

A rollup is computed whole from the recognitions (`refresh`), never patched: what it holds
is what `collaboration.pairs` gave at `computed_at`, with the roster of that moment. Cells
are kept for the whole organisation and for every drill-down by one field (each team,
region and therapeutic area: the pairs with either person inside, `rollup_tally`). The
people behind a cell are counted, and kept up to `CAP` of them: the union of a cell's capped
sets over any periods has at least `k` people exactly when the pairs themselves do, for
every threshold `k <= CAP` (a capped set is full only when that period alone reaches `CAP`).

The scheduler refreshes the current week and month on every run and the other kept
periods oldest first, all of them when the roster has changed; periods that fall out of
every window are dropped. A view uses the rollups when every period it needs is kept, and
says as of when; a drill-down also when they decide what it leaves out (`drilldowns`);
otherwise it counts from the recognitions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Subquery, delete, distinct, func, insert, literal, select, tuple_
from sqlmodel import Session

from handlers import collaboration as co
from handlers.rollup_tally import CAP as CAP
from handlers.rollup_tally import NOBODY as NOBODY
from handlers.rollup_tally import WHOLE, Counted, tally
from storage.models import (
    DayRollup,
    Member,
    MemberRollup,
    PairRollup,
    Recognition,
    RecognitionRecipient,
    RollupPeriod,
    ShareRollup,
)
from storage.models.recognition import PUBLISHED

EVERIES: tuple[co.Every, ...] = ("week", "month")
KEEP: dict[co.Every, int] = {"week": 12, "month": 12}  # the page's weeks; 4 quarters

PERIOD = RollupPeriod.metadata.tables["rollup_period"]
PAIR = PairRollup.metadata.tables["pair_rollup"]
SHARE = ShareRollup.metadata.tables["share_rollup"]
_MEMBER = MemberRollup.metadata.tables["member_rollup"]
DAY = DayRollup.metadata.tables["day_rollup"]
_M = Member.metadata.tables["member"]
_R = Recognition.metadata.tables["recognition"]
_RR = RecognitionRecipient.metadata.tables["recognition_recipient"]
TABLES = (PAIR, SHARE, _MEMBER, DAY, PERIOD)

Cell = tuple[int, list[str]]  # pairs, people (at most CAP member ids, as kept)


def roster(session: Session) -> str:
    """A digest of what the rollups depend on of each member: who is active, a bot, and in
    which team, function, region and therapeutic area (a new name or time zone changes
    nothing here)."""
    digest = hashlib.sha256()
    columns = (
        _M.c.id,
        _M.c.team,
        _M.c.function,
        _M.c.region,
        _M.c.therapeutic_area,
        _M.c.active,
        _M.c.is_bot,
    )
    for row in co.execute(session, select(*columns).order_by(_M.c.id)):
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def refresh(
    session: Session, every: co.Every, period: co.Bucket, now: datetime, state: str | None = None
) -> int:
    """One period's rollups again (`state`: the roster's digest, if just read); pairs.
    The scheduler does the same in three steps, so the counting in between holds no
    transaction: `read`, `tally`, `write`."""
    return write(session, every, period, now, tally(read(session, period)), state)


def read(session: Session, period: co.Bucket) -> list[Any]:
    """A period's pairs: giver, recipient, and both sides' team, function, region and
    therapeutic area, as `tally` counts them."""
    source = co.pairs(period.start, period.end)
    sides = ("team", "function", "region", "area")
    columns = [source.c[f"{side}_{name}"] for name in sides for side in "gr"]
    return list(co.execute(session, select(source.c.giver, source.c.recipient, *columns)))


def write(
    session: Session,
    every: co.Every,
    period: co.Bucket,
    now: datetime,
    found: Counted,
    state: str | None = None,
) -> int:
    """Replace a period's rollups with what `tally` counted; pairs."""
    key = {"every": every, "label": period.label}
    for table in TABLES:
        co.execute(
            session, delete(table).where(table.c.every == every, table.c.label == period.label)
        )
    rows = found.rows(key)
    for table in TABLES:
        if rows.get(table.name):
            co.execute(session, insert(table), rows[table.name])
    if every == "month":
        _keep_days(session, key, period)
    co.execute(
        session,
        insert(PERIOD).values(
            **key,
            start=period.start,
            end=period.end,
            computed_at=now,
            roster=state or roster(session),
        ),
    )
    return found.pairs


def _keep_days(session: Session, key: dict[str, str], period: co.Bucket) -> None:
    """A month's published kudos by the giver's day, for everyone and by recipients' team
    (as the KPIs page counts them: any giver, a recipient's team as the roster has it)."""
    day = _R.c.giver_local_date
    published = (
        _R.c.outcome.in_(PUBLISHED),
        _R.c.revoked_at.is_(None),
        _R.c.created_at >= period.start,
        _R.c.created_at < period.end,
    )
    everyone = select(day, literal(NOBODY), func.count()).where(*published).group_by(day)
    by_team = (
        select(day, _M.c.team, func.count(distinct(_R.c.id)))
        .join(_RR, _RR.c.recognition_id == _R.c.id)
        .join(_M, _M.c.id == _RR.c.member_id)
        .where(*published, _M.c.team.is_not(None))
        .group_by(day, _M.c.team)
    )
    rows = [
        {**key, "day": d, "team": team, "kudos": int(n)}
        for stmt in (everyone, by_team)
        for d, team, n in co.execute(session, stmt)
    ]
    if rows:
        co.execute(session, insert(DAY), rows)


def _kept(session: Session) -> dict[tuple[str, str], tuple[datetime, str]]:
    rows = co.execute(
        session, select(PERIOD.c.every, PERIOD.c.label, PERIOD.c.computed_at, PERIOD.c.roster)
    )
    return {(every, label): (at, state) for every, label, at, state in rows}


Due = tuple["co.Every", "co.Bucket"]


def due(session: Session, now: datetime, *, most: int = 4) -> list[Due]:
    """What one run of the scheduler's refresh computes: the periods holding `now`, every
    kept period never computed or computed on another roster, then the stalest `most`
    others."""
    wanted = {
        (every, b.label): (every, b)
        for every in EVERIES
        for b in co.buckets(now, every, KEEP[every])
    }
    kept = _kept(session)
    state = roster(session)
    current = {(every, co.buckets(now, every, 1)[0].label) for every in EVERIES}
    found = [k for k in wanted if k in current or k not in kept or kept[k][1] != state]
    others = sorted((kept[k][0], k) for k in wanted if k not in found)
    found += [k for _at, k in others[:most]]
    return [wanted[k] for k in found]


def drop_old(session: Session, now: datetime) -> int:
    """Drop the periods outside every window (of `KEEP` weeks and months); how many."""
    wanted = {(every, b.label) for every in EVERIES for b in co.buckets(now, every, KEEP[every])}
    gone = [k for k in _kept(session) if k not in wanted]
    if gone:
        for table in TABLES:
            co.execute(session, delete(table).where(tuple_(table.c.every, table.c.label).in_(gone)))
    return len(gone)


def maintain(session: Session, now: datetime, *, most: int = 4) -> int:
    """One whole refresh in one transaction (the benchmark's and tests'): the periods computed."""
    periods, state = due(session, now, most=most), roster(session)
    for every, bucket in periods:
        refresh(session, every, bucket, now, state)
    drop_old(session, now)
    return len(periods)


@dataclass(frozen=True)
class Kept:
    """The rollups of some periods: cells by (period index, boundary, giver side, recipient
    side), and when the oldest of them was computed."""

    as_of: datetime
    cells: dict[tuple[int, str, str | None, str | None], Cell]


def computed(session: Session, every: co.Every, labels: Sequence[str]) -> datetime | None:
    """When the oldest of these kept periods was computed; None unless all are kept."""
    found = {
        label: at
        for label, at in co.execute(
            session,
            select(PERIOD.c.label, PERIOD.c.computed_at).where(
                PERIOD.c.every == every, PERIOD.c.label.in_(list(labels))
            ),
        )
    }
    return min(found.values()) if found and len(found) == len(set(labels)) else None


def cells(session: Session, every: co.Every, periods: Sequence[co.Bucket]) -> Kept | None:
    """The whole organisation's pair rollups of `periods`, or None unless every one of
    them is kept."""
    labels = [p.label for p in periods]
    as_of = computed(session, every, labels)
    if as_of is None:
        return None
    index = {label: i for i, label in enumerate(labels)}
    rows = co.execute(
        session,
        select(
            PAIR.c.label,
            PAIR.c.boundary,
            PAIR.c.giver_side,
            PAIR.c.recipient_side,
            PAIR.c.pairs,
            PAIR.c.people,
        ).where(
            PAIR.c.every == every,
            PAIR.c.label.in_(labels),
            PAIR.c.dimension == WHOLE[0],
            PAIR.c.value == WHOLE[1],
        ),
    )
    kept: dict[tuple[int, str, str | None, str | None], Cell] = {}
    for label, by, g, r, n, people in rows:
        kept[(index[label], by, g or None, r or None)] = (
            int(n),
            people.split(",") if people else [],
        )
    return Kept(as_of, kept)


def merged(kept: Kept) -> Kept:
    """The kept periods as one (index 0): pairs added, people joined (up to CAP)."""
    cells: dict[tuple[int, str, str | None, str | None], list[Cell]] = {}
    for (_i, by, g, r), cell in kept.cells.items():
        cells.setdefault((0, by, g, r), []).append(cell)
    joined: dict[tuple[int, str, str | None, str | None], Cell] = {}
    for key, found in cells.items():
        pairs, people = counts(found)
        joined[key] = (pairs, people)
    return Kept(kept.as_of, joined)


def counts(cells: Iterable[Cell]) -> tuple[int, list[str]]:
    """Pairs and people (at most CAP of them) of cells taken together."""
    pairs, people = 0, set[str]()
    for n, ids in cells:
        pairs += n
        if len(people) < CAP:
            people.update(ids)
    return pairs, sorted(people)[:CAP]


def _people(cell: Cell) -> tuple[int, int]:
    return cell[0], len(cell[1])


def shares(
    kept: Kept, periods: Sequence[co.Bucket], by: co.Boundary, k: int
) -> tuple[co.Share, ...]:
    """`shares` from kept rollups, each of `periods` being one kept period's index."""
    classes: dict[co.Key, list[Cell]] = {}
    for (i, boundary, g, r), cell in kept.cells.items():
        if boundary == by and g is not None and r is not None:
            classes.setdefault((i, int(g != r)), []).append(cell)
    found = {key: _people(counts(cells)) for key, cells in classes.items()}
    return co.held_shares(periods, found, {}, k)


def covering(
    session: Session, start: datetime, end: datetime
) -> tuple[co.Every, list[str], datetime] | None:
    """Kept periods that together are exactly [start, end) (weeks, else months), with when
    the oldest was computed; the last may run past `end` when it was computed before `end`
    (nothing published after then is in it). None when no such kept periods exist."""
    for every in EVERIES:
        rows = co.execute(
            session,
            select(PERIOD.c.label, PERIOD.c.start, PERIOD.c.end, PERIOD.c.computed_at)
            .where(PERIOD.c.every == every, PERIOD.c.start >= start, PERIOD.c.start < end)
            .order_by(PERIOD.c.start),
        ).all()
        if not rows or rows[0][1] != start:
            continue
        joined = all(a[2] == b[1] for a, b in pairwise(rows))
        last_end, last_at = rows[-1][2], rows[-1][3]
        if joined and (last_end == end or (last_end > end and last_at <= end)):
            return every, [r[0] for r in rows], min(r[3] for r in rows)
    return None


def member_counts(every: str, labels: Sequence[str]) -> tuple[Subquery, Subquery]:
    """Subqueries (id, n) of kudos given and received per member over kept periods, for
    `engagement.combinations`; a member with none is absent from each."""
    where = (_MEMBER.c.every == every, _MEMBER.c.label.in_(list(labels)))
    gave = (
        select(_MEMBER.c.member_id.label("id"), func.sum(_MEMBER.c.given).label("n"))
        .where(*where, _MEMBER.c.given > 0)
        .group_by(_MEMBER.c.member_id)
        .subquery("gave")
    )
    got = (
        select(_MEMBER.c.member_id.label("id"), func.sum(_MEMBER.c.received).label("n"))
        .where(*where, _MEMBER.c.received > 0)
        .group_by(_MEMBER.c.member_id)
        .subquery("got")
    )
    return gave, got
