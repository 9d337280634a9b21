"""Find or create the one member behind each platform identity."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from handlers.events import Person
from storage import people
from storage.people import MemberRow


def person_on(row: MemberRow, platform: str) -> Person | None:
    """The member as a person on `platform`, or None when they have no identity there."""
    found = people.identity(row, platform)
    if found is None:
        return None
    workspace, user_id = found
    return Person(
        platform=platform,
        workspace=workspace,
        user_id=user_id,
        display_name=row.display_name,
        timezone=row.timezone,
        email=row.email,
        is_bot=row.is_bot,
    )


def find(person: Person, *, session: Session) -> MemberRow | None:
    found = people.by_platform_ids(
        session=session, platform=person.platform, workspace=person.workspace, ids=[person.user_id]
    )
    return found[0] if found else None


def upsert_many(persons: Sequence[Person], *, session: Session, now: datetime) -> list[MemberRow]:
    """The members for `persons` (same order), created on first sight, refreshed when changed.

    All persons share one platform and workspace, as they do in one delivery.
    """
    if not persons:
        return []
    first = persons[0]
    ids = list(dict.fromkeys(p.user_id for p in persons))
    known = {
        people.platform_id(row, first.platform): row
        for row in people.by_platform_ids(
            session=session, platform=first.platform, workspace=first.workspace, ids=ids
        )
    }
    out: list[MemberRow] = []
    for person in persons:
        key = person.user_id.lower() if first.platform == "email" else person.user_id
        row = known.get(key)
        if row is None:
            row = _create_or_link(person, session=session, now=now)
        else:
            changes = _changes(row, person)
            if "email" in changes and _email_taken(session, str(changes["email"]), row.id):
                del changes["email"]  # kept by this person's member in another workspace
            if changes:
                row = people.update(session=session, member_id=row.id, values=changes, now=now)
        known[key] = row
        out.append(row)
    return out


def _identity(person: Person) -> dict[str, object]:
    return people.identity_values(person.platform, person.workspace, person.user_id)


def _changes(row: MemberRow, person: Person) -> dict[str, object]:
    wanted: dict[str, object] = {"is_bot": person.is_bot, **_identity(person)}
    if person.display_name and person.display_name != person.user_id:
        wanted["display_name"] = person.display_name
    if person.timezone:
        wanted["timezone"] = person.timezone
    if person.email and row.email is None:
        wanted["email"] = person.email.lower()
    return {k: v for k, v in wanted.items() if getattr(row, k) != v}


def _email_taken(session: Session, email: str, member_id: int) -> bool:
    found = people.by_platform_ids(session=session, platform="email", workspace=None, ids=[email])
    return any(row.id != member_id for row in found)


def _create_or_link(person: Person, *, session: Session, now: datetime) -> MemberRow:
    email = person.email.lower() if person.email else None
    if email and person.platform != "email":
        # Known by email (roster or the other platform): link this identity to that member.
        linked = people.by_platform_ids(
            session=session, platform="email", workspace=None, ids=[email]
        )
        if linked and people.in_other_workspace(linked[0], person.platform, person.workspace):
            # The same address in a second Slack workspace: a member has one Slack identity,
            # and workspaces are counted apart, so this is a member of its own (the address
            # stays with the first).
            email = None
        elif linked:
            changes = _changes(linked[0], person)
            if not changes:
                return linked[0]
            return people.update(session=session, member_id=linked[0].id, values=changes, now=now)
    values: dict[str, object] = {
        "display_name": person.display_name or person.user_id,
        "email": email,
        "is_bot": person.is_bot,
        **_identity(person),
    }
    if person.timezone:
        values["timezone"] = person.timezone
    return people.insert(session=session, values=values, now=now)
