"""BigCommerce end to end: webhooks into the running app, and `plaudit bigcommerce sync`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cli.main import main
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from storage import migrate
from storage.db import make_engine
from storage.models import BcOrder, Member, MilestoneAward
from tests.fakes.bigcommerce import READ_SCOPES, FakeBigCommerce
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN, Server

SECRET = "webhook-secret-1f2e3d"
ORDERS = Milestone(
    id="first-orders",
    title="First 3 orders of the launch",
    source="orders",
    threshold="orders",
    at_least=Decimal(3),
    points=6,
    team="Brand",
)


def add_team(engine: Engine) -> None:
    with Session(engine) as session:
        for i, name in enumerate(("Ana", "Ben"), start=1):
            session.add(
                Member(
                    slack_team_id="T0001",
                    slack_user_id=f"U000{i}",
                    email=f"{name.lower()}@example.com",
                    display_name=name,
                    team="Brand",
                )
            )
        session.commit()


@pytest.fixture
def store() -> Iterator[FakeBigCommerce]:
    with FakeBigCommerce(quota=10_000, window_ms=1_000) as fake:
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, team_id="T0001") as fake:
        yield fake


def env(store: FakeBigCommerce) -> dict[str, str]:
    return {
        "BIGCOMMERCE_STORE_HASH": store.store_hash,
        "BIGCOMMERCE_ACCESS_TOKEN": store.access_token,
        "BIGCOMMERCE_API_URL": store.url,
        "BIGCOMMERCE_WEBHOOK_SECRET": SECRET,
    }


def webhook(order_id: int) -> bytes:
    return json.dumps(
        {
            "scope": "store/order/statusUpdated",
            "store_id": "1001",
            "data": {"type": "order", "id": order_id},
            "hash": "0f1e2d",
            "created_at": 1764500000,
            "producer": "stores/s7k9q2x4",
        }
    ).encode()


def test_order_webhooks_reach_a_milestone_once_and_announce_it(
    file_engine: Engine, store: FakeBigCommerce, slack: FakeSlack
) -> None:
    add_team(file_engine)
    store.add_orders(3, start=datetime.now(UTC) - timedelta(hours=1), status_ids=[11])
    ids = [int(o["id"]) for o in store.orders]
    server = Server(
        file_engine,
        slack_api_url=slack.base_url,
        policy=KudosPolicy(recognition_channel="C0KUDOS"),
        milestones=(ORDERS,),
        env=env(store),
    ).start()
    url = f"{server.base_url}/webhooks/bigcommerce"
    try:
        bad = httpx.post(url, content=webhook(ids[0]), headers={"X-Plaudit-Webhook-Secret": "x"})
        assert bad.status_code == 401
        malformed = httpx.post(url, content=b"{", headers={"X-Plaudit-Webhook-Secret": SECRET})
        assert malformed.status_code == 400
        other = json.dumps({"scope": "store/cart/created", "data": {"type": "cart", "id": "c"}})
        ignored = httpx.post(url, content=other, headers={"X-Plaudit-Webhook-Secret": SECRET})
        assert ignored.json() == {"status": "ignored"}
        with Session(file_engine) as session:
            assert session.exec(select(BcOrder)).all() == []  # nothing of the above stored
        # Each order arrives by webhook from the store; the last one is delivered twice.
        hook = {"X-Plaudit-Webhook-Secret": SECRET}
        for order_id in ids[:-1]:
            assert store.deliver_webhook(url, "store/order/created", order_id, headers=hook) == [
                200
            ]
        statuses = store.deliver_webhook(
            url, "store/order/statusUpdated", ids[-1], headers=hook, times=2
        )
        assert statuses == [200, 200]
        assert store.deliver_webhook(url, "store/order/created", ids[0]) == [401]
        (post,) = slack.wait_for("chat.postMessage", timeout=10)
    finally:
        server.stop()
    assert post.args["channel"] == "C0KUDOS" and "First 3 orders" in post.args["text"]
    with Session(file_engine) as session:
        (award,) = session.exec(select(MilestoneAward)).all()
        assert award.points == 6 and award.team == "Brand"
        assert len(session.exec(select(BcOrder)).all()) == 3
    assert len(slack.calls("chat.postMessage")) == 1


def test_webhooks_are_off_without_a_secret(file_engine: Engine, store: FakeBigCommerce) -> None:
    settings = {k: v for k, v in env(store).items() if k != "BIGCOMMERCE_WEBHOOK_SECRET"}
    server = Server(file_engine, slack_api_url=None, env=settings).start()
    try:
        answer = httpx.post(f"{server.base_url}/webhooks/bigcommerce", content=webhook(1))
    finally:
        server.stop()
    assert answer.status_code == 404 and "BIGCOMMERCE_WEBHOOK_SECRET" in answer.json()["detail"]


def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: FakeBigCommerce) -> None:
    """`plaudit` run in `tmp_path` against `store`, with a migrated database and a team."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", url)
    for name, value in env(store).items():
        monkeypatch.setenv(name, value)
    (tmp_path / "plaudit.yaml").write_text(
        "milestones:\n"
        "  - id: spring-live\n"
        "    title: Spring promotion live\n"
        "    source: promotion\n"
        "    match: {name: 'Spring*'}\n"
        "    award: {points: 4, team: Brand}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PLAUDIT_CONFIG", str(tmp_path / "plaudit.yaml"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    add_team(engine)
    engine.dispose()


def test_the_sync_command_reports_what_it_fetched_and_awarded(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: FakeBigCommerce,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_env(tmp_path, monkeypatch, store)
    store.add_promotion(name="Spring launch 2026", status="ENABLED")
    store.add_orders(300, start=datetime.now(UTC) - timedelta(days=2))
    assert main(["bigcommerce", "sync"]) == 0
    out = capsys.readouterr().out
    assert "1 promotion," in out and f"{len(store.orders)} orders stored" in out
    assert "Milestone awarded: Spring promotion live: Spring launch 2026 (4 points" in out
    assert "of the quota" in out
    assert main(["bigcommerce", "sync"]) == 0
    again = capsys.readouterr().out
    assert "No new milestones." in again and "(first sync)" not in again
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "wrong-token")
    assert main(["bigcommerce", "sync"]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "wrong-token" not in err


def test_the_sync_command_says_which_scope_to_add_and_syncs_the_rest(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: FakeBigCommerce,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_env(tmp_path, monkeypatch, store)
    store.scopes = (READ_SCOPES - {"store_channel_settings_read_only"}) | {
        "store_channel_listings_read_only"
    }
    store.add_orders(30, start=datetime.now(UTC) - timedelta(days=2))

    assert main(["bigcommerce", "sync"]) == 0

    captured = capsys.readouterr()
    assert "30 orders stored" in captured.out
    (status,) = [line for line in captured.err.splitlines() if "NOT synced" in line]
    assert "channels NOT synced" in status and "Channel Settings (read-only)" in status


def wait_until(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stored_orders(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(BcOrder.id)).all())


def test_a_burst_of_webhooks_shares_one_client_one_quota_and_one_request_at_a_time(
    file_engine: Engine,
) -> None:
    # 50 requests a 1 s window: Plaudit's fifth is 10, whatever the burst.
    with FakeBigCommerce(quota=50, window_ms=1_000) as shop:
        shop.add_orders(40, start=datetime.now(UTC) - timedelta(hours=1), status_ids=[11])
        ids = [int(o["id"]) for o in shop.orders]
        server = Server(file_engine, slack_api_url=None, env=env(shop)).start()
        url = f"{server.base_url}/webhooks/bigcommerce"
        hook = {"X-Plaudit-Webhook-Secret": SECRET}
        try:
            for order_id in ids:
                assert shop.deliver_webhook(url, "store/order/updated", order_id, headers=hook)
            # The store calls 20 more times about the first order while the queue is long.
            again = shop.deliver_webhook(url, "store/order/updated", ids[0], headers=hook, times=20)
            assert set(again) == {200}
            wait_until(lambda: stored_orders(file_engine) == 40)
        finally:
            server.stop()
        per_window = shop.requests_per_window()
        assert max(per_window.values()) <= 10, per_window
        assert all(r.status == 200 for r in shop.requests)
        assert len(shop.requests_to(f"/v2/orders/{ids[0]}")) <= 3  # joined, not 21 fetches
        assert shop.max_in_flight == 1  # one request at a time, from one thread


def test_a_full_refetch_queue_asks_the_store_to_deliver_again(file_engine: Engine) -> None:
    with FakeBigCommerce(quota=10_000, window_ms=1_000) as shop:
        shop.add_orders(5, start=datetime.now(UTC) - timedelta(hours=1), status_ids=[11])
        ids = [int(o["id"]) for o in shop.orders]
        server = Server(file_engine, slack_api_url=None, env=env(shop))
        server.app.state.store.refetches.limit = 2
        server.start()
        url = f"{server.base_url}/webhooks/bigcommerce"
        shop.delay_next(2.0)  # the first re-fetch is slow: the others wait behind it
        try:
            answers = [
                httpx.post(
                    url, content=webhook(order_id), headers={"X-Plaudit-Webhook-Secret": SECRET}
                )
                for order_id in ids
            ]
            refused = [i for i, a in zip(ids, answers, strict=True) if a.status_code == 503]
            assert [a.status_code for a in answers[:2]] == [200, 200]
            assert len(refused) >= 2 and refused == ids[len(ids) - len(refused) :]
            busy = next(a for a in answers if a.status_code == 503)
            assert busy.headers["Retry-After"] == "60" and busy.json()["error"] == "busy"
            wait_until(lambda: stored_orders(file_engine) >= len(ids) - len(refused))
            # BigCommerce delivers the refused ones again later, and they are taken.
            for order_id in refused:
                again = httpx.post(
                    url, content=webhook(order_id), headers={"X-Plaudit-Webhook-Secret": SECRET}
                )
                assert again.status_code == 200
            wait_until(lambda: stored_orders(file_engine) == len(ids))
        finally:
            server.stop()


def test_readyz_says_which_scope_the_store_lacks(file_engine: Engine) -> None:
    with FakeBigCommerce(quota=10_000, window_ms=1_000) as shop:
        shop.scopes = (READ_SCOPES - {"store_channel_settings_read_only"}) | {
            "store_channel_listings_read_only"
        }
        shop.add_orders(3, start=datetime.now(UTC) - timedelta(hours=1))
        server = Server(file_engine, slack_api_url=None, env=env(shop)).start()
        try:
            before = httpx.get(f"{server.base_url}/readyz", timeout=10)
            server.app.state.store.sync()
            after = httpx.get(f"{server.base_url}/readyz", timeout=10)
        finally:
            server.stop()
    assert before.json()["bigcommerce"]["status"] in {"not synced yet", "degraded"}
    # The store's trouble is reported, and does not take the replica out of service.
    assert after.status_code == before.status_code
    detail = after.json()["bigcommerce"]
    assert detail["status"] == "degraded"
    assert detail["missing_scopes"] == ["Channel Settings (read-only)"]
    assert "403" in detail["skipped"]["channels"]
    assert "3 orders" in detail["line"] and detail["error"] is None
