"""The demo's built-in BigCommerce store: Larkspur's promotions, coupons, storefronts and
orders, answered in-process in the v2/v3 wire shapes, so the real client, sync and
milestone rules read it exactly as they read a live store."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from bot.bigcommerce.client import PAGE_LIMIT, BigCommerceClient, BigCommerceConfig
from bot.bigcommerce.parts import sync_listing
from bot.bigcommerce.sync import SyncReport, sync
from bot.runtime import Runtime
from handlers.milestones import Milestone

API = "https://store.larkspur.invalid"  # never resolves: the adapter answers every request
STORE_HASH = "larkspur-demo"
TOKEN = "demo-store-token"
CARE_STORE = 2  # the patient storefront launched in the campaign
CAMPAIGN = timedelta(days=42)  # how long the autumn campaign has run by the seed's `now`
ORDERS = 400


@dataclass
class DemoStore(BaseAdapter):
    """A store whose listings are built for `now`; mount it on a `requests.Session`."""

    now: datetime
    seed: int = 20261201
    at: datetime | None = None  # when the store is read (`now`): promotions drafted by then
    promotions: list[dict[str, Any]] = field(default_factory=list)
    drafted: dict[int, datetime] = field(default_factory=dict)
    coupons: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        now, rng = self.now, random.Random(self.seed)
        start = now - CAMPAIGN
        self.channels = [
            _channel(1, "Larkspur HCP Portal", now - timedelta(days=400)),
            _channel(CARE_STORE, "Larkspur Care patient store", start + timedelta(days=3)),
        ]
        d, end = timedelta(days=1), now + CAMPAIGN
        listed = (
            # (id, name, status, start, end, uses), drafted: time to market is drafted to live
            ((11, "Autumn adherence programme", "ENABLED", start, end, 184), start - 12 * d),
            ((12, "Summer sampling", "DISABLED", start - CAMPAIGN, start, 61), start - 60 * d),
            ((13, "Congress booth offer", "ENABLED", now - 9 * d, now + 30 * d, 41), now - 16 * d),
            ((14, "Adherence refill reminder", "ENABLED", now - 4 * d, end, 23), now - 20 * d),
            ((15, "Winter starter kit", "ENABLED", now + 12 * d, now + 90 * d, 0), now - 3 * d),
        )
        for fields, drafted in listed:
            self.promotions.append(_promotion(*fields))
            self.drafted[fields[0]] = drafted
        self.coupons = [
            _coupon(21, "HCP welcome", "HCPWELCOME", 212, start),
            _coupon(22, "Congress booth", "CONGRESS26", 37, now - timedelta(days=9)),
        ]
        for number in range(1, ORDERS + 1):
            created = start + timedelta(seconds=rng.uniform(0, (CAMPAIGN.total_seconds() - 3600)))
            modified = min(
                created + timedelta(hours=rng.uniform(0, 72)), now - timedelta(minutes=1)
            )
            status = rng.choices((10, 11, 2, 5, 4), weights=(60, 15, 15, 6, 4))[0]
            total = Decimal(rng.randrange(3_900, 22_000)) / 100
            channel = CARE_STORE if rng.random() < 0.8 else 1
            self.orders.append(_order(100_000 + number, status, created, modified, total, channel))

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        query = dict(parse_qsl(url.query))
        path = url.path.removeprefix(f"/stores/{STORE_HASH}")
        body: Any
        status, body = 404, {"status": 404, "title": "Not found"}
        if request.headers.get("X-Auth-Token") != TOKEN:
            status, body = 401, {"status": 401, "title": "Unauthorized"}
        elif path == "/v3/promotions":
            at = self.at or self.now
            status, body = 200, _v3([p for p in self.promotions if self.drafted[p["id"]] <= at])
        elif path == "/v3/channels":
            status, body = 200, _v3(self.channels)
        elif path == "/v2/coupons":
            status, body = 200, _v2(self.coupons, query)
        elif path == "/v2/orders":
            status, body = 200, _v2(self._listing(query.get("min_date_modified")), query)
        return _response(request, status, body)

    def close(self) -> None:
        pass

    def _listing(self, since: str | None) -> list[dict[str, Any]]:
        """Orders oldest-modified first, from `since` (inclusive) as the v2 API filters."""
        at = parsedate_to_datetime(since) if since else None
        found = [
            o for o in self.orders if at is None or parsedate_to_datetime(o["date_modified"]) >= at
        ]
        return sorted(found, key=lambda o: (parsedate_to_datetime(o["date_modified"]), o["id"]))


def sync_store(runtime: Runtime, definitions: Sequence[Milestone], *, now: datetime) -> SyncReport:
    """Read the demo store with the real client and sync, then award what holds now."""
    with _client(DemoStore(now)) as client:
        return sync(
            client,
            runtime.run_sync,
            milestones=definitions,
            calendar=runtime.policy.sprints,
            policy=runtime.policy,
            now=now,
        )


def earlier_syncs(runtime: Runtime, *, now: datetime) -> int:
    """The promotions as earlier syncs of the store saw them (the real client and listing
    sync, at those times), so the KPIs page's time to market has promotions seen as drafts
    and then going live; how many syncs."""
    start = now - CAMPAIGN
    seen = [start - timedelta(days=21), start - timedelta(days=11), now - timedelta(days=19)]
    seen.append(now - timedelta(days=15))
    for at in seen:
        with _client(DemoStore(now, at=at)) as client:
            sync_listing("promotion", client, runtime.run_sync, SyncReport(), now=at)
    return len(seen)


@contextmanager
def _client(store: DemoStore) -> Iterator[BigCommerceClient]:
    with requests.Session() as http:
        http.mount(API, store)
        config = BigCommerceConfig(store_hash=STORE_HASH, access_token=TOKEN, api_url=API)
        with BigCommerceClient(config, session=http, sleep=lambda _: None) as client:
            yield client


# -- the wire shapes -----------------------------------------------------------------------


def _rfc2822(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC).replace(microsecond=0))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _channel(ident: int, name: str, created: datetime) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "type": "storefront",
        "platform": "bigcommerce",
        "status": "active",
        "date_created": _iso(created),
        "date_modified": _iso(created),
    }


def _promotion(
    ident: int, name: str, status: str, start: datetime, end: datetime, uses: int
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "status": status,
        "redemption_type": "AUTOMATIC",
        "current_uses": uses,
        "max_uses": None,
        "start_date": _iso(start),
        "end_date": _iso(end),
    }


def _coupon(ident: int, name: str, code: str, uses: int, created: datetime) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "code": code,
        "type": "percentage_discount",
        "enabled": True,
        "num_uses": uses,
        "max_uses": 0,
        "date_created": _rfc2822(created),
        "expires": "",
    }


def _order(
    ident: int, status: int, created: datetime, modified: datetime, total: Decimal, channel: int
) -> dict[str, Any]:
    names = {10: "Completed", 11: "Awaiting Fulfillment", 2: "Shipped", 5: "Cancelled"}
    return {
        "id": ident,
        "status_id": status,
        "status": names.get(status, "Refunded"),
        "date_created": _rfc2822(created),
        "date_modified": _rfc2822(modified),
        "total_inc_tax": f"{total:.4f}",
        "currency_code": "EUR",
        "channel_id": channel,
        "customer_id": 5_000 + ident % 977,
    }


def _v3(items: list[dict[str, Any]]) -> dict[str, Any]:
    pagination = {"total": len(items), "count": len(items), "per_page": PAGE_LIMIT}
    return {
        "data": items,
        "meta": {"pagination": pagination | {"current_page": 1, "total_pages": 1}},
    }


def _v2(items: list[dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """One page of a v2 listing; None (204 No Content) past the last page."""
    page, limit = int(query.get("page", 1)), int(query.get("limit", PAGE_LIMIT))
    chunk = items[(page - 1) * limit : page * limit]
    return chunk or None


def _response(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = 204 if body is None else status
    response._content = b"" if body is None else json.dumps(body).encode()
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    response.url = request.url or ""
    response.request = request
    response.reason = "OK" if status < 300 else "Error"
    return response
