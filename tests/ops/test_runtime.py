"""Group commit: waiting units of work share a transaction; a failure stays with its own unit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.runtime import GroupCommit, Runtime
from compliance_rules import default_rules
from handlers.policy import KudosPolicy
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
