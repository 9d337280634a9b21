"""Keeping the local copy of a BigCommerce store fresh, and awarding milestones from it.

`sync` copies promotions, coupons and channels in full (stores have few of them) and orders
incrementally from a cursor (`parts`). Each part stands alone: a listing the store refuses
(403: the API account lacks that scope) or answers in a shape that cannot be trusted is left
out, said so in the report and the log, and the other parts go on. A sync cut short by
anything else (the store down, a revoked token) keeps what it committed and the next one goes
on from there. `refetch` is the webhook path: one object fetched again by id and stored.

Both end by evaluating the milestones against the local tables; an award is unique by key,
so a sync and a webhook racing each other award a milestone once. `StoreSync` is the running
bot's side: one client (so one quota) for the scheduled sync and every webhook re-fetch, and
a bounded queue of re-fetches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import requests
from sqlmodel import Session

from bot.bigcommerce.client import PAGE_LIMIT, BigCommerceClient, BigCommerceConfig
from bot.bigcommerce.errors import BigCommerceError, UnexpectedBody, describe
from bot.bigcommerce.models import KINDS, Channel, Coupon, Kind, Order, Promotion
from bot.bigcommerce.parts import (
    DEFAULT_OVERLAP,
    ORDERS_CURSOR,
    UnitOfWork,
    sync_listing,
    sync_orders,
)
from bot.bigcommerce.records import channel_record, coupon_record, order_record, promotion_record
from bot.bigcommerce.refetches import DEFAULT_LIMIT, Outcome, RefetchQueue
from bot.bigcommerce.reports import RefetchReport, SyncReport
from bot.bigcommerce.scopes import PLURALS, missing_scope
from bot.bigcommerce.status import StoreStatus, status_line
from bot.bigcommerce.webhook import WEBHOOK_SECRET_HEADER, parse_webhook, verify_webhook
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.commerce import upsert_channels, upsert_coupons, upsert_orders, upsert_promotions
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

# What a failed conversation with the store can raise; the client wraps nearly all of it
# in BigCommerceError, the rest is caught here so that a sync never raises for it.
_FETCH_ERRORS = (BigCommerceError, requests.RequestException)


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

    `run` commits each step on its own. A failure to talk to the store never raises: a part
    the store refuses is skipped (`skipped_parts`), anything else stops the sync and is
    returned as `error`; what was committed before stays, and the milestones are still
    evaluated against it. Database errors do raise. Orders are committed `batch_size` at a
    time; the default, one page, is also how often the listing is asked for afresh.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    started = time.monotonic()
    stats = client.stats
    requests_before, throttled_before = stats.requests, stats.throttled
    waited_before = stats.waited_seconds
    report = SyncReport()
    try:
        for kind in KINDS:
            _copy(kind, client, run, report, now=now, batch_size=batch_size, overlap=overlap)
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
    _log_sync(client.config.store_hash, report)
    return report


def _copy(
    kind: Kind,
    client: BigCommerceClient,
    run: UnitOfWork,
    report: SyncReport,
    *,
    now: datetime,
    batch_size: int,
    overlap: timedelta,
) -> None:
    """One part of the copy; a failure that concerns this part only is reported and the
    sync goes on with the next."""
    try:
        if kind == "order":
            sync_orders(client, run, report, now=now, batch_size=batch_size, overlap=overlap)
        else:
            sync_listing(kind, client, run, report, now=now)
    except BigCommerceError as exc:
        if not _part_only(exc):
            raise
        _skip_part(client, report, kind, exc)


def _part_only(exc: BigCommerceError) -> bool:
    """Whether a failure concerns one listing only: refused (403: a scope the API account
    lacks), or answered in a shape that cannot be trusted. A revoked token, a store that is
    down or a wrong store hash concern every part alike."""
    return exc.status == 403 or isinstance(exc, UnexpectedBody)


def _skip_part(client: BigCommerceClient, report: SyncReport, kind: Kind, exc: Exception) -> None:
    scope = missing_scope(kind, exc)
    reason = describe(exc, client.config.access_token)
    if scope is not None:
        reason = f"{reason} (the API account lacks the {scope} scope)"
        if str(scope) not in report.missing_scopes:
            report.missing_scopes.append(str(scope))
    report.skipped_parts[kind] = reason
    log.warning(
        "BigCommerce sync of store %s: %s left as they were: %s",
        client.config.store_hash,
        PLURALS[kind],
        reason,
    )


def _log_sync(store_hash: str, report: SyncReport) -> None:
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
    if report.degraded or report.unreadable:
        log.warning("%s", status_line(store_hash, report))


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
    to reach the store is returned as `error`, not raised.
    """
    if kind not in KINDS:
        raise ValueError(f"cannot re-fetch a {kind!r}; expected one of {', '.join(KINDS)}")
    report = RefetchReport(kind=kind, id=int(object_id))
    requests_before = client.stats.requests
    try:
        fetched = _fetch_one(client, kind, int(object_id))
    except _FETCH_ERRORS as exc:
        report.error = describe(exc, client.config.access_token)
        scope = missing_scope(kind, exc)
        report.missing_scope = str(scope) if scope is not None else None
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
    """The running bot's link to the store: the scheduled sync (in a worker thread) and the
    webhook re-fetches (queued, on a thread of their own) share one client, so one quota,
    and commit through `runtime.run_sync`. `status` is what `/readyz` shows of it."""

    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        *,
        client: BigCommerceClient | None = None,
        queue_limit: int = DEFAULT_LIMIT,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.client = client or client_for(settings, runtime.store.quota_share)
        self.status = StoreStatus(self.client.config.store_hash)
        self.refetches = RefetchQueue(self.refetch, limit=queue_limit, done=self._refetched)

    def close(self) -> None:
        self.client.close()

    def sync(self) -> SyncReport:
        now = self.runtime.clock.now()
        report = sync(
            self.client,
            self.runtime.run_sync,
            milestones=self.runtime.milestones,
            calendar=self.runtime.policy.sprints,
            policy=self.runtime.policy,
            now=now,
        )
        self.status.synced(report, now)
        return report

    def refetch(self, kind: Kind, object_id: int) -> RefetchReport:
        report = refetch(
            self.client,
            self.runtime.run_sync,
            kind,
            object_id,
            milestones=self.runtime.milestones,
            calendar=self.runtime.policy.sprints,
            policy=self.runtime.policy,
            now=self.runtime.clock.now(),
        )
        self.status.refetched(report)
        return report

    def enqueue(
        self, kind: Kind, object_id: int, tasks: set[asyncio.Task[object]] | None = None
    ) -> Outcome:
        """Queue a webhook's re-fetch (from the event loop)."""
        return self.refetches.offer(kind, object_id, tasks)

    def _refetched(self, report: RefetchReport) -> None:
        if report.awarded:
            self.runtime.poke()
