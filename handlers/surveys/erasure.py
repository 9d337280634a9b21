"""What an anonymous round forgets when it closes: which member gave which answer."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from storage import maintenance
from storage.models import SurveyAnswer, SurveyInvite


def forget_respondents(session: Session, round_id: int) -> int:
    """Unlink a closing anonymous round's answers from its members; returns the respondents.

    While a round is open, an answer's respondent token is a keyed hash of the member that
    whoever holds the key could recompute. At close every respondent gets a fresh random
    token instead (one per respondent, so results still count people, and the round's
    unique constraint holds), and the answers are written back in a random order, so
    neither a token nor the order of the rows (when someone answered) points at anyone.
    Who took part is forgotten too. On SQLite the freed bytes are overwritten and the
    write-ahead log is emptied once this commits."""
    session.flush()
    maintenance.overwrite_freed(session)
    table = SurveyAnswer.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    rows: list[dict[str, Any]] = [
        dict(row._mapping)
        for row in connection.execute(select(table).where(table.c.round_id == round_id))
    ]
    fresh: dict[str, str] = {}
    for row in rows:
        del row["id"]
        row["respondent"] = fresh.setdefault(row["respondent"], secrets.token_hex(32))
    secrets.SystemRandom().shuffle(rows)
    connection.execute(delete(table).where(table.c.round_id == round_id))
    if rows:
        connection.execute(insert(table), rows)
    invites = SurveyInvite.__table__  # type: ignore[attr-defined]
    connection.execute(
        update(invites).where(invites.c.round_id == round_id).values(responded=False)
    )
    session.expire_all()
    maintenance.checkpoint_after_commit(session)
    return len(fresh)
