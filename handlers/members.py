"""Find or create the one member behind each platform identity.

A person is recognised by their stable platform id (Slack: workspace and user id; Teams: AAD
object id). An email links a platform identity to a member only once: when that member has
no identity on that platform yet. An identity a member already has is never moved to
another person because their addresses match; each link is audited and can be undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlmodel import Session

from handlers.events import Person
from storage import people, queries
from storage.people import MemberRow

PLATFORMS = ("slack", "teams")


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
        locale=row.locale,
    )


def find(person: Person, *, session: Session) -> MemberRow | None:
    """The member `person` is, by platform id (a Slack id the roster gave with no workspace
    counts), or None."""
    found = people.by_platform_ids(
        session=session, platform=person.platform, workspace=person.workspace, ids=[person.user_id]
    )
    return found[0] if found else None


def recognise(person: Person, *, session: Session, now: datetime) -> Person:
    """`person` as their member: created or linked on first sight, and carrying the member's
    email (the roster's or the one linked), never an address a directory reports for an
    identity that is not linked to it."""
    (row,) = upsert_many([person], session=session, now=now)
    return replace(person, email=row.email)


def upsert_many(persons: Sequence[Person], *, session: Session, now: datetime) -> list[MemberRow]:
    """The members for `persons` (same order), created on first sight, refreshed when changed.

    All persons share one platform and workspace, as they do in one delivery.
    """
    if not persons:
        return []
    first = persons[0]
    ids = list(dict.fromkeys(p.user_id for p in persons))
    known: dict[str | None, MemberRow] = {}
    found = people.by_platform_ids(
        session=session, platform=first.platform, workspace=first.workspace, ids=ids, lock=True
    )
    for row in found:
        # A member of this workspace wins over a roster row with the same id and no workspace.
        known.setdefault(people.platform_id(row, first.platform), row)
    out: list[MemberRow] = []
    for person in persons:
        key = person.user_id.lower() if first.platform == "email" else person.user_id
        seen = known.get(key)
        if seen is None:
            row = _create_or_link(person, session=session, now=now)
        else:
            row = _refresh(seen, person, session=session, now=now)
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
    if person.locale:
        wanted["locale"] = person.locale[:35]
    if person.email and row.email is None:
        wanted["email"] = person.email.lower()
    return {k: v for k, v in wanted.items() if getattr(row, k) != v}


def _email_taken(session: Session, email: str, member_id: int) -> bool:
    found = people.by_platform_ids(session=session, platform="email", workspace=None, ids=[email])
    return any(row.id != member_id for row in found)


def _refresh(row: MemberRow, person: Person, *, session: Session, now: datetime) -> MemberRow:
    """A known member, with what the platform says of them now. A Slack id the roster gave
    with no workspace is claimed by its first sighting in one (audited)."""
    claims = people.unclaimed(row, person.platform, person.workspace)
    if claims:  # decided on the row as committed now: another replica may claim it too
        row = people.lock(session=session, member_id=row.id)
        claims = people.unclaimed(row, person.platform, person.workspace)
    changes = _changes(row, person)
    if "email" in changes and _email_taken(session, str(changes["email"]), row.id):
        del changes["email"]  # kept by this person's member in another workspace
    if not changes:
        return row
    updated = people.update(session=session, member_id=row.id, values=changes, now=now)
    if claims:
        _audit_link(session, row, person, by="user_id", now=now)
    return updated


def _create_or_link(person: Person, *, session: Session, now: datetime) -> MemberRow:
    email = person.email.lower() if person.email else None
    if email and person.platform != "email":
        # Known by email (roster or the other platform): the first identity on this platform
        # is linked to that member. Once the member has one, another identity with the same
        # address is a member of its own (the address stays with the first): an email never
        # moves an identity, and a second Slack workspace is counted apart.
        linked = people.by_platform_ids(
            session=session, platform="email", workspace=None, ids=[email]
        )
        if linked and people.identity(linked[0], person.platform) is None:
            # Decided on the row as committed now, locked: two replicas seeing this person
            # at once link them once (the second finds the link made, and uses it).
            current = people.lock(session=session, member_id=linked[0].id)
            if people.identity(current, person.platform) is None:
                row = people.update(
                    session=session,
                    member_id=current.id,
                    values=_changes(current, person),
                    now=now,
                )
                _audit_link(session, current, person, by="email", now=now)
                return row
            if all(getattr(current, k) == v for k, v in _identity(person).items()):
                return _refresh(current, person, session=session, now=now)
            linked = [current]
        if linked:
            email = None
    values: dict[str, object] = {
        "display_name": person.display_name or person.user_id,
        "email": email,
        "is_bot": person.is_bot,
        **_identity(person),
    }
    if person.timezone:
        values["timezone"] = person.timezone
    if person.locale:
        values["locale"] = person.locale[:35]
    return people.insert(session=session, values=values, now=now)


def _identities(row: MemberRow) -> dict[str, str | None]:
    """A member's ids on each platform and their email, for the audit trail."""
    ids: dict[str, str | None] = {"email": row.email}
    for platform in PLATFORMS:
        found = people.identity(row, platform)
        ids[platform] = f"{found[0] or '-'}/{found[1]}" if found else None
    return ids


def _audit_link(
    session: Session, member: MemberRow, person: Person, *, by: str, now: datetime
) -> None:
    queries.append_audit(
        session=session,
        actor=f"{person.platform}:{person.user_id}",
        action="member.linked",
        subject=f"member:{member.id}",
        detail={
            "by": by,  # email | user_id (a roster id claimed) | roster
            "platform": person.platform,
            "workspace": person.workspace,
            "user_id": person.user_id,
            "reported_email": (person.email or "").lower() or None,
            "member": _identities(member),
        },
        at=now,
    )


# -- undoing a link -----------------------------------------------------------------------


@dataclass(frozen=True)
class Unlinked:
    member_id: int
    detached_id: int  # the member the identity is now on its own
    platform: str
    user_id: str


def unlink(
    email: str, platform: str, *, session: Session, now: datetime, actor: str
) -> Unlinked | str:
    """Take `platform`'s identity off the member with `email` (an admin's undo of a link).

    The identity becomes a member of its own, without an email, so it is never linked to
    this member again by its address; what it did while linked stays with the member.
    Returns what was done, or why nothing was.
    """
    if platform not in PLATFORMS:
        return f"unknown platform {platform!r}; use {' or '.join(PLATFORMS)}"
    address = email.strip().lower()
    found = people.by_platform_ids(session=session, platform="email", workspace=None, ids=[address])
    if not found:
        return f"No member with email {address}."
    member = found[0]
    identity = people.identity(member, platform)
    if identity is None:
        return f"{address} has no {platform.title()} identity to unlink."
    workspace, user_id = identity
    people.update(
        session=session, member_id=member.id, values=people.cleared_identity(platform), now=now
    )
    detached = people.insert(
        session=session,
        values={"display_name": user_id, **people.identity_values(platform, workspace, user_id)},
        now=now,
    )
    queries.append_audit(
        session=session,
        actor=actor,
        action="member.unlinked",
        subject=f"member:{member.id}",
        detail={
            "platform": platform,
            "workspace": workspace,
            "user_id": user_id,
            "member": _identities(member),
            "now_member": detached.id,
        },
        at=now,
    )
    return Unlinked(member.id, detached.id, platform, user_id)
