"""What the BigCommerce tests share: a unit of work over a real database, the milestones and
clock they judge with, a stock of store data, the reference-shaped payloads, a fake clock."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.bigcommerce.client import BigCommerceClient, BigCommerceConfig
from bot.bigcommerce.sync import ORDERS_CURSOR, SyncReport, sync
from handlers.commerce import get_cursor
from handlers.milestones import Milestone
from handlers.policy import KudosPolicy
from handlers.sprints import SprintCalendar
from storage.db import transaction
from storage.models import BcOrder, Member, MilestoneAward
from tests.fakes.bigcommerce import FakeBigCommerce, Reply

T = TypeVar("T")

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bigcommerce"

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CALENDAR = SprintCalendar()
POLICY = KudosPolicy(recognition_channel="C0KUDOS")
LATER = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # after every order the fake makes by default

SPRING_LIVE = Milestone(
    id="spring-live",
    title="Spring sale is live",
    source="promotion",
    match_name="spring*",
    points=6,
    team="Growth",
)
HUNDRED_ORDERS = Milestone(
    id="orders-100",
    title="100 orders",
    source="orders",
    threshold="orders",
    at_least=Decimal(100),
    points=10,
    team="Growth",
)
MILESTONES = (SPRING_LIVE, HUNDRED_ORDERS)


def no_sleep(seconds: float) -> None:
    pass


def payload(name: str) -> Any:
    """A body from tests/payloads/bigcommerce/ (see its README for the source of each)."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


class Db:
    """A unit of work per call: one transaction, committed, like `Runtime.run_sync`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.after_commit: Callable[[], None] | None = None

    def __call__(self, work: Callable[[Session], T]) -> T:
        with transaction(self.engine) as session:
            result = work(session)
        if self.after_commit is not None:
            self.after_commit()
        return result

    def count(self, model: Any, *where: Any) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

    def award_keys(self) -> list[str]:
        with Session(self.engine) as session:
            return sorted(session.exec(select(MilestoneAward.key)))

    def order(self, order_id: int) -> BcOrder:
        with Session(self.engine) as session:
            found = session.get(BcOrder, order_id)
            assert found is not None
            return found

    def cursor(self) -> datetime | None:
        with Session(self.engine) as session:
            value = get_cursor(session, ORDERS_CURSOR)
        return None if value is None else datetime.fromisoformat(value["date_modified"])


def add_growth_team(engine: Engine) -> None:
    with transaction(engine) as session:
        for n, name in enumerate(("Ana", "Ben"), start=1):
            session.add(
                Member(
                    display_name=name,
                    email=f"{name.lower()}@example.com",
                    team="Growth",
                    slack_team_id="T0001",
                    slack_user_id=f"U000{n}",
                )
            )


def client_for(
    fake: FakeBigCommerce,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    **settings: Any,
) -> BigCommerceClient:
    config = BigCommerceConfig(
        store_hash=fake.store_hash,
        access_token=settings.pop("token", fake.access_token),
        api_url=fake.url,
        **settings,
    )
    return BigCommerceClient(config, sleep=sleep, monotonic=monotonic, rng=random.Random(5))


def run_sync(
    client: BigCommerceClient,
    db: Callable[[Callable[[Session], Any]], Any],
    milestones: tuple[Milestone, ...] = MILESTONES,
) -> SyncReport:
    return sync(client, db, milestones=milestones, calendar=CALENDAR, policy=POLICY, now=NOW)


def stock(store: FakeBigCommerce, *, orders: int = 120, cancelled: int = 5) -> None:
    store.add_promotion("Spring sale", current_uses=12)
    store.add_promotion("Winter clearance", status="DISABLED")
    store.add_coupon("$5 off", "FIVE")
    store.add_coupon("Launch week", "LAUNCH", max_uses=25, num_uses=3)
    store.add_channel("Wholesale", status="connected")
    store.add_orders(orders, status_ids=[10, 11, 2])
    if cancelled:
        store.add_orders(cancelled, status_ids=[5], start=datetime(2024, 9, 1, tzinfo=UTC))


def bounded(reply: Reply, most: int) -> Reply:
    """`reply` for the first `most` requests, then 404: a client that would page forever
    fails the test instead of hanging it."""
    calls = 0

    def answer(query: dict[str, str]) -> tuple[int, Any]:
        nonlocal calls
        calls += 1
        if calls > most:
            return 404, {"status": 404, "title": "stop paging", "type": "", "errors": {}}
        return reply(query)

    return answer


class FakeClock:
    """Monotonic time that moves only when someone sleeps: share it between the fake store
    (its rate-limit windows) and the client (its waits) and no test waits for real."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
