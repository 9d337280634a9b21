"""An API account without one of the scopes Plaudit reads with: that part of the copy is left
out and said so, the others go on; and the README asks for the scopes that are needed."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col

from bot.bigcommerce.client import BigCommerceClient
from bot.bigcommerce.sync import refetch
from storage.models import BcChannel, BcCoupon, BcOrder, BcPromotion
from tests.bigcommerce.support import (
    CALENDAR,
    LATER,
    MILESTONES,
    NOW,
    POLICY,
    Db,
    add_growth_team,
    client_for,
    no_sleep,
    run_sync,
    stock,
)
from tests.fakes.bigcommerce import READ_SCOPES, FakeBigCommerce

README = Path(__file__).resolve().parents[2] / "README.md"

# The scopes' names in the control panel and their parameters, from each reference file's
# `securitySchemes.X-Auth-Token` table.
SCOPE_PARAMETERS = {
    "marketing": "store_v2_marketing_read_only",
    "orders": "store_v2_orders_read_only",
    "channel settings": "store_channel_settings_read_only",
    "channel listings": "store_channel_listings_read_only",
    "sites & routes": "store_sites_read_only",
    "information & settings": "store_v2_information_read_only",
}


@pytest.fixture
def db(file_engine: Engine) -> Db:
    add_growth_team(file_engine)
    return Db(file_engine)


@pytest.fixture
def store() -> Iterator[FakeBigCommerce]:
    with FakeBigCommerce(quota=10_000, window_ms=1_000) as fake:
        stock(fake)
        yield fake


@pytest.fixture
def client(store: FakeBigCommerce) -> Iterator[BigCommerceClient]:
    with client_for(store, sleep=no_sleep) as made:
        yield made


# What the README used to ask for: Channel Listings, which does not open GET /v3/channels.
LISTINGS_NOT_SETTINGS = (READ_SCOPES - {"store_channel_settings_read_only"}) | {
    "store_channel_listings_read_only"
}


def test_without_channel_settings_orders_still_sync_and_the_log_says_what_to_add(
    db: Db, store: FakeBigCommerce, client: BigCommerceClient, caplog: pytest.LogCaptureFixture
) -> None:
    store.scopes = LISTINGS_NOT_SETTINGS
    caplog.set_level(logging.INFO)

    report = run_sync(client, db)

    assert report.ok and report.degraded and report.error is None
    assert set(report.skipped_parts) == {"channel"}
    assert "403" in report.skipped_parts["channel"]
    assert report.missing_scopes == ["Channel Settings (read-only)"]
    assert db.count(BcOrder) == 125 and report.orders_stored == 125
    assert db.award_keys() == ["orders-100", "spring-live:promotion:1"]
    (line,) = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "NOT synced" in r.getMessage()
    ]
    assert "channels NOT synced" in line and "Channel Settings (read-only)" in line
    assert "125 orders" in line


def test_channels_copied_before_stay_when_they_can_no_longer_be_read(
    db: Db, store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    run_sync(client, db, milestones=())
    assert db.count(BcChannel) == 2
    store.scopes = LISTINGS_NOT_SETTINGS
    store.add_orders(3, status_ids=[10], start=LATER)

    report = run_sync(client, db, milestones=())

    assert set(report.skipped_parts) == {"channel"} and report.removed == 0
    assert db.count(BcChannel) == 2  # left as they were, not pruned
    assert db.count(BcOrder) == 128


@pytest.mark.parametrize(
    ("lacking", "skipped"),
    [
        ("store_v2_marketing_read_only", {"promotion", "coupon"}),
        ("store_v2_orders_read_only", {"order"}),
        ("store_channel_settings_read_only", {"channel"}),
    ],
)
def test_each_missing_scope_leaves_out_its_part_only(
    db: Db, store: FakeBigCommerce, client: BigCommerceClient, lacking: str, skipped: set[str]
) -> None:
    store.scopes = READ_SCOPES - {lacking}

    report = run_sync(client, db, milestones=MILESTONES)

    assert report.ok and set(report.skipped_parts) == skipped
    counts = {
        "promotion": db.count(BcPromotion),
        "coupon": db.count(BcCoupon),
        "channel": db.count(BcChannel),
        "order": db.count(BcOrder),
    }
    assert {kind for kind, n in counts.items() if n == 0} == skipped
    assert len(report.missing_scopes) == 1


def test_a_revoked_token_still_stops_the_whole_sync(
    db: Db, store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    store.access_token = "another-token"

    report = run_sync(client, db)

    assert report.error is not None and "401" in report.error
    assert report.skipped_parts == {} and report.requests == 1


def test_a_refetch_refused_for_a_scope_names_it(
    db: Db, store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    store.scopes = READ_SCOPES - {"store_v2_orders_read_only"}

    report = refetch(
        client, db, "order", 100, milestones=(), calendar=CALENDAR, policy=POLICY, now=NOW
    )

    assert report.error is not None and "403" in report.error
    assert report.missing_scope == "Orders (read-only)"


def readme_scopes() -> set[str]:
    """The read-only scopes the README's configuration table asks for."""
    (row,) = [
        line
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `BIGCOMMERCE_STORE_HASH`")
    ]
    described = re.search(r"read-only ([^)]*) scopes", row)
    assert described is not None, row
    names = re.split(r",\s*(?:and\s+)?|\s+and\s+", described.group(1))
    return {SCOPE_PARAMETERS[name.strip().lower()] for name in names}


def test_the_scopes_the_readme_asks_for_are_enough(
    db: Db, store: FakeBigCommerce, client: BigCommerceClient
) -> None:
    store.scopes = frozenset(readme_scopes())

    report = run_sync(client, db)

    assert report.ok and not report.degraded, report.skipped_parts
    assert db.count(BcChannel, col(BcChannel.id) == 2) == 1
