"""A small BigCommerce REST client for the store data that milestones are built from.

It reads promotions and channels (v3) and coupons and orders (v2), pages lazily, and shares
the store's API quota politely: BigCommerce gives every store one request quota per time window
for all of its apps together, so Plaudit spends at most `quota_share` of each window and waits
for the window to reset before going further. Rate limiting (429) is waited out; server errors
and broken connections are retried with jittered exponential backoff. Every failure surfaces as
`BigCommerceError`, whose message never contains the access token.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests

from bot.observability import metrics

log = logging.getLogger(__name__)

_T = TypeVar("_T")

PAGE_LIMIT = 250
"""Items per page asked for; the most the v2 and v3 list endpoints hand out at once."""

MAX_THROTTLED_RETRIES = 20
"""How many 429 answers one call waits out before it gives up."""

NON_COUNTING_STATUS_IDS = frozenset({0, 4, 5, 6})
"""Order statuses that never count towards milestones: incomplete, refunded, cancelled,
declined."""

_WINDOW_MARGIN_S = 0.05
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0
_RETRIABLE_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class BigCommerceConfig:
    """Where the store is and how hard Plaudit may lean on it."""

    store_hash: str
    access_token: str = field(repr=False)
    api_url: str = "https://api.bigcommerce.com"
    quota_share: float = 0.2
    timeout: float = 10.0
    max_retries: int = 5

    def __post_init__(self) -> None:
        if not self.store_hash or "/" in self.store_hash:
            raise ValueError("store_hash must be a bare store hash")
        if not 0 < self.quota_share <= 1:
            raise ValueError("quota_share must be in (0, 1]")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")


class BigCommerceError(Exception):
    """A request to BigCommerce failed for good (after any retries it deserved)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        title: str | None = None,
        method: str = "GET",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.title = title
        self.method = method
        self.path = path


