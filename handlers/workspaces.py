"""A chat workspace leaving: what it was still owed is given up, on the record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from storage import queries
from storage.models import Outbox

_outbox = Outbox.__table__  # type: ignore[attr-defined]


def uninstalled(session: Session, *, platform: str, workspace: str, now: datetime) -> int:
    """The app was removed from `workspace`: its pending messages can never be sent, so they
    are marked dead with the reason (a drug-safety notice among them still counts as
    undelivered on /healthz). Returns how many were given up."""
    reason = f"{platform} workspace {workspace} uninstalled Plaudit"
    result = session.connection().execute(
        update(_outbox)
        .where(
            _outbox.c.platform == platform,
            _outbox.c.workspace == workspace,
            _outbox.c.status == "pending",
        )
        .values(status="dead", last_error=reason, claimed_until=None)
        .returning(_outbox.c.id)
    )
    dead = len(result.all())
    queries.append_audit(
        session=session,
        actor=f"{platform}:{workspace}",
        action="workspace.uninstalled",
        subject=f"{platform}:{workspace}",
        detail={"outbox_dead": dead},
        at=now,
    )
    return dead
