"""The roster's optional `function` column: stored like team and region, changed on a later
import, left as it was by a file without the column, and in a person's data export."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from handlers import privacy, roster
from storage.models import Member

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _import(session: Session, **values: str) -> roster.Report:
    row = {"email": "ann@example.com", "display_name": "Ann", "team": "Brand", **values}
    return roster.import_rows([roster.Row(2, row)], session=session, now=NOW)


def _function(session: Session) -> str | None:
    return session.exec(select(Member.function)).one()


def test_the_function_column_is_read_like_team_and_region(session: Session) -> None:
    assert "function" in roster.COLUMNS
    assert _import(session, function=" Clinical operations ").created == [2]
    assert _function(session) == "Clinical operations"
    assert _import(session, function="Clinical operations").unchanged == [2]
    assert _import(session, function="Regulatory").updated == [2]
    assert _function(session) == "Regulatory"
    assert _import(session).unchanged == [2]  # no column: the function stays
    assert _function(session) == "Regulatory"
    exported = privacy.export("ann@example.com", session=session, now=NOW)
    assert exported is not None and exported["member"]["function"] == "Regulatory"
