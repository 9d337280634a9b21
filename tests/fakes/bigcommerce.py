"""A fake BigCommerce store on loopback: the real v2/v3 wire shapes, paging and rate limits.

It serves the read endpoints Plaudit uses (promotions and channels on v3, coupons and orders on
v2) from in-memory lists that tests may change at will, checks the store hash, the
`X-Auth-Token` and the token's OAuth scopes, pages like the real API (v3 `meta.pagination` with
links, v2 `page`/`limit` ending in `204 No Content`), and runs one shared request quota per time
window, answering every request with the four `X-Rate-Limit-*` headers and `429` once the
window's quota is spent. Failures can be injected, other apps' traffic simulated, an endpoint
made to answer a fixed body whatever is asked (as a mock server built from the API reference's
examples does), and every request is recorded.

Shapes follow BigCommerce's API reference (github.com/bigcommerce/docs, `reference/`):
promotions.v3.yml, marketing.v2.yml (coupons), orders.v2.oas2.yml, channels.v3.yml. Optional
fields are left out rather than sent as null where the schema does not allow null (a promotion's
`max_uses`, `schedule`, `shipping_address`); `end_date` is null for a promotion that never ends,
as its description says. Which scope opens which endpoint is each file's
`securitySchemes.X-Auth-Token` table; a token without it gets `403`, in the promotions file's
`ErrorResponse403` shape on v3 promotions, the common v3 error shape on channels, and v2's
`[{"status", "message"}]` on coupons and orders.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import loopback

STATUS_TYPE_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"

NO_SCOPE = "You don't have a required scope to access the endpoint"

READ_SCOPES = frozenset(
    {
        "store_v2_marketing_read_only",
        "store_v2_orders_read_only",
        "store_channel_settings_read_only",
    }
)
"""What an API account made with read-only Marketing, Orders and Channel Settings holds."""

# The scopes (modify or read-only) that open each endpoint, from the reference files.
ENDPOINT_SCOPES: dict[str, frozenset[str]] = {
    "/v3/promotions": frozenset({"store_v2_marketing", "store_v2_marketing_read_only"}),
    "/v2/coupons": frozenset({"store_v2_marketing", "store_v2_marketing_read_only"}),
    "/v2/orders": frozenset({"store_v2_orders", "store_v2_orders_read_only"}),
    "/v3/channels": frozenset({"store_channel_settings", "store_channel_settings_read_only"}),
}

Reply = Callable[[dict[str, str]], tuple[int, Any]]
"""A scripted endpoint: the query asked for, to (status, JSON body or None for no body)."""

ORDER_STATUSES: dict[int, str] = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}

# Roughly how a live store's orders spread over statuses.
_STATUS_WEIGHTS: dict[int, int] = {
    10: 45,
    11: 15,
    2: 12,
    9: 5,
    7: 3,
    1: 2,
    3: 2,
    14: 2,
    0: 5,
    4: 3,
    5: 4,
    6: 2,
}

_V2_DEFAULT_LIMIT = 50
_V3_DEFAULT_LIMIT = 50
_MAX_LIMIT = 250


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(value: datetime) -> str:
    """How v2 writes dates: "Tue, 13 Mar 2018 16:18:59 +0000"."""
    v = value.astimezone(UTC)
    return (
        f"{_DAYS[v.weekday()]}, {v.day:02d} {_MONTHS[v.month - 1]} {v.year} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d} +0000"
    )


def money(ten_thousandths: int) -> str:
    """How v2 writes money: "123.4500"."""
    return f"{ten_thousandths // 10_000}.{ten_thousandths % 10_000:04d}"


def iso8601(value: datetime) -> str:
    """How v3 writes dates: "2019-08-24T14:15:22Z"."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: str) -> datetime:
    """A v2 date filter: RFC 2822 or ISO 8601, as the real API accepts both."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    """Relative to the store, e.g. "/v2/orders"."""
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    at: float
    """The fake's clock when the request arrived."""
    window: int
    """Which rate-limit window it fell in (1 for the first)."""
    window_started: float


@dataclass
class _Fault:
    status: int
    times: int
    body: str | None


