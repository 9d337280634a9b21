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

import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import requests
from sqlmodel import Session

from bot.bigcommerce.client import (
    PAGE_LIMIT,
    BigCommerceClient,
    BigCommerceConfig,
    BigCommerceError,
    Channel,
    Coupon,
    Order,
    Promotion,
)
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.commerce import (
    ChannelRecord,
    CouponRecord,
    OrderRecord,
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

log = logging.getLogger(__name__)

T = TypeVar("T")

ORDERS_CURSOR = "bigcommerce.orders"
"""The `sync_state` key of the orders cursor: {"date_modified": ISO 8601, "order_id": int}."""

DEFAULT_OVERLAP = timedelta(seconds=1)
"""How far before the cursor each listing starts: the filter is inclusive and BigCommerce
keeps whole seconds, so orders modified in the cursor's own second are read again."""

WEBHOOK_SECRET_HEADER = "X-Plaudit-Webhook-Secret"

Kind = Literal["promotion", "coupon", "channel", "order"]
KINDS: tuple[Kind, ...] = ("promotion", "coupon", "channel", "order")

# Scopes worth a re-fetch. Promotions and coupons have no webhook events; channel-scoped
# events (store/channel/{id}/...) are about carts and settings, not the channel itself.
_WEBHOOK_SCOPES: dict[str, Kind] = {
    "store/order/created": "order",
    "store/order/updated": "order",
    "store/order/statusUpdated": "order",
    "store/order/archived": "order",
    "store/order/refund/created": "order",
    "store/channel/created": "channel",
    "store/channel/updated": "channel",
}

# What a failed conversation with the store can raise; the client wraps nearly all of it
# in BigCommerceError, the rest is caught here so that a sync never raises for it.
_FETCH_ERRORS = (BigCommerceError, requests.RequestException)


class UnitOfWork(Protocol):
    """Runs `work` in one transaction, commits, and returns its result (`Runtime.run_sync`)."""

    def __call__(self, work: Callable[[Session], T], /) -> T: ...


@dataclass
class SyncReport:
    promotions: int = 0
    coupons: int = 0
    channels: int = 0
    orders: int = 0
    """Orders read from the store, including those read again in the cursor's overlap."""
    orders_stored: int = 0
    """Distinct orders written in committed batches (one read again at a page boundary
    counts once)."""
    stored_ids: set[int] = field(default_factory=set, repr=False)
    batches: int = 0
    removed: int = 0
    """Promotions, coupons and channels gone from the store and so from the local copy."""
    since: datetime | None = None
    """The cursor the sync started from (None: the first sync)."""
    cursor: datetime | None = None
    """The cursor it left behind."""
    awarded: list[Awarded] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    """429 answers seen (and waited out)."""
    waited_seconds: float = 0.0
    quota: int | None = None
    """The store's request quota per window, as last reported."""
    quota_share: float | None = None
    """Requests made divided by that quota."""
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RefetchReport:
    kind: Kind
    id: int
    found: bool = False
    """False when the store no longer has the object (the local copy is left as it is)."""
    awarded: list[Awarded] = field(default_factory=list)
    requests: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


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
        report.error = _describe(client, exc)
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
    return report


def _sync_listings(
    client: BigCommerceClient, run: UnitOfWork, report: SyncReport, *, now: datetime
) -> None:
    """Promotions, coupons and channels: each listing read in full, then stored at once."""
    promotions = [_promotion_record(p) for p in client.promotions()]
    report.promotions = len(promotions)
    report.removed += run(
        lambda s: _replace(s, "promotion", upsert_promotions, promotions, now=now)
    )
    coupons = [_coupon_record(c) for c in client.coupons()]
    report.coupons = len(coupons)
    report.removed += run(lambda s: _replace(s, "coupon", upsert_coupons, coupons, now=now))
    channels = [_channel_record(c) for c in client.channels()]
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
    records = [_order_record(o) for o in batch]

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


# -- webhooks ------------------------------------------------------------------------------
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
        report.error = _describe(client, exc)
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
            upsert_orders(session, [_order_record(fetched)])
        elif isinstance(fetched, Promotion):
            upsert_promotions(session, [_promotion_record(fetched)], now=now)
        elif isinstance(fetched, Coupon):
            upsert_coupons(session, [_coupon_record(fetched)], now=now)
        elif isinstance(fetched, Channel):
            upsert_channels(session, [_channel_record(fetched)], now=now)
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


def verify_webhook(
    headers: Mapping[str, str], secret: str, header_name: str = WEBHOOK_SECRET_HEADER
) -> bool:
    """True when the request carries `secret` in `header_name` (any letter case).

    BigCommerce sends the custom headers given when the webhook was registered; an empty
    configured secret accepts nothing.
    """
    if not secret:
        return False
    wanted = header_name.lower()
    given = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def parse_webhook(body: bytes) -> tuple[Kind, int] | None:
    """(kind, id) of the object a BigCommerce webhook is about, or None when the body is not
    a webhook or is about something the milestones do not use (carts, products, ...).

    A callback looks like {"scope": "store/order/updated", "data": {"type": "order",
    "id": 123}, "hash": ..., "created_at": ..., "producer": "stores/abc"}.
    """
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    scope = payload.get("scope")
    data = payload.get("data")
    if not isinstance(scope, str) or not isinstance(data, dict):
        return None
    kind = _WEBHOOK_SCOPES.get(scope)
    if kind is None:
        return None
    declared = data.get("type")
    if declared is not None and declared != kind:
        return None
    object_id = _positive_int(data.get("id"))
    if object_id is None:
        return None
    return kind, object_id


# -- helpers -------------------------------------------------------------------------------
def _positive_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, int) and 0 < value < 2**63:
        return value
    return None


def _describe(client: BigCommerceClient, exc: BaseException) -> str:
    """A one-line reason for the log and the report, never with the access token in it."""
    if isinstance(exc, BigCommerceError):
        text = exc.message
    else:
        text = f"BigCommerce request failed: {type(exc).__name__}"
    token = client.config.access_token
    return text.replace(token, "***") if token else text


def _promotion_record(p: Promotion) -> PromotionRecord:
    return PromotionRecord(
        id=p.id,
        name=p.name,
        status=p.status,
        start_date=p.start_date,
        end_date=p.end_date,
        current_uses=p.current_uses,
        max_uses=p.max_uses,
    )


def _coupon_record(c: Coupon) -> CouponRecord:
    return CouponRecord(
        id=c.id,
        name=c.name,
        code=c.code,
        enabled=c.enabled,
        num_uses=c.num_uses,
        max_uses=c.max_uses or None,  # the store writes 0 for unlimited
        date_created=c.date_created,
    )


def _channel_record(c: Channel) -> ChannelRecord:
    return ChannelRecord(
        id=c.id,
        name=c.name,
        type=c.type,
        platform=c.platform,
        status=c.status,
        date_created=c.date_created,
    )


def _order_record(o: Order) -> OrderRecord:
    return OrderRecord(
        id=o.id,
        status_id=o.status_id,
        counts=o.counts,
        date_created=o.date_created,
        date_modified=o.date_modified,
        total=o.total_inc_tax,
        channel_id=o.channel_id,
    )


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
