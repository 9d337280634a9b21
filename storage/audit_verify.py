"""Proving the audit trail: every sealed entry against the key, the chain against every
signed checkpoint, and the unkeyed hashes of entries from before sealing existed.

What each check catches, for someone who can edit the database but does not hold the key:
an edited, moved or swapped entry no longer matches its mac (each mac covers the entry's
id, place, content and every mac before it); a deleted entry leaves a gap in the places; a
deleted tail is shorter than a checkpoint published before; recomputed macs need the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from storage.audit import (
    GENESIS,
    HEAD,
    AuditKey,
    Checkpoint,
    checkpoint_of,
    latest_checkpoint,
    leaf_of,
)
from storage.models import AuditCheckpoint, AuditEntry

GRACE = timedelta(seconds=10)  # an entry younger than this may simply not be sealed yet
_YIELD = 5000

_entry = AuditEntry.__table__  # type: ignore[attr-defined]
_checkpoint = AuditCheckpoint.__table__  # type: ignore[attr-defined]
_CONTENT = (_entry.c.id, _entry.c.at, _entry.c.actor, _entry.c.action, _entry.c.subject)
_SEALED = (
    select(*_CONTENT, _entry.c.detail, _entry.c.seq, _entry.c.mac)
    .where(_entry.c.seq.is_not(None))
    .order_by(_entry.c.seq)
)
_LEGACY = (
    select(*_CONTENT, _entry.c.detail, _entry.c.prev_hash, _entry.c.hash)
    .where(_entry.c.hash.is_not(None))
    .order_by(_entry.c.id)
)


@dataclass
class Verdict:
    """What `verify` found. `problems` name tampering; `intact` is their absence."""

    sealed: int = 0
    unsealed: int = 0
    stale: int = 0  # unsealed for longer than the grace period
    legacy: int = 0  # entries from before sealing whose unkeyed hashes were checked
    problems: list[str] = field(default_factory=list)
    first_bad: int | None = None  # the id of the first entry found wrong
    proved_against: Checkpoint | None = None  # the largest checkpoint the chain matched
    checkpoints: int = 0  # genuine checkpoints of this key that were compared

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(
    session: Session,
    key: AuditKey,
    *,
    published: Iterable[Checkpoint] = (),
    now: datetime,
    grace: timedelta = GRACE,
) -> Verdict:
    """Prove the trail against `key`, the checkpoints published outside the database and
    those the database keeps."""
    verdict = Verdict()
    expected = _expected(session, key, list(published), verdict)
    if verdict.problems:
        return verdict
    _walk(session, key, expected, verdict)
    _unsealed(session, now - grace, verdict)
    _legacy(session, verdict)
    return verdict


def _stored(session: Session) -> list[Checkpoint]:
    return [checkpoint_of(r) for r in session.connection().execute(select(_checkpoint))]


def _expected(
    session: Session, key: AuditKey, published: list[Checkpoint], verdict: Verdict
) -> dict[int, tuple[str, Checkpoint, str]]:
    """size -> (head, checkpoint, where it was kept), from every genuine checkpoint."""
    expected: dict[int, tuple[str, Checkpoint, str]] = {}
    sources = [(c, "published") for c in published] + [(c, "database") for c in _stored(session)]
    for checkpoint, where in sources:
        when = checkpoint.at.isoformat()
        if not checkpoint.genuine():
            verdict.problems.append(
                f"the {where} checkpoint of {when} (size {checkpoint.size}) does not verify "
                "under its own key: it was edited or forged"
            )
            continue
        if checkpoint.key_id != key.key_id:
            verdict.problems.append(
                f"the {where} checkpoint of {when} was signed with audit key {checkpoint.key_id}, "
                f"but the key given is {key.key_id}: is PLAUDIT_AUDIT_KEY the right key?"
            )
            continue
        seen = expected.get(checkpoint.size)
        if seen is not None and seen[0] != checkpoint.head:
            verdict.problems.append(
                f"two checkpoints sign different heads for the first {checkpoint.size} entries "
                f"({seen[2]} of {seen[1].at.isoformat()}, {where} of {when})"
            )
        if seen is None or where == "published":
            expected[checkpoint.size] = (checkpoint.head, checkpoint, where)
        verdict.checkpoints += 1
    return expected


def _walk(
    session: Session,
    key: AuditKey,
    expected: dict[int, tuple[str, Checkpoint, str]],
    verdict: Verdict,
) -> None:
    prev = GENESIS
    # Streamed a batch at a time (a statement option: on the connection it would outlive us).
    rows = session.connection().execute(_SEALED.execution_options(yield_per=_YIELD))
    for place, row in enumerate(rows, start=1):
        if int(row.seq) != place:
            verdict.problems.append(
                f"sealed entry {place} is missing (the next holds place {row.seq}, entry "
                f"{row.id}): entries were deleted"
            )
            verdict.first_bad = int(row.id)
            break
        prev = key.link(prev, leaf_of(row, place))
        if prev != row.mac:
            verdict.problems.append(
                f"entry {row.id} (place {place}) does not match its seal: it, or its place, "
                "was changed after sealing"
            )
            verdict.first_bad = int(row.id)
            break
        if place in expected:
            head, checkpoint, _ = expected[place]
            if head != prev:
                verdict.problems.append(
                    f"the first {place} entries do not end in the head the checkpoint of "
                    f"{checkpoint.at.isoformat()} signed"
                )
                break
            verdict.proved_against = checkpoint
        verdict.sealed = place
    rows.close()
    if verdict.problems:
        return
    longest = max(expected, default=0)
    if longest > verdict.sealed:
        _, checkpoint, where = expected[longest]
        verdict.problems.append(
            f"entries were removed from the end: the {where} checkpoint of "
            f"{checkpoint.at.isoformat()} signs {longest} sealed entries, the database holds "
            f"{verdict.sealed}"
        )


def _unsealed(session: Session, before: datetime, verdict: Verdict) -> None:
    conn = session.connection()
    unsealed = _entry.c.seq.is_(None)
    verdict.unsealed = int(conn.execute(select(func.count()).where(unsealed)).scalar_one())
    if verdict.unsealed:
        stale = select(func.count()).where(unsealed, _entry.c.at < before)
        verdict.stale = int(conn.execute(stale).scalar_one())


def unkeyed_hash(prev: str, row: Any) -> str:
    """The hash an entry had before sealing existed (migration 0010 keeps it)."""
    body = json.dumps(
        {
            "prev": prev,
            "at": row.at.astimezone(UTC).isoformat(),
            "actor": row.actor,
            "action": row.action,
            "subject": row.subject,
            "detail": row.detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _legacy(session: Session, verdict: Verdict) -> None:
    prev = GENESIS
    for row in session.connection().execute(_LEGACY):
        if row.prev_hash != prev or unkeyed_hash(prev, row) != row.hash:
            verdict.problems.append(
                f"entry {row.id}, from before sealing, does not match its unkeyed hash"
            )
            if verdict.first_bad is None:
                verdict.first_bad = int(row.id)
            return
        prev = str(row.hash)
        verdict.legacy += 1


@dataclass(frozen=True)
class SealState:
    """A quick look at the seal, for a status page: the newest checkpoint the database
    keeps, whether the chain still ends where it says, and what waits to be sealed.
    (`verify` proves every entry; this reads three rows and two counts.)"""

    checkpoint: Checkpoint | None
    sealed: int
    unsealed: int
    stale: int
    problem: str | None


def seal_state(
    session: Session, key: AuditKey | None, *, now: datetime, grace: timedelta = GRACE
) -> SealState:
    verdict = Verdict()
    _unsealed(session, now - grace, verdict)
    head = session.connection().execute(HEAD).first()
    sealed, mac = (int(head.seq), str(head.mac)) if head is not None else (0, GENESIS)
    checkpoint = latest_checkpoint(session)
    problem = None
    if checkpoint is not None and not checkpoint.genuine():
        problem = "the newest checkpoint does not verify under its own key"
    elif checkpoint is not None and key is not None and checkpoint.key_id != key.key_id:
        problem = f"the newest checkpoint was signed with another key ({checkpoint.key_id})"
    elif checkpoint is not None and (sealed, mac) != (checkpoint.size, checkpoint.head):
        problem = (
            f"the trail ends at entry {sealed}, not where its newest checkpoint says "
            f"({checkpoint.size})"
        )
    return SealState(checkpoint, sealed, verdict.unsealed, verdict.stale, problem)
