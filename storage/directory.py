"""The member directory: members found by what a person types (an email, its local part,
a display name), the roster as pickers list it, and how many members there are."""

from __future__ import annotations

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from storage.models import Member


def by_email(*, session: Session, email: str) -> Member | None:
    """The member with this email, compared case-insensitively."""
    return session.exec(
        select(Member).where(func.lower(col(Member.email)) == email.lower())
    ).first()


def by_handle(*, session: Session, handle: str, limit: int) -> list[Member]:
    """Up to `limit` active members whose email, email local part or display name is
    `handle` (case-insensitive)."""
    lowered = handle.lower()
    stmt = select(Member).where(
        or_(
            func.lower(col(Member.email)) == lowered,
            func.lower(col(Member.email)).like(f"{lowered}@%"),
            func.lower(col(Member.display_name)) == lowered,
        ),
        col(Member.active).is_(True),
    )
    return list(session.exec(stmt.limit(limit)))


def active_with_email(*, session: Session) -> list[Member]:
    """Active members who have an email, by display name."""
    stmt = select(Member).where(col(Member.active).is_(True), col(Member.email).isnot(None))
    return list(session.exec(stmt.order_by(col(Member.display_name))))


def every_member(*, session: Session) -> list[Member]:
    """Every member, active or not, in the order they were added."""
    return list(session.exec(select(Member).order_by(col(Member.id))))


def member_count(*, session: Session) -> int:
    """How many members there are, active or not."""
    return int(session.exec(select(func.count()).select_from(Member)).one())
