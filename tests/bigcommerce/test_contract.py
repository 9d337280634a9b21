"""The client and the sync against bodies shaped as BigCommerce's API reference describes them
(tests/payloads/bigcommerce/, written to the reference's schemas and examples), and the fake
store answering as the reference says it should."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.bigcommerce.client import BigCommerceClient, BigCommerceError
from bot.bigcommerce.errors import PagingError
from bot.bigcommerce.sync import parse_webhook, refetch
from handlers.milestones import Milestone
from storage.models import BcChannel, BcCoupon, BcOrder, BcPromotion
from tests.bigcommerce.support import (
    CALENDAR,
    NOW,
    PAYLOADS,
    POLICY,
    Db,
    add_growth_team,
    bounded,
    client_for,
    no_sleep,
    payload,
    run_sync,
)
from tests.fakes.bigcommerce import FakeBigCommerce, fixed

REFERENCE_BODIES = {
    "/v3/promotions": "promotions_list.json",
    "/v3/channels": "channels_list.json",
    "/v2/coupons": "coupons_list.json",
    "/v2/orders": "orders_list.json",
    "/v2/orders/count": "orders_count.json",
}


@pytest.fixture
def store() -> Iterator[FakeBigCommerce]:
    with FakeBigCommerce(quota=10_000, window_ms=1_000) as fake:
        yield fake


@pytest.fixture
def mock_server(store: FakeBigCommerce) -> FakeBigCommerce:
    """Every listing answers its reference-shaped body whatever the query, as a mock server
    built from the reference's examples does (at most 50 times, so a client that would page
    forever fails instead of hanging)."""
    for path, name in REFERENCE_BODIES.items():
        store.answer(path, bounded(fixed(payload(name)), 50))
    return store


@pytest.fixture
def client(store: FakeBigCommerce) -> Iterator[BigCommerceClient]:
    with client_for(store, sleep=no_sleep) as made:
        yield made


def test_reference_shaped_listings_read_as_the_reference_describes(
    mock_server: FakeBigCommerce, client: BigCommerceClient
) -> None:
    spring, booth = list(client.promotions())
    assert (spring.id, spring.enabled, spring.current_uses, spring.max_uses) == (7, True, 41, 500)
    assert spring.start_date == datetime(2026, 3, 1, 8, tzinfo=UTC)  # "....000Z"
    assert spring.end_date == datetime(2026, 5, 31, 22, tzinfo=UTC)
    assert (booth.redemption_type, booth.enabled, booth.max_uses) == ("COUPON", False, None)
    assert booth.end_date is None  # null: never ends

    edu, booth_coupon = list(client.coupons())
    assert (edu.code, edu.max_uses, edu.expires) == ("EDU10", 0, None)
    assert booth_coupon.expires == datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)

    first, second = list(client.orders())
    assert (first.id, first.status_id, first.total_inc_tax) == (1201, 11, Decimal("100.0000"))
    assert first.counts and not first.is_deleted
    assert (second.channel_id, second.is_deleted, second.counts) == (731092, False, True)
    assert client.orders_count() == 2


def test_the_reference_channel_example_is_not_paged_forever(
    mock_server: FakeBigCommerce, client: BigCommerceClient
) -> None:
    # The example says "page 2 of 4" to a request for page 1, and names page 3 as the next.
    with pytest.raises(PagingError, match="asked for page 1, the store answered page 2"):
        list(client.channels())

    assert len(mock_server.requests_to("/v3/channels")) == 1


def test_a_mock_server_of_the_examples_syncs_in_a_few_requests(
    file_engine: Engine, mock_server: FakeBigCommerce, client: BigCommerceClient
) -> None:
    add_growth_team(file_engine)
    db = Db(file_engine)
    used = Milestone(
        id="spring",
        title="Spring",
        source="promotion",
        match_id=7,
        threshold="redemptions",
        at_least=Decimal(40),
        team="Growth",
    )

    report = run_sync(client, db, milestones=(used,))

    assert report.ok and report.degraded
    assert set(report.skipped_parts) == {"channel"}
    assert "answered page 2" in report.skipped_parts["channel"]
    assert report.missing_scopes == []
    assert (report.promotions, report.coupons, report.orders_stored) == (2, 2, 2)
    assert report.requests == 4  # one page of each listing
    assert [a.key for a in report.awarded] == ["spring:promotion:7"]
    assert db.count(BcPromotion) == 2 and db.count(BcCoupon) == 2 and db.count(BcOrder) == 2
    assert db.count(BcChannel) == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v3/promotions", "error_403_promotions.json"),
        ("/v3/channels", "error_403_channels.json"),
        ("/v2/coupons", "error_403_v2.json"),
        ("/v2/orders", "error_403_v2.json"),
    ],
)
def test_the_fake_refuses_a_token_without_the_scope_as_the_reference_says(
    store: FakeBigCommerce, path: str, body: str
) -> None:
    store.scopes = frozenset({"store_channel_listings_read_only"})

    answer = requests.get(
        f"{store.url}/stores/{store.store_hash}{path}",
        headers={"X-Auth-Token": store.access_token, "Accept": "application/json"},
        timeout=10,
    )

    assert answer.status_code == 403
    assert answer.json() == payload(body)


@pytest.mark.parametrize(
    "body", ["error_403_promotions.json", "error_403_channels.json", "error_403_v2.json"]
)
def test_a_reference_shaped_403_is_an_error_with_its_title(
    store: FakeBigCommerce, client: BigCommerceClient, body: str
) -> None:
    store.answer("/v3/channels", payload(body), status=403)

    with pytest.raises(BigCommerceError) as caught:
        list(client.channels())

    assert caught.value.status == 403
    assert caught.value.title == "You don't have a required scope to access the endpoint"
    assert len(store.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("webhook_order_created.json", ("order", 1201)),
        ("webhook_order_status_updated.json", ("order", 1201)),
        ("webhook_order_archived.json", ("order", 1201)),
        ("webhook_channel_updated.json", ("channel", 731092)),
    ],
)
def test_reference_shaped_webhooks_name_what_to_fetch_again(
    body: str, expected: tuple[str, int]
) -> None:
    assert parse_webhook((PAYLOADS / body).read_bytes()) == expected


def test_an_archived_order_stops_counting(
    file_engine: Engine, store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    add_growth_team(file_engine)
    db = Db(file_engine)
    store.answer("/v2/orders", payload("orders_list.json"))
    run_sync(client, db, milestones=())
    assert db.order(1201).counts
    # store/order/archived arrives; the order fetched again says is_deleted.
    archived = payload("order_archived.json")
    store.answer("/v2/orders/1201", archived)
    target = parse_webhook((PAYLOADS / "webhook_order_archived.json").read_bytes())
    assert target == ("order", 1201)

    report = refetch(client, db, *target, milestones=(), calendar=CALENDAR, policy=POLICY, now=NOW)

    assert report.ok and report.found
    assert not db.order(1201).counts
    with Session(file_engine) as session:
        counting = session.exec(select(BcOrder.id).where(col(BcOrder.counts).is_(True))).all()
    assert counting == [1202]


def test_an_archived_order_in_a_listing_does_not_count(
    store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    listed = payload("orders_list.json")
    listed[1]["is_deleted"] = True
    store.answer("/v2/orders", listed)

    first, second = list(client.orders())

    assert first.counts and not second.counts
