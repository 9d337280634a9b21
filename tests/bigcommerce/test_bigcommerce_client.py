"""The BigCommerce client against a fake store over real HTTP on loopback."""

from __future__ import annotations

import logging
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from bot.bigcommerce.client import (
    MAX_THROTTLED_RETRIES,
    BigCommerceClient,
    BigCommerceConfig,
    BigCommerceError,
    Order,
    SkippedItem,
)
from tests.bigcommerce.support import FakeClock, client_for
from tests.fakes.bigcommerce import FakeBigCommerce

Connect = Callable[..., BigCommerceClient]


class Sleeps:
    """Stands in for time.sleep: remembers what the client asked for, waits for nothing."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def store() -> Iterator[FakeBigCommerce]:
    with FakeBigCommerce() as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def connect(store: FakeBigCommerce, sleeps: Sleeps) -> Iterator[Connect]:
    """Clients for `store`; by default they skip real waiting. All are closed afterwards."""
    made: list[BigCommerceClient] = []

    def make(
        fake: FakeBigCommerce | None = None,
        *,
        token: str | None = None,
        sleep: Callable[[float], None] | None = None,
        **settings: Any,
    ) -> BigCommerceClient:
        target = fake or store
        config = BigCommerceConfig(
            store_hash=settings.pop("store_hash", target.store_hash),
            access_token=target.access_token if token is None else token,
            api_url=settings.pop("api_url", target.url),
            **settings,
        )
        client = BigCommerceClient(
            config, sleep=sleep or sleeps, rng=random.Random(3), monotonic=time.monotonic
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _aware_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


# -- shapes --------------------------------------------------------------------------------
def test_promotions_parse_the_v3_shape(store: FakeBigCommerce, connect: Connect) -> None:
    store.add_promotion(
        "Spring sale",
        current_uses=17,
        max_uses=100,
        start=datetime(2024, 3, 1, 9, tzinfo=UTC),
        end=datetime(2024, 3, 31, 23, 59, tzinfo=UTC),
    )
    store.add_promotion("Welcome coupon", status="DISABLED", redemption_type="COUPON")

    spring, welcome = list(connect().promotions())

    assert (spring.id, spring.name, spring.status, spring.enabled) == (
        1,
        "Spring sale",
        "ENABLED",
        True,
    )
    assert (spring.current_uses, spring.max_uses) == (17, 100)
    assert spring.start_date == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert spring.end_date == datetime(2024, 3, 31, 23, 59, tzinfo=UTC)
    assert _aware_utc(spring.start_date) and _aware_utc(spring.end_date)
    assert (welcome.status, welcome.enabled, welcome.redemption_type) == (
        "DISABLED",
        False,
        "COUPON",
    )
    assert welcome.end_date is None and welcome.max_uses is None


def test_coupons_parse_the_v2_shape(store: FakeBigCommerce, connect: Connect) -> None:
    store.add_coupon(
        "$5 off",
        "S2549JM0Y",
        num_uses=2,
        created=datetime(2018, 3, 13, 16, 18, 59, tzinfo=UTC),
    )
    store.add_coupon(
        "Limit by location",
        "E3JC79S0I",
        enabled=False,
        max_uses=25,
        expires=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert store.coupons[0]["date_created"] == "Tue, 13 Mar 2018 16:18:59 +0000"

    five, location = list(connect().coupons())

    assert (five.code, five.enabled, five.num_uses, five.max_uses) == ("S2549JM0Y", True, 2, 0)
    assert five.date_created == datetime(2018, 3, 13, 16, 18, 59, tzinfo=UTC)
    assert _aware_utc(five.date_created)
    assert five.expires is None
    assert (location.enabled, location.max_uses) == (False, 25)
    assert location.expires == datetime(2025, 1, 1, tzinfo=UTC)


def test_orders_parse_money_dates_and_which_count(store: FakeBigCommerce, connect: Connect) -> None:
    statuses = [0, 1, 2, 4, 5, 6, 10, 11, 14]
    raw = store.add_orders(len(statuses), status_ids=statuses, channel_id=3)

    orders = list(connect().orders())

    assert [o.status_id for o in orders] == statuses
    assert {o.status_id for o in orders if not o.counts} == {0, 4, 5, 6}
    for order, source in zip(orders, raw, strict=True):
        assert isinstance(order.total_inc_tax, Decimal)
        assert order.total_inc_tax == Decimal(source["total_inc_tax"])
        assert str(order.total_inc_tax) == source["total_inc_tax"]  # all four places kept
        assert order.date_modified == parsedate_to_datetime(source["date_modified"])
        assert _aware_utc(order.date_created) and _aware_utc(order.date_modified)
        assert order.channel_id == 3
        assert order.status == source["status"]
    assert orders[0].status == "Incomplete"


def test_channels_parse_the_v3_shape(store: FakeBigCommerce, connect: Connect) -> None:
    store.add_channel("Amazon US", type="marketplace", platform="amazon", status="connected")
    store.add_channel("Old POS", type="pos", platform="square", status="archived")

    channels = list(connect().channels())

    assert [(c.id, c.type, c.platform, c.status) for c in channels] == [
        (1, "storefront", "bigcommerce", "active"),
        (2, "marketplace", "amazon", "connected"),
        (3, "pos", "square", "archived"),
    ]
    assert channels[0].date_created == datetime(2021, 3, 1, 9, 30, tzinfo=UTC)
    assert all(_aware_utc(c.date_created) and _aware_utc(c.date_modified) for c in channels)


def test_orders_count_applies_the_same_filters(store: FakeBigCommerce, connect: Connect) -> None:
    store.add_orders(40, status_ids=[10, 11, 5, 0])
    client = connect()

    assert client.orders_count() == 40
    assert client.orders_count(status_id=5) == 10
    cutoff = datetime(2024, 1, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=7 * 30)
    assert client.orders_count(min_date_created=cutoff) == 10
    assert store.requests_to("/v2/orders/count")[-1].query["min_date_created"] == (
        "Mon, 01 Jan 2024 11:30:00 +0000"
    )


def test_requests_carry_the_token_and_json_headers(
    store: FakeBigCommerce, connect: Connect
) -> None:
    list(connect().channels())

    (request,) = store.requests
    assert request.path == "/v3/channels"
    assert request.headers["x-auth-token"] == store.access_token
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"


# -- paging --------------------------------------------------------------------------------
def test_v3_pages_follow_meta_pagination(store: FakeBigCommerce, connect: Connect) -> None:
    for i in range(600):
        store.add_promotion(f"Promotion {i}", current_uses=i)
    client = connect()

    promotions = list(client.promotions())

    assert [p.id for p in promotions] == list(range(1, 601))
    assert [p.current_uses for p in promotions[-3:]] == [597, 598, 599]
    pages = [(r.query["page"], r.query["limit"]) for r in store.requests_to("/v3/promotions")]
    assert pages == [("1", "250"), ("2", "250"), ("3", "250")]
    assert client.stats.requests == 3


def test_v2_pages_until_204_no_content(store: FakeBigCommerce, connect: Connect) -> None:
    for i in range(500):
        store.add_coupon(f"Coupon {i}", f"CODE{i:04d}", num_uses=i % 7)

    coupons = list(connect().coupons())

    assert len(coupons) == 500
    assert len({c.code for c in coupons}) == 500
    requests = store.requests_to("/v2/coupons")
    assert [(r.query["page"], r.status) for r in requests] == [("1", 200), ("2", 200), ("3", 204)]


def test_v2_paging_stops_on_a_short_page(store: FakeBigCommerce, connect: Connect) -> None:
    store.add_orders(260)

    orders = list(connect().orders())

    assert len(orders) == 260
    assert [r.query["page"] for r in store.requests_to("/v2/orders")] == ["1", "2"]


def test_paging_is_lazy(store: FakeBigCommerce, connect: Connect) -> None:
    store.add_orders(600)

    first = next(iter(connect().orders()))

    assert first.id == 100
    assert len(store.requests_to("/v2/orders")) == 1


def test_incremental_orders_only_returns_newer_ones(
    store: FakeBigCommerce, connect: Connect
) -> None:
    store.add_orders(300, start=datetime(2024, 5, 1, tzinfo=UTC))
    cutoff = parsedate_to_datetime(store.orders[200]["date_modified"])
    old = store.orders[10]["id"]
    store.modify_order(old, datetime(2024, 6, 30, 12, tzinfo=UTC), status_id=4)
    expected = {
        o["id"] for o in store.orders if parsedate_to_datetime(o["date_modified"]) >= cutoff
    }
    client = connect()

    orders = list(client.orders(min_date_modified=cutoff))

    assert {o.id for o in orders} == expected
    assert 95 <= len(orders) < 300
    assert all(o.date_modified >= cutoff for o in orders)
    keys = [(o.date_modified, o.id) for o in orders]
    assert keys == sorted(keys)
    assert orders[-1].id == old and orders[-1].status_id == 4 and not orders[-1].counts
    query = store.requests_to("/v2/orders")[0].query
    assert query["sort"] == "date_modified:asc"
    assert parsedate_to_datetime(query["min_date_modified"]) == cutoff


def test_order_filters_need_aware_datetimes(connect: Connect) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        list(connect().orders(min_date_modified=datetime(2024, 1, 1)))


# -- single fetches ------------------------------------------------------------------------
def test_single_fetches_and_404_as_none(store: FakeBigCommerce, connect: Connect) -> None:
    store.add_promotion("Spring sale")
    store.add_coupon("$5 off", "FIVE")
    (raw,) = store.add_orders(1, status_ids=[11])
    client = connect()

    promotion = client.promotion(1)
    coupon = client.coupon(1)
    order = client.order(raw["id"])

    assert promotion is not None and promotion.name == "Spring sale"
    assert coupon is not None and coupon.code == "FIVE"
    assert isinstance(order, Order) and order.status == "Awaiting Fulfillment"
    assert client.promotion(999) is None
    assert client.coupon(999) is None
    assert client.order(999) is None
    statuses = [(r.path, r.status) for r in store.requests]
    assert ("/v3/promotions/999", 404) in statuses
    assert ("/v2/orders/999", 404) in statuses
    assert ("/v2/coupons", 204) in statuses


def test_404_on_a_list_is_an_error(store: FakeBigCommerce, connect: Connect) -> None:
    client = connect(store_hash="nosuchstore")

    with pytest.raises(BigCommerceError) as caught:
        list(client.promotions())

    assert caught.value.status == 404
    assert "404 Not Found" in str(caught.value)
    assert len(store.requests) == 1


# -- errors and retries --------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["promotions", "coupons", "orders", "channels"])
def test_bad_token_is_a_clear_error_without_the_token(
    store: FakeBigCommerce,
    connect: Connect,
    endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "wrong-token-4b1d9e0c77"
    client = connect(token=secret)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(BigCommerceError) as caught:
        list(getattr(client, endpoint)())

    error = caught.value
    assert error.status == 401
    assert "401 Unauthorized" in str(error)
    assert str(error).startswith("BigCommerce GET /v")
    assert error.title
    for text in (str(error), repr(error), repr(error.args), repr(client.config), caplog.text):
        assert secret not in text
    assert len(store.requests) == 1  # not retried
    assert store.requests[0].status == 401


@pytest.mark.parametrize("status", [403, 422])
def test_client_errors_are_not_retried(
    store: FakeBigCommerce, connect: Connect, sleeps: Sleeps, status: int
) -> None:
    store.fail_next(status)

    with pytest.raises(BigCommerceError) as caught:
        list(connect().channels())

    assert caught.value.status == status
    assert f": {status} " in str(caught.value)
    assert len(store.requests) == 1
    assert sleeps.calls == []


def test_server_errors_are_retried_with_growing_jittered_backoff(
    store: FakeBigCommerce, connect: Connect, sleeps: Sleeps
) -> None:
    store.add_promotion("Spring sale")
    store.fail_next(500, 2)
    store.fail_next(502)  # an HTML page from a gateway, not JSON
    store.fail_next(503)
    client = connect()

    promotions = list(client.promotions())

    assert [p.name for p in promotions] == ["Spring sale"]
    assert [r.status for r in store.requests] == [500, 500, 502, 503, 200]
    assert client.stats.retries == 4
    assert client.stats.requests == 5
    for attempt, delay in enumerate(sleeps.calls, start=1):
        ceiling = 0.5 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert client.stats.waited_seconds == pytest.approx(sum(sleeps.calls))


def test_persistent_server_errors_give_up_after_max_retries(
    store: FakeBigCommerce, connect: Connect, sleeps: Sleeps
) -> None:
    store.fail_next(503, 100)
    client = connect(max_retries=3)

    with pytest.raises(BigCommerceError) as caught:
        list(client.orders())

    assert caught.value.status == 503
    assert "503 Service Unavailable after 4 attempts" in str(caught.value)
    assert len(store.requests) == 4
    assert len(sleeps.calls) == 3


def test_connection_errors_are_retried_then_reported(connect: Connect, sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = connect(api_url=dead, max_retries=2, timeout=2.0)

    with pytest.raises(BigCommerceError, match="after 3 attempts: ConnectionError"):
        list(client.channels())

    assert client.stats.requests == 3
    assert len(sleeps.calls) == 2


def test_timeouts_are_retried(store: FakeBigCommerce, connect: Connect) -> None:
    store.delay_next(1.0)
    client = connect(timeout=0.25)

    channels = list(client.channels())

    assert [c.name for c in channels] == ["Default storefront"]
    assert client.stats.retries == 1
    assert len(store.requests) == 2


def test_invalid_json_is_an_error(store: FakeBigCommerce, connect: Connect) -> None:
    store.fail_next(200, body='{"data": [{"id": 1,')

    with pytest.raises(BigCommerceError, match="not valid JSON"):
        list(connect().promotions())


def test_an_unreadable_item_is_skipped_counted_and_logged(
    store: FakeBigCommerce, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    store.add_orders(3)
    store.orders[1]["total_inc_tax"] = "lots"
    store.changed()
    client = connect()
    skipped: list[SkippedItem] = []

    orders = list(client.orders(skipped=skipped.append))

    assert [o.id for o in orders] == [100, 102]
    assert [(s.path, s.id) for s in skipped] == [("/v2/orders", 101)]
    assert "'lots'" in skipped[0].reason
    assert client.stats.skipped == 1
    assert any(
        r.levelno == logging.WARNING and "could not be read (id 101)" in r.getMessage()
        for r in caplog.records
    )
    # One object asked for by id has nothing to skip to: that is an error.
    with pytest.raises(BigCommerceError, match="could not be read"):
        client.order(101)


# -- rate limits ---------------------------------------------------------------------------
def test_429_is_waited_out_without_using_up_retries(
    store: FakeBigCommerce, connect: Connect, sleeps: Sleeps
) -> None:
    store.add_orders(3)
    store.fail_next(429, 3)
    client = connect(max_retries=0)

    orders = list(client.orders())

    assert len(orders) == 3
    assert client.stats.throttled == 3
    assert client.stats.retries == 0
    assert [r.status for r in store.requests] == [429, 429, 429, 200]
    # Each wait is the store's own reset time (a 30 s window here), not a guess.
    assert all(25 < delay <= 30.1 for delay in sleeps.calls)
    assert client.stats.last_quota == 150


def test_endless_429_gives_up(store: FakeBigCommerce, connect: Connect) -> None:
    store.fail_next(429, 1000)

    with pytest.raises(BigCommerceError) as caught:
        list(connect().channels())

    assert caught.value.status == 429
    assert len(store.requests) == MAX_THROTTLED_RETRIES + 1


def test_429_storm_slows_but_completes(connect: Connect) -> None:
    # Other apps on the store take six requests of a 20-request quota before each of ours,
    # so the 200 ms windows keep running dry under the client.
    with FakeBigCommerce(quota=20, window_ms=200, competing_load=6) as busy:
        busy.add_orders(2_600)
        client = connect(busy, sleep=time.sleep)

        started = time.monotonic()
        orders = list(client.orders())
        elapsed = time.monotonic() - started

        assert len(orders) == 2_600
        assert len({o.id for o in orders}) == 2_600
        assert client.stats.throttled > 0
        assert client.stats.retries == 0
        served = [r for r in busy.requests if r.status == 200]
        assert [r.query["page"] for r in served] == [str(p) for p in range(1, 12)]
        assert elapsed >= 0.2 * (len(set(r.window for r in busy.requests)) - 1) - 0.05
        assert client.stats.waited_seconds > 0


def test_quota_share_is_respected(connect: Connect) -> None:
    with FakeBigCommerce(quota=100, window_ms=300) as shop:
        shop.add_orders(70)
        client = connect(shop, sleep=time.sleep, quota_share=0.2)

        fetched = [client.order(o["id"]) for o in shop.orders]

        assert all(order is not None for order in fetched)
        log = shop.requests
        assert len(log) == 70 and all(r.status == 200 for r in log)
        # Count, from the timestamps, how many requests fell in each of the store's windows.
        starts = sorted({r.window_started for r in log})
        per_window = [sum(1 for r in log if start <= r.at < start + 0.3) for start in starts]
        assert max(per_window) == 20
        assert sum(per_window) == 70
        assert 4 <= len(per_window) <= 6  # the share is used, not left idle
        assert max(Counter(r.window for r in log).values()) == 20
        assert client.stats.throttled == 0
        assert client.stats.waited_seconds > 0


def test_a_nearly_exhausted_store_is_waited_for_not_hammered(connect: Connect) -> None:
    # Another app has spent all but one request of this window.
    with FakeBigCommerce(quota=30, window_ms=250) as shop:
        shop.consume(29)
        client = connect(shop, sleep=time.sleep, quota_share=1.0)

        first = list(client.channels())
        second = list(client.channels())

        assert first == second and len(first) == 1
        assert [r.status for r in shop.requests] == [200, 200]
        assert [r.window for r in shop.requests] == [1, 2]
        assert client.stats.throttled == 0
        assert client.stats.last_requests_left == 29
        assert 0.1 < client.stats.waited_seconds < 1.0


def test_fifty_thousand_orders_sync(connect: Connect) -> None:
    with FakeBigCommerce(quota=100_000, window_ms=1_000) as big:
        big.add_orders(50_000)
        client = connect(big, sleep=time.sleep)

        started = time.monotonic()
        orders = list(client.orders())
        elapsed = time.monotonic() - started

        assert len(orders) == 50_000
        assert len({o.id for o in orders}) == 50_000
        counting = [o for o in orders if o.counts]
        assert 0 < len(counting) < 50_000
        assert all(o.status_id not in {0, 4, 5, 6} for o in counting)
        expected = sum(
            Decimal(o["total_inc_tax"]) for o in big.orders if o["status_id"] not in {0, 4, 5, 6}
        )
        assert sum(o.total_inc_tax for o in counting) == expected
        # 200 full pages of 250, and a 204 on page 201 to show there is nothing more.
        assert client.stats.requests == 201
        assert big.requests[-1].status == 204
        assert elapsed < 20


def test_without_rate_limit_headers_the_client_paces_itself() -> None:
    # A proxy strips the X-Rate-Limit-* headers: the client cannot see the quota, so it
    # assumes the smallest plan's (150 a 30 s window) and spends its fifth of that.
    clock = FakeClock()
    with FakeBigCommerce(quota=150, window_ms=30_000, clock=clock.monotonic) as shop:
        shop.rate_limit_headers = False
        shop.add_orders(70)
        client = client_for(shop, sleep=clock.sleep, monotonic=clock.monotonic)

        fetched = [client.order(o["id"]) for o in shop.orders]

        assert all(order is not None for order in fetched)
        per_window = shop.requests_per_window()
        assert max(per_window.values()) == 30 and sum(per_window.values()) == 70
        assert all(r.status == 200 for r in shop.requests)
        assert client.stats.last_quota is None and client.stats.waited_seconds >= 60
