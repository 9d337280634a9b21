"""One replica runs the scheduler; when it goes, another takes over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.leader import Leadership
from storage.db import make_engine
from tests.conftest import PG_URL


async def _two(engine_a: Engine, engine_b: Engine) -> tuple[Leadership, Leadership]:
    a = Leadership(engine_a, retry=0.1, heartbeat=0.1)
    b = Leadership(engine_b, retry=0.1, heartbeat=0.1)
    a.start()
    assert await a.wait_until_leader(5)
    b.start()
    await asyncio.sleep(0.5)
    return a, b


def test_sqlite_replicas_on_one_file_have_one_leader(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plaudit.db'}"

    async def scenario() -> None:
        a, b = await _two(make_engine(url), make_engine(url))
        try:
            assert a.is_leader and not b.is_leader
            await a.stop()  # the process holding the lock goes
            assert await b.wait_until_leader(5)
            assert not a.is_leader
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_an_in_memory_database_always_leads() -> None:
    async def scenario() -> None:
        only = Leadership(make_engine("sqlite://"), retry=0.1)
        only.start()
        try:
            assert await only.wait_until_leader(5)
            assert only.kind == "single process"
        finally:
            await only.stop()

    asyncio.run(scenario())


@pytest.mark.skipif(not PG_URL, reason="PLAUDIT_TEST_DATABASE_URL is not set")
def test_postgres_standby_takes_over_when_the_leaders_connection_dies() -> None:
    async def scenario() -> None:
        a, b = await _two(make_engine(PG_URL), make_engine(PG_URL))
        admin = make_engine(PG_URL)
        try:
            assert a.is_leader and not b.is_leader and a.kind == "advisory lock"
            # The leader's session is cut, as when its host dies: the lock goes with it.
            assert a._conn is not None
            pid = a._conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            assert await b.wait_until_leader(10)
            for _ in range(50):
                if not a.is_leader:
                    break
                await asyncio.sleep(0.1)
            assert not a.is_leader  # the old leader noticed and stood down
        finally:
            await a.stop()
            await b.stop()
            admin.dispose()

    asyncio.run(scenario())
