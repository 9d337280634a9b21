"""The outbox dispatcher against a fake Slack: rate limits, retries, dead rows, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.http.app import slack_client
from bot.jobs.outbox import Dispatcher
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.send import SlackSender
from compliance_rules import default_rules
from handlers.clock import SystemClock
from handlers.policy import KudosPolicy
from storage import queries
from storage.models import Outbox
from tests.fakes.slack_api import FakeSlack
from tests.harness import TOKEN


@pytest.fixture
def db(file_engine: Engine) -> Engine:
    return file_engine


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def make_runtime(engine: Engine) -> Runtime:
    return Runtime(engine=engine, policy=KudosPolicy(), rules=default_rules(), clock=SystemClock())


def dispatcher(engine: Engine, slack: FakeSlack, **kw: float) -> Dispatcher:
    settings = Settings.model_validate(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "s3cret-for-tests",
            "SLACK_API_URL": slack.base_url,
        }
    )
    options = {"channel_interval": 0.0, "backoff_base": 0.05, "idle_poll": 0.05} | kw
    return Dispatcher(
        make_runtime(engine), {"slack": SlackSender(slack_client(settings))}, **options
    )  # type: ignore[arg-type]


def enqueue(engine: Engine, n: int, *, channel: str = "C0KUDOS", prefix: str = "m") -> None:
    with Session(engine) as s:
        for i in range(n):
            queries.enqueue(
                session=s,
                message=queries.Message(
                    key=f"{prefix}{i}",
                    platform="slack",
                    workspace="T0001",
                    channel=channel,
                    kind="post",
                    template="notice",
                    data={"text": f"message {prefix}{i}"},
                ),
            )
        s.commit()


def rows(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox).order_by(Outbox.id)))  # type: ignore[arg-type]


def pending(engine: Engine) -> int:
    with Session(engine) as s:
        return len(s.exec(select(Outbox.id).where(Outbox.status == "pending")).all())


async def run_until(d: Dispatcher, engine: Engine, timeout: float = 10.0) -> None:
    """Run the dispatcher until no row is pending."""
    d.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while pending(engine):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"still pending: {[(r.key, r.last_error) for r in rows(engine)][:10]}"
                )
            await asyncio.sleep(0.05)
    finally:
        await d.stop()


def test_delivers_each_row_once_and_records_the_message_ts(db: Engine, slack: FakeSlack) -> None:
    enqueue(db, 3)
    enqueue(db, 3)  # same keys: nothing new
    asyncio.run(run_until(dispatcher(db, slack), db))
    sent = slack.calls("chat.postMessage")
    assert [c.args["text"] for c in sent] == ["message m0", "message m1", "message m2"]
    assert all(r.status == "delivered" and r.message_ref for r in rows(db))
    assert len({r.message_ref for r in rows(db)}) == 3


def test_honours_retry_after_on_429(db: Engine, slack: FakeSlack) -> None:
    enqueue(db, 1)
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    started = asyncio.run(_timed(dispatcher(db, slack), db))
    attempts = slack.calls("chat.postMessage")
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 0.95
    assert started >= 0.95
    (row,) = rows(db)
    assert row.status == "delivered" and row.attempts == 0  # a rate limit is not a failure


async def _timed(d: Dispatcher, engine: Engine) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await run_until(d, engine)
    return loop.time() - start


def test_retries_server_errors_with_backoff(db: Engine, slack: FakeSlack) -> None:
    enqueue(db, 1)
    slack.fail_next("chat.postMessage", status=500, times=2)
    asyncio.run(run_until(dispatcher(db, slack), db))
    assert len(slack.calls("chat.postMessage")) == 3
    (row,) = rows(db)
    assert row.status == "delivered" and row.attempts == 2


def test_gives_up_after_max_attempts(db: Engine, slack: FakeSlack) -> None:
    enqueue(db, 1)
    slack.fail_next("chat.postMessage", status=503, times=10)
    asyncio.run(run_until(dispatcher(db, slack, max_attempts=3), db))
    (row,) = rows(db)
    assert row.status == "dead" and row.attempts == 3
    assert len(slack.calls("chat.postMessage")) == 3


def test_a_permanent_error_is_dead_at_once(db: Engine, slack: FakeSlack) -> None:
    enqueue(db, 1)
    slack.fail_next(
        "chat.postMessage", status=200, body={"ok": False, "error": "channel_not_found"}
    )
    asyncio.run(run_until(dispatcher(db, slack), db))
    (row,) = rows(db)
    assert row.status == "dead" and row.last_error == "channel_not_found"
    assert len(slack.calls("chat.postMessage")) == 1


def test_one_message_per_second_per_channel(db: Engine, slack: FakeSlack) -> None:
    enqueue(db, 3, channel="C0ONE", prefix="a")
    enqueue(db, 1, channel="C0TWO", prefix="b")
    asyncio.run(run_until(dispatcher(db, slack, channel_interval=0.5), db))
    one = [c.at for c in slack.calls("chat.postMessage") if c.args["channel"] == "C0ONE"]
    assert len(one) == 3
    assert one[1] - one[0] >= 0.45 and one[2] - one[1] >= 0.45
    two = [c.at for c in slack.calls("chat.postMessage") if c.args["channel"] == "C0TWO"]
    assert two[0] - one[0] < 0.45  # other channels are not held up


def test_rows_left_when_stopped_are_delivered_exactly_once_after_restart(
    db: Engine, slack: FakeSlack
) -> None:
    enqueue(db, 6)
    slack.delay("chat.postMessage", 0.2)

    async def first_run() -> None:
        d = dispatcher(db, slack, channel_interval=0.0)
        d.batch = 2
        d.start()
        await asyncio.sleep(0.3)
        await d.stop()  # stops mid-way: whatever was claimed is finished, the rest waits

    asyncio.run(first_run())
    delivered_before = sum(r.status == "delivered" for r in rows(db))
    assert 0 < delivered_before < 6
    slack.delay("chat.postMessage", 0.0)
    asyncio.run(run_until(dispatcher(db, slack), db))
    texts = [c.args["text"] for c in slack.calls("chat.postMessage")]
    assert sorted(texts) == sorted(f"message m{i}" for i in range(6))
    assert len(texts) == 6


def test_a_crashed_claim_is_taken_over_when_its_lease_expires(db: Engine, slack: FakeSlack) -> None:
    enqueue(db, 1)
    with Session(db) as s:
        row = s.exec(select(Outbox)).one()
        row.claimed_until = datetime.now(UTC) + timedelta(seconds=0.5)  # a dead replica's claim
        s.add(row)
        s.commit()
    asyncio.run(run_until(dispatcher(db, slack), db))
    assert len(slack.calls("chat.postMessage")) == 1


def test_channels_of_one_workspace_share_its_rate(db: Engine, slack: FakeSlack) -> None:
    for n in range(6):
        enqueue(db, 1, channel=f"C0CH{n}", prefix=f"w{n}-")
    asyncio.run(run_until(dispatcher(db, slack, workspace_rate=5.0), db))
    times = sorted(c.at for c in slack.calls("chat.postMessage"))
    assert len(times) == 6
    assert times[-1] - times[0] >= 5 * 0.2 * 0.9  # six sends at five a second


def _dm_row(engine: Engine, key: str, user: str, *, claimed: bool) -> None:
    with Session(engine) as s:
        queries.enqueue(
            session=s,
            message=queries.Message(
                key=key,
                platform="slack",
                workspace="T0001",
                channel=user,
                kind="dm",
                template="notice",
                data={"text": f"hello {user}"},
            ),
        )
        if claimed:  # claimed by a replica that died; its lease has run out
            row = s.exec(select(Outbox).where(Outbox.key == key)).one()
            row.claimed_until = datetime.now(UTC) - timedelta(seconds=1)
            s.add(row)
        s.commit()


def test_a_dm_the_dead_owner_already_sent_is_not_sent_again(db: Engine, slack: FakeSlack) -> None:
    _dm_row(db, "dm-sent", "U0001", claimed=True)
    _dm_row(db, "dm-unsent", "U0002", claimed=True)
    _dm_row(db, "dm-fresh", "U0003", claimed=False)
    # The dead owner got as far as Slack for the first one, but not as far as the database.
    slack_sent = asyncio.run(
        slack_client_for(slack).chat_postMessage(
            channel="U0001",
            text="hello U0001",
            metadata={"event_type": "plaudit_outbox", "event_payload": {"key": "dm-sent"}},
        )
    )
    asyncio.run(run_until(dispatcher(db, slack), db))
    posts = slack.calls("chat.postMessage")
    assert sorted(c.args["channel"] for c in posts) == ["U0001", "U0002", "U0003"]  # 1 was ours
    assert len(slack.messages("U0001")) == 1 and len(slack.messages("U0002")) == 1
    by_key = {r.key: r for r in rows(db)}
    assert by_key["dm-sent"].status == "delivered"
    assert by_key["dm-sent"].message_ref == slack_sent["ts"]
    # Only uncertain rows cost a look-up.
    assert [c.args["channel"] for c in slack.calls("conversations.history")] == ["D0001", "D0002"]
    assert all(c.args["metadata"]["event_payload"]["key"] for c in posts[1:])


def slack_client_for(slack: FakeSlack) -> AsyncWebClient:
    settings = Settings.model_validate(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": "s3cret",
            "SLACK_API_URL": slack.base_url,
        }
    )
    return slack_client(settings)


def test_a_429_pauses_every_channel_of_the_workspace(db: Engine, slack: FakeSlack) -> None:
    for n in range(4):
        enqueue(db, 1, channel=f"C0P{n}", prefix=f"p{n}-")
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    # Five a second: the refusal is back long before the next channel's turn (a send
    # already on its way when a 429 arrives cannot be called back).
    asyncio.run(run_until(dispatcher(db, slack, workspace_rate=5.0), db))
    calls = slack.calls("chat.postMessage")
    assert len(calls) == 5
    first = calls[0].at
    # After the refusal nothing else was sent to the workspace until the pause was over.
    assert all(c.at - first >= 0.95 for c in calls[1:])


def test_two_dispatchers_drain_five_thousand_rows_each_exactly_once(
    db: Engine, slack: FakeSlack
) -> None:
    for c in range(50):
        enqueue(db, 100, channel=f"C{c:04d}", prefix=f"c{c}-")

    async def both() -> None:
        first = dispatcher(db, slack, workspace_rate=0, max_channels=16)
        second = dispatcher(db, slack, workspace_rate=0, max_channels=16)
        await asyncio.gather(run_until(first, db, 120), run_until(second, db, 120))

    asyncio.run(both())
    sent = [c.args["text"] for c in slack.calls("chat.postMessage")]
    assert len(sent) == 5000 and len(set(sent)) == 5000
    assert all(r.status == "delivered" for r in rows(db))
    # Each channel's messages went out in the order they were queued.
    for c in (0, 17, 49):
        mine = [t for t in sent if t.startswith(f"message c{c}-")]
        assert mine == [f"message c{c}-{i}" for i in range(100)]


def test_after_an_outage_of_429s_everything_is_delivered_in_order(
    db: Engine, slack: FakeSlack
) -> None:
    for c in range(3):
        enqueue(db, 5, channel=f"C{c}", prefix=f"c{c}-")
    slack.outage(3.0)
    asyncio.run(run_until(dispatcher(db, slack), db, 30))
    delivered = [c for c in slack.calls("chat.postMessage")]
    texts = [c.args["text"] for c in delivered]
    ok = [t for t in texts if texts.count(t) >= 1]
    assert all(r.status == "delivered" and r.attempts <= 1 for r in rows(db)) or all(
        r.status == "delivered" for r in rows(db)
    )
    assert len(rows(db)) == 15 and ok
    for c in range(3):
        accepted = [r for r in rows(db) if r.channel == f"C{c}"]
        refs = [float(r.message_ref or 0) for r in sorted(accepted, key=lambda r: r.id or 0)]
        assert refs == sorted(refs)  # Slack's ts grows: the order per channel held
