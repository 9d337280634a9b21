"""BigCommerce end to end: webhooks into the running app, and `plaudit bigcommerce sync`."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
from tests.fakes.bigcommerce import FakeBigCommerce
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


def test_the_sync_command_reports_what_it_fetched_and_awarded(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: FakeBigCommerce,
    capsys: pytest.CaptureFixture[str],
) -> None:
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
