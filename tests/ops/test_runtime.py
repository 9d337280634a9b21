"""Group commit: waiting units of work share a transaction; a failure stays with its own unit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session, select

from bot.runtime import RETRIES, GroupCommit, Runtime
from compliance_rules import default_rules
from handlers.policy import KudosPolicy
from storage.db import race_of
from storage.models import Member


def add(name: str, gate: threading.Event | None = None) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        if gate is not None:
            gate.wait(5)  # hold the DB thread so the next units queue up behind this one
        if name == "boom":
            raise ValueError("boom")
        session.add(Member(display_name=name, email=f"{name}@example.com"))
        session.flush()
        return name

    return work


def test_units_committed_together_and_a_failure_stays_alone(file_engine: Engine) -> None:
    runtime = Runtime(engine=file_engine, policy=KudosPolicy(), rules=default_rules())
    runtime._commits = GroupCommit(runtime.run_sync, file_engine, workers=1)
    gate = threading.Event()

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(runtime.run(add("first", gate)))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(runtime.run(add(n))) for n in ("a", "boom", "b")]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        results = asyncio.run(scenario())
    finally:
        runtime.close()
    assert results[0] == "first" and results[1] == "a" and results[3] == "b"
    assert isinstance(results[2], ValueError)
    with Session(file_engine) as s:
        names = sorted(m.display_name for m in s.exec(select(Member)))
    assert names == ["a", "b", "first"]


def test_a_unit_sees_the_writes_of_units_before_it_in_the_batch(file_engine: Engine) -> None:
    runtime = Runtime(engine=file_engine, policy=KudosPolicy(), rules=default_rules())
    # One DB thread, as on SQLite, so the three units are one thread's batch on any database.
    runtime._commits = GroupCommit(runtime.run_sync, file_engine, workers=1)
    gate = threading.Event()

    def count(session: Session) -> int:
        return len(list(session.exec(select(Member))))

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(runtime.run(add("x", gate)))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(runtime.run(add("y")))
        counted = asyncio.ensure_future(runtime.run(count))
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, second, counted)

    try:
        assert asyncio.run(scenario()) == ["x", "y", 2]
    finally:
        runtime.close()


def test_close_stops_the_threads(file_engine: Engine) -> None:
    runtime = Runtime(engine=file_engine, policy=KudosPolicy(), rules=default_rules())
    assert asyncio.run(runtime.run(add("z"))) == "z"
    threads = list(runtime.commits._threads)
    runtime.close()
    assert threads and not any(t.is_alive() for t in threads)


class _Driver(Exception):
    """What a database driver raises: SQLAlchemy keeps it as `orig`."""

    def __init__(self, sqlstate: str | None, text: str = "") -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


def _raised(kind: type[DBAPIError], sqlstate: str | None, text: str = "") -> DBAPIError:
    return kind("statement", {}, _Driver(sqlstate, text))


def test_a_lost_race_is_named_by_its_sqlstate_and_nothing_else_is() -> None:
    assert race_of(_raised(IntegrityError, "23505")) == "a unique key taken meanwhile"
    assert race_of(_raised(OperationalError, "40001")) == "a serialization failure"
    assert race_of(_raised(OperationalError, "40P01")) == "a deadlock"
    # A foreign key gone, or a word in a message, is not a race to run again.
    assert race_of(_raised(IntegrityError, "23503")) is None
    assert race_of(_raised(OperationalError, "57014", "deadlock in the text")) is None
    # SQLite gives no SQLSTATE: its unique violation is recognised by its message.
    assert race_of(_raised(IntegrityError, None, "UNIQUE constraint failed: member.email"))
    assert race_of(_raised(IntegrityError, None, "FOREIGN KEY constraint failed")) is None
    # A connection the server closed (a restart): run again on a new one.
    lost = OperationalError("SELECT 1", {}, _Driver("57P01"), connection_invalidated=True)
    assert race_of(lost) == "a connection the server had closed"


def test_a_unit_that_lost_a_race_runs_again_and_another_error_does_not(
    file_engine: Engine,
) -> None:
    runtime = Runtime(engine=file_engine, policy=KudosPolicy(), rules=default_rules())
    tries: list[int] = []

    def flaky(session: Session) -> str:
        tries.append(1)
        session.add(Member(display_name=f"Try {len(tries)}"))
        session.flush()
        if len(tries) < 3:
            raise _raised(OperationalError, "40P01")
        return "done"

    try:
        assert runtime.run_sync(flaky) == "done" and len(tries) == 3
        with Session(file_engine) as s:  # the two lost tries left nothing behind
            assert [m.display_name for m in s.exec(select(Member))] == ["Try 3"]

        def broken(session: Session) -> None:
            tries.append(1)
            raise _raised(IntegrityError, "23503")

        tries.clear()
        with pytest.raises(IntegrityError):
            runtime.run_sync(broken)
        assert len(tries) == 1

        def always(session: Session) -> None:
            tries.append(1)
            raise _raised(OperationalError, "40001")

        tries.clear()
        with pytest.raises(OperationalError):
            runtime.run_sync(always)
        assert len(tries) == RETRIES
    finally:
        runtime.close()
