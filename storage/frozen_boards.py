"""Closed sprints' frozen boards, read back by sprint."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import SprintSnapshot


def snapshot(*, session: Session, sprint: str) -> SprintSnapshot | None:
    """The frozen board of the sprint with this id; None while it is not closed."""
    return session.exec(select(SprintSnapshot).where(SprintSnapshot.sprint == sprint)).first()
