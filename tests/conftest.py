"""Fixtures: migrated databases (SQLite always, PostgreSQL when configured), clocks, people."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlmodel import Session

from bot.teams.sdk import SDKS
from handlers import i18n
from handlers.clock import FixedClock
from handlers.events import Person
from handlers.policy import KudosPolicy
from storage import migrate
from storage.db import make_engine
from tests import harness

PG_URL = os.environ.get("PLAUDIT_TEST_DATABASE_URL", "").strip()


@pytest.fixture(autouse=True)
def _organisation_language() -> Iterator[None]:
    """Each test starts in English; one that builds a runtime from a `plaudit.yaml` with
    another `language` leaves no trace in the next."""
    i18n.configure("en")
    yield
    i18n.configure("en")


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if PG_URL else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests that take `engine` run once per configured database; PostgreSQL only when
    # PLAUDIT_TEST_DATABASE_URL is set, so a fresh clone needs nothing but Python.
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", _backends(), scope="session")
    # Tests of the Teams HTTP surface run once per SDK that can carry it.
    if "teams_sdk" in metafunc.fixturenames:
        metafunc.parametrize("teams_sdk", SDKS, indirect=True)


@pytest.fixture
def teams_sdk(request: pytest.FixtureRequest) -> Iterator[str]:
    """The Teams SDK (`PLAUDIT_TEAMS_SDK`) the test's servers use."""
    previous = harness.teams_sdk.current
    harness.teams_sdk.current = str(request.param)
    yield harness.teams_sdk.current
    harness.teams_sdk.current = previous


@pytest.fixture(scope="session")
def pg_schema_engine() -> Iterator[Engine | None]:
    """One private schema per test run, so concurrent runs on one server never collide."""
    if not PG_URL:
        yield None
        return
    schema = f"plaudit_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_engine(PG_URL).url
    engine = create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True
    )
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _truncate(engine: Engine) -> None:
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def sqlite_migrated() -> Iterator[Any]:
    """One SQLite database migrated to head, copied into each test's own: running every
    migration again for each test took a tenth of a second. (The migrations themselves
    are tested in tests/ops/test_migrations.py.)"""
    template = make_engine("sqlite://")
    migrate.upgrade(template)
    raw = template.raw_connection()
    yield raw.driver_connection
    raw.close()
    template.dispose()


def migrated_sqlite(url: str, template: Any) -> Engine:
    """An engine on `url` holding a copy of the migrated `template` (SQLite's backup)."""
    eng = make_engine(url)
    raw = eng.raw_connection()
    try:
        template.backup(raw.driver_connection)
    finally:
        raw.close()
    return eng


@pytest.fixture
def engine(backend: str, pg_schema_engine: Engine | None, sqlite_migrated: Any) -> Iterator[Engine]:
    """A migrated, empty database."""
    if backend == "postgres":
        assert pg_schema_engine is not None
        _truncate(pg_schema_engine)
        yield pg_schema_engine
        return
    eng = migrated_sqlite("sqlite://", sqlite_migrated)
    yield eng
    eng.dispose()


@pytest.fixture
def file_engine(
    backend: str, tmp_path: Path, pg_schema_engine: Engine | None, sqlite_migrated: Any
) -> Iterator[Engine]:
    """A migrated database that a server thread and the test can both use."""
    if backend == "postgres":
        assert pg_schema_engine is not None
        _truncate(pg_schema_engine)
        yield pg_schema_engine
        return
    eng = migrated_sqlite(f"sqlite:///{tmp_path / 'plaudit.db'}", sqlite_migrated)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))


@pytest.fixture
def policy() -> KudosPolicy:
    return KudosPolicy(recognition_channel="C0KUDOS")


def slack_person(user_id: str, name: str, *, tz: str = "Europe/London", **kw: object) -> Person:
    return Person(
        platform="slack",
        workspace="T0001",
        user_id=user_id,
        display_name=name,
        timezone=tz,
        email=f"{name.lower()}@example.com",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def alice() -> Person:
    return slack_person("U0001", "Alice")


@pytest.fixture
def bob() -> Person:
    return slack_person("U0002", "Bob")


@pytest.fixture
def carol() -> Person:
    return slack_person("U0003", "Carol", tz="America/New_York")


@pytest.fixture
def cli_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_migrated: Any
) -> Iterator[Engine]:
    """`plaudit` run in `tmp_path` on a migrated SQLite file, also open here as `engine`."""
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "PLAUDIT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PLAUDIT_DATABASE_URL", url)
    engine = migrated_sqlite(url, sqlite_migrated)
    yield engine
    engine.dispose()
