"""The outbox at scale: claims read only the partial index of the rows still owed, and the
retention purge deletes finished rows in bounded batches, keeping what is still read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlmodel import Session, SQLModel, select

import storage.models  # noqa: F401  (every table on SQLModel.metadata, for create_all)
from bot import config as org_config
from bot.jobs.scheduler import Scheduler
from bot.runtime import Runtime
from compliance_rules import default_rules
from handlers import kudos, retention
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from handlers.retention import Retention
from storage import outbox
from storage.models import Outbox

LEASE = timedelta(seconds=120)
# Delivered rows by the thousand and a few pending ones, spread over channels; made by the
# database itself. `:delivered`, `:pending`, `:channels`.
_FILL = {
    "postgresql": """
        INSERT INTO outbox (key, platform, workspace, channel, kind, template, data, status,
                            attempts, next_attempt_at, created_at, delivered_at)
        SELECT 'fill:' || n, 'slack', 'T0001', 'C' || (n % :channels), 'post', 'notice',
               '{}'::json, CASE WHEN n > :delivered THEN 'pending' ELSE 'delivered' END,
               0, TIMESTAMP '2026-01-01', TIMESTAMP '2026-01-01', NULL
        FROM generate_series(1, :delivered + :pending) AS n
    """,
    "sqlite": """
        WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g
                                WHERE n < :delivered + :pending)
        INSERT INTO outbox (key, platform, workspace, channel, kind, template, data, status,
                            attempts, next_attempt_at, created_at, delivered_at)
        SELECT 'fill:' || n, 'slack', 'T0001', 'C' || (n % :channels), 'post', 'notice',
               '{}', CASE WHEN n > :delivered THEN 'pending' ELSE 'delivered' END,
               0, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', NULL
        FROM g
    """,
}
NOW = datetime.fromisoformat("2026-11-24T10:00:00+00:00")


def fill(engine: Engine, *, delivered: int, pending: int, channels: int) -> None:
    sql = text(_FILL[engine.dialect.name])
    with engine.begin() as conn:
        conn.execute(sql, {"delivered": delivered, "pending": pending, "channels": channels})
        conn.execute(text("ANALYZE outbox"))


def claim(engine: Engine, **kw: Any) -> list[outbox.Job]:
    args: dict[str, Any] = {"platforms": ["slack"], "busy": [], "room": 16, "per_channel": 5}
    with Session(engine) as s:
        jobs = outbox.claim(s, now=NOW, lease=LEASE, **(args | kw))
        s.rollback()
    return jobs


def claim_plan(engine: Engine) -> str:
    """The database's plan of the claim's reading statement, as the claim sends it."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().startswith(("SELECT", "WITH")):
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        assert claim(engine)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    statement, params = sent[0]
    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + statement, params).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_a_claim_reads_the_pending_index_not_the_delivered_rows(engine: Engine) -> None:
    fill(engine, delivered=20_000, pending=60, channels=30)
    plan = claim_plan(engine)
    # The rows of each channel's run, and the run's bound, come from the partial index;
    # the heads may come from it or from `ix_outbox_due`'s pending entries, never a scan.
    assert "ix_outbox_pending" in plan, plan
    assert "Seq Scan on outbox" not in plan and "SCAN outbox" not in plan, plan


def test_the_migrated_index_is_the_models(engine: Engine) -> None:
    """Alembic's comparison looks at neither an index's predicate nor a table's storage
    parameters: this does."""
    with models_created(engine) as fresh:
        assert pending_index(fresh) == pending_index(engine)
        assert storage_parameters(fresh) == storage_parameters(engine)
    columns, where = pending_index(engine)
    assert columns == ["platform", "channel", "id"] and "pending" in where
    if engine.dialect.name == "postgresql":
        assert storage_parameters(engine) == ["fillfactor=80"]


@contextmanager
def models_created(engine: Engine) -> Iterator[Engine]:
    """A database made by `create_all` from the models, beside the migrated one."""
    if engine.dialect.name == "sqlite":
        fresh = create_engine("sqlite://")
        SQLModel.metadata.create_all(fresh)
        yield fresh
        fresh.dispose()
        return
    schema = f"plaudit_models_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    fresh = create_engine(engine.url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        SQLModel.metadata.create_all(fresh)
        yield fresh
    finally:
        fresh.dispose()
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def pending_index(engine: Engine) -> tuple[list[str], str]:
    (found,) = [
        i for i in inspect(engine).get_indexes("outbox") if i["name"] == "ix_outbox_pending"
    ]
    options = found.get("dialect_options", {})
    where = options.get("postgresql_where", options.get("sqlite_where"))
    return [str(c) for c in found["column_names"]], str(where)


def storage_parameters(engine: Engine) -> list[str] | None:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        found = conn.execute(text("SELECT reloptions FROM pg_class WHERE oid = 'outbox'::regclass"))
        return found.scalar_one()  # type: ignore[no-any-return]


def row(key: str, *, status: str = "delivered", days: float = 40, **kw: Any) -> Outbox:
    values: dict[str, Any] = {
        "platform": "slack",
        "workspace": "T0001",
        "channel": "C0KUDOS",
        "kind": "post",
        "template": "notice",
        "data": {"text": key},
        "next_attempt_at": NOW - timedelta(days=days),
        "created_at": NOW - timedelta(days=days),
    }
    return Outbox(key=key, status=status, **(values | kw))


