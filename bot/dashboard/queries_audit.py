"""What the audit trail page reads (read-only, synchronous: run through `Runtime.run`).

The trail grows without bound and its one index that orders it is the primary key, so the
page walks `id` newest first and reads one page of entries: a page reached by the Older or
Newer link starts from the id its link carries (`before`, `after`), so going deep costs no
more than the first page; only a page number typed without one skips entries (OFFSET, at
most `MAX_OFFSET_PAGE` pages). Filters by action and date are checked on the entries as the
walk meets them; nothing counts the whole trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from storage.audit import AuditKey
from storage.audit_verify import SealState, seal_state
from storage.models import AuditEntry, Member

_audit = AuditEntry.__table__  # type: ignore[attr-defined]
_member = Member.__table__  # type: ignore[attr-defined]

PAGE_SIZE = 50
MAX_OFFSET_PAGE = 200  # a page number typed without a cursor skips at most 10,000 entries
ACTION_WINDOW = 5000  # the action filter offers the actions of this many newest entries


@dataclass(frozen=True)
class AuditFilter:
    """Which entries the page shows: one action, and `at` in [start, end)."""

    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: page `page`, holding the entries older than `before` or newer
    than `after` (the ids the Older and Newer links carry), else the page-th page."""

    page: int = 1
    before: int | None = None
    after: int | None = None


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    seal: SealState
    entries: tuple[Entry, ...]
    page: int  # 1 when nothing newer matches
    older: bool  # another page of older entries matches
    newer: bool
    actions: tuple[str, ...]  # for the action filter


def audit_page(
    session: Session,
    *,
    key: AuditKey | None,
    now: datetime,
    wanted: AuditFilter,
    cursor: Cursor,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """The seal's state, one page of the entries `wanted` asks for (newest first), and the
    actions to filter by."""
    entries, page, older, newer = _entries(session, wanted, cursor, size)
    return AuditPage(
        seal_state(session, key, now=now),
        entries,
        page,
        older,
        newer,
        _actions(session),
    )


def _entries(
    session: Session, wanted: AuditFilter, cursor: Cursor, size: int
) -> tuple[tuple[Entry, ...], int, bool, bool]:
    """(entries, page number, older page?, newer page?): one page, read `size + 1` rows at
    a time along the primary key (the extra row says whether another page follows)."""
    stmt = select(
        _audit.c.id, _audit.c.at, _audit.c.actor, _audit.c.action, _audit.c.subject, _audit.c.detail
    )
    if wanted.action is not None:
        stmt = stmt.where(_audit.c.action == wanted.action)
    if wanted.start is not None:
        stmt = stmt.where(_audit.c.at >= wanted.start)
    if wanted.end is not None:
        stmt = stmt.where(_audit.c.at < wanted.end)
    run = session.connection().execute
    if cursor.after is not None and cursor.page > 1:
        rows = list(
            run(stmt.where(_audit.c.id > cursor.after).order_by(_audit.c.id).limit(size + 1))
        )
        if len(rows) > size:  # still a page of newer ones after this one
            return _rows(reversed(rows[:size])), cursor.page, True, True
        cursor = Cursor()  # it is the newest page: read it as the newest page
    newest_first = stmt.order_by(_audit.c.id.desc()).limit(size + 1)
    if cursor.before is not None and cursor.page > 1:
        newest_first = newest_first.where(_audit.c.id < cursor.before)
    elif cursor.page > 1:
        newest_first = newest_first.offset((cursor.page - 1) * size)
    rows = list(run(newest_first))
    return _rows(rows[:size]), cursor.page, len(rows) > size, cursor.page > 1


def _rows(rows: Iterable[Any]) -> tuple[Entry, ...]:
    return tuple(
        Entry(
            int(r.id),
            r.at,
            str(r.actor),
            str(r.action),
            str(r.subject),
            dict(r.detail) if isinstance(r.detail, dict) else {"value": r.detail},
        )
        for r in rows
    )


def _actions(session: Session) -> tuple[str, ...]:
    """The actions of the newest `ACTION_WINDOW` entries, by name (a bounded walk of the
    primary key: the trail has no index on `action` to list them all from)."""
    recent = select(_audit.c.action).order_by(_audit.c.id.desc()).limit(ACTION_WINDOW).subquery()
    found = session.connection().execute(
        select(recent.c.action).distinct().order_by(recent.c.action)
    )
    return tuple(str(a) for a in found.scalars())


@dataclass(frozen=True)
class Named:
    """The members a page of entries names, by id and by email (lower case)."""

    by_id: dict[int, tuple[str, str | None]]  # id: (display name, email)
    by_email: dict[str, str]  # email: display name


def named(session: Session, ids: Iterable[int], emails: Iterable[str]) -> Named:
    """The display name and email of each member id or email a page of entries names."""
    wanted, addresses = sorted(set(ids)), sorted({e.lower() for e in emails})
    if not wanted and not addresses:
        return Named({}, {})
    found = session.connection().execute(
        select(_member.c.id, _member.c.display_name, _member.c.email).where(
            _member.c.id.in_(wanted) | func.lower(_member.c.email).in_(addresses)
        )
    )
    by_id: dict[int, tuple[str, str | None]] = {}
    by_email: dict[str, str] = {}
    for r in found:
        by_id[int(r.id)] = (str(r.display_name), r.email)
        if r.email:
            by_email[str(r.email).lower()] = str(r.display_name)
    return Named(by_id, by_email)