@dataclass
class ClientStats:
    """What the client has spent so far; `last_*` echo the store's rate-limit headers."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    last_quota: int | None = None
    last_requests_left: int | None = None
    last_window_ms: int | None = None
    last_reset_ms: int | None = None


@dataclass(frozen=True)
class Promotion:
    id: int
    name: str
    status: str
    redemption_type: str
    current_uses: int
    max_uses: int | None
    start_date: datetime | None
    end_date: datetime | None

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED"


@dataclass(frozen=True)
class Coupon:
    id: int
    name: str
    code: str
    type: str
    enabled: bool
    num_uses: int
    max_uses: int
    """0 means unlimited."""
    date_created: datetime | None
    expires: datetime | None


@dataclass(frozen=True)
class Order:
    id: int
    status_id: int
    status: str
    date_created: datetime
    date_modified: datetime
    total_inc_tax: Decimal
    currency_code: str
    channel_id: int
    customer_id: int

    @property
    def counts(self) -> bool:
        """False for incomplete, refunded, cancelled and declined orders."""
        return self.status_id not in NON_COUNTING_STATUS_IDS


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    type: str
    platform: str
    status: str
    date_created: datetime | None
    date_modified: datetime | None


@dataclass
class _Window:
    """Plaudit's own view of the store's current rate-limit window."""

    ends_at: float | None = None
    own_requests: int = 0


class BigCommerceClient:
    """Reads one store. Use as a context manager, or call `close()` when done.

    One client serves one thread at a time: the quota bookkeeping is not locked.
    """

    def __init__(
        self,
        config: BigCommerceConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.stats = ClientStats()
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._window = _Window()
        self._base = f"{config.api_url.rstrip('/')}/stores/{config.store_hash}"
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "X-Auth-Token": config.access_token,
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
        )

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> BigCommerceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- promotions (v3) -----------------------------------------------------------------
    def promotions(self) -> Iterator[Promotion]:
        for item in self._iter_v3("/v3/promotions"):
            yield self._parse("/v3/promotions", _promotion, item)

    def promotion(self, promotion_id: int) -> Promotion | None:
        path = f"/v3/promotions/{int(promotion_id)}"
        body = self._get_json(path, allow_404=True)
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise self._shape_error(path, "a JSON object with a data object")
        return self._parse(path, _promotion, body["data"])

    # -- coupons (v2) --------------------------------------------------------------------
    def coupons(self) -> Iterator[Coupon]:
        for item in self._iter_v2("/v2/coupons"):
            yield self._parse("/v2/coupons", _coupon, item)

    def coupon(self, coupon_id: int) -> Coupon | None:
        # The v2 API has no GET /coupons/{id}; the list endpoint filters by id instead.
        path = "/v2/coupons"
        body = self._get_json(path, {"id": int(coupon_id)})
        if body is None:
            return None
        if not isinstance(body, list):
            raise self._shape_error(path, "a JSON list")
        for item in body:
            coupon = self._parse(path, _coupon, item)
            if coupon.id == int(coupon_id):
                return coupon
        return None

    # -- orders (v2) ---------------------------------------------------------------------
    def orders(
        self,
        min_date_modified: datetime | None = None,
        min_date_created: datetime | None = None,
        *,
        status_id: int | None = None,
    ) -> Iterator[Order]:
        """Orders oldest-modified first; both date bounds are inclusive."""
        params = _order_filters(min_date_modified, min_date_created, status_id)
        params["sort"] = "date_modified:asc"
        for item in self._iter_v2("/v2/orders", params):
            yield self._parse("/v2/orders", _order, item)

    def orders_count(
        self,
        min_date_modified: datetime | None = None,
        min_date_created: datetime | None = None,
        *,
        status_id: int | None = None,
    ) -> int:
        path = "/v2/orders/count"
        params = _order_filters(min_date_modified, min_date_created, status_id)
        body = self._get_json(path, params)
        if body is None:
            return 0
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise self._shape_error(path, "a JSON object with an integer count")
        return int(body["count"])

    def order(self, order_id: int) -> Order | None:
        path = f"/v2/orders/{int(order_id)}"
        body = self._get_json(path, allow_404=True)
        if body is None:
            return None
        return self._parse(path, _order, body)

    # -- channels (v3) -------------------------------------------------------------------
    def channels(self) -> Iterator[Channel]:
        for item in self._iter_v3("/v3/channels"):
            yield self._parse("/v3/channels", _channel, item)

    # -- paging --------------------------------------------------------------------------
    def _iter_v3(self, path: str, params: Mapping[str, str | int] | None = None) -> Iterator[Any]:
        query: dict[str, str | int] = {**(params or {}), "page": 1, "limit": PAGE_LIMIT}
        while True:
            body = self._get_json(path, query)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise self._shape_error(path, "a JSON object with a data list")
            data: list[Any] = body["data"]
            yield from data
            meta = body.get("meta")
            pagination = meta.get("pagination") if isinstance(meta, dict) else None
            if not data or not isinstance(pagination, dict):
                return
            current = _int_or(pagination.get("current_page"), int(query["page"]))
            total = _int_or(pagination.get("total_pages"), current)
            if current >= total:
                return
            links = pagination.get("links")
            next_link = links.get("next") if isinstance(links, dict) else None
            following = dict(query, page=current + 1)
            if isinstance(next_link, str) and next_link:
                following.update(parse_qsl(urlsplit(next_link).query))
            if _int_or(following.get("page"), 0) <= current:
                return
            query = following

    def _iter_v2(self, path: str, params: Mapping[str, str | int] | None = None) -> Iterator[Any]:
        page = 1
        while True:
            body = self._get_json(path, {**(params or {}), "page": page, "limit": PAGE_LIMIT})
            if body is None:  # 204 No Content: past the last page
                return
            if not isinstance(body, list):
                raise self._shape_error(path, "a JSON list")
            yield from body
            if len(body) < PAGE_LIMIT:
                return
            page += 1

    # -- one request, with waiting and retries -------------------------------------------
    def _get_json(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        allow_404: bool = False,
    ) -> Any:
        """The decoded body, or None for 204/empty bodies (and for 404 when allowed)."""
        response = self._request(path, params, allow_404=allow_404)
        if response is None or response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise BigCommerceError(
                f"BigCommerce GET {path} failed: {response.status_code} with a body that is "
                "not valid JSON",
                status=response.status_code,
                path=path,
            ) from None

    def _request(
        self,
        path: str,
        params: Mapping[str, str | int] | None,
        *,
        allow_404: bool,
    ) -> requests.Response | None:
        url = self._base + path
        failures = 0
        throttled = 0
        while True:
            self._respect_quota()
            self.stats.requests += 1
            try:
                # No redirects: a hop to another host would carry X-Auth-Token along with it.
                response = self._session.get(
                    url,
                    params=dict(params or {}),
                    timeout=self.config.timeout,
                    allow_redirects=False,
                )
            except _RETRIABLE_ERRORS as exc:
                self._window.own_requests += 1
                failures += 1
                reason = type(exc).__name__
                if failures > self.config.max_retries:
                    raise BigCommerceError(
                        f"BigCommerce GET {path} failed after {failures} attempts: {reason}",
                        path=path,
                    ) from None
                self._backoff(path, failures, reason)
                continue
            self._observe(response)
            status = response.status_code
            if status < 300:
                return response
            if status == 404 and allow_404:
                return None
            if status == 429:
                self.stats.throttled += 1
                throttled += 1
                if throttled > MAX_THROTTLED_RETRIES:
                    raise self._error(path, response, f" after {throttled} rate-limited attempts")
                reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
                if reset_ms is None:
                    delay = self._backoff_delay(throttled)
                else:
                    delay = reset_ms / 1000 + _WINDOW_MARGIN_S
                log.info("BigCommerce GET %s rate limited; waiting %.2fs", path, delay)
                self._wait(delay)
                continue
            if status >= 500:
                failures += 1
                if failures > self.config.max_retries:
                    raise self._error(path, response, f" after {failures} attempts")
                self._backoff(path, failures, str(status))
                continue
            raise self._error(path, response)

    def _respect_quota(self) -> None:
        """Wait for the window to reset once Plaudit's share, or the store's quota, is spent."""
        window = self._window
        if window.ends_at is None:
            return
        now = self._monotonic()
        if now >= window.ends_at:
            return
        quota = self.stats.last_quota
        share_spent = quota is not None and window.own_requests >= self._budget(quota)
        left = self.stats.last_requests_left
        store_spent = left is not None and left <= 1
        if share_spent or store_spent:
            delay = window.ends_at - now + _WINDOW_MARGIN_S
            log.debug(
                "BigCommerce quota %s for this window; waiting %.2fs",
                "share used" if share_spent else "nearly exhausted",
                delay,
            )
            self._wait(delay)

    def _budget(self, quota: int) -> int:
        return max(1, math.floor(quota * self.config.quota_share + 1e-9))

    def _observe(self, response: requests.Response) -> None:
        quota = _header_int(response, "X-Rate-Limit-Requests-Quota")
        left = _header_int(response, "X-Rate-Limit-Requests-Left")
        window_ms = _header_int(response, "X-Rate-Limit-Time-Window-Ms")
        reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
        if quota is not None:
            self.stats.last_quota = quota
        if left is not None:
            self.stats.last_requests_left = left
        if quota and left is not None:
            metrics.set_bigcommerce_quota_used((quota - left) / quota)
        if window_ms is not None:
            self.stats.last_window_ms = window_ms
        window = self._window
        if reset_ms is None:
            window.own_requests += 1
            return
        self.stats.last_reset_ms = reset_ms
        ends_at = self._monotonic() + reset_ms / 1000
        span = (window_ms if window_ms else reset_ms) / 1000
        if window.ends_at is None or ends_at > window.ends_at + span / 2:
            # The store started a new window before answering: this request is its first one.
            window.ends_at = ends_at
            window.own_requests = 1
        else:
            window.ends_at = max(window.ends_at, ends_at)
            window.own_requests += 1

    def _backoff(self, path: str, attempt: int, reason: str) -> None:
        delay = self._backoff_delay(attempt)
        self.stats.retries += 1
        log.warning(
            "BigCommerce GET %s failed (%s); retry %d of %d in %.2fs",
            path,
            reason,
            attempt,
            self.config.max_retries,
            delay,
        )
        self._wait(delay)

    def _backoff_delay(self, attempt: int) -> float:
        ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + self._rng.random() / 2)

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.stats.waited_seconds += seconds
        self._sleep(seconds)

    # -- errors and parsing --------------------------------------------------------------
    def _error(self, path: str, response: requests.Response, suffix: str = "") -> BigCommerceError:
        status = response.status_code
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = response.reason or "Error"
        title = _error_title(response)
        message = f"BigCommerce GET {path} failed: {status} {reason}{suffix}"
        if title:
            message += f": {title}"
        return BigCommerceError(
            self._scrub(message),
            status=status,
            title=self._scrub(title) if title else None,
            path=path,
        )

    def _shape_error(self, path: str, expected: str) -> BigCommerceError:
        return BigCommerceError(
            f"BigCommerce GET {path} returned an unexpected body: expected {expected}", path=path
        )

    def _parse(self, path: str, parser: Callable[[Any], _T], item: Any) -> _T:
        try:
            return parser(item)
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise BigCommerceError(
                f"BigCommerce GET {path} returned an item that could not be read: "
                f"{type(exc).__name__}: {self._scrub(str(exc))}",
                path=path,
            ) from None

    def _scrub(self, text: str) -> str:
        token = self.config.access_token
        return text.replace(token, "***") if token else text


# -- helpers -------------------------------------------------------------------------------
def _header_int(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _int_or(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def _error_title(response: requests.Response) -> str | None:
    """The human part of a v3 `{"status","title",...}` or v2 `[{"status","message"}]` body."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if not isinstance(body, dict):
        return None
    for key in ("title", "message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _order_filters(
    min_date_modified: datetime | None,
    min_date_created: datetime | None,
    status_id: int | None,
) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    if min_date_modified is not None:
        params["min_date_modified"] = _rfc2822(min_date_modified)
    if min_date_created is not None:
        params["min_date_created"] = _rfc2822(min_date_created)
    if status_id is not None:
        params["status_id"] = int(status_id)
    return params