def test_a_claim_takes_each_channels_run_from_its_head_up_to_the_first_that_waits(
    engine: Engine,
) -> None:
    later, leased = NOW + timedelta(minutes=5), NOW + timedelta(seconds=60)
    with Session(engine) as s:
        s.add_all([row(f"a{i}", status="pending", channel="A") for i in range(7)])
        s.add(row("b0", status="pending", channel="B"))
        s.add(row("b1", status="pending", channel="B", next_attempt_at=later))
        s.add(row("b2", status="pending", channel="B"))
        s.add(row("c0", status="pending", channel="C", claimed_until=leased))
        s.add(row("c1", status="pending", channel="C"))
        s.add(row("d0", status="pending", channel="D"))
        s.add(row("e0", status="pending", channel="E", claimed_until=NOW - timedelta(1)))
        s.add(row("e1", status="delivered", channel="E"))
        s.commit()
    jobs = claim(engine, busy=["D"])
    assert [j.key for j in jobs] == ["a0", "a1", "a2", "a3", "a4", "b0", "e0"]
    assert [j.uncertain for j in jobs] == [False] * 6 + [True]
    assert [j.key for j in claim(engine, busy=["D"], room=1, per_channel=2)] == ["a0", "a1"]


def keys(session: Session) -> set[str]:
    session.expire_all()
    return set(session.exec(select(Outbox.key)))


def purge_all(session: Session, policy: Retention, *, batch: int) -> list[int]:
    """Run the purge to its end, a commit per batch as the scheduler does; the batches' sizes."""
    sizes, after = [], 0
    while True:
        done = retention.purge_outbox(session, retention=policy, now=NOW, after=after, batch=batch)
        session.commit()
        sizes.append(done.deleted)
        if done.resume_after is None:
            return sizes
        after = done.resume_after


def test_the_purge_deletes_old_finished_rows_in_bounded_batches(session: Session) -> None:
    gone = {f"old{i}" for i in range(5)} | {"gave-up"}
    session.add_all([row(k) for k in sorted(gone - {"gave-up"})])
    session.add(row("gave-up", status="dead"))
    session.add(row("recent", days=29))
    session.add(row("still-owed", status="pending", days=400))
    session.add(row("pv:7:slack", template="pv.alert", days=400))
    session.add(row("pv:8:email", status="dead", template="pv.case", days=400))
    session.add(row("recognition:3:public", template="kudos.public", days=400))
    session.commit()
    kept = keys(session) - gone

    assert purge_all(session, Retention(outbox_days=None), batch=2) == [0]
    assert purge_all(session, Retention(outbox_days=30), batch=2) == [2, 2, 2, 0]
    assert keys(session) == kept
    assert purge_all(session, Retention(outbox_days=30), batch=2) == [0]


def test_a_purged_kudos_is_still_refused_as_a_duplicate(
    session: Session, clock: FixedClock, alice: Person, bob: Person
) -> None:
    """Slack or Teams delivering the same command again after its rows went: the use
    case's own record (the recognition's key) refuses it, so nothing is queued again."""
    policy = KudosPolicy(recognition_channel="C0KUDOS", review_channel="C0REVIEW")
    text_ = "thanks for the launch deck"
    event_ = KudosRequested("slack:command:T0001:1", alice, (bob,), text_, (), "command", "C0001")
    kudos.give(event_, session=session, policy=policy, clock=clock)
    rows = session.exec(select(Outbox)).all()
    for found in rows:
        found.status, found.created_at = "delivered", NOW - timedelta(days=60)
        session.add(found)
    session.commit()
    assert sum(purge_all(session, Retention(), batch=100)) >= 1
    left = keys(session)

    again = kudos.give(event_, session=session, policy=policy, clock=clock)
    session.commit()
    assert isinstance(again, kudos.Duplicate)
    assert keys(session) == left


def test_the_scheduler_purges_the_outbox_once_a_day(file_engine: Engine) -> None:
    clock = FixedClock(NOW)
    with Session(file_engine) as s:
        s.add_all([row("old1"), row("old2"), row("recent", days=1)])
        s.commit()
    runtime = Runtime(
        engine=file_engine,
        policy=KudosPolicy(),
        rules=default_rules(),
        clock=clock,
        digests=None,
        retention=Retention(outbox_days=30),
    )
    try:
        scheduler = Scheduler(runtime)
        assert asyncio.run(scheduler.sweep())["outbox_purged"] == 2
        with Session(file_engine) as s:
            s.add(row("old3"))
            s.commit()
        clock.advance(hours=1)
        assert "outbox_purged" not in asyncio.run(scheduler.sweep())  # once a day
        clock.advance(days=1)
        assert asyncio.run(scheduler.sweep())["outbox_purged"] == 1
    finally:
        runtime.close()
    with Session(file_engine) as s:
        assert keys(s) == {"recent"}


@pytest.mark.parametrize(
    ("section", "days"),
    [("", 30), ("retention:\n  outbox_days: null\n", None), ("retention:\n  outbox_days: 7\n", 7)],
)
def test_outbox_days_defaults_to_a_month(tmp_path: Path, section: str, days: int | None) -> None:
    path = tmp_path / "plaudit.yaml"
    path.write_text(section or "retention: {}\n")
    assert org_config.load(path).retention.retention().outbox_days == days


@pytest.mark.parametrize("value", ["0", "-3", "soon", "36501"])
def test_a_bad_outbox_days_is_refused_with_its_name(tmp_path: Path, value: str) -> None:
    path = tmp_path / "plaudit.yaml"
    path.write_text(f"retention:\n  outbox_days: {value}\n")
    with pytest.raises(org_config.ConfigError, match=r"retention\.outbox_days"):
        org_config.load(path)


def test_the_policy_itself_refuses_less_than_a_day() -> None:
    with pytest.raises(ValueError, match=r"retention\.outbox_days must be at least 1 day"):
        Retention(outbox_days=0)
