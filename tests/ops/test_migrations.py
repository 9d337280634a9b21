"""Alembic is the schema's only source: upgrade, downgrade, and no drift from the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage import migrate

TABLES = {
    "member",
    "recognition",
    "recognition_recipient",
    "outbox",
    "inbound_event",
    "audit_entry",
    "survey_round",
    "survey_invite",
    "survey_answer",
}


def all_revisions() -> list[str]:
    """Every revision, newest first, read from the migration scripts themselves."""
    script = ScriptDirectory(str(migrate.MIGRATIONS))
    return [r.revision for r in script.walk_revisions()]


def test_upgrade_creates_every_table(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert migrate.current(engine) is not None


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    head = migrate.current(engine)
    migrate.downgrade(engine, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert migrate.current(engine) == head
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_every_revision_steps_down_one_and_up_again(engine: Engine) -> None:
    head = migrate.current(engine)
    revisions = all_revisions()
    assert len(revisions) >= 4 and head == revisions[0]
    for expected_below in [*revisions[1:], None]:
        migrate.downgrade(engine, "-1")
        assert migrate.current(engine) == expected_below
    for revision in reversed(revisions):
        migrate.upgrade(engine, "+1")
        assert migrate.current(engine) == revision
    assert {"pv_case", "survey_answer"} <= set(inspect(engine).get_table_names())