def _rfc2822(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("BigCommerce date filters need a timezone-aware datetime")
    return format_datetime(value.astimezone(UTC))


_MONTHS = {
    name: f"{number:02d}"
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


def parse_rfc2822(value: str) -> datetime:
    """A v2 date like "Tue, 13 Mar 2018 16:18:59 +0000", always timezone-aware."""
    # v2 writes every date in exactly this UTC form. A full sync reads two per order, so that
    # form takes a quick path; anything else goes to the general RFC 2822 parser.
    if len(value) == 31 and value[3:5] == ", " and value.endswith(" +0000"):
        month = _MONTHS.get(value[8:11])
        if month is not None:
            iso = f"{value[12:16]}-{month}-{value[5:7]}T{value[17:25]}+00:00"
            try:
                return datetime.fromisoformat(iso)
            except ValueError:
                pass
    parsed = parsedate_to_datetime(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_iso8601(value: str) -> datetime:
    """A v3 date like "2019-08-24T14:15:22Z", always timezone-aware."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _optional_date(value: object, parse: Callable[[str], datetime]) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a date string, got {type(value).__name__}")
    return parse(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _promotion(item: Any) -> Promotion:
    max_uses = item.get("max_uses")
    return Promotion(
        id=_number(item["id"]),
        name=_text(item.get("name")),
        status=_text(item["status"]),
        redemption_type=_text(item.get("redemption_type")),
        current_uses=_number(item.get("current_uses") or 0),
        max_uses=None if max_uses is None else _number(max_uses),
        start_date=_optional_date(item.get("start_date"), parse_iso8601),
        end_date=_optional_date(item.get("end_date"), parse_iso8601),
    )


def _coupon(item: Any) -> Coupon:
    return Coupon(
        id=_number(item["id"]),
        name=_text(item.get("name")),
        code=_text(item.get("code")),
        type=_text(item.get("type")),
        enabled=bool(item.get("enabled")),
        num_uses=_number(item.get("num_uses") or 0),
        max_uses=_number(item.get("max_uses") or 0),
        date_created=_optional_date(item.get("date_created"), parse_rfc2822),
        expires=_optional_date(item.get("expires"), parse_rfc2822),
    )


def _order(item: Any) -> Order:
    return Order(
        id=_number(item["id"]),
        status_id=_number(item["status_id"]),
        status=_text(item.get("status")),
        date_created=parse_rfc2822(_text(item["date_created"])),
        date_modified=parse_rfc2822(_text(item["date_modified"])),
        total_inc_tax=Decimal(_text(item["total_inc_tax"])),
        currency_code=_text(item.get("currency_code")),
        channel_id=_number(item.get("channel_id") or 1),
        customer_id=_number(item.get("customer_id") or 0),
    )


def _channel(item: Any) -> Channel:
    return Channel(
        id=_number(item["id"]),
        name=_text(item.get("name")),
        type=_text(item.get("type")),
        platform=_text(item.get("platform")),
        status=_text(item.get("status")),
        date_created=_optional_date(item.get("date_created"), parse_iso8601),
        date_modified=_optional_date(item.get("date_modified"), parse_iso8601),
    )
