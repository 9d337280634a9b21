"""A published kudos written in one statement (PostgreSQL) leaves exactly the rows the
statement-per-table path leaves, on PostgreSQL and on SQLite, over the same scenarios."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session

from handlers import kudos
from handlers.clock import FixedClock
from handlers.events import KudosRequested, Person
from handlers.policy import KudosPolicy
from storage import kudos_writes, migrate
from storage.db import make_engine, transaction
from tests.conftest import slack_person

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
POLICY = KudosPolicy(recognition_channel="C0KUDOS", daily_allowance=10)
# What differs by when a run happened, not by what it wrote.
# What differs by when a run happened, not by what it wrote; and the ids nothing refers to,
# which PostgreSQL's sequences advance for a conflicting insert too (a redelivery, a total
# added to).
WALL_CLOCK = {
    "outbox": ("created_at", "next_attempt_at"),
    "inbound_event": ("id", "received_at"),
    "leaderboard_total": ("id",),
}
TABLES = (
    "member",
    "inbound_event",
    "recognition",
    "recognition_recipient",
    "audit_entry",
    "leaderboard_total",
    "outbox",
)


def teams_person(aad: str, name: str) -> Person:
    return Person("teams", "tenant-1", aad, name, "Europe/Paris", f"{name.lower()}@lk.test")


def scenario() -> list[KudosRequested]:
    ana, ben, cy = (slack_person(f"U0{n}", name) for n, name in enumerate(("Ana", "Ben", "Cy")))
    dee, eve = teams_person("aad-dee", "Dee"), teams_person("aad-eve", "Eve")
    words = "thanks for the launch checklist and the review notes"
    return [
        KudosRequested("k1", ana, (ben,), words, ("#collaboration",), "command", "C0001"),
        KudosRequested(
            "k2", ben, (ana, cy), words, ("#collaboration", "#site-activation"), "modal"
        ),
        KudosRequested("k3", ana, (ben,), words, (), "command", "C0002"),  # the same again
        KudosRequested("k3", ana, (ben,), words, (), "command", "C0002"),  # redelivered
        KudosRequested("k4", dee, (eve,), words, ("#digital-content",), "command", "19:thread"),
        KudosRequested("k6", cy, (ana, ben), words + " #collaboration", ("#collaboration",), "cli"),
        # Refused: leaves nothing. Last, because PostgreSQL draws the recognition's id when
        # the delivery is claimed, and an id drawn for a refusal is a gap in the ids.
        KudosRequested("k5", cy, (cy,), words, (), "command"),
    ]


def run(engine: Engine, *, one_statement: bool | None) -> dict[str, list[tuple[Any, ...]]]:
    clock = FixedClock(T0)
    write = partial(kudos_writes.write, one_statement=one_statement)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kudos_writes, "write", write)
        for event in scenario():
            with transaction(engine) as session:
                kudos.give(event, session=session, policy=POLICY, clock=clock)
    return dump(engine)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {}
    schema = inspect(engine)
    kept = {
        table: [
            c["name"]
            for c in schema.get_columns(table)
            if c["name"] not in WALL_CLOCK.get(table, ())
        ]
        for table in TABLES
    }
    with Session(engine) as session:
        for table, columns in kept.items():
            quoted = ", ".join(f'"{c}"' for c in columns)
            found = session.connection().execute(text(f"SELECT {quoted} FROM {table}"))
            rows[table] = sorted((tuple(_plain(v) for v in row) for row in found), key=repr)
    return rows


def _plain(value: Any) -> Any:
    """A value as both databases hand it back (JSON text on SQLite, objects on PostgreSQL)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, str) and _MOMENT.match(value):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and _DAY.match(value):
        return date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


_MOMENT = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def _empty(engine: Engine) -> None:
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def test_one_statement_leaves_the_rows_a_statement_per_table_leaves(
    engine: Engine, tmp_path: Any
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's; set PLAUDIT_TEST_DATABASE_URL")
    lean = run(engine, one_statement=True)
    _empty(engine)
    plain = run(engine, one_statement=False)
    lite = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        migrate.upgrade(lite)
        on_sqlite = run(lite, one_statement=None)
    finally:
        lite.dispose()
    assert len(lean["recognition"]) == 5 and len(lean["outbox"]) == 12
    assert lean["inbound_event"] and len(lean["leaderboard_total"]) > 5
    for table in TABLES:
        assert lean[table] == plain[table], table
        assert lean[table] == on_sqlite[table], table
