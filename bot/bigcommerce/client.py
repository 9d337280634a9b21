"""A small BigCommerce REST client for the store data that milestones are built from.

It reads promotions and channels (v3) and coupons and orders (v2), pages lazily, and shares
the store's API quota politely (`quota.Quota`): Plaudit spends at most `quota_share` of each
window and waits for the window to reset before going further. Rate limiting (429) is waited
out; server errors and broken connections are retried with jittered exponential backoff.
Every failure surfaces as `BigCommerceError`, whose message never contains the access token.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import InvalidOperation
from email.utils import format_datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests

from bot.bigcommerce.errors import BigCommerceError, http_error, shape_error, unreadable
from bot.bigcommerce.models import (
    NON_COUNTING_STATUS_IDS,
    Channel,
    Coupon,
    Order,
    Promotion,
    parse_iso8601,
    parse_rfc2822,
    read_channel,
    read_coupon,
    read_order,
    read_promotion,
)
from bot.bigcommerce.quota import MAX_THROTTLED_RETRIES, ClientStats, Quota

__all__ = [
    "MAX_THROTTLED_RETRIES",
    "NON_COUNTING_STATUS_IDS",
    "PAGE_LIMIT",
    "BigCommerceClient",
    "BigCommerceConfig",
    "BigCommerceError",
    "Channel",
    "ClientStats",
    "Coupon",
    "Order",
    "Promotion",
    "parse_iso8601",
    "parse_rfc2822",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

PAGE_LIMIT = 250
"""Items per page asked for; the most the v2 and v3 list endpoints hand out at once."""

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
        self._quota = Quota(
            self.stats,
            share=config.quota_share,
            max_retries=config.max_retries,
            sleep=sleep,
            monotonic=monotonic,
            rng=rng or random.Random(),
        )
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
            yield self._parse("/v3/promotions", read_promotion, item)

    def promotion(self, promotion_id: int) -> Promotion | None:
        path = f"/v3/promotions/{int(promotion_id)}"
        body = self._get_json(path, allow_404=True)
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise shape_error(path, "a JSON object with a data object")
        return self._parse(path, read_promotion, body["data"])

    # -- coupons (v2) --------------------------------------------------------------------
    def coupons(self) -> Iterator[Coupon]:
        for item in self._iter_v2("/v2/coupons"):
            yield self._parse("/v2/coupons", read_coupon, item)

    def coupon(self, coupon_id: int) -> Coupon | None:
        # The v2 API has no GET /coupons/{id}; the list endpoint filters by id instead.
        path = "/v2/coupons"
        body = self._get_json(path, {"id": int(coupon_id)})
        if body is None:
            return None
        if not isinstance(body, list):
            raise shape_error(path, "a JSON list")
        for item in body:
            coupon = self._parse(path, read_coupon, item)
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
            yield self._parse("/v2/orders", read_order, item)

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
            raise shape_error(path, "a JSON object with an integer count")
        return int(body["count"])

    def order(self, order_id: int) -> Order | None:
        path = f"/v2/orders/{int(order_id)}"
        body = self._get_json(path, allow_404=True)
        if body is None:
            return None
        return self._parse(path, read_order, body)

    # -- channels (v3) -------------------------------------------------------------------
    def channels(self) -> Iterator[Channel]:
        for item in self._iter_v3("/v3/channels"):
            yield self._parse("/v3/channels", read_channel, item)

    # -- paging --------------------------------------------------------------------------
    def _iter_v3(self, path: str, params: Mapping[str, str | int] | None = None) -> Iterator[Any]:
        query: dict[str, str | int] = {**(params or {}), "page": 1, "limit": PAGE_LIMIT}
        while True:
            body = self._get_json(path, query)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise shape_error(path, "a JSON object with a data list")
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
                raise shape_error(path, "a JSON list")
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
            self._quota.respect()
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
                self._quota.unanswered()
                failures += 1
                reason = type(exc).__name__
                if failures > self.config.max_retries:
                    raise BigCommerceError(
                        f"BigCommerce GET {path} failed after {failures} attempts: {reason}",
                        path=path,
                    ) from None
                self._quota.backoff(path, failures, reason)
                continue
            self._quota.observe(response)
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
                delay = self._quota.throttled_delay(response, throttled)
                log.info("BigCommerce GET %s rate limited; waiting %.2fs", path, delay)
                self._quota.wait(delay)
                continue
            if status >= 500:
                failures += 1
                if failures > self.config.max_retries:
                    raise self._error(path, response, f" after {failures} attempts")
                self._quota.backoff(path, failures, str(status))
                continue
            raise self._error(path, response)

    # -- errors and parsing --------------------------------------------------------------
    def _error(self, path: str, response: requests.Response, suffix: str = "") -> BigCommerceError:
        return http_error(path, response, self.config.access_token, suffix)

    def _parse(self, path: str, parser: Callable[[Any], _T], item: Any) -> _T:
        try:
            return parser(item)
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise unreadable(path, exc, self.config.access_token) from None


# -- helpers -------------------------------------------------------------------------------
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
