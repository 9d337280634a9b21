"""The local copy of the store: what a sync or a webhook fetched, kept by id.

Promotions, coupons, channels and orders arrive here as small platform-neutral records and
are inserted or updated by id, so storing the same thing twice changes nothing. Rows go in
batches, one `INSERT ... ON CONFLICT DO UPDATE` executed for many rows at once (SQLite and
PostgreSQL), and an order never goes back to an older version than the one stored: a slow
sync page cannot undo what a webhook stored a moment before. Sync cursors live in
`sync_state`, one JSON object per key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import BcChannel, BcCoupon, BcOrder, BcPromotion, SyncState

ROWS_PER_STATEMENT = 1_000
"""Rows sent with one execution of an INSERT (or one DELETE) statement."""

_promotion: Table = BcPromotion.__table__  # type: ignore[attr-defined]
_coupon: Table = BcCoupon.__table__  # type: ignore[attr-defined]
_channel: Table = BcChannel.__table__  # type: ignore[attr-defined]
_order: Table = BcOrder.__table__  # type: ignore[attr-defined]
_state: Table = SyncState.__table__  # type: ignore[attr-defined]

_CENT = Decimal(1)
_R = TypeVar("_R")


@dataclass(frozen=True)
class PromotionRecord:
    id: int
    name: str
    status: str  # ENABLED | DISABLED | ...
    start_date: datetime | None
    end_date: datetime | None
    current_uses: int
    max_uses: int | None


@dataclass(frozen=True)
class CouponRecord:
    id: int
    name: str
    code: str
    enabled: bool
    num_uses: int
    max_uses: int | None  # None: unlimited
    date_created: datetime | None


@dataclass(frozen=True)
class ChannelRecord:
    id: int
    name: str
    type: str
    platform: str
    status: str
    date_created: datetime | None


@dataclass(frozen=True)
class OrderRecord:
    id: int
    status_id: int
    counts: bool
    date_created: datetime
    date_modified: datetime
    total: Decimal  # in the store's currency, tax included
    channel_id: int = 1


def to_cents(amount: Decimal) -> int:
    """Whole cents, halves rounded away from zero: Decimal("10.005") -> 1001."""
    return int((amount * 100).quantize(_CENT, rounding=ROUND_HALF_UP))


# -- upserts -------------------------------------------------------------------------------
def upsert_promotions(
    session: Session, records: Iterable[PromotionRecord], *, now: datetime
) -> int:
    """Insert or update promotions by id; returns how many records were given."""
    rows = [
        {
            "id": r.id,
            "name": r.name[:255],
            "status": r.status[:32],
            "start_date": r.start_date,
            "end_date": r.end_date,
            "current_uses": r.current_uses,
            "max_uses": r.max_uses,
            "fetched_at": now,
            "first_seen_at": now,  # kept from the first insert
            "live_at": _live_at(r, now),  # kept once set
        }
        for r in _latest(records, key=lambda r: r.id)
    ]
    return _upsert(session, _promotion, rows, keep=("first_seen_at",), first=("live_at",))


def _live_at(r: PromotionRecord, now: datetime) -> datetime | None:
    """When the promotion went live, if it is live now: its start date, else (no start date)
    now, the first sync to see it enabled."""
    live = r.status == "ENABLED" and (r.start_date is None or r.start_date <= now)
    if not live or (r.end_date is not None and r.end_date <= now):
        return None
    return r.start_date or now


def upsert_coupons(session: Session, records: Iterable[CouponRecord], *, now: datetime) -> int:
    """Insert or update coupons by id; returns how many records were given."""
    rows = [
        {
            "id": r.id,
            "name": r.name[:255],
            "code": r.code[:100],
            "enabled": r.enabled,
            "num_uses": r.num_uses,
            "max_uses": r.max_uses,
            "date_created": r.date_created,
            "fetched_at": now,
        }
        for r in _latest(records, key=lambda r: r.id)
    ]
    return _upsert(session, _coupon, rows)


def upsert_channels(session: Session, records: Iterable[ChannelRecord], *, now: datetime) -> int:
    """Insert or update channels by id; returns how many records were given."""
    rows = [
        {
            "id": r.id,
            "name": r.name[:255],
            "type": r.type[:32],
            "platform": r.platform[:64],
            "status": r.status[:32],
            "date_created": r.date_created,
            "fetched_at": now,
        }
        for r in _latest(records, key=lambda r: r.id)
    ]
    return _upsert(session, _channel, rows)


def upsert_orders(session: Session, records: Iterable[OrderRecord]) -> int:
    """Insert or update orders by id; returns how many distinct orders were given.

    A stored order is only replaced by a version modified at the same time or later, so an
    out-of-date copy (a page fetched before a webhook's re-fetch) never wins.
    """
    latest: dict[int, OrderRecord] = {}
    for r in records:
        seen = latest.get(r.id)
        if seen is None or r.date_modified >= seen.date_modified:
            latest[r.id] = r
    rows = [
        {
            "id": r.id,
            "status_id": r.status_id,
            "counts": r.counts,
            "date_created": r.date_created,
            "date_modified": r.date_modified,
            "total_cents": to_cents(r.total),
            "channel_id": r.channel_id,
        }
        for r in latest.values()
    ]
    return _upsert(session, _order, rows, newer_only="date_modified")


def prune(session: Session, kind: str, keep: Iterable[int]) -> int:
    """Delete promotions, coupons or channels whose id is not in `keep` (a full listing).

    Orders are never pruned: the store keeps them, and milestones count them.
    """
    table = {"promotion": _promotion, "coupon": _coupon, "channel": _channel}[kind]
    wanted = set(keep)
    stored = set(session.connection().execute(select(table.c.id)).scalars())
    gone = sorted(stored - wanted)
    for start in range(0, len(gone), ROWS_PER_STATEMENT):
        chunk = gone[start : start + ROWS_PER_STATEMENT]
        session.connection().execute(delete(table).where(table.c.id.in_(chunk)))
    return len(gone)


# -- cursors -------------------------------------------------------------------------------
def get_cursor(session: Session, key: str) -> dict[str, Any] | None:
    """The JSON object stored under `key`, or None when there is none yet."""
    value = (
        session.connection()
        .execute(select(_state.c.value).where(_state.c.key == key))
        .scalar_one_or_none()
    )
    return dict(value) if isinstance(value, Mapping) else None


def set_cursor(session: Session, key: str, value: Mapping[str, Any], now: datetime) -> None:
    """Store `value` under `key`, replacing what was there."""
    _upsert(session, _state, [{"key": key, "value": dict(value), "updated_at": now}], pk="key")


def datetime_value(value: object) -> datetime | None:
    """An ISO 8601 string from a cursor, back as an aware UTC datetime (None if unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- helpers -------------------------------------------------------------------------------
def _latest(records: Iterable[_R], *, key: Callable[[_R], int]) -> list[_R]:
    """One record per id, the last one given winning."""
    return list({key(r): r for r in records}.values())


def _upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    pk: str = "id",
    newer_only: str | None = None,
    keep: Sequence[str] = (),
    first: Sequence[str] = (),
) -> int:
    """Insert or update `rows` by `pk`; on update, `keep` columns stay as they are and `first`
    columns keep their value once they have one."""
    if not rows:
        return 0
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    changing = [c.name for c in table.columns if c.name not in (pk, *keep)]
    where = None
    if newer_only is not None:
        where = table.c[newer_only] <= stmt.excluded[newer_only]
    values: dict[str, Any] = {name: stmt.excluded[name] for name in changing}
    values |= {name: func.coalesce(table.c[name], stmt.excluded[name]) for name in first}
    stmt = stmt.on_conflict_do_update(index_elements=[pk], set_=values, where=where)
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        conn.execute(stmt, list(rows[start : start + ROWS_PER_STATEMENT]))
    return len(rows)
