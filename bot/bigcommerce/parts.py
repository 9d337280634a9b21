"""The parts of a store sync: each small listing copied in full, and orders from a cursor.

Promotions, coupons and channels are read in full and then stored at once, pruning what the
store no longer lists; a listing that fails part way stores nothing, so a short listing never
prunes what it did not reach. Orders are read by `date_modified` from the cursor kept in
`sync_state`, a page per transaction together with the cursor it reaches, each page asked for
afresh from that cursor (an order edited mid-sync moves to the end of the listing and would
otherwise shift the pages and hide another order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

from sqlmodel import Session

from bot.bigcommerce.client import BigCommerceClient, OnSkip
from bot.bigcommerce.errors import SkippedItem
from bot.bigcommerce.models import Kind, Order
from bot.bigcommerce.records import channel_record, coupon_record, order_record, promotion_record
from bot.bigcommerce.reports import SyncReport
from handlers.commerce import (
    datetime_value,
    get_cursor,
    prune,
    set_cursor,
    upsert_channels,
    upsert_coupons,
    upsert_orders,
    upsert_promotions,
)

T = TypeVar("T")

ORDERS_CURSOR = "bigcommerce.orders"
"""The `sync_state` key of the orders cursor: {"date_modified": ISO 8601, "order_id": int}."""

DEFAULT_OVERLAP = timedelta(seconds=1)
"""How far before the cursor each listing starts: the filter is inclusive and BigCommerce
keeps whole seconds, so orders modified in the cursor's own second are read again."""


class UnitOfWork(Protocol):
    """Runs `work` in one transaction, commits, and returns its result (`Runtime.run_sync`)."""

    def __call__(self, work: Callable[[Session], T], /) -> T: ...


def skip_counter(report: SyncReport, kind: Kind, ids: set[int]) -> OnSkip:
    """Counts an unreadable item of `kind` in the report and keeps its id (if any) in `ids`."""

    def skipped(item: SkippedItem) -> None:
        report.unreadable[kind] = report.unreadable.get(kind, 0) + 1
        if item.id is not None:
            ids.add(item.id)

    return skipped


def sync_listing(
    kind: Kind, client: BigCommerceClient, run: UnitOfWork, report: SyncReport, *, now: datetime
) -> None:
    """Promotions, coupons or channels: the listing read in full, then stored at once.

    An item that could not be read is not pruned: its local copy, if any, stays as it was.
    """
    unread: set[int] = set()
    skipped = skip_counter(report, kind, unread)
    write: Callable[[Session], int]
    if kind == "promotion":
        promotions = [promotion_record(p) for p in client.promotions(skipped=skipped)]
        report.promotions, ids = len(promotions), [p.id for p in promotions]
        write = partial(upsert_promotions, records=promotions, now=now)
    elif kind == "coupon":
        coupons = [coupon_record(c) for c in client.coupons(skipped=skipped)]
        report.coupons, ids = len(coupons), [c.id for c in coupons]
        write = partial(upsert_coupons, records=coupons, now=now)
    else:
        channels = [channel_record(c) for c in client.channels(skipped=skipped)]
        report.channels, ids = len(channels), [c.id for c in channels]
        write = partial(upsert_channels, records=channels, now=now)

    def replace(session: Session) -> int:
        write(session)
        return prune(session, kind, [*ids, *unread])

    report.removed += run(replace)


def sync_orders(
    client: BigCommerceClient,
    run: UnitOfWork,
    report: SyncReport,
    *,
    now: datetime,
    batch_size: int,
    overlap: timedelta,
) -> None:
    state = run(lambda s: get_cursor(s, ORDERS_CURSOR))
    since = datetime_value(state.get("date_modified")) if state else None
    report.since = report.cursor = since
    skipped = skip_counter(report, "order", set())
    while True:
        listing = client.orders(
            min_date_modified=None if since is None else since - overlap, skipped=skipped
        )
        batch: list[Order] = []
        moved = False
        for order in listing:
            report.orders += 1
            batch.append(order)
            if len(batch) < batch_size:
                continue
            newest = max(o.date_modified for o in batch)
            moved = since is None or newest > since
            since = _commit_orders(run, report, batch, since, now=now)
            batch = []
            if moved:
                break  # ask again from the new cursor
            # A full batch that does not pass the cursor (a crowded second): page on.
        if moved:
            continue
        if batch:
            _commit_orders(run, report, batch, since, now=now)
        return


def _commit_orders(
    run: UnitOfWork,
    report: SyncReport,
    batch: Sequence[Order],
    since: datetime | None,
    *,
    now: datetime,
) -> datetime:
    """Store a batch with the cursor it reaches, in one transaction; the cursor never goes
    back. Returns the new cursor."""
    last = max(batch, key=lambda o: (o.date_modified, o.id))
    cursor = last.date_modified if since is None else max(since, last.date_modified)
    records = [order_record(o) for o in batch]

    def store(session: Session) -> int:
        stored = upsert_orders(session, records)
        set_cursor(
            session,
            ORDERS_CURSOR,
            {"date_modified": cursor.isoformat(), "order_id": last.id},
            now,
        )
        return stored

    run(store)
    report.stored_ids.update(r.id for r in records)
    report.orders_stored = len(report.stored_ids)
    report.batches += 1
    report.cursor = cursor
    return cursor
