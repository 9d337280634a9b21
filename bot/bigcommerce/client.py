"""A small BigCommerce REST client for the store data that milestones are built from.

It reads promotions and channels (v3) and coupons and orders (v2), pages lazily (`paging`), and
shares the store's API quota politely (`quota.Quota`): Plaudit spends at most `quota_share` of
each window and waits for the window to reset before going further. Rate limiting (429) is
waited out; server errors and broken connections are retried with jittered exponential backoff.
An item of a listing that cannot be read is left out, logged and counted, not fatal. Every
failure surfaces as `BigCommerceError`, whose message never contains the access token.

One client may serve several threads (the scheduled sync and the webhook re-fetches): requests
go out one at a time, so every thread spends the same quota.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import InvalidOperation
from email.utils import format_datetime
from types import TracebackType
from typing import Any, TypeVar

import requests

from bot.bigcommerce.config import BigCommerceConfig
from bot.bigcommerce.errors import (
    BigCommerceError,
    SkippedItem,
    UnexpectedBody,
    http_error,
    scrub,
    shape_error,
    unreadable,
)
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
from bot.bigcommerce.paging import PAGE_LIMIT, v2_items, v3_items
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
    "SkippedItem",
    "parse_iso8601",
    "parse_rfc2822",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

OnSkip = Callable[[SkippedItem], None]
"""Told of each item a listing leaves out because it could not be read."""

_PARSE_ERRORS = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError)

_RETRIABLE_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class BigCommerceClient:
    """Reads one store. Use as a context manager, or call `close()` when done.

    Thread-safe: each request, with the waits before it, holds the client's lock, so threads
    sharing a client take turns and keep to one quota.
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
        self._lock = threading.RLock()
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
    def promotions(self, *, skipped: OnSkip | None = None) -> Iterator[Promotion]:
        path = "/v3/promotions"
        return self._readable(path, v3_items(self._get_json, path), read_promotion, skipped)

    def promotion(self, promotion_id: int) -> Promotion | None:
        path = f"/v3/promotions/{int(promotion_id)}"
        body = self._get_json(path, allow_404=True)
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise shape_error(path, "a JSON object with a data object")
        return self._parse(path, read_promotion, body["data"])

    # -- coupons (v2) --------------------------------------------------------------------
    def coupons(self, *, skipped: OnSkip | None = None) -> Iterator[Coupon]:
        path = "/v2/coupons"
        return self._readable(path, v2_items(self._get_json, path), read_coupon, skipped)

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
        skipped: OnSkip | None = None,
    ) -> Iterator[Order]:
        """Orders oldest-modified first; both date bounds are inclusive."""
        params = _order_filters(min_date_modified, min_date_created, status_id)
        params["sort"] = "date_modified:asc"
        path = "/v2/orders"
        return self._readable(path, v2_items(self._get_json, path, params), read_order, skipped)

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
    def channels(self, *, skipped: OnSkip | None = None) -> Iterator[Channel]:
        path = "/v3/channels"
        return self._readable(path, v3_items(self._get_json, path), read_channel, skipped)

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
            raise UnexpectedBody(
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
        with self._lock:
            return self._attempts(path, params, allow_404=allow_404)

    def _attempts(
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
        except _PARSE_ERRORS as exc:
            raise unreadable(path, exc, self.config.access_token) from None

    def _readable(
        self,
        path: str,
        items: Iterable[Any],
        parser: Callable[[Any], _T],
        skipped: OnSkip | None,
    ) -> Iterator[_T]:
        """The items that can be read; each one that cannot is logged, counted and skipped,
        so one odd item does not cost the whole listing."""
        for item in items:
            try:
                yield parser(item)
            except _PARSE_ERRORS as exc:
                reason = scrub(f"{type(exc).__name__}: {exc}", self.config.access_token)
                skip = SkippedItem(path, _item_id(item), reason)
                with self._lock:
                    self.stats.skipped += 1
                log.warning(
                    "BigCommerce GET %s: skipped an item that could not be read (id %s): %s",
                    path,
                    skip.id if skip.id is not None else "unknown",
                    reason,
                )
                if skipped is not None:
                    skipped(skip)


# -- helpers -------------------------------------------------------------------------------
def _item_id(item: Any) -> int | None:
    value = item.get("id") if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
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
