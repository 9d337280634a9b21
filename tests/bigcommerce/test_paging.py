"""Listings whose pages do not advance are stopped after a page or two, not followed forever;
consistent listings still page to the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.bigcommerce.client import PAGE_LIMIT, BigCommerceClient
from bot.bigcommerce.errors import PagingError
from tests.bigcommerce.support import bounded, client_for, no_sleep
from tests.fakes.bigcommerce import FakeBigCommerce, Reply


@pytest.fixture
def store() -> Iterator[FakeBigCommerce]:
    with FakeBigCommerce(quota=10_000, window_ms=1_000) as fake:
        yield fake


@pytest.fixture
def client(store: FakeBigCommerce) -> Iterator[BigCommerceClient]:
    with client_for(store, sleep=no_sleep) as made:
        yield made


def channel(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"Channel {i}", "type": "storefront", "platform": "custom"}


def v3_page(
    page: int,
    data: list[dict[str, Any]],
    *,
    total: int,
    total_pages: int,
    next_page: int | None,
    per_page: int = PAGE_LIMIT,
) -> dict[str, Any]:
    links = {"current": f"?page={page}&limit={per_page}"}
    if next_page is not None:
        links["next"] = f"?page={next_page}&limit={per_page}"
    pagination = {
        "total": total,
        "count": len(data),
        "per_page": per_page,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    }
    return {"data": data, "meta": {"pagination": pagination}}


def asked(query: dict[str, str]) -> int:
    return int(query.get("page", "1"))


def next_never_advances(query: dict[str, str]) -> tuple[int, Any]:
    # Fresh items on every page, but each page names page 2 as the next one.
    page = asked(query)
    items = [channel(page * 1_000 + i) for i in range(PAGE_LIMIT)]
    return 200, v3_page(page, items, total=50 * PAGE_LIMIT, total_pages=50, next_page=2)


def page_ignored(query: dict[str, str]) -> tuple[int, Any]:
    # Whatever page is asked for, the first one comes back, labelled as the one asked for.
    page = asked(query)
    items = [channel(i) for i in range(1, PAGE_LIMIT + 1)]
    return 200, v3_page(page, items, total=50 * PAGE_LIMIT, total_pages=50, next_page=page + 1)


def total_pages_grows(query: dict[str, str]) -> tuple[int, Any]:
    # Two pages' worth of items, yet every page claims there is one more after it.
    page = asked(query)
    items = [channel(page * 1_000 + i) for i in range(PAGE_LIMIT)]
    return 200, v3_page(page, items, total=2 * PAGE_LIMIT, total_pages=page + 1, next_page=page + 1)


@pytest.mark.parametrize(
    ("reply", "reason", "most"),
    [
        (next_never_advances, "page 2 names page 2 as the next one", 2),
        (page_ignored, "page 2 repeats page 1", 2),
        (total_pages_grows, "claims more than the 4 pages it fills", 4),
    ],
)
def test_a_v3_listing_that_does_not_advance_is_stopped(
    store: FakeBigCommerce, client: BigCommerceClient, reply: Reply, reason: str, most: int
) -> None:
    store.answer("/v3/channels", bounded(reply, 60))

    with pytest.raises(PagingError, match=reason):
        list(client.channels())

    assert len(store.requests_to("/v3/channels")) == most


def test_a_v2_listing_that_ignores_the_page_is_stopped(
    store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    store.add_orders(PAGE_LIMIT)
    full_page = store._orders({})  # the first page, whatever page is asked for
    store.answer("/v2/orders", bounded(lambda _query: (200, full_page), 60))

    with pytest.raises(PagingError, match="page 2 repeats page 1"):
        list(client.orders())

    assert len(store.requests_to("/v2/orders")) == 2


def test_a_consistent_listing_pages_to_its_end(
    store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    for i in range(2 * PAGE_LIMIT + 3):
        store.add_channel(f"Store {i}")

    channels = list(client.channels())

    assert len(channels) == len(store.channels) == 2 * PAGE_LIMIT + 4
    assert [r.query["page"] for r in store.requests_to("/v3/channels")] == ["1", "2", "3"]


def test_a_listing_without_pagination_is_one_page(
    store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    store.answer("/v3/channels", {"data": [channel(1), channel(2)]})

    assert [c.id for c in client.channels()] == [1, 2]
    assert len(store.requests) == 1
