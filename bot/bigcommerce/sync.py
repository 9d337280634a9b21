"""Keeping the local copy of a BigCommerce store fresh, and awarding milestones from it.

`sync` reads promotions, coupons and channels in full (stores have few of them) and orders
incrementally, by `date_modified` from a cursor kept in `sync_state`. Orders are stored a
page at a time, each page in its own transaction together with the cursor it reaches, and
every page is asked for afresh from that cursor: an order edited while the sync runs moves
to the end of the listing instead of shifting the pages under the sync and hiding another
order. A sync cut short by an error keeps what it committed and the next one goes on from
there. `refetch` is the webhook path: one object fetched again by id and stored.

Both end by evaluating the milestones against the local tables; an award is unique by key,
so a sync and a webhook racing each other award a milestone once. A `BigCommerceClient` is
not thread-safe: give each thread (the scheduled sync, the webhook handler) its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import requests
from sqlmodel import Session

from bot.bigcommerce.client import PAGE_LIMIT, BigCommerceClient, BigCommerceConfig
from bot.bigcommerce.errors import BigCommerceError, describe
from bot.bigcommerce.models import KINDS, Channel, Coupon, Kind, Order, Promotion
from bot.bigcommerce.records import channel_record, coupon_record, order_record, promotion_record
from bot.bigcommerce.reports import RefetchReport, SyncReport
from bot.bigcommerce.webhook import WEBHOOK_SECRET_HEADER, parse_webhook, verify_webhook
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.commerce import (
    ChannelRecord,
    CouponRecord,
    PromotionRecord,
    datetime_value,
    get_cursor,
    prune,
    set_cursor,
    upsert_channels,
    upsert_coupons,
    upsert_orders,
    upsert_promotions,
)
from handlers.milestones import Awarded, Milestone, evaluate
from handlers.policy import KudosPolicy
from handlers.sprints import SprintCalendar

__all__ = [
    "DEFAULT_OVERLAP",
    "KINDS",
    "ORDERS_CURSOR",
    "WEBHOOK_SECRET_HEADER",
    "Kind",
    "RefetchReport",
    "StoreSync",
    "SyncReport",
    "UnitOfWork",
    "client_for",
    "parse_webhook",
    "refetch",
    "sync",
    "verify_webhook",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

ORDERS_CURSOR = "bigcommerce.orders"
"""The `sync_state` key of the orders cursor: {"date_modified": ISO 8601, "order_id": int}."""

DEFAULT_OVERLAP = timedelta(seconds=1)
"""How far before the cursor each listing starts: the filter is inclusive and BigCommerce
keeps whole seconds, so orders modified in the cursor's own second are read again."""


# What a failed conversation with the store can raise; the client wraps nearly all of it
# in BigCommerceError, the rest is caught here so that a sync never raises for it.
_FETCH_ERRORS = (BigCommerceError, requests.RequestException)


class UnitOfWork(Protocol):
    """Runs `work` in one transaction, commits, and returns its result (`Runtime.run_sync`)."""

    def __call__(self, work: Callable[[Session], T], /) -> T: ...


