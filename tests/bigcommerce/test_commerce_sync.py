"""The BigCommerce sync and webhooks: a fake store over real HTTP, a real migrated database."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

import bot.bigcommerce.sync as commerce
import handlers.milestones as milestones_module
from bot.bigcommerce.client import BigCommerceClient, BigCommerceConfig, parse_rfc2822
from bot.bigcommerce.sync import (
    parse_webhook,
    refetch,
    verify_webhook,
)
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers.commerce import (
    OrderRecord,
    PromotionRecord,
    get_cursor,
    set_cursor,
    to_cents,
    upsert_orders,
    upsert_promotions,
)
from handlers.milestones import Milestone
from storage.models import (
    BcChannel,
    BcCoupon,
    BcOrder,
    BcPromotion,
    Outbox,
)
from tests.bigcommerce.support import (
    CALENDAR,
    HUNDRED_ORDERS,
    LATER,
    MILESTONES,
    NOW,
    POLICY,
    SPRING_LIVE,
    Db,
    add_growth_team,
    no_sleep,
    run_sync,
    stock,
)
from tests.fakes.bigcommerce import FakeBigCommerce, rfc2822
from tests.harness import audit_proof

Connect = Callable[..., BigCommerceClient]


@pytest.fixture
def db(file_engine: Engine) -> Db:
    add_growth_team(file_engine)
    return Db(file_engine)


@pytest.fixture
def store() -> Iterator[FakeBigCommerce]:
    with FakeBigCommerce(quota=10_000, window_ms=1_000) as fake:
        yield fake


@pytest.fixture
def connect(store: FakeBigCommerce) -> Iterator[Connect]:
    """Clients for `store` (or another fake); all are closed afterwards."""
    made: list[BigCommerceClient] = []

    def make(
        fake: FakeBigCommerce | None = None,
        *,
        token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **settings: Any,
    ) -> BigCommerceClient:
        target = fake or store
        config = BigCommerceConfig(
            store_hash=target.store_hash,
            access_token=target.access_token if token is None else token,
            api_url=settings.pop("api_url", target.url),
            **settings,
        )
        client = BigCommerceClient(config, sleep=sleep, rng=random.Random(5))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def newest_modified(store: FakeBigCommerce) -> datetime:
    return max(parse_rfc2822(o["date_modified"]) for o in store.orders)


def webhook(scope: str, kind: str, object_id: object) -> bytes:
    return json.dumps(
        {
            "scope": scope,
            "store_id": "1025646",
            "data": {"type": kind, "id": object_id},
            "hash": "352e4afc6dd3fc85ea26bfdf3f91852604d57528",
            "created_at": 1561482670,
            "producer": "stores/s7k9q2x4",
        }
    ).encode()


# -- a full sync, then incremental ones ----------------------------------------------------
def test_first_sync_stores_everything_and_awards_once(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    stock(store)
    client = connect()

    report = run_sync(client, db)

    assert report.ok and report.error is None
    assert (report.promotions, report.coupons, report.channels) == (2, 2, 2)
    assert (report.orders, report.orders_stored, report.batches) == (125, 125, 1)
    assert report.since is None and report.cursor == newest_modified(store)
    assert db.cursor() == newest_modified(store)
    # One page each for promotions, coupons, channels and orders.
    assert report.requests == 4 and report.throttled == 0
    assert report.quota == 10_000 and report.quota_share == pytest.approx(4 / 10_000)
    assert report.seconds > 0

    by_key = {a.key: a for a in report.awarded}
    assert sorted(by_key) == ["orders-100", "spring-live:promotion:1"]
    assert by_key["spring-live:promotion:1"].title == "Spring sale is live: Spring sale"
    assert by_key["spring-live:promotion:1"].points == 6
    assert by_key["orders-100"].points == 10
    assert sorted(by_key["orders-100"].shares.values()) == [5, 5]

    assert db.count(BcPromotion) == 2 and db.count(BcChannel) == 2
    assert db.count(BcOrder) == 125
    assert db.count(BcOrder, col(BcOrder.counts).is_(False)) == 5
    with Session(db.engine) as session:
        total = session.exec(select(func.sum(BcOrder.total_cents))).one()
        coupons = {c.code: c for c in session.exec(select(BcCoupon))}
    assert total == sum(to_cents(Decimal(o["total_inc_tax"])) for o in store.orders)
    assert coupons["FIVE"].max_uses is None  # 0 in the store: unlimited
    assert (coupons["LAUNCH"].max_uses, coupons["LAUNCH"].num_uses) == (25, 3)
    assert db.count(Outbox, Outbox.template == "milestone.reached") == 2

    again = run_sync(client, db)

    assert again.ok and again.awarded == []
    assert db.award_keys() == ["orders-100", "spring-live:promotion:1"]
    assert db.count(Outbox, Outbox.template == "milestone.reached") == 2


def test_second_sync_reads_only_orders_modified_since_the_cursor(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    stock(store)
    client = connect()
    first = run_sync(client, db)
    assert first.cursor is not None
    overlap = [
        o
        for o in store.orders
        if parse_rfc2822(o["date_modified"]) >= first.cursor - timedelta(seconds=1)
    ]
    store.clear_log()
    store.add_orders(3, start=LATER, status_ids=[10])

    second = run_sync(client, db)

    listings = store.requests_to("/v2/orders")
    assert len(listings) == 1
    assert listings[0].query["min_date_modified"] == rfc2822(first.cursor - timedelta(seconds=1))
    assert listings[0].query["sort"] == "date_modified:asc"
    assert second.since == first.cursor
    assert second.orders == 3 + len(overlap)
    assert second.cursor == newest_modified(store) and db.cursor() == second.cursor
    assert second.requests == 4
    assert second.awarded == []
    assert db.count(BcOrder) == 128


def test_an_order_modified_later_is_updated(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    stock(store, orders=101, cancelled=0)
    client = connect()
    run_sync(client, db)
    target = store.orders[40]
    assert db.order(target["id"]).counts is True
    before = db.order(target["id"]).total_cents

    store.modify_order(target["id"], LATER, status_id=5)
    report = run_sync(client, db)

    changed = db.order(target["id"])
    assert (changed.status_id, changed.counts) == (5, False)
    assert changed.date_modified == LATER and changed.total_cents == before
    assert report.cursor == LATER and db.cursor() == LATER
    assert report.orders == 2  # the one at the old cursor again, and the changed one
    assert db.count(BcOrder, col(BcOrder.counts).is_(True)) == 100


def test_an_order_edited_during_the_sync_hides_no_other_order(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    # With plain page numbers, an order already read that moves to the end of the listing
    # would shift the next page by one and the order at the page boundary would be missed.
    stock(store, orders=600, cancelled=0)
    edited = store.orders[5]["id"]

    def edit_after_the_first_batch() -> None:
        if db.count(BcOrder) >= 250 and db.after_commit is not None:
            db.after_commit = None
            store.modify_order(edited, LATER, status_id=4)

    db.after_commit = edit_after_the_first_batch

    report = run_sync(connect(), db)

    assert report.ok and db.after_commit is None
    assert db.count(BcOrder) == 600
    assert (db.order(edited).status_id, db.order(edited).counts) == (4, False)
    assert db.cursor() == LATER


def test_a_deleted_promotion_leaves_the_local_copy(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    stock(store)
    client = connect()
    run_sync(client, db, milestones=())
    store.promotions.pop()

    report = run_sync(client, db, milestones=())

    assert report.removed == 1
    with Session(db.engine) as session:
        assert [p.name for p in session.exec(select(BcPromotion))] == ["Spring sale"]


def test_unreadable_items_are_skipped_counted_and_kept_locally(
    db: Db, store: FakeBigCommerce, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    stock(store)
    client = connect()
    run_sync(client, db, milestones=())
    store.promotions[1]["start_date"] = "the first of spring"
    store.orders[3]["total_inc_tax"] = None
    store.add_orders(2, start=LATER, status_ids=[10])
    store.changed()
    caplog.set_level(logging.INFO)

    report = run_sync(client, db, milestones=())

    assert report.ok and not report.degraded
    assert report.unreadable == {"promotion": 1}  # the order was read before: not listed again
    assert report.promotions == 1 and report.removed == 0
    assert db.count(BcPromotion) == 2  # the unreadable one is not pruned
    assert report.orders_stored == 3  # the overlap's order and the two new ones
    assert any("1 unreadable item skipped" in r.getMessage() for r in caplog.records)

    store.modify_order(store.orders[3]["id"], LATER + timedelta(hours=1))
    again = run_sync(client, db, milestones=())

    assert again.ok and again.unreadable == {"promotion": 1, "order": 1}
    assert again.orders_stored >= 1


# -- rate limits and failures --------------------------------------------------------------
def test_a_429_storm_slows_the_sync_but_it_completes(db: Db, connect: Connect) -> None:
    # Other apps take six requests of a 20-request quota before each of ours, so the
    # 200 ms windows keep running dry under the sync.
    with FakeBigCommerce(quota=20, window_ms=200, competing_load=6) as busy:
        stock(busy, orders=1_000, cancelled=0)
        client = connect(busy, quota_share=1.0)

        report = run_sync(client, db)

        assert report.ok
        assert report.throttled > 0 and report.waited_seconds > 0
        assert db.count(BcOrder) == 1_000
        assert report.cursor == newest_modified(busy)
        assert db.award_keys() == ["orders-100", "spring-live:promotion:1"]
        assert len(set(r.window for r in busy.requests)) > 2


def test_a_persistent_500_part_way_keeps_what_was_committed_and_resumes(
    db: Db, store: FakeBigCommerce, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stock(store, orders=1_000, cancelled=0)
    client = connect(sleep=no_sleep, max_retries=2)

    def break_the_store_after_two_batches() -> None:
        if db.count(BcOrder) >= 2 * 249 and db.after_commit is not None:
            db.after_commit = None
            store.fail_next(500, 3)  # the try and both retries

    db.after_commit = break_the_store_after_two_batches

    broken = run_sync(client, db)

    assert broken.error is not None and not broken.ok
    assert "GET /v2/orders failed: 500" in broken.error
    stored = db.count(BcOrder)
    assert 2 * 249 <= stored < 1_000
    assert broken.cursor is not None and db.cursor() == broken.cursor
    with Session(db.engine) as session:
        assert session.exec(select(func.max(BcOrder.date_modified))).one() == broken.cursor
    # Milestones are judged on what is stored: the first 498 orders already make 100.
    assert db.award_keys() == ["orders-100", "spring-live:promotion:1"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("sync of store" in r.getMessage() for r in warnings)

    store.clear_log()
    resumed = run_sync(client, db)

    assert resumed.ok and resumed.since == broken.cursor
    assert db.count(BcOrder) == 1_000
    assert resumed.orders < 1_000 - stored + 10
    first_listing = store.requests_to("/v2/orders")[0]
    assert first_listing.query["min_date_modified"] == rfc2822(broken.cursor - timedelta(seconds=1))
    assert resumed.awarded == []


def test_a_bad_token_is_reported_not_raised_and_keeps_the_data(
    db: Db, store: FakeBigCommerce, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    stock(store)
    run_sync(connect(), db)
    cursor = db.cursor()
    caplog.set_level(logging.INFO)
    bad = "bc-revoked-token-0c4e2d"

    report = run_sync(connect(token=bad, sleep=no_sleep), db)

    assert report.error is not None and "401" in report.error
    assert bad not in report.error and bad not in caplog.text
    assert any(
        r.levelno == logging.WARNING
        and r.name == "bot.bigcommerce.sync"
        and "401" in r.getMessage()
        for r in caplog.records
    )
    assert report.awarded == [] and report.requests == 1
    assert db.count(BcOrder) == 125 and db.count(BcPromotion) == 2
    assert db.cursor() == cursor
    assert len(db.award_keys()) == 2


def test_an_unreachable_store_is_reported_not_raised(db: Db, connect: Connect) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = connect(api_url=f"http://127.0.0.1:{port}", sleep=no_sleep, max_retries=1)

    report = run_sync(client, db)

    assert report.error is not None and "ConnectionError" in report.error
    assert report.requests == 2 and report.awarded == []
    assert db.count(BcPromotion) == 0


def test_fifty_thousand_orders_sync_incrementally(db: Db, connect: Connect) -> None:
    with FakeBigCommerce(quota=450, window_ms=1_000) as big:
        big.add_promotion("Spring sale")
        big.add_orders(50_000)
        client = connect(big, quota_share=0.2)

        first = run_sync(client, db)

        assert first.ok
        assert db.count(BcOrder) == 50_000
        assert db.cursor() == newest_modified(big)
        counting = sum(1 for o in big.orders if o["status_id"] not in {0, 4, 5, 6})
        assert db.count(BcOrder, col(BcOrder.counts).is_(True)) == counting
        # 200 full pages, each asked for from the new cursor (so each repeats the order at
        # the cursor), and one last short page; plus promotions, coupons and channels.
        assert 200 <= first.requests - 3 <= 205
        assert first.quota == 450
        assert first.quota_share == pytest.approx(first.requests / 450)
        assert max(big.requests_per_window().values()) <= 90  # Plaudit's fifth of 450
        assert first.seconds < 120
        assert db.award_keys() == ["orders-100", "spring-live:promotion:1"]

        second = run_sync(client, db)

        assert second.ok and second.orders <= 2 and second.requests == 4
        assert second.awarded == []


# -- webhooks ------------------------------------------------------------------------------
def test_a_duplicated_order_webhook_refetches_and_awards_once(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    stock(store, orders=99, cancelled=0)
    client = connect()
    assert [a.key for a in run_sync(client, db).awarded] == ["spring-live:promotion:1"]
    (new,) = store.add_orders(1, start=LATER, status_ids=[11])
    body = webhook("store/order/created", "order", new["id"])

    parsed = parse_webhook(body)
    assert parsed is not None
    kind, object_id = parsed
    assert (kind, object_id) == ("order", new["id"])
    reports = [
        refetch(
            client,
            db,
            kind,
            object_id,
            milestones=MILESTONES,
            calendar=CALENDAR,
            policy=POLICY,
            now=NOW,
        )
        for _ in range(2)
    ]

    assert [r.found for r in reports] == [True, True]
    assert [r.requests for r in reports] == [1, 1]
    assert [[a.key for a in r.awarded] for r in reports] == [["orders-100"], []]
    assert db.count(BcOrder) == 100
    assert db.award_keys() == ["orders-100", "spring-live:promotion:1"]
    assert db.count(Outbox, Outbox.template == "milestone.reached") == 2


def test_refetch_updates_each_kind_and_leaves_what_is_gone(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    stock(store)
    client = connect()
    run_sync(client, db, milestones=())
    store.promotions[0]["status"] = "DISABLED"
    store.coupons[0]["num_uses"] = 9
    store.channels[1]["status"] = "archived"
    gone = store.orders.pop(0)
    store.changed()

    def again(kind: commerce.Kind, object_id: int) -> commerce.RefetchReport:
        return refetch(
            client, db, kind, object_id, milestones=(), calendar=CALENDAR, policy=POLICY, now=NOW
        )

    reports = [
        again("promotion", 1),
        again("coupon", 1),
        again("channel", 2),
        again("order", gone["id"]),
        again("promotion", 999),
    ]

    assert [r.found for r in reports] == [True, True, True, False, False]
    assert all(r.ok for r in reports)
    with Session(db.engine) as session:
        assert session.get(BcPromotion, 1).status == "DISABLED"  # type: ignore[union-attr]
        assert session.get(BcCoupon, 1).num_uses == 9  # type: ignore[union-attr]
        assert session.get(BcChannel, 2).status == "archived"  # type: ignore[union-attr]
        assert session.get(BcOrder, gone["id"]) is not None
    with pytest.raises(ValueError, match="cannot re-fetch"):
        again("product", 1)  # type: ignore[arg-type]


def test_a_refetch_that_cannot_reach_the_store_reports_an_error(
    db: Db, store: FakeBigCommerce, connect: Connect
) -> None:
    store.add_orders(1)
    store.fail_next(503, 2)
    client = connect(sleep=no_sleep, max_retries=1)

    report = refetch(
        client, db, "order", 100, milestones=MILESTONES, calendar=CALENDAR, policy=POLICY, now=NOW
    )

    assert report.error is not None and "503" in report.error
    assert not report.found and report.awarded == []
    assert db.count(BcOrder) == 0


@pytest.mark.parametrize("round_", range(3))
def test_a_webhook_racing_a_full_sync_awards_each_milestone_once(
    round_: int,
    file_engine: Engine,
    db: Db,
    store: FakeBigCommerce,
    connect: Connect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stock(store, orders=150, cancelled=0)
    run_sync(connect(), db, milestones=())  # the data is there; nothing awarded yet
    runtime = Runtime(engine=file_engine, policy=POLICY, rules=default_rules())
    real_evaluate = milestones_module.evaluate

    def slow_evaluate(*args: Any, **kwargs: Any) -> Any:
        # Keep each transaction open a moment after it awards, so the racers overlap.
        awarded = real_evaluate(*args, **kwargs)
        time.sleep(0.02)
        return awarded

    monkeypatch.setattr("bot.bigcommerce.sync.evaluate", slow_evaluate)
    milestones = (
        SPRING_LIVE,
        HUNDRED_ORDERS,
        Milestone(id="launch-coupon", title="Launch coupon", source="coupon", match_id=2),
        Milestone(id="wholesale", title="Wholesale channel", source="channel", match_id=2),
    )
    start = threading.Barrier(3, timeout=30)
    done = threading.Event()
    reports: list[Any] = []
    failures: list[BaseException] = []

    def full_sync() -> None:
        client = connect()
        try:
            start.wait()
            reports.append(run_sync(client, runtime.run_sync, milestones))
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    def webhooks(order_id: int) -> None:
        client = connect()
        try:
            start.wait()
            for _ in range(40):
                reports.append(
                    refetch(
                        client,
                        runtime.run_sync,
                        "order",
                        order_id,
                        milestones=milestones,
                        calendar=CALENDAR,
                        policy=POLICY,
                        now=NOW,
                    )
                )
                if done.is_set():
                    return
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=full_sync),
        threading.Thread(target=webhooks, args=(store.orders[10 + round_]["id"],)),
        threading.Thread(target=webhooks, args=(store.orders[-1]["id"],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures
    assert all(not t.is_alive() for t in threads)
    assert all(r.error is None for r in reports)
    expected = [
        "launch-coupon:coupon:2",
        "orders-100",
        "spring-live:promotion:1",
        "wholesale:channel:2",
    ]
    assert db.award_keys() == expected
    awarded = sorted(a.key for r in reports for a in r.awarded)
    assert awarded == expected  # each reported by exactly one of the racers
    assert db.count(Outbox, Outbox.template == "milestone.reached") == 4
    with Session(file_engine) as session:
        proof = audit_proof(session)
    assert proof.intact and proof.sealed == 4


# -- webhook requests ----------------------------------------------------------------------
def test_verify_webhook_accepts_only_the_right_secret() -> None:
    secret = "whs-4f1c9a0e7b"
    assert verify_webhook({"X-Plaudit-Webhook-Secret": secret}, secret)
    assert verify_webhook({"x-plaudit-webhook-secret": secret}, secret)
    assert not verify_webhook({"X-Plaudit-Webhook-Secret": secret + "x"}, secret)
    assert not verify_webhook({"X-Plaudit-Webhook-Secret": ""}, secret)
    assert not verify_webhook({}, secret)
    assert not verify_webhook({"X-Other": secret}, secret)
    assert not verify_webhook({"X-Plaudit-Webhook-Secret": ""}, "")
    assert verify_webhook({"X-Hook-Key": "clé-∂"}, "clé-∂", header_name="x-hook-key")
    assert not verify_webhook({"X-Hook-Key": "cle"}, "clé-∂", header_name="X-Hook-Key")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (webhook("store/order/created", "order", 123), ("order", 123)),
        (webhook("store/order/updated", "order", 124), ("order", 124)),
        (webhook("store/order/statusUpdated", "order", 125), ("order", 125)),
        (webhook("store/order/archived", "order", 126), ("order", 126)),
        (webhook("store/order/refund/created", "order", 127), ("order", 127)),
        (webhook("store/order/updated", "order", "128"), ("order", 128)),
        (webhook("store/channel/created", "channel", 7), ("channel", 7)),
        (webhook("store/channel/updated", "channel", 8), ("channel", 8)),
        (b'{"scope": "store/order/updated", "data": {"id": 9}}', ("order", 9)),
        # irrelevant
        (webhook("store/cart/created", "cart", 5), None),
        (webhook("store/cart/converted", "cart", 5), None),
        (webhook("store/product/updated", "product", 5), None),
        (webhook("store/channel/1/cart/created", "cart", 5), None),
        (webhook("store/order/message/created", "order", 5), None),
        # malformed
        (b"", None),
        (b"not json", None),
        (b"\xff\xfe\x00", None),
        (b"[]", None),
        (b'"store/order/updated"', None),
        (b'{"scope": 1, "data": {"type": "order", "id": 1}}', None),
        (b'{"scope": "store/order/updated"}', None),
        (b'{"scope": "store/order/updated", "data": [1]}', None),
        (webhook("store/order/updated", "order", None), None),
        (webhook("store/order/updated", "order", 0), None),
        (webhook("store/order/updated", "order", -4), None),
        (webhook("store/order/updated", "order", True), None),
        (webhook("store/order/updated", "order", 1.5), None),
        (webhook("store/order/updated", "order", "12a"), None),
        (webhook("store/order/updated", "order", 2**70), None),
        (webhook("store/order/updated", "cart", 3), None),
    ],
)
def test_parse_webhook(body: bytes, expected: tuple[str, int] | None) -> None:
    assert parse_webhook(body) == expected


# -- the storage side ----------------------------------------------------------------------
def test_money_is_stored_in_cents_rounded_half_up() -> None:
    assert to_cents(Decimal("123.4500")) == 12345
    assert to_cents(Decimal("10.005")) == 1001
    assert to_cents(Decimal("10.0049")) == 1000
    assert to_cents(Decimal("0.125")) == 13
    assert to_cents(Decimal("0")) == 0


def test_upserts_are_idempotent_and_never_go_back_to_an_older_order(db: Db) -> None:
    t0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
    newer = OrderRecord(7, 5, False, t0, t0 + timedelta(hours=2), Decimal("20.00"), 1)
    older = OrderRecord(7, 10, True, t0, t0 + timedelta(hours=1), Decimal("20.00"), 1)
    other = OrderRecord(8, 10, True, t0, t0, Decimal("1.999"), 2)

    for _ in range(2):
        assert db(lambda s: upsert_orders(s, [newer, other])) == 2
    assert db(lambda s: upsert_orders(s, [older])) == 1
    assert db(lambda s: upsert_orders(s, [older, newer, older])) == 1

    assert db.count(BcOrder) == 2
    kept = db.order(7)
    assert (kept.status_id, kept.counts, kept.date_modified) == (5, False, newer.date_modified)
    assert db.order(8).total_cents == 200 and db.order(8).channel_id == 2

    promo = PromotionRecord(3, "Spring", "ENABLED", t0, None, 1, None)
    db(lambda s: upsert_promotions(s, [promo], now=NOW))
    db(
        lambda s: upsert_promotions(
            s, [promo, PromotionRecord(3, "Spring", "DISABLED", t0, None, 4, 9)], now=NOW
        )
    )
    with Session(db.engine) as session:
        stored = session.get(BcPromotion, 3)
        assert stored is not None
        assert (stored.status, stored.current_uses, stored.max_uses) == ("DISABLED", 4, 9)
        assert stored.fetched_at == NOW


def test_cursors_round_trip(db: Db) -> None:
    assert db(lambda s: get_cursor(s, "bigcommerce.test")) is None
    db(
        lambda s: set_cursor(
            s, "bigcommerce.test", {"date_modified": "2025-01-01T00:00:00+00:00"}, NOW
        )
    )
    db(
        lambda s: set_cursor(
            s, "bigcommerce.test", {"date_modified": "2025-02-01T00:00:00+00:00", "n": 2}, NOW
        )
    )

    assert db(lambda s: get_cursor(s, "bigcommerce.test")) == {
        "date_modified": "2025-02-01T00:00:00+00:00",
        "n": 2,
    }