@dataclass
class _Reply:
    status: int
    body: Any = None
    raw: str | None = None
    content_type: str = "application/json"


@dataclass
class FakeBigCommerce:
    """Answers like https://api.bigcommerce.com/stores/{store_hash}/ does for Plaudit's reads."""

    store_hash: str = "s7k9q2x4"
    access_token: str = "bc-test-token-7f3a9c1e5b"
    quota: int = 150
    window_ms: int = 30_000
    clock: Callable[[], float] = time.monotonic
    competing_load: int = 0
    """Requests other apps on the store make, from the same quota, before each of ours."""
    scopes: frozenset[str] = READ_SCOPES
    """The OAuth scopes of `access_token`."""
    rate_limit_headers: bool = True
    """False: answer without the X-Rate-Limit-* headers (as a proxy that strips them would),
    though the quota still holds."""
    promotions: list[dict[str, Any]] = field(default_factory=list)
    coupons: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    _log: list[RecordedRequest] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _delays: list[float] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _window_index: int = 0
    _window_start: float = 0.0
    _window_end: float | None = None
    _left: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _date_cache: dict[str, datetime] = field(default_factory=dict)
    _version: int = 0
    _listing_cache: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = field(
        default_factory=dict
    )
    _listing_basis: tuple[int, int, int] = (0, 0, -1)
    _replies: dict[str, Reply] = field(default_factory=dict)
    _in_flight: int = 0
    max_in_flight: int = 0
    """The most requests the fake was answering at the same moment."""
    url: str = ""

    def __post_init__(self) -> None:
        if not self.channels:
            created = datetime(2021, 3, 1, 9, 30, tzinfo=UTC)
            self.add_channel(
                "Default storefront", type="storefront", platform="bigcommerce", created=created
            )

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeBigCommerce:
        self._server, self._thread = loopback.serve(self._handle)
        self.url = loopback.base_url(self._server)
        return self

    def stop(self) -> None:
        loopback.stop(self._server, self._thread)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeBigCommerce:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- data ----------------------------------------------------------------------------
    def add_channel(
        self,
        name: str,
        *,
        type: str = "storefront",
        platform: str = "bigcommerce",
        status: str = "active",
        created: datetime | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            when = created or datetime(2022, 1, 1, tzinfo=UTC) + timedelta(days=len(self.channels))
            channel: dict[str, Any] = {
                "id": max((c["id"] for c in self.channels), default=0) + 1,
                "name": name,
                "type": type,
                "platform": platform,
                "status": status,
                "is_listable_from_ui": True,
                "is_visible": status not in {"archived", "deleted", "terminated"},
                "icon_url": f"https://cdn.example.com/channel-icons/{platform}.svg",
                "config_meta": {"app": {"id": 0, "sections": []}},
                "date_created": iso8601(when),
                "date_modified": iso8601(when + timedelta(hours=2)),
            }
            self.channels.append(channel)
            return channel

    def add_promotion(
        self,
        name: str,
        *,
        status: str = "ENABLED",
        redemption_type: str = "AUTOMATIC",
        current_uses: int = 0,
        max_uses: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        channel_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            promotion: dict[str, Any] = {
                "id": max((p["id"] for p in self.promotions), default=0) + 1,
                "redemption_type": redemption_type,
                "name": name,
                "display_name": name,
                "channels": [{"id": i} for i in channel_ids or []],
                "customer": {
                    "group_ids": [],
                    "minimum_order_count": 0,
                    "excluded_group_ids": [],
                },
                "rules": [
                    {
                        "action": {"cart_value": {"discount": {"percentage_amount": "10"}}},
                        "apply_once": True,
                        "stop": False,
                    }
                ],
                "current_uses": current_uses,
                "status": status,
                "start_date": iso8601(start or datetime(2024, 1, 1, tzinfo=UTC)),
                "end_date": iso8601(end) if end is not None else None,
                "stop": False,
                "can_be_used_with_other_promotions": True,
                "currency_code": "*",
                "notifications": [],
                "created_from": "api",
            }
            if max_uses is not None:
                promotion["max_uses"] = max_uses
            if redemption_type == "COUPON":
                promotion["coupon_type"] = "SINGLE"
                promotion["coupon_overrides_other_promotions"] = False
                promotion["coupon_overrides_automatic_when_offering_higher_discounts"] = False
            self.promotions.append(promotion)
            return promotion

    def add_coupon(
        self,
        name: str,
        code: str,
        *,
        type: str = "per_total_discount",
        amount: str = "5.0000",
        enabled: bool = True,
        num_uses: int = 0,
        max_uses: int = 0,
        created: datetime | None = None,
        expires: datetime | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            when = created or datetime(2024, 2, 1, tzinfo=UTC) + timedelta(hours=len(self.coupons))
            coupon: dict[str, Any] = {
                "id": max((c["id"] for c in self.coupons), default=0) + 1,
                "name": name,
                "type": type,
                "amount": amount,
                "min_purchase": "0.0000",
                "expires": rfc2822(expires) if expires is not None else "",
                "enabled": enabled,
                "code": code,
                "applies_to": {"entity": "categories", "ids": [0]},
                "num_uses": num_uses,
                "max_uses": max_uses,
                "max_uses_per_customer": 0,
                "restricted_to": {},
                "shipping_methods": [],
                "date_created": rfc2822(when),
            }
            self.coupons.append(coupon)
            return coupon

    def add_orders(
        self,
        n: int,
        *,
        start: datetime | None = None,
        step: timedelta = timedelta(minutes=7),
        channel_id: int = 1,
        status_ids: list[int] | None = None,
        currency_code: str = "USD",
        seed: int = 7,
    ) -> list[dict[str, Any]]:
        """Append n orders created `step` apart from `start`, with varied statuses and totals.

        `status_ids` cycles through the given statuses instead of drawing them at random.
        """
        rng = random.Random(seed)
        if status_ids:
            drawn = [status_ids[i % len(status_ids)] for i in range(n)]
        else:
            drawn = rng.choices(list(_STATUS_WEIGHTS), list(_STATUS_WEIGHTS.values()), k=n)
        first = start or datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
        with self._lock:
            next_id = max((o["id"] for o in self.orders), default=99) + 1
            made = []
            for i, status_id in enumerate(drawn):
                created = first + step * i
                noise = rng.random()
                made.append(
                    self._order(
                        next_id + i,
                        status_id,
                        created,
                        created + timedelta(minutes=int(noise * 6)),
                        subtotal_cents=500 + int(noise * 1_000_003) % 49_500,
                        channel_id=channel_id,
                        currency_code=currency_code,
                        customer_id=int(noise * 7919) % 400,
                    )
                )
            self.orders.extend(made)
            self._version += 1
            return made

    def modify_order(self, order_id: int, when: datetime, **changes: Any) -> dict[str, Any]:
        """Change an order the way the store does: fields change and date_modified moves."""
        with self._lock:
            order = next(o for o in self.orders if o["id"] == order_id)
            if "status_id" in changes:
                changes.setdefault("status", ORDER_STATUSES[int(changes["status_id"])])
            order.update(changes)
            order["date_modified"] = rfc2822(when)
            self._version += 1
            return order

    def archive_order(self, order_id: int, when: datetime) -> dict[str, Any]:
        """Archive an order as the control panel's "Archive" (or DELETE /v2/orders/{id}) does:
        it leaves the order listings, and GET /v2/orders/{id} answers it with is_deleted."""
        with self._lock:
            order = next(o for o in self.orders if o["id"] == order_id)
            order["is_deleted"] = True
            order["date_modified"] = rfc2822(when)
            self._version += 1
            return order

    def changed(self) -> None:
        """Say that orders were edited in place (not through the helpers above).

        Order listings are cached between pages, keyed on the list itself, its length and the
        edits made through the helpers, so that a 50,000-order store pages quickly.
        """
        with self._lock:
            self._version += 1

    @staticmethod
    def _order(
        order_id: int,
        status_id: int,
        created: datetime,
        modified: datetime,
        *,
        subtotal_cents: int,
        channel_id: int,
        currency_code: str,
        customer_id: int,
    ) -> dict[str, Any]:
        # Amounts in ten-thousandths, the precision v2 writes money with ("123.4500").
        subtotal = subtotal_cents * 100
        tax = (subtotal_cents * 825 + 50) // 100  # 8.25 % sales tax
        shipping = 79_900 if subtotal < 750_000 else 0
        total_ex = subtotal + shipping
        total_inc = total_ex + tax
        refunded = total_inc if status_id == 4 else 0
        resource = f"/orders/{order_id}"
        modified_at, shipping_cost, tax_amount = rfc2822(modified), money(shipping), money(tax)
        return {
            "id": order_id,
            "customer_id": customer_id,
            "date_created": rfc2822(created),
            "date_modified": modified_at,
            "date_shipped": modified_at if status_id in {2, 10} else "",
            "status_id": status_id,
            "status": ORDER_STATUSES[status_id],
            "subtotal_ex_tax": money(subtotal),
            "subtotal_inc_tax": money(subtotal + tax),
            "subtotal_tax": tax_amount,
            "base_shipping_cost": shipping_cost,
            "shipping_cost_ex_tax": shipping_cost,
            "shipping_cost_inc_tax": shipping_cost,
            "shipping_cost_tax": "0.0000",
            "total_ex_tax": money(total_ex),
            "total_inc_tax": money(total_inc),
            "total_tax": tax_amount,
            "items_total": 1 + order_id % 3,
            "items_shipped": 1 + order_id % 3 if status_id in {2, 10} else 0,
            "payment_method": "Credit Card",
            "payment_status": "captured" if status_id not in {0, 6, 7} else "",
            "refunded_amount": money(refunded),
            "order_is_digital": False,
            "store_credit_amount": "0.0000",
            "gift_certificate_amount": "0.0000",
            "ip_address": "203.0.113.17",
            "geoip_country": "United States",
            "geoip_country_iso2": "US",
            "currency_id": 1,
            "currency_code": currency_code,
            "currency_exchange_rate": "1.0000000000",
            "default_currency_id": 1,
            "default_currency_code": currency_code,
            "staff_notes": "",
            "customer_message": "",
            "discount_amount": "0.0000",
            "coupon_discount": "0.0000",
            "is_deleted": False,
            "is_email_opt_in": False,
            "order_source": "www",
            "channel_id": channel_id,
            "external_source": None,
            "external_id": None,
            "cart_id": f"{order_id:08x}-2b1c-4d7e-9f10-0a1b2c3d4e5f",
            "products": {"url": f"{resource}/products", "resource": f"{resource}/products"},
            "shipping_addresses": {
                "url": f"{resource}/shipping_addresses",
                "resource": f"{resource}/shipping_addresses",
            },
            "coupons": {"url": f"{resource}/coupons", "resource": f"{resource}/coupons"},
        }

    # -- scripting -----------------------------------------------------------------------
    def fail_next(self, status: int = 500, count: int = 1, *, body: str | None = None) -> None:
        """Answer the next `count` requests with `status` (429 comes with rate-limit headers).

        `body` replaces the default error body verbatim, e.g. to send a broken 200.
        """
        with self._lock:
            self._faults.append(_Fault(status, count, body))

    def answer(self, path: str, reply: Reply | Any, *, status: int = 200) -> None:
        """Answer every GET of `path` (relative to the store, e.g. "/v3/channels") with
        `reply` instead of the store's data, after the token and scope checks: a JSON body
        sent as it is whatever the query (as a mock server answering each request with the
        reference's example does), or a `Reply` computing (status, body) from the query."""
        with self._lock:
            self._replies[path] = reply if callable(reply) else fixed(reply, status)

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next `count` answers back for `seconds` (to trip client timeouts)."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def consume(self, n: int) -> None:
        """Spend n requests of the current window as another app on the store would."""
        with self._lock:
            self._roll_window(self.clock())
            self._left = max(0, self._left - n)

    # -- webhooks ------------------------------------------------------------------------
    def deliver_webhook(
        self,
        destination: str,
        scope: str,
        object_id: int | str,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> list[int]:
        """POST a webhook the way BigCommerce does (its JSON body, the custom headers the
        hook was created with), `times` times (BigCommerce may deliver more than once);
        returns the status codes."""
        kind = scope.split("/")[1] if scope.count("/") >= 2 else "store"
        body = json.dumps(
            {
                "scope": scope,
                "store_id": "1001",
                "data": {"type": kind, "id": object_id},
                "hash": f"{random.getrandbits(160):040x}",
                "created_at": int(time.time()),
                "producer": f"stores/{self.store_hash}",
            }
        ).encode()
        statuses = []
        for _ in range(times):
            request = urllib.request.Request(
                destination,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", **(headers or {})},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    statuses.append(int(answer.status))
            except urllib.error.HTTPError as error:
                statuses.append(int(error.code))
                error.close()
        return statuses

    # -- inspection ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def requests_per_window(self) -> Counter[int]:
        return Counter(r.window for r in self.requests)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- rate limiting -------------------------------------------------------------------
    def _roll_window(self, now: float) -> None:
        if self._window_end is None or now >= self._window_end:
            self._window_index += 1
            self._window_start = now
            self._window_end = now + self.window_ms / 1000
            self._left = self.quota

    def _rate_headers(self, now: float) -> dict[str, str]:
        end = self._window_end if self._window_end is not None else now
        return {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(max(0, math.ceil((end - now) * 1000))),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self._left),
        }

    # -- the wire ------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        split = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(request.headers.get("Content-Length") or 0)
        if length:
            request.rfile.read(length)
        prefix = f"/stores/{self.store_hash}"
        relative = split.path[len(prefix) :] if split.path.startswith(prefix + "/") else split.path
        version = "v2" if relative.startswith("/v2/") else "v3"
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            self._answer(request, split.path, relative, version, query, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(
        self,
        request: BaseHTTPRequestHandler,
        full_path: str,
        relative: str,
        version: str,
        query: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        with self._lock:
            now = self.clock()
            self._roll_window(now)
            if self.competing_load:
                self._left = max(0, self._left - self.competing_load)
            fault = self._take_fault()
            delay = self._delays.pop(0) if self._delays else 0.0
            if self._left <= 0 or (fault is not None and fault.status == 429):
                reply = _error(version, 429, "You have exceeded your request quota.")
            else:
                self._left -= 1
                if fault is not None:
                    reply = self._fault_reply(version, fault)
                else:
                    reply = self._route(
                        request.command, full_path, relative, version, query, headers
                    )
            rate = self._rate_headers(now) if self.rate_limit_headers else {}
            self._log.append(
                RecordedRequest(
                    request.command,
                    relative,
                    query,
                    headers,
                    reply.status,
                    now,
                    self._window_index,
                    self._window_start,
                )
            )
        if delay:
            time.sleep(delay)
        self._send(request, reply, rate)

    def _take_fault(self) -> _Fault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.times -= 1
        if fault.times <= 0:
            self._faults.pop(0)
        return fault

    @staticmethod
    def _fault_reply(version: str, fault: _Fault) -> _Reply:
        if fault.body is not None:
            return _Reply(fault.status, raw=fault.body)
        if fault.status == 502:
            page = (
                "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
            )
            return _Reply(502, raw=page, content_type="text/html")
        return _error(version, fault.status, HTTPStatus(fault.status).phrase)

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, reply: _Reply, headers: dict[str, str]) -> None:
        request.send_response(reply.status)
        for name, value in headers.items():
            request.send_header(name, value)
        if reply.status == 204:
            request.end_headers()
            return
        data = reply.raw.encode() if reply.raw is not None else json.dumps(reply.body).encode()
        request.send_header("Content-Type", f"{reply.content_type}; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        # A client that gave up waiting (a timeout test) has nobody left to read the answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            request.wfile.write(data)

    def _route(
        self,
        method: str,
        full_path: str,
        path: str,
        version: str,
        query: dict[str, str],
        headers: dict[str, str],
    ) -> _Reply:
        if not full_path.startswith(f"/stores/{self.store_hash}/"):
            return _error(version, 404, "The requested resource was not found.")
        if headers.get("x-auth-token") != self.access_token:
            if version == "v2":
                return _error(version, 401, "You are not authorized to access this resource.")
            return _error(version, 401, "Unauthorized")
        if method != "GET":
            return _error(version, 405, "The requested method is not supported.")
        needed = next(
            (s for p, s in ENDPOINT_SCOPES.items() if path == p or path.startswith(p + "/")), None
        )
        if needed is not None and not needed & self.scopes:
            return _forbidden(path, version)
        scripted = self._replies.get(path)
        if scripted is not None:
            status, body = scripted(query)
            return _Reply(204 if body is None else status, body)
        try:
            return self._dispatch(path, query)
        except _BadParameter as exc:
            status = 400 if version == "v2" else 422
            return _error(version, status, f"The field '{exc.name}' is invalid.")

    def _dispatch(self, path: str, query: dict[str, str]) -> _Reply:
        if path == "/v3/promotions":
            items = [p for p in self.promotions if _matches_promotion(p, query)]
            return self._v3_page("/v3/promotions", sorted(items, key=lambda p: p["id"]), query)
        if match := re.fullmatch(r"/v3/promotions/(\d+)", path):
            found = [p for p in self.promotions if p["id"] == int(match[1])]
            if not found:
                return _error("v3", 404, "The requested resource was not found.")
            return _Reply(200, {"data": found[0], "meta": {}})
        if path == "/v3/channels":
            return self._v3_page(
                "/v3/channels", sorted(self.channels, key=lambda c: c["id"]), query
            )
        if path == "/v2/coupons":
            return self._v2_page(self._coupons(query), query)
        if path == "/v2/orders":
            return self._v2_page(self._order_listing(query), query)
        if path == "/v2/orders/count":
            orders = self._order_listing(query)
            by_status = Counter(o["status_id"] for o in orders)
            statuses = [
                {
                    "id": status_id,
                    "name": name,
                    "system_label": name,
                    "custom_label": name,
                    "system_description": f"Orders with status {name}.",
                    "count": by_status.get(status_id, 0),
                    "sort_order": status_id,
                }
                for status_id, name in ORDER_STATUSES.items()
            ]
            return _Reply(200, {"count": len(orders), "statuses": statuses})
        if match := re.fullmatch(r"/v2/orders/(\d+)", path):
            found = [o for o in self.orders if o["id"] == int(match[1])]
            if not found:
                return _error("v2", 404, "The requested resource was not found.")
            return _Reply(200, found[0])
        version = "v2" if path.startswith("/v2/") else "v3"
        return _error(version, 404, "The requested resource was not found.")

    def _coupons(self, query: dict[str, str]) -> list[dict[str, Any]]:
        items = sorted(self.coupons, key=lambda c: c["id"])
        if "id" in query:
            items = [c for c in items if c["id"] == _int_param(query, "id")]
        if "code" in query:
            items = [c for c in items if c["code"] == query["code"]]
        if "min_id" in query:
            items = [c for c in items if c["id"] >= _int_param(query, "min_id")]
        if "max_id" in query:
            items = [c for c in items if c["id"] <= _int_param(query, "max_id")]
        return items

    def _order_listing(self, query: dict[str, str]) -> list[dict[str, Any]]:
        basis = (id(self.orders), len(self.orders), self._version)
        if basis != self._listing_basis:
            self._listing_cache.clear()
            self._listing_basis = basis
        key = tuple(sorted((k, v) for k, v in query.items() if k not in {"page", "limit"}))
        listing = self._listing_cache.get(key)
        if listing is None:
            listing = self._listing_cache[key] = self._orders(query)
        return listing

    def _orders(self, query: dict[str, str]) -> list[dict[str, Any]]:
        items = [o for o in self.orders if not o.get("is_deleted")]
        for name, key, keep in (
            ("min_date_created", "date_created", _at_or_after),
            ("max_date_created", "date_created", _at_or_before),
            ("min_date_modified", "date_modified", _at_or_after),
            ("max_date_modified", "date_modified", _at_or_before),
        ):
            if name in query:
                try:
                    bound = parse_date(query[name])
                except (TypeError, ValueError):
                    raise _BadParameter(name) from None
                items = [o for o in items if keep(self._date(o[key]), bound)]
        for name in ("status_id", "channel_id", "customer_id"):
            if name in query:
                wanted = _int_param(query, name)
                items = [o for o in items if o[name] == wanted]
        if "min_id" in query:
            items = [o for o in items if o["id"] >= _int_param(query, "min_id")]
        if "max_id" in query:
            items = [o for o in items if o["id"] <= _int_param(query, "max_id")]
        field_name, _, direction = query.get("sort", "id:asc").partition(":")
        if field_name not in {"id", "date_created", "date_modified", "status_id", "channel_id"}:
            raise _BadParameter("sort")
        if direction not in {"", "asc", "desc"}:
            raise _BadParameter("sort")
        if field_name.startswith("date_"):
            items.sort(key=lambda o: (self._date(o[field_name]), o["id"]))
        else:
            items.sort(key=lambda o: (o[field_name], o["id"]))
        if direction == "desc":
            items.reverse()
        return items

    def _date(self, value: str) -> datetime:
        cached = self._date_cache.get(value)
        if cached is None:
            cached = self._date_cache[value] = parse_date(value)
        return cached

    @staticmethod
    def _v2_page(items: list[dict[str, Any]], query: dict[str, str]) -> _Reply:
        page, limit = _paging(query, _V2_DEFAULT_LIMIT)
        chunk = items[(page - 1) * limit : page * limit]
        if not chunk:
            return _Reply(204)
        return _Reply(200, chunk)

    def _v3_page(self, path: str, items: list[dict[str, Any]], query: dict[str, str]) -> _Reply:
        page, limit = _paging(query, _V3_DEFAULT_LIMIT)
        chunk = items[(page - 1) * limit : page * limit]
        total_pages = max(1, math.ceil(len(items) / limit))

        def link(number: int) -> str:
            return f"?page={number}&limit={limit}"

        links: dict[str, str] = {"current": link(page)}
        if page > 1:
            links["previous"] = link(page - 1)
        if page < total_pages:
            links["next"] = link(page + 1)
        pagination = {
            "total": len(items),
            "count": len(chunk),
            "per_page": limit,
            "current_page": page,
            "total_pages": total_pages,
            "links": links,
        }
        return _Reply(200, {"data": chunk, "meta": {"pagination": pagination}})


class _BadParameter(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _error(version: str, status: int, message: str) -> _Reply:
    if version == "v2":
        return _Reply(status, [{"status": status, "message": message}])
    return _Reply(
        status, {"status": status, "title": message, "type": STATUS_TYPE_URL, "errors": {}}
    )


def fixed(body: Any, status: int = 200) -> Reply:
    """A `Reply` that answers `body` with `status` whatever the query."""

    def reply(query: dict[str, str]) -> tuple[int, Any]:
        return status, body

    return reply


def _forbidden(path: str, version: str) -> _Reply:
    """The 403 for a token without the endpoint's scope."""
    if path.startswith("/v3/promotions"):
        # promotions.v3.yml, components.schemas.ErrorResponse403: status is a string there.
        return _Reply(403, {"status": "403", "title": NO_SCOPE, "error": "Forbidden"})
    return _error(version, 403, NO_SCOPE)


def _int_param(query: dict[str, str], name: str) -> int:
    try:
        return int(query[name])
    except ValueError:
        raise _BadParameter(name) from None


def _paging(query: dict[str, str], default_limit: int) -> tuple[int, int]:
    page = _int_param(query, "page") if "page" in query else 1
    limit = _int_param(query, "limit") if "limit" in query else default_limit
    if page < 1:
        raise _BadParameter("page")
    if not 1 <= limit <= _MAX_LIMIT:
        raise _BadParameter("limit")
    return page, limit


def _matches_promotion(promotion: dict[str, Any], query: dict[str, str]) -> bool:
    if "status" in query and promotion["status"] != query["status"]:
        return False
    if "redemption_type" in query and promotion["redemption_type"] != query["redemption_type"]:
        return False
    return not ("id" in query and str(promotion["id"]) != query["id"])


def _at_or_after(value: datetime, bound: datetime) -> bool:
    return value >= bound


def _at_or_before(value: datetime, bound: datetime) -> bool:
    return value <= bound