# -- full sync -----------------------------------------------------------------------------
def sync(
    client: BigCommerceClient,
    run: UnitOfWork,
    *,
    milestones: Sequence[Milestone],
    calendar: SprintCalendar,
    policy: KudosPolicy,
    now: datetime,
    workspace: str | None = None,
    batch_size: int = PAGE_LIMIT,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> SyncReport:
    """Bring the local copy up to date, then award the milestones that now hold.

    `run` commits each step on its own. A failure to talk to the store never raises: it is
    logged and returned as `error`, what was committed before it stays, and the milestones
    are still evaluated against it. Database errors do raise. Orders are committed
    `batch_size` at a time; the default, one page, is also how often the listing is asked
    for afresh from the cursor.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    started = time.monotonic()
    stats = client.stats
    requests_before, throttled_before = stats.requests, stats.throttled
    waited_before = stats.waited_seconds
    report = SyncReport()
    try:
        _sync_listings(client, run, report, now=now)
        _sync_orders(client, run, report, now=now, batch_size=batch_size, overlap=overlap)
    except _FETCH_ERRORS as exc:
        report.error = describe(exc, client.config.access_token)
        log.warning(
            "BigCommerce sync of store %s stopped after %d orders stored: %s",
            client.config.store_hash,
            report.orders_stored,
            report.error,
        )
    report.awarded = run(
        lambda session: evaluate(
            milestones,
            session=session,
            now=now,
            calendar=calendar,
            policy=policy,
            workspace=workspace,
        )
    )
    report.requests = stats.requests - requests_before
    report.throttled = stats.throttled - throttled_before
    report.waited_seconds = stats.waited_seconds - waited_before
    report.quota = stats.last_quota
    if stats.last_quota:
        report.quota_share = report.requests / stats.last_quota
    report.seconds = time.monotonic() - started
    _log_sync(report)
    return report


def _log_sync(report: SyncReport) -> None:
    log.info(
        "BigCommerce sync: %d promotions, %d coupons, %d channels, %d orders stored, "
        "%d milestones awarded, %d requests (%d throttled) in %.1fs",
        report.promotions,
        report.coupons,
        report.channels,
        report.orders_stored,
        len(report.awarded),
        report.requests,
        report.throttled,
        report.seconds,
    )


def _sync_listings(
    client: BigCommerceClient, run: UnitOfWork, report: SyncReport, *, now: datetime
) -> None:
    """Promotions, coupons and channels: each listing read in full, then stored at once."""
    promotions = [promotion_record(p) for p in client.promotions()]
    report.promotions = len(promotions)
    report.removed += run(
        lambda s: _replace(s, "promotion", upsert_promotions, promotions, now=now)
    )
    coupons = [coupon_record(c) for c in client.coupons()]
    report.coupons = len(coupons)
    report.removed += run(lambda s: _replace(s, "coupon", upsert_coupons, coupons, now=now))
    channels = [channel_record(c) for c in client.channels()]
    report.channels = len(channels)
    report.removed += run(lambda s: _replace(s, "channel", upsert_channels, channels, now=now))


def _replace(
    session: Session,
    kind: str,
    upsert: Callable[..., int],
    records: Sequence[PromotionRecord | CouponRecord | ChannelRecord],
    *,
    now: datetime,
) -> int:
    upsert(session, records, now=now)
    return prune(session, kind, (r.id for r in records))


def _sync_orders(
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
    while True:
        listing = client.orders(min_date_modified=None if since is None else since - overlap)
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


# -- one object again (webhooks) ----------------------------------------------------------
def refetch(
    client: BigCommerceClient,
    run: UnitOfWork,
    kind: Kind,
    object_id: int,
    *,
    milestones: Sequence[Milestone],
    calendar: SprintCalendar,
    policy: KudosPolicy,
    now: datetime,
    workspace: str | None = None,
) -> RefetchReport:
    """Fetch one promotion, coupon, channel or order again, store it, evaluate milestones.

    An object the store no longer has is left as it is locally. Calling this twice for one
    delivery stores the same thing twice and awards nothing twice. Like `sync`, a failure
    to reach the store is returned as `error` (so the caller may answer the webhook with an
    error and have it delivered again), not raised.
    """
    if kind not in KINDS:
        raise ValueError(f"cannot re-fetch a {kind!r}; expected one of {', '.join(KINDS)}")
    report = RefetchReport(kind=kind, id=int(object_id))
    requests_before = client.stats.requests
    try:
        fetched = _fetch_one(client, kind, int(object_id))
    except _FETCH_ERRORS as exc:
        report.error = describe(exc, client.config.access_token)
        report.requests = client.stats.requests - requests_before
        log.warning(
            "BigCommerce re-fetch of %s %d from store %s failed: %s",
            kind,
            report.id,
            client.config.store_hash,
            report.error,
        )
        return report
    report.requests = client.stats.requests - requests_before
    report.found = fetched is not None

    def store_and_evaluate(session: Session) -> list[Awarded]:
        if isinstance(fetched, Order):
            upsert_orders(session, [order_record(fetched)])
        elif isinstance(fetched, Promotion):
            upsert_promotions(session, [promotion_record(fetched)], now=now)
        elif isinstance(fetched, Coupon):
            upsert_coupons(session, [coupon_record(fetched)], now=now)
        elif isinstance(fetched, Channel):
            upsert_channels(session, [channel_record(fetched)], now=now)
        return evaluate(
            milestones,
            session=session,
            now=now,
            calendar=calendar,
            policy=policy,
            workspace=workspace,
        )

    report.awarded = run(store_and_evaluate)
    return report


def _fetch_one(
    client: BigCommerceClient, kind: Kind, object_id: int
) -> Order | Promotion | Coupon | Channel | None:
    if kind == "order":
        return client.order(object_id)
    if kind == "promotion":
        return client.promotion(object_id)
    if kind == "coupon":
        return client.coupon(object_id)
    # The API has no GET for one channel here; the listing is short.
    return next((c for c in client.channels() if c.id == object_id), None)


def client_for(settings: Settings, quota_share: float) -> BigCommerceClient:
    """A client for the configured store (close it, or use it in a `with` block)."""
    assert settings.bigcommerce_store_hash and settings.bigcommerce_access_token
    return BigCommerceClient(
        BigCommerceConfig(
            store_hash=settings.bigcommerce_store_hash,
            access_token=settings.bigcommerce_access_token.get_secret_value(),
            api_url=settings.bigcommerce_api_url,
            quota_share=quota_share,
        )
    )


class StoreSync:
    """The running bot's link to the store: the scheduled sync and webhook re-fetches, each
    in a worker thread with a client of its own, committing through `runtime.run_sync`."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime

    def _client(self) -> BigCommerceClient:
        return client_for(self.settings, self.runtime.store.quota_share)

    def sync(self) -> SyncReport:
        with self._client() as client:
            return sync(
                client,
                self.runtime.run_sync,
                milestones=self.runtime.milestones,
                calendar=self.runtime.policy.sprints,
                policy=self.runtime.policy,
                now=self.runtime.clock.now(),
            )

    def refetch(self, kind: Kind, object_id: int) -> RefetchReport:
        with self._client() as client:
            return refetch(
                client,
                self.runtime.run_sync,
                kind,
                object_id,
                milestones=self.runtime.milestones,
                calendar=self.runtime.policy.sprints,
                policy=self.runtime.policy,
                now=self.runtime.clock.now(),
            )
