"""Find or create the one `Member` behind a platform identity."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from handlers.events import Person
from storage.models import Member


def find(person: Person, *, session: Session) -> Member | None:
    if person.platform == "slack":
        stmt = select(Member).where(
            Member.slack_team_id == person.workspace, Member.slack_user_id == person.user_id
        )
    elif person.platform == "teams":
        stmt = select(Member).where(Member.teams_aad_id == person.user_id)
    else:
        stmt = select(Member).where(Member.email == person.user_id.lower())
    return session.exec(stmt).first()


def upsert(person: Person, *, session: Session, now: datetime) -> Member:
    """The member for `person`, created on first sight and refreshed from the platform."""
    member = find(person, session=session)
    email = person.email.lower() if person.email else None
    if member is None and email:
        # Known by email (roster or the other platform): link this identity to it.
        member = session.exec(select(Member).where(Member.email == email)).first()
    if member is None:
        member = Member(display_name=person.display_name or person.user_id, created_at=now)
    wanted: dict[str, object] = {"is_bot": person.is_bot}
    if person.platform == "slack":
        wanted |= {"slack_team_id": person.workspace, "slack_user_id": person.user_id}
    elif person.platform == "teams":
        wanted["teams_aad_id"] = person.user_id
    if email and member.email is None:
        wanted["email"] = email
    if person.display_name:
        wanted["display_name"] = person.display_name
    if person.timezone:
        wanted["timezone"] = person.timezone
    changed = {k: v for k, v in wanted.items() if getattr(member, k) != v}
    if changed or member.id is None:
        for key, value in changed.items():
            setattr(member, key, value)
        member.updated_at = now
        session.add(member)
        session.flush()
    return member
