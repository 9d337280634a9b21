"""The roster: HR's list of people, imported row by row with a report of what changed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage import people, queries
from storage.db import race_of
from storage.models import Member
from storage.people import ROSTER_IDS

COLUMNS = (
    "email",
    "display_name",
    "slack_id",
    "teams_id",
    "manager_email",
    "team",
    "region",
    "therapeutic_area",
    "timezone",
    "roles",
    "function",  # optional, like the others; last, so older column orders stay valid
)
ROLES = ("admin", "reviewer", "safety", "manager", "member")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")


@dataclass(frozen=True)
class Row:
    line: int  # line number in the file, for the report
    values: Mapping[str, str]


@dataclass
class Report:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"created {len(self.created)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, rejected {len(self.rejected)}"
        ]
        out += [f"line {line}: rejected: {why}" for line, why in self.rejected]
        return out


def import_rows(rows: Sequence[Row], *, session: Session, now: datetime) -> Report:
    """Upsert each valid row in its own savepoint, then link managers; bad rows change nothing."""
    report = Report()
    clean: dict[str, tuple[Row, dict[str, object]]] = {}
    for row in rows:
        problem, values = _validate(row)
        email = str(values["email"])
        if problem is None and email in clean:
            problem = f"{email} appears again (first on line {clean[email][0].line})"
        if problem is not None:
            report.rejected.append((row.line, problem))
            continue
        clean[str(values["email"])] = (row, values)

    managers = {e: str(v["manager_email"]) for e, (_, v) in clean.items() if v["manager_email"]}
    known = _existing_emails(session, set(managers.values()) - set(clean))
    for email, (row, _values) in list(clean.items()):
        manager = managers.get(email)
        why = None
        if manager is not None and manager not in clean and manager not in known:
            why = f"manager {manager} is neither in this file nor a member"
        elif manager is not None and _cycle(email, managers):
            why = f"manager chain from {email} comes back to {email}"
        if why:
            report.rejected.append((row.line, why))
            del clean[email]

    results: dict[str, str] = {}
    for email, (row, values) in clean.items():
        try:
            results[email] = _upsert_row(session, values, now)
        except Refused as exc:
            report.rejected.append((row.line, str(exc)))
        except Exception as exc:  # one row's failure must not abort the others
            report.rejected.append((row.line, f"could not be stored ({type(exc).__name__})"))
    for email, (row, values) in clean.items():
        if email not in results:
            continue
        boss = values["manager_email"]
        linked = bool(boss) and _link_manager(session, email, str(boss), now)
        if linked and results[email] == "unchanged":
            results[email] = "updated"
        getattr(report, results[email]).append(row.line)
    report.rejected.sort()
    changed = len(report.created) + len(report.updated)
    if changed:
        queries.append_audit(
            session=session,
            actor="roster",
            action="roster.imported",
            subject="roster",
            detail={"created": len(report.created), "updated": len(report.updated)},
            at=now,
        )
    return report


def deactivate_missing(present: set[str], *, session: Session, now: datetime) -> list[str]:
    """Deactivate active people with an email who are not in the file; returns their emails."""
    stmt = select(Member).where(col(Member.active).is_(True), col(Member.email).is_not(None))
    gone = [m.email for m in session.exec(stmt) if m.email and m.email not in present]
    for email in gone:
        deactivate(email, session=session, now=now)
    return gone


def deactivate(email: str, *, session: Session, now: datetime) -> bool:
    """Keep a leaver for history, but out of boards and surveys; False if unknown."""
    member = session.exec(select(Member).where(Member.email == email.strip().lower())).first()
    if member is None:
        return False
    if member.active:
        member.active, member.updated_at = False, now
        session.add(member)
        queries.append_audit(
            session=session,
            actor="roster",
            action="member.deactivated",
            subject=f"member:{member.id}",
            detail={},
            at=now,
        )
    return True


def _validate(row: Row) -> tuple[str | None, dict[str, object]]:
    raw = {k: (row.values.get(k) or "").strip() for k in COLUMNS}
    email = raw["email"].lower()
    values: dict[str, object] = {"email": email}
    if not email:
        return "email is missing", values
    if not _EMAIL.match(email):
        return f"{raw['email']!r} is not an email address", values
    manager = raw["manager_email"].lower()
    if manager and not _EMAIL.match(manager):
        return f"manager_email {raw['manager_email']!r} is not an email address", values
    if manager == email:
        return "a person cannot be their own manager", values
    if raw["slack_id"] and not _SLACK_ID.match(raw["slack_id"]):
        return f"slack_id {raw['slack_id']!r} is not a Slack user id (U…)", values
    if raw["timezone"]:
        try:
            ZoneInfo(raw["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            return f"timezone {raw['timezone']!r} is not an IANA zone like Europe/Berlin", values
    roles = [r.strip().lower() for r in re.split(r"[;,|]", raw["roles"]) if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        return f"unknown role(s) {', '.join(unknown)}; use {', '.join(ROLES)}", values
    values.update(
        display_name=raw["display_name"] or email.split("@", 1)[0],
        **{column: raw[key] or None for key, column in ROSTER_IDS.items()},
        manager_email=manager or None,
        team=raw["team"] or None,
        region=raw["region"] or None,
        therapeutic_area=raw["therapeutic_area"] or None,
        function=raw["function"] or None,
        timezone=raw["timezone"] or None,
        roles=sorted(set(roles)),
    )
    return None, values


def _existing_emails(session: Session, emails: set[str]) -> set[str]:
    if not emails:
        return set()
    stmt = select(Member.email).where(col(Member.email).in_(sorted(emails)))
    return {e for e in session.exec(stmt) if e}


def _cycle(start: str, managers: Mapping[str, str]) -> bool:
    seen = {start}
    current = managers.get(start)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = managers.get(current)
    return False


_FIELDS = ("display_name", *ROSTER_IDS.values(), "team", "region", "therapeutic_area", "function")


class Refused(Exception):
    """A row that cannot be stored as it is; the message says why."""


def _holders(
    session: Session, values: Mapping[str, object], member: Member | None
) -> dict[str, list[Member]]:
    """Other members that already hold a chat id this row gives its person (one the person's
    member does not have yet), by "slack_id U…" / "teams_id …"."""
    found: dict[str, list[Member]] = {}
    for key, column in ROSTER_IDS.items():
        wanted = values[column]
        if wanted is None or (member is not None and getattr(member, column) == wanted):
            continue
        platform = key.removesuffix("_id")
        stmt = select(Member).where(people.has_platform_id(platform, [str(wanted)]))
        others = [m for m in session.exec(stmt) if member is None or m.id != member.id]
        if others:
            found[f"{key} {wanted}"] = others
    return found


def _owner(session: Session, values: Mapping[str, object], member: Member | None) -> Member | None:
    """The member this row updates: the one with its email, else the one chat member that
    holds its ids and has no email yet (someone who used Slack or Teams before the roster
    listed them). Raises `Refused` when an id already belongs to someone else: an identity
    never moves from one member to another."""
    holders = _holders(session, values, member)
    if not holders:
        return member
    distinct = {m.id: m for found in holders.values() for m in found}
    if member is None and len(distinct) == 1:
        (only,) = distinct.values()
        if only.email is None:
            return only
    ids, others = next(iter(holders.items()))
    who = ", ".join(m.email or f"member #{m.id} (no email)" for m in others)
    raise Refused(
        f"{ids} already belongs to {who}; an identity is never moved from one member to "
        "another (correct the file, or undo a wrong link with plaudit roster unlink)"
    )


def _upsert_row(session: Session, values: Mapping[str, object], now: datetime) -> str:
    """One row in a savepoint of its own; a second try when the member was created by a
    concurrent import (or chat) meanwhile: the second finds it and updates it instead."""
    try:
        with session.begin_nested():
            return _upsert(session, values, now)
    except IntegrityError as exc:
        if race_of(exc) is None:
            raise
    with session.begin_nested():
        return _upsert(session, values, now)


def _upsert(session: Session, values: Mapping[str, object], now: datetime) -> str:
    # As committed now, and locked: an import running at the same time (another replica)
    # waits for this one, then finds the row as this one left it.
    by_email = session.exec(
        select(Member)
        .where(Member.email == values["email"])
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).first()
    member = _owner(session, values, by_email)
    wanted = {k: values[k] for k in _FIELDS if values[k] is not None}
    if member is not None and by_email is None:
        _audit_adopted(session, member, values, now)
        wanted["email"] = values["email"]
    wanted["roles"] = values["roles"]
    if values["timezone"]:
        wanted["timezone"] = values["timezone"]
    if member is None:
        member = Member(display_name=str(values["display_name"]), created_at=now)
        member.email = str(values["email"])
        for key, value in wanted.items():
            setattr(member, key, value)
        member.updated_at = now
        session.add(member)
        session.flush()
        return "created"
    changed = {k: v for k, v in wanted.items() if getattr(member, k) != v}
    if not member.active:
        changed["active"] = True
    if not changed:
        return "unchanged"
    for key, value in changed.items():
        setattr(member, key, value)
    member.updated_at = now
    session.add(member)
    session.flush()
    return "updated"


def _audit_adopted(
    session: Session, member: Member, values: Mapping[str, object], now: datetime
) -> None:
    """A chat member without an email becomes the roster's person (first link, audited)."""
    queries.append_audit(
        session=session,
        actor="roster",
        action="member.linked",
        subject=f"member:{member.id}",
        detail={
            "by": "roster",
            "email": values["email"],
            "ids": {k: values[c] for k, c in ROSTER_IDS.items() if values[c] is not None},
        },
        at=now,
    )


def _link_manager(session: Session, email: str, manager_email: str, now: datetime) -> bool:
    member = session.exec(select(Member).where(Member.email == email)).one()
    manager = session.exec(select(Member).where(Member.email == manager_email)).first()
    if manager is None or member.manager_id == manager.id:
        return False
    member.manager_id, member.updated_at = manager.id, now
    session.add(member)
    session.flush()
    return True
