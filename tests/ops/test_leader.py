"""One replica runs the scheduler; when it goes, another takes over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.jobs.leader import Leadership
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


def test_when_the_leading_replica_is_killed_another_takes_over_and_nothing_runs_twice(
    tmp_path: Path,
) -> None:
    """Two `plaudit serve` processes on one database with a survey due: one opens the
    round; kill -9 it, and the other leads within 30 s without opening it again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx
    from sqlmodel import Session

    from storage import migrate
    from storage.models import Member
    from tests.ops.test_cli import ROOT, free_port

    (tmp_path / "plaudit.yaml").write_text(
        "surveys:\n"
        "  - id: pulse\n"
        "    title: Pulse\n"
        "    questions: [{id: mood, type: scale, text: 'How are you'}]\n"
        "    schedule: {cron: '0 0 * * *', timezone: UTC}\n"
        "    open_for: 2d\n"
        "    owners: [owner@example.com]\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "PLAUDIT_DATABASE_URL": url,
        "PLAUDIT_CONFIG": str(tmp_path / "plaudit.yaml"),
    }

    def start() -> tuple[subprocess.Popen[str], int]:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        return proc, port

    def role(port: int) -> str | None:
        try:
            return str(httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).json()["scheduler"])
        except (httpx.TransportError, ValueError, KeyError):
            return None

    def wait(check: object, seconds: float) -> float:
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            if check():  # type: ignore[operator]
                return time.monotonic() - began
            time.sleep(0.2)
        raise AssertionError("not in time")

    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as s:  # someone to survey
        s.add(
            Member(
                display_name="Ana", email="ana@example.com", slack_team_id="T1", slack_user_id="U1"
            )
        )
        s.commit()
    first, port_a = start()
    wait(lambda: role(port_a) == "leader", 90)
    second, port_b = start()
    try:
        wait(lambda: role(port_b) == "standby", 90)
        with engine.connect() as conn:
            rounds = conn.execute(text("SELECT count(*) FROM survey_round")).scalar()
        assert rounds == 1
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        took = wait(lambda: role(port_b) == "leader", 30)
        assert took < 30
        time.sleep(1)  # its first sweep as the leader has run
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT survey_id, period FROM survey_round")).all()
        assert len(rows) == 1, rows
        engine.dispose()
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
